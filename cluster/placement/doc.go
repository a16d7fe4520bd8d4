// Package placement decides which node hosts each grain and carries requests
// to it: our IdentityLookup (rendezvous over the placement set, an activator
// that spawns only what it owns under its own view), and the request wrapper
// every caller uses (deadlines that hold, per-attempt timeouts, jittered
// backoff, fail-fast when the target member leaves, idempotency keys on
// mutating messages).
//
// It replaces protoactor's disthash and cluster.Request (see
// ../../shared/notes/protoactor-cluster.md §2 and §4). It must never import
// gateway/, actors/, raft or fasthttp: grain kinds arrive as factories.
package placement
