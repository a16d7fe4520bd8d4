// Package codec owns the wire format of deepstream's HTTP API (deepstream.md §11): it parses and validates POST /api
// batches and POST /api/auth bodies, encodes their JSON responses, and holds the single table of the API's plaintext
// 4xx answers, so the HTTP layer never spells a status text itself.
//
// It is a pure leaf: bytes in, values or bytes out, no I/O, no goroutines, no state. It must never import fasthttp,
// any gateway package or actors/<kind>; its only project import is actors/jsonpath, so that a path the batch accepts is
// exactly a path the record grain accepts. JSON goes through github.com/goccy/go-json and the package's own scanner,
// which only walks input the validator has accepted. All functions are safe for concurrent use.
package codec
