// Package record owns the deepstream record model (contract deepstream.md §8 and §11.4): a record is a name mapped
// to a version and a JSON object or array, changed by whole-document and path writes under the version rules of
// the WebSocket and HTTP transports.
//
// state.go is the pure state machine: Apply, Create and Delete take a State and return the next one, with no I/O,
// no clock, no goroutines and no protoactor import, so that it is table-tested and fuzzed on its own. The grain
// that wraps it owns persistence and fan-out; this file must never import protoactor, the gateway, the cluster
// packages or the Store. Paths are parsed and applied by actors/jsonpath. Apply, Create and Delete keep no state
// and are safe to call from any goroutine; the grain serialises the calls for one record.
package record
