// Package raftnode wires hashicorp/raft for the cluster metadata: a TCP transport, raft-boltdb log and stable
// stores and file snapshots under the data directory, with the FSM of package cluster/fsm.
//
// It owns the Raft-side policies of the cluster: the bootstrap-expect decision (a pure function plus a guard so a
// data directory is never bootstrapped twice), leader-only membership reconciliation with dead-server cleanup behind
// a MinQuorum floor, applying commands on the leader with typed not-leader errors so callers can forward and retry
// with the same request id, read-your-writes by applied index, linearizable-read checks, and the lease tracker
// whose monotonic-clock rule decides when a node must self-fence.
//
// The ServerID is the stable --node-name, never the per-process member id. This package does no networking of
// its own besides Raft's transport: forwarding to the leader is a function supplied by the caller (the lead
// forwards over actor remote). It must not import protoactor, memberlist, fasthttp, gateway/ or actors/.
package raftnode
