// Package fsm is the Raft state machine of the cluster metadata: a thin dispatch table from a command type to a
// cluster/state mutation, plus request-id de-duplication and snapshots.
//
// Commands are built by the proposer (the node that received the admin call), which chooses every generated value
// (ids, credentials, password hashes) and the command time, so Apply stays deterministic: it never reads the clock
// or a random source. Application errors come back as values in a Result; a command that fails to decode panics, so
// a node crashes rather than diverges from its peers. Retrying a command with the same request id is always safe:
// the FSM remembers recent request ids with their results and returns the first result again.
//
// The package must not import protoactor, memberlist, fasthttp, gateway/ or actors/, and must never log secrets.
package fsm
