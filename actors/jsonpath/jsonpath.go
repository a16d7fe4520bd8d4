package jsonpath

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// Errors returned by Parse, Set and Erase. Callers test them with errors.Is.
var (
	// ErrInvalidPath means the path itself is refused, whatever the document: it has no tokens, an index that is
	// not a non-negative integer, unbalanced or misplaced brackets, or one of the keys "__proto__", "constructor"
	// and "prototype". The record protocol answers it with INVALID_MESSAGE_DATA (HTTP: 400).
	ErrInvalidPath = errors.New("jsonpath: invalid path")
	// ErrNotApplicable means the path is valid but the document refuses it: a key token meets an array, where
	// JavaScript would set a property that JSON cannot carry. The record protocol answers RECORD_UPDATE_ERROR.
	ErrNotApplicable = errors.New("jsonpath: key on array")
	// ErrTooLong means the write would grow an array past the length limit (SetMax, EraseMax). The record
	// protocol answers RECORD_UPDATE_ERROR, as for any record over max_record_bytes.
	ErrTooLong = errors.New("jsonpath: array too long")
)

// MaxIndex is the largest index Parse accepts (math.MaxInt32). Decision: a larger index is ErrInvalidPath, because
// no record can hold such an array and JavaScript stops treating integer property names as indices at 2^32-1.
const MaxIndex = math.MaxInt32

// DefaultMaxLen is the array length limit of Set and Erase. Padding an array allocates one element per index, so
// a short path must not be able to allocate gigabytes; SetMax and EraseMax take the limit explicitly.
const DefaultMaxLen = 1 << 20

// Token is one step of a path: an object key, or an array index when IsIndex is set (then Key is empty).
type Token struct {
	Key     string
	Index   int
	IsIndex bool
}

// Parse splits path into tokens following the client's json-path.ts tokenize: split on '.', trim each part and
// skip empty parts; each part is an optional key followed by zero or more "[n]" indices, so "a.b[2][0]" is key a,
// key b, index 2, index 0.
//
// Decisions, where the client's behaviour is accidental (it splits each part on every '[' and ']' and feeds the
// pieces after the first to Number()):
//   - A part that starts with '[' yields an empty key first, as in the client: "[0]" is key "", index 0, and
//     "a.[1]" is key a, key "", index 1. On an object root "[0]" therefore writes {"": [..., v]}, exactly what the
//     client computes; on an array root the empty key is ErrNotApplicable (the client sets an invisible property).
//     A leading index can thus never address an array root: the client has no path for that either.
//   - Index text must be ASCII digits only; leading zeros are allowed and ignored ("a[007]" is index 7, as Number
//     gives). Anything else is ErrInvalidPath: "a[x]", "a[-1]", "a[1.5]", "a[ 1 ]", "a[]", "a[1e2]", "a[0x1]".
//   - After the key, a part may hold only "[digits]" groups. Text after a ']' ("a[1]b", "a[1]2"), a ']' or '['
//     inside a key ("a]b"), and unclosed or doubled brackets ("a[1", "a[[1]]") are ErrInvalidPath. The client
//     reads "a[1]2" as a[1][2] and "a[1" as a[1]; refusing them can never make the server's document differ from
//     the client's, it only refuses a write.
//   - Keys keep inner spaces ("a b", and "a [0]" is key "a " then index 0, as in the client); only each
//     dot-separated part is trimmed, with strings.TrimSpace (JavaScript's trim also removes a few other Unicode
//     spaces; such a path differs by that key only).
//   - The keys "__proto__", "constructor" and "prototype" are refused anywhere in the path.
func Parse(path string) ([]Token, error) {
	var tokens []Token
	for part := range strings.SplitSeq(path, ".") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var err error
		tokens, err = appendPart(tokens, part)
		if err != nil {
			return nil, err
		}
	}
	if len(tokens) == 0 {
		return nil, ErrInvalidPath
	}
	return tokens, nil
}

