package record

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	json "github.com/goccy/go-json"

	"github.com/plexushq/plexus/actors/jsonpath"
)

// Errors returned by Apply. Each maps to one protocol reply; callers test them with errors.Is and errors.As.
var (
	// ErrVersionExists is VERSION_EXISTS (102): the write's version is not current+1 (WebSocket: v <= current;
	// HTTP: any version but absent, -1, 0 or current+1). Apply returns it inside a *ConflictError.
	ErrVersionExists = errors.New("record: version exists")
	// ErrInvalidVersion is INVALID_VERSION (108), WebSocket only: v > current+1. Apply returns it inside a
	// *ConflictError.
	ErrInvalidVersion = errors.New("record: invalid version")
	// ErrInvalidData is INVALID_MESSAGE_DATA (116; HTTP: 400): data that is not JSON or not valid UTF-8, a
	// whole-document write whose data is not an object or array, a whole-document write without data, or an
	// invalid path. The error also wraps jsonpath.ErrInvalidPath for a path.
	ErrInvalidData = errors.New("record: invalid message data")
	// ErrNotApplicable is RECORD_UPDATE_ERROR (105): a valid path whose key token meets an array in the stored
	// data. It also wraps jsonpath.ErrNotApplicable.
	ErrNotApplicable = errors.New("record: path not applicable to the stored data")
	// ErrTooLarge is RECORD_UPDATE_ERROR (105): the resulting data would exceed maxBytes, or nest deeper than a
	// JSON decoder accepts (10000 levels).
	ErrTooLarge = errors.New("record: record too large")
	// ErrVersionOverflow is RECORD_UPDATE_ERROR (105): the record is at version math.MaxInt32 and cannot take
	// another write (int32 is the wire type). Only a delete resets it.
	ErrVersionOverflow = errors.New("record: version overflow")
)

