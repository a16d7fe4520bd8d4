// Package jsonpath parses record paths such as "users[2].name" and applies them to decoded JSON documents, the
// way the deepstream JavaScript client's own json-path.ts does, so that a PATCH or ERASE gives the server exactly
// the document every client computes locally (contract deepstream.md §8.1, "Paths").
//
// Documents are the values a JSON decoder produces for `any`: map[string]any, []any, string, bool, nil and
// json.Number (decode with UseNumber so large integers and decimals round-trip byte-exact; float64 works too).
// The package is pure: it performs no I/O, starts no goroutines, keeps no state, and must never import protoactor,
// the gateway or the cluster packages. The gateway calls Parse to validate paths before it runs an HTTP batch; the
// record grain's state machine (actors/record) calls Parse, then Set or Erase.
package jsonpath