// appendPart appends the tokens of one trimmed, non-empty part.
func appendPart(tokens []Token, part string) ([]Token, error) {
	open := strings.IndexByte(part, '[')
	key := part
	if open >= 0 {
		key = part[:open]
	}
	if strings.IndexByte(key, ']') >= 0 || forbidden(key) {
		return nil, ErrInvalidPath
	}
	tokens = append(tokens, Token{Key: key})
	if open < 0 {
		return tokens, nil
	}
	rest := part[open:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, ErrInvalidPath
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, ErrInvalidPath
		}
		n, ok := parseIndex(rest[1:end], true)
		if !ok {
			return nil, ErrInvalidPath
		}
		tokens = append(tokens, Token{Index: n, IsIndex: true})
		rest = rest[end+1:]
	}
	return tokens, nil
}

// parseIndex reads s as a decimal index up to MaxIndex. With leadingZeros false it accepts only the canonical form
// ("0" or no leading zero), which is how JavaScript decides that a property name of an array is an index.
func parseIndex(s string, leadingZeros bool) (int, bool) {
	if s == "" || (!leadingZeros && len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > MaxIndex {
			return 0, false
		}
	}
	return n, true
}

func forbidden(key string) bool {
	return key == "__proto__" || key == "constructor" || key == "prototype"
}

// Set returns root with value stored at the path of tokens, with the array length limit DefaultMaxLen.
func Set(root any, tokens []Token, value any) (any, error) {
	return SetMax(root, tokens, value, DefaultMaxLen)
}

// Erase returns root with the path of tokens erased, with the array length limit DefaultMaxLen.
func Erase(root any, tokens []Token) (any, error) {
	return EraseMax(root, tokens, DefaultMaxLen)
}

// SetMax returns root with value stored at the path of tokens, as the client's setValue does:
//   - On the way to the last token an existing object or array is entered; a missing, null or scalar step is
//     replaced by a new container: an array if the next token is an index, else an object. A new array is created
//     with as many nulls as the next index (the client's new Array(n).fill(null)), so the write then appends.
//   - An index token on an object is the key of its decimal form ("a[2]" on an object sets key "2").
//   - A key token on an array is ErrNotApplicable, except a key in canonical index form ("2", not "02"), which
//     JavaScript treats as that index: "list.2" on an array is "list[2]".
//   - Setting an index at or beyond an array's end pads the array with nulls.
//   - A root that is neither an object nor an array (nil, a scalar) is replaced by a new container for the first
//     token; record data is always an object or array, so records never take this branch.
//
// A resulting array longer than maxLen is ErrTooLong (maxLen <= 0 means DefaultMaxLen). On any error nothing has
// been modified. On success root's containers are modified in place, and the returned value is the new root, which
// is root itself unless the root was replaced or a root array grew; callers must use the returned value.
func SetMax(root any, tokens []Token, value any, maxLen int) (any, error) {
	return apply(root, tokens, value, false, maxLen)
}

// EraseMax returns root with the path of tokens erased, as the client's setValue with an undefined value does: it
// walks exactly like SetMax (creating missing containers on the way), then deletes the last key from its object,
// or sets the array element to null (JavaScript's delete leaves a hole, which JSON writes as null). Erasing a
// missing key, or an index at or beyond an array's end, changes nothing there. Errors are those of SetMax.
func EraseMax(root any, tokens []Token, maxLen int) (any, error) {
	return apply(root, tokens, nil, true, maxLen)
}

// slot is where the current container lives, so that a grown array can be stored back.
type slot struct {
	m   map[string]any
	key string
	s   []any
	i   int
}

func (sl slot) store(v any, root *any) {
	switch {
	case sl.m != nil:
		sl.m[sl.key] = v
	case sl.s != nil:
		sl.s[sl.i] = v
	default:
		*root = v
	}
}