// ConflictError carries the record as it stands when a write loses a version check, so that callers can send
// VERSION_EXISTS or INVALID_VERSION with the current version and data (HTTP: currentVersion and currentData).
// Err is ErrVersionExists or ErrInvalidVersion.
type ConflictError struct {
	Err error
	// Current is the record the write was checked against. A missing record reads as Exists false, version 0 and
	// data "{}" (contract §8.1, §11.4). Current.Data shares memory with the State given to Apply.
	Current State
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: current version %d", e.Err, e.Current.Version)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// State is one record. The zero State is a missing record.
type State struct {
	// Exists is false for a record never created or deleted; such a record reads as version 0 and "{}" for the
	// version checks of writes, while HEAD answers -1 for it (the grain's concern).
	Exists  bool
	Version int32
	// Data is compact JSON text of an object or array when Exists. Apply never modifies it in place; callers must
	// not either, since a returned State and a ConflictError may share it.
	Data []byte
}

// Transport selects the version rules of a write: they differ between the WebSocket protocol and the HTTP API.
type Transport int

// Transports.
const (
	WebSocket Transport = iota
	HTTP
)

func (t Transport) String() string {
	switch t {
	case WebSocket:
		return "websocket"
	case HTTP:
		return "http"
	}
	return fmt.Sprintf("Transport(%d)", int(t))
}

// Write is one UPDATE, PATCH or ERASE (WebSocket, CREATEAND* included) or one HTTP record/list write.
type Write struct {
	Transport Transport
	// Version is the version as sent. HTTP: pass -1 when the command has none; HasVersion is ignored.
	Version int32
	// HasVersion reports whether a WebSocket write carried field 13; without it the version reads as 0.
	HasVersion bool
	// Path selects a path write (PATCH, ERASE, HTTP write with "path"). A write is a path write when HasPath is
	// set or Path is not empty; a path write whose Path has no tokens is ErrInvalidData.
	Path    string
	HasPath bool
	// Data is the raw JSON text of the document (whole write) or of the value (path write). A path write with nil
	// or empty Data is an ERASE, as a client PATCH without data is (contract §8.3): a proto3 string field cannot
	// tell "" from absent, and "" is never JSON. A whole write without data is ErrInvalidData.
	Data []byte
	// Erase makes a path write an ERASE whatever Data holds. Erase without a path is ErrInvalidData.
	Erase bool
}

// PathWrite reports whether w is a path write (HasPath set or Path not empty).
func (w Write) PathWrite() bool { return w.HasPath || w.Path != "" }

// Erases reports whether w is an ERASE: a path write marked Erase or
// without data.
func (w Write) Erases() bool { return w.PathWrite() && (w.Erase || len(w.Data) == 0) }

// maxDepth is the deepest nesting of objects and arrays that the JSON decoders and encoders accept (encoding/json
// and go-json both stop at 10000).
const maxDepth = 10000

// Apply checks w against s and returns the record after it. On success the result exists, its Version is the
// current version + 1 (a missing record counts as version 0 with "{}", so any accepted write on it gives version
// 1) and its Data is compact JSON of an object or array. On error Apply returns s unchanged and one of the errors
// above, a version conflict as a *ConflictError; a stored document that fails to decode gives a plain error.
//
// Checks run in this order: the write's own input (path syntax, JSON, whole-document type), then the version, then
// the stored data (path not applicable, size, depth). So a bad write is INVALID_MESSAGE_DATA whatever its version,
// as HTTP validates every command before any runs (contract §11.3).
//
// Version rules (contract §8.1, §8.7, §11.4):
//   - WebSocket: -1 applies without a check; current+1 applies; v <= current (an absent field 13 reads as 0) is
//     ErrVersionExists; v > current+1 is ErrInvalidVersion.
//   - HTTP: -1 (absent) and 0 apply without a check; current+1 applies; any other version, stale or too new, is
//     ErrVersionExists.
//
// Data: a whole-document write keeps the caller's JSON text, compacted (insignificant whitespace removed; keys,
// escapes and numbers byte for byte). A path write decodes the stored document with numbers kept as their text
// (json.Number), applies jsonpath.Set or jsonpath.Erase and re-encodes the whole document compactly, without HTML
// escaping; object keys then come out sorted by byte order, which JSON does not define and the clients do not
// compare (they compare values). One known loss: a lone UTF-16 surrogate escape ("\ud800") in the stored document
// becomes U+FFFD on the first path write.
//
// maxBytes bounds len(result.Data) (contract §8.1, max_record_bytes); a larger result is ErrTooLarge. It also bounds
// array padding before any allocation: an array of n elements needs at least 2n+1 bytes, so a path write may not
// grow an array past maxBytes/2 elements. maxBytes <= 0 disables the size check (tests and tools only); array
// padding is then capped at jsonpath.DefaultMaxLen.
func Apply(s State, w Write, maxBytes int) (State, error) {
	pathWrite, erase := w.PathWrite(), w.Erases()
	if w.Erase && !pathWrite {
		return s, fmt.Errorf("%w: erase without a path", ErrInvalidData)
	}

	var tokens []jsonpath.Token
	if pathWrite {
		var err error
		if tokens, err = jsonpath.Parse(w.Path); err != nil {
			return s, fmt.Errorf("%w: %w", ErrInvalidData, err)
		}
	}
	// Each token nests one level, and no decoder reads JSON nested deeper than maxDepth: refuse such a path
	// before decoding anything (it is checked after the version, like every other stored-data limit).
	tooDeep := len(tokens) > maxDepth
	if !erase {
		if err := validJSON(w.Data); err != nil {
			return s, err
		}
		if !pathWrite && !isContainerText(w.Data) {
			return s, fmt.Errorf("%w: record data must be a JSON object or array", ErrInvalidData)
		}
	}

	cur := current(s)
	if err := checkVersion(cur, w); err != nil {
		return s, err
	}
	if cur.Version == math.MaxInt32 {
		return s, ErrVersionOverflow
	}

	if tooDeep {
		return s, fmt.Errorf("%w: path of %d tokens nests deeper than %d", ErrTooLarge, len(tokens), maxDepth)
	}

	var data []byte
	if pathWrite {
		var err error
		if data, err = applyPath(cur.Data, tokens, w.Data, erase, maxBytes); err != nil {
			return s, err
		}
	} else {
		var err error
		if data, err = compact(w.Data); err != nil {
			return s, err
		}
	}
	if maxBytes > 0 && len(data) > maxBytes {
		return s, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), maxBytes)
	}
	return State{Exists: true, Version: cur.Version + 1, Data: data}, nil
}

