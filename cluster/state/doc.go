// Package state is the replicated metadata store of a Plexus cluster: apps, their credentials, management users,
// topic and app-stream definitions, feed-group settings and node leases.
//
// A Store is mutated only by the Raft FSM (package cluster/fsm), from the single goroutine that applies committed
// log entries, so every mutation must be deterministic: times and generated values arrive as arguments, never from
// time.Now or a random source. Read methods are safe for concurrent use from any goroutine and return copies, so
// hot paths such as credential checks read the local replica without going through Raft.
//
// This package is pure Go: it must never import hashicorp/raft, protoactor, memberlist, fasthttp, gateway/ or
// actors/, and it must never log secrets (Credentials and User redact themselves through slog.LogValuer).
package state
