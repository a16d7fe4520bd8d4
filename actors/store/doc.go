// Package store owns the durable state of grains: one versioned document, one
// ordered log and one small sorted index per grain Key, each guarded by an
// owner epoch so that a stale activation can never overwrite the state of the
// current one (design §3 guarantee 2, notes/protoactor-cluster.md §8.1).
//
// Two backends implement Store: Pebble (embedded, single node, every write
// fsync'd before it is acknowledged; one committer goroutine batches the
// writes queued meanwhile into one Pebble commit and fsync) and PostgreSQL (shared by all nodes; concurrent
// writes are group-committed into one transaction by a single committer
// goroutine, with synchronous_commit=on). Both pass the same conformance suite
// in storetest.
//
// Every write is conditional: it applies only when the caller's epoch is the
// key's current owner epoch (else ErrFenced) and, for documents, when the
// stored version is the expected one (else ErrVersion). A failed write changes
// nothing. Reads are not fenced.
//
// This package is a leaf of the actors tree: it must never import gateway/,
// our cluster/ packages, fasthttp, memberlist or raft, and it never logs and
// returns the same error. Its loggers are injected through Options.
package store