// Create is create-on-subscribe (SUBSCRIBECREATEANDREAD, contract §8.2): a missing record is created at version 0
// with "{}", and Create reports true; an existing record is returned as it is, with false. Writes never need it:
// Apply treats a missing record as version 0 with "{}" and gives version 1.
func Create(s State) (State, bool) {
	if s.Exists {
		return s, false
	}
	return State{Exists: true, Version: 0, Data: []byte("{}")}, true
}

// Delete returns the missing record (the zero State): HEAD gives -1 afterwards, and a later subscribe creates the
// record again at version 0, a later write at version 1. Deleting a missing record is fine (contract §8.8).
func Delete(State) State {
	return State{}
}

// current returns the record as the version checks see it: a missing record is version 0 with "{}".
func current(s State) State {
	if !s.Exists {
		return State{Data: []byte("{}")}
	}
	if len(s.Data) == 0 {
		s.Data = []byte("{}")
	}
	return s
}

func checkVersion(cur State, w Write) error {
	next := int64(cur.Version) + 1
	v := int64(w.Version)
	switch w.Transport {
	case WebSocket:
		if !w.HasVersion {
			v = 0
		}
		switch {
		case v == -1 || v == next:
			return nil
		case v <= int64(cur.Version):
			return &ConflictError{Err: ErrVersionExists, Current: cur}
		default:
			return &ConflictError{Err: ErrInvalidVersion, Current: cur}
		}
	case HTTP:
		if v == -1 || v == 0 || v == next {
			return nil
		}
		return &ConflictError{Err: ErrVersionExists, Current: cur}
	}
	return fmt.Errorf("record: unknown transport %v", w.Transport)
}

// validJSON checks that b is exactly one JSON value in valid UTF-8 (the protobuf string fields that carry record
// data must be valid UTF-8, so invalid bytes stored once could never be sent again).
func validJSON(b []byte) error {
	if !json.Valid(b) {
		return fmt.Errorf("%w: not valid JSON", ErrInvalidData)
	}
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidData)
	}
	return nil
}

// compact returns a compact copy of valid JSON text b (never b itself: it
// may alias a request buffer that is reused). Text without any whitespace
// byte is compact already and is only copied.
func compact(b []byte) ([]byte, error) {
	if bytes.IndexAny(b, " \t\r\n") < 0 {
		return bytes.Clone(b), nil
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	return buf.Bytes(), nil
}

// isContainerText reports whether valid JSON text b holds an object or array.
func isContainerText(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func applyPath(stored []byte, tokens []jsonpath.Token, value []byte, erase bool, maxBytes int) ([]byte, error) {
	root, err := decode(stored)
	if err != nil {
		return nil, fmt.Errorf("record: stored data: %w", err)
	}
	maxLen := jsonpath.DefaultMaxLen
	if maxBytes > 0 {
		maxLen = maxBytes / 2
	}
	if erase {
		root, err = jsonpath.EraseMax(root, tokens, maxLen)
	} else {
		var v any
		if v, err = decode(value); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
		}
		root, err = jsonpath.SetMax(root, tokens, v, maxLen)
	}
	switch {
	case errors.Is(err, jsonpath.ErrNotApplicable):
		return nil, fmt.Errorf("%w: %w", ErrNotApplicable, err)
	case errors.Is(err, jsonpath.ErrTooLong):
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	out, err := json.MarshalWithOption(root, json.DisableHTMLEscape())
	if err != nil {
		// The only failure for decoded JSON is nesting deeper than MaxDepth, which no decoder would read back.
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return out, nil
}
