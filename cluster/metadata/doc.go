// Package metadata runs a node's part of the Raft metadata service: the Raft
// node and FSM (cluster/raftnode, cluster/fsm), bootstrap-expect driven by
// memberlist metadata, the leader's voter reconciliation and lease
// revocations, forwarding of writes to the leader over actor remote (the
// metadata actor on every node), and this member's lease renewal with
// self-fencing when it is lost.
//
// It must never import gateway/ or actors/; callers read replicated state
// through State() and learn about a lost lease through the OnLost callback.
package metadata
