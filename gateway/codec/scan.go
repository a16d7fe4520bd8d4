package codec

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// The helpers in this file walk JSON text that has already passed validJSON, so they never meet a syntax error and
// never recurse: a nesting depth the validator accepts cannot exhaust the stack here.

// validJSON reports whether b is one valid JSON text in valid UTF-8 (RFC 8259 §8.1). Invalid UTF-8 is refused rather
// than replaced, because names become Store keys and protobuf strings, which must be valid UTF-8.
func validJSON(b []byte) bool {
	return utf8.Valid(b) && json.Valid(b)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpace drops JSON whitespace around b.
func trimSpace(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// skipString returns the index after the string that starts with the quote at b[i]. It jumps from quote to quote
// (bytes.IndexByte is vectorised) and counts the backslashes before each: an odd count escapes the quote.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skipValue returns the index after the value that starts at b[i] (not whitespace).
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// memberIter walks the members of a valid JSON object.
type memberIter struct {
	b []byte
	i int
}

func newMemberIter(obj []byte) memberIter { return memberIter{b: obj, i: 1} }

// next returns the next member's raw key (quotes included) and raw value, or ok false at the end.
func (it *memberIter) next() (key, val []byte, ok bool) {
	b := it.b
	i := skipSpace(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		it.i = len(b)
		return nil, nil, false
	}
	k := skipString(b, i)
	key = b[i:k]
	i = skipSpace(b, k)
	i = skipSpace(b, i+1) // the colon
	e := skipValue(b, i)
	val = b[i:e]
	it.i = e
	return key, val, true
}

// elemIter walks the elements of a valid JSON array.
type elemIter struct {
	b []byte
	i int
}

func newElemIter(arr []byte) elemIter { return elemIter{b: arr, i: 1} }

func (it *elemIter) next() (val []byte, ok bool) {
	b := it.b
	i := skipSpace(b, it.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		it.i = len(b)
		return nil, false
	}
	e := skipValue(b, i)
	it.i = e
	return b[i:e], true
}

// countElems returns the number of elements of a valid JSON array.
func countElems(arr []byte) int {
	n := 0
	it := newElemIter(arr)
	for _, ok := it.next(); ok; _, ok = it.next() {
		n++
	}
	return n
}

// unquoteBytes returns the content of a valid JSON string token. Without escapes it is a sub-slice of raw; with
// escapes it is newly decoded (lone surrogates become U+FFFD, as in encoding/json).
func unquoteBytes(raw []byte) []byte {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		// Unreachable for validated input; keep the raw content rather than fail.
		return inner
	}
	return []byte(s)
}

// unquote returns the content of a valid JSON string token as a new string.
func unquote(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(inner)
	}
	return s
}

// appendCompact appends the valid JSON value raw to dst without insignificant whitespace.
func appendCompact(dst, raw []byte) []byte {
	start := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			i = skipString(raw, i) - 1
		case ' ', '\t', '\n', '\r':
			dst = append(dst, raw[start:i]...)
			start = i + 1
		}
	}
	return append(dst, raw[start:]...)
}

// isFalsy reports whether the valid JSON value raw is falsy in JavaScript: null, false, "" or a zero number.
func isFalsy(raw []byte) bool {
	switch raw[0] {
	case 'n', 'f':
		return true
	case 't', '{', '[':
		return false
	case '"':
		return len(raw) == 2
	default:
		f, err := strconv.ParseFloat(string(raw), 64)
		return err == nil && f == 0
	}
}

// jsonInt32 returns the value of the valid JSON value raw when it is a number holding an integer (1.0 and 1e2 count,
// as in JavaScript). isInt is false for non-numbers and non-integers (±Infinity after overflow included); inRange is
// false for integers outside int32.
func jsonInt32(raw []byte) (v int32, isInt, inRange bool) {
	c := raw[0]
	if c != '-' && (c < '0' || c > '9') {
		return 0, false, false
	}
	// Fast path: plain integers of up to 10 digits.
	if digits := raw[boolInt(c == '-'):]; len(digits) > 0 && len(digits) <= 10 {
		var n int64
		plain := true
		for _, d := range digits {
			if d < '0' || d > '9' {
				plain = false
				break
			}
			n = n*10 + int64(d-'0')
		}
		if plain {
			if c == '-' {
				n = -n
			}
			if n < math.MinInt32 || n > math.MaxInt32 {
				return 0, true, false
			}
			return int32(n), true, true
		}
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && math.IsInf(f, 0) {
		return 0, false, false
	}
	if f != math.Trunc(f) {
		return 0, false, false
	}
	if f < math.MinInt32 || f > math.MaxInt32 {
		return 0, true, false
	}
	return int32(f), true, true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD; U+2028 and U+2029 are escaped so the output
// is also valid JavaScript; HTML characters are not escaped (the output is served as application/json).
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