func apply(root any, tokens []Token, value any, erase bool, maxLen int) (any, error) {
	if len(tokens) == 0 {
		return root, ErrInvalidPath
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	for _, t := range tokens {
		if (t.IsIndex && t.Index < 0) || (!t.IsIndex && forbidden(t.Key)) {
			return root, ErrInvalidPath
		}
	}
	// The first pass only checks, so that an error leaves root untouched; the second cannot fail.
	if err := walk(root, tokens, value, erase, maxLen, true); err != nil {
		return root, err
	}
	out := root
	if err := walk(&out, tokens, value, erase, maxLen, false); err != nil {
		panic("jsonpath: write failed after its check passed: " + err.Error())
	}
	return out, nil
}

// walk applies tokens. With dry set it takes the root value itself and only checks; otherwise it takes a *any
// holding the root and writes. Both passes take the same decisions in the same order.
func walk(rootArg any, tokens []Token, value any, erase bool, maxLen int, dry bool) error {
	var rootp *any
	var cur any
	if dry {
		cur = rootArg
	} else {
		rootp = rootArg.(*any)
		cur = *rootp
	}
	fresh := false // set once the remaining tokens are known to apply to new containers only
	if !isContainer(cur) {
		if err := checkFresh(tokens, maxLen, &fresh); err != nil || dry {
			return err
		}
		cur = newContainer(tokens[0])
		*rootp = cur
	}
	here := slot{}
	last := len(tokens) - 1
	for i, tok := range tokens {
		switch c := cur.(type) {
		case map[string]any:
			key := tok.Key
			if tok.IsIndex {
				key = strconv.Itoa(tok.Index)
			}
			if i == last {
				if dry {
					return nil
				}
				if erase {
					delete(c, key)
				} else {
					c[key] = value
				}
				return nil
			}
			child, ok := c[key]
			if !ok || !isContainer(child) {
				if err := checkFresh(tokens[i+1:], maxLen, &fresh); err != nil || dry {
					return err
				}
				child = newContainer(tokens[i+1])
				c[key] = child
			}
			cur, here = child, slot{m: c, key: key}
		case []any:
			idx, ok := tok.Index, tok.IsIndex
			if !ok {
				idx, ok = parseIndex(tok.Key, false)
				if !ok {
					return ErrNotApplicable
				}
			}
			if i == last {
				if idx >= len(c) {
					if erase {
						return nil
					}
					if idx >= maxLen {
						return ErrTooLong
					}
				}
				if dry {
					return nil
				}
				if idx < len(c) {
					if erase {
						c[idx] = nil
					} else {
						c[idx] = value
					}
					return nil
				}
				c = grow(c, idx)
				c[idx] = value
				here.store(c, rootp)
				return nil
			}
			if idx < len(c) && isContainer(c[idx]) {
				cur, here = c[idx], slot{s: c, i: idx}
				continue
			}
			if idx >= len(c) && idx >= maxLen {
				return ErrTooLong
			}
			if err := checkFresh(tokens[i+1:], maxLen, &fresh); err != nil || dry {
				return err
			}
			if idx >= len(c) {
				c = grow(c, idx)
				here.store(c, rootp)
			}
			child := newContainer(tokens[i+1])
			c[idx] = child
			cur, here = child, slot{s: c, i: idx}
		}
	}
	return nil
}

// checkFresh checks tokens that will all be applied to newly created containers, where only index sizes can fail:
// every index token makes or grows an array to more than its index. It checks once per walk, and sets *fresh.
func checkFresh(tokens []Token, maxLen int, fresh *bool) error {
	if *fresh {
		return nil
	}
	*fresh = true
	for _, t := range tokens {
		if t.IsIndex && t.Index >= maxLen {
			return ErrTooLong
		}
	}
	return nil
}

// newContainer returns the container the client creates before applying next: an array of next.Index nulls when
// next is an index, else an empty object.
func newContainer(next Token) any {
	if next.IsIndex {
		return make([]any, next.Index)
	}
	return map[string]any{}
}

// grow returns s extended with nulls to length idx+1.
func grow(s []any, idx int) []any {
	return append(s, make([]any, idx+1-len(s))...)
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}
