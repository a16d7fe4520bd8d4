package jsonpath

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

func key(k string) Token { return Token{Key: k} }
func idx(i int) Token    { return Token{Index: i, IsIndex: true} }

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want []Token
	}{
		{"a", []Token{key("a")}},
		{"a.b", []Token{key("a"), key("b")}},
		{"a.b[2][0]", []Token{key("a"), key("b"), idx(2), idx(0)}},
		{" a . b ", []Token{key("a"), key("b")}},
		{"a..b", []Token{key("a"), key("b")}},
		{".a.", []Token{key("a")}},
		{"a[0]", []Token{key("a"), idx(0)}},
		{"a[007]", []Token{key("a"), idx(7)}},
		{"a.2", []Token{key("a"), key("2")}},
		{"a.02", []Token{key("a"), key("02")}},
		{"[0]", []Token{key(""), idx(0)}},
		{"[0][1]", []Token{key(""), idx(0), idx(1)}},
		{"a.[1]", []Token{key("a"), key(""), idx(1)}},
		{"a b", []Token{key("a b")}},
		{"a [0]", []Token{key("a "), idx(0)}},
		{"\ta\n", []Token{key("a")}},
		{"é.ü[3]", []Token{key("é"), key("ü"), idx(3)}},
		{"-1", []Token{key("-1")}},
		{"a[2147483647]", []Token{key("a"), idx(MaxIndex)}},
		{"__proto", []Token{key("__proto")}},
		{"Constructor", []Token{key("Constructor")}},
		{"a$b-c_d", []Token{key("a$b-c_d")}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.path)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.path, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.path, got, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	for _, path := range []string{
		"", " ", ".", "..", " . . ",
		"a[x]", "a[-1]", "a[1.5]", "a[ 1 ]", "a[]", "a[1e2]", "a[0x1]", "a[+1]", "a[١]",
		"a[1]b", "a[1]2", "a[1", "a]", "a]b", "a[[1]]", "a[1]]", "a[1][", "[", "]", "[]",
		"a[2147483648]", "a[99999999999999999999999]",
		"__proto__", "constructor", "prototype", "a.__proto__", "a.constructor.b", " prototype ",
		"__proto__[0]", "a[0].prototype",
	} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(path)
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("Parse(%q) = %+v, %v; want ErrInvalidPath", path, got, err)
			}
		})
	}
}

func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func encode(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalWithOption(v, json.DisableHTMLEscape())
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return string(b)
}

func TestPathSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, path, value, want string
		maxLen                       int
		err                          error
	}{
		{name: "new key", doc: `{}`, path: "a", value: `1`, want: `{"a":1}`},
		{name: "replace key", doc: `{"a":1,"b":2}`, path: "a", value: `"x"`, want: `{"a":"x","b":2}`},
		{name: "nested new objects", doc: `{}`, path: "a.b.c", value: `true`, want: `{"a":{"b":{"c":true}}}`},
		{name: "enter existing object", doc: `{"a":{"x":1}}`, path: "a.b", value: `2`, want: `{"a":{"b":2,"x":1}}`},
		{name: "scalar step replaced", doc: `{"a":5}`, path: "a.b", value: `2`, want: `{"a":{"b":2}}`},
		{name: "string step replaced", doc: `{"a":"s"}`, path: "a[1]", value: `2`, want: `{"a":[null,2]}`},
		{name: "null step replaced", doc: `{"a":null}`, path: "a.b", value: `2`, want: `{"a":{"b":2}}`},
		{name: "bool step replaced by array", doc: `{"a":false}`, path: "a[0]", value: `2`, want: `{"a":[2]}`},
		{name: "new array padded", doc: `{}`, path: "a[2]", value: `"v"`, want: `{"a":[null,null,"v"]}`},
		{name: "existing array element", doc: `{"a":[1,2,3]}`, path: "a[1]", value: `9`, want: `{"a":[1,9,3]}`},
		{name: "append at end", doc: `{"a":[1]}`, path: "a[1]", value: `2`, want: `{"a":[1,2]}`},
		{name: "pad beyond end", doc: `{"a":[1]}`, path: "a[3]", value: `4`, want: `{"a":[1,null,null,4]}`},
		{name: "nested arrays", doc: `{}`, path: "a[1][2]", value: `1`, want: `{"a":[null,[null,null,1]]}`},
		{name: "object inside new array", doc: `{}`, path: "a[1].b", value: `1`, want: `{"a":[null,{"b":1}]}`},
		{name: "enter object in array", doc: `{"a":[{"x":1},{"y":2}]}`, path: "a[1].z", value: `3`, want: `{"a":[{"x":1},{"y":2,"z":3}]}`},
		{name: "scalar element replaced", doc: `{"a":[1,2]}`, path: "a[1].b", value: `3`, want: `{"a":[1,{"b":3}]}`},
		{name: "null element replaced", doc: `{"a":[null]}`, path: "a[0][1]", value: `3`, want: `{"a":[[null,3]]}`},
		{name: "pad then container", doc: `{"a":[]}`, path: "a[2].b", value: `3`, want: `{"a":[null,null,{"b":3}]}`},
		{name: "index on object is key", doc: `{"a":{}}`, path: "a[2]", value: `1`, want: `{"a":{"2":1}}`},
		{name: "index with zeros on object", doc: `{"a":{}}`, path: "a[007]", value: `1`, want: `{"a":{"7":1}}`},
		{name: "numeric key on object", doc: `{}`, path: "a.2", value: `1`, want: `{"a":{"2":1}}`},
		{name: "numeric key on array is index", doc: `{"a":[0,1,2]}`, path: "a.1", value: `9`, want: `{"a":[0,9,2]}`},
		{name: "numeric key pads array", doc: `{"a":[]}`, path: "a.1", value: `9`, want: `{"a":[null,9]}`},
		{name: "numeric key enters element", doc: `{"a":[{"b":1}]}`, path: "a.0.c", value: `2`, want: `{"a":[{"b":1,"c":2}]}`},
		{name: "empty key", doc: `{}`, path: "[0]", value: `1`, want: `{"":[1]}`},
		{name: "root array index", doc: `[1,2]`, path: "x", value: `1`, err: ErrNotApplicable},
		{name: "root array numeric key", doc: `[1,2]`, path: "1", value: `7`, want: `[1,7]`},
		{name: "root array numeric key pads", doc: `[]`, path: "2.a", value: `7`, want: `[null,null,{"a":7}]`},
		{name: "root array empty key", doc: `[1,2]`, path: "[0]", value: `1`, err: ErrNotApplicable},
		{name: "key on array", doc: `{"a":[1]}`, path: "a.b", value: `1`, err: ErrNotApplicable},
		{name: "key on nested array", doc: `{"a":[[1]]}`, path: "a[0].b.c", value: `1`, err: ErrNotApplicable},
		{name: "non-canonical key on array", doc: `{"a":[1]}`, path: "a.01", value: `1`, err: ErrNotApplicable},
		{name: "length on array", doc: `{"a":[1]}`, path: "a.length", value: `1`, err: ErrNotApplicable},
		{name: "key on array after created steps", doc: `{"x":{"a":[]}}`, path: "x.a.b", value: `1`, err: ErrNotApplicable},
		{name: "value object", doc: `{}`, path: "a", value: `{"b":[1,{"c":null}]}`, want: `{"a":{"b":[1,{"c":null}]}}`},
		{name: "value null", doc: `{"a":1}`, path: "a", value: `null`, want: `{"a":null}`},
		{name: "numbers byte exact", doc: `{"n":12345678901234567890123}`, path: "m", value: `1.50e400`, want: `{"m":1.50e400,"n":12345678901234567890123}`},
		{name: "too long new array", doc: `{}`, path: "a[10]", value: `1`, maxLen: 10, err: ErrTooLong},
		{name: "max length new array", doc: `{}`, path: "a[9]", value: `1`, maxLen: 10, want: `{"a":[null,null,null,null,null,null,null,null,null,1]}`},
		{name: "too long grow", doc: `{"a":[1]}`, path: "a[10]", value: `1`, maxLen: 10, err: ErrTooLong},
		{name: "too long deep fresh", doc: `{}`, path: "a.b[1][10]", value: `1`, maxLen: 10, err: ErrTooLong},
		{name: "too long behind grown", doc: `{"a":[]}`, path: "a[1][10]", value: `1`, maxLen: 10, err: ErrTooLong},
		{name: "big index on object fine", doc: `{"a":{}}`, path: "a[100]", value: `1`, maxLen: 10, want: `{"a":{"100":1}}`},
		{name: "replace null root", doc: `null`, path: "a", value: `1`, want: `{"a":1}`},
		{name: "replace scalar root", doc: `3`, path: "[1]", value: `1`, want: `{"":[null,1]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tokens, err := Parse(tt.path)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.path, err)
			}
			root := decode(t, tt.doc)
			got, err := SetMax(root, tokens, decode(t, tt.value), tt.maxLen)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Set = %v, want %v", err, tt.err)
				}
				if after := encode(t, root); after != encode(t, decode(t, tt.doc)) {
					t.Fatalf("root changed on error: %s", after)
				}
				return
			}
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if s := encode(t, got); s != tt.want {
				t.Fatalf("Set(%s, %q, %s) = %s, want %s", tt.doc, tt.path, tt.value, s, tt.want)
			}
		})
	}
}

func TestPathErase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, path, want string
		err                   error
	}{
		{name: "delete key", doc: `{"a":1,"b":2}`, path: "a", want: `{"b":2}`},
		{name: "delete nested", doc: `{"a":{"b":1,"c":2}}`, path: "a.b", want: `{"a":{"c":2}}`},
		{name: "missing key", doc: `{"a":1}`, path: "b", want: `{"a":1}`},
		{name: "creates containers", doc: `{}`, path: "a.b.c", want: `{"a":{"b":{}}}`},
		{name: "replaces scalar on the way", doc: `{"a":1}`, path: "a.b", want: `{"a":{}}`},
		{name: "creates padded array", doc: `{}`, path: "a[3]", want: `{"a":[null,null,null]}`},
		{name: "element to null", doc: `{"a":[1,2,3]}`, path: "a[1]", want: `{"a":[1,null,3]}`},
		{name: "last element to null", doc: `{"a":[1,2,3]}`, path: "a[2]", want: `{"a":[1,2,null]}`},
		{name: "beyond end unchanged", doc: `{"a":[1]}`, path: "a[5]", want: `{"a":[1]}`},
		{name: "numeric key on array", doc: `{"a":[1,2]}`, path: "a.0", want: `{"a":[null,2]}`},
		{name: "index on object", doc: `{"a":{"1":true,"2":false}}`, path: "a[1]", want: `{"a":{"2":false}}`},
		{name: "key on array", doc: `{"a":[1]}`, path: "a.b", err: ErrNotApplicable},
		{name: "key on root array", doc: `[1]`, path: "b", err: ErrNotApplicable},
		{name: "root array element", doc: `[1,2]`, path: "0", want: `[null,2]`},
		{name: "too long", doc: `{}`, path: "a[2000000]", err: ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tokens, err := Parse(tt.path)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.path, err)
			}
			root := decode(t, tt.doc)
			got, err := Erase(root, tokens)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Erase = %v, want %v", err, tt.err)
				}
				if after := encode(t, root); after != tt.doc {
					t.Fatalf("root changed on error: %s", after)
				}
				return
			}
			if err != nil {
				t.Fatalf("Erase: %v", err)
			}
			if s := encode(t, got); s != tt.want {
				t.Fatalf("Erase(%s, %q) = %s, want %s", tt.doc, tt.path, s, tt.want)
			}
		})
	}
}

func TestPathTokensChecked(t *testing.T) {
	t.Parallel()
	for _, tokens := range [][]Token{nil, {key("__proto__")}, {key("a"), idx(-1)}, {key("a"), key("constructor")}} {
		root := map[string]any{}
		if _, err := Set(root, tokens, "v"); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Set(%+v) = %v, want ErrInvalidPath", tokens, err)
		}
		if _, err := Erase(root, tokens); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Erase(%+v) = %v, want ErrInvalidPath", tokens, err)
		}
		if len(root) != 0 {
			t.Errorf("root changed: %v", root)
		}
	}
}

// TestPathGrowRootArray checks that a grown root array is returned, since the caller's slice header is stale.
func TestPathGrowRootArray(t *testing.T) {
	t.Parallel()
	root := []any{json.Number("1")}
	got, err := Set(root, []Token{key("3")}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if s := encode(t, got); s != `[1,null,null,"x"]` {
		t.Fatalf("got %s", s)
	}
}

// format writes tokens produced by Parse back as a path.
func format(tokens []Token) string {
	var b strings.Builder
	for i, t := range tokens {
		if t.IsIndex {
			b.WriteString("[" + strconv.Itoa(t.Index) + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t.Key)
	}
	return b.String()
}

func TestParseFormatRoundTrip(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"a", "a.b[2][0]", "[0]", "a.[1].b", "x y [3]", "a.0.b"} {
		tokens, err := Parse(path)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(format(tokens))
		if err != nil || !reflect.DeepEqual(again, tokens) {
			t.Fatalf("%q -> %q -> %+v, %v", path, format(tokens), again, err)
		}
	}
}

// Ensure the test helpers agree with byte-exact number handling.
func TestPathNumbersRoundTrip(t *testing.T) {
	t.Parallel()
	in := `[1.0,-0,1e400,0.1000000000000000055511151231257827,18446744073709551617]`
	if out := encode(t, decode(t, in)); !bytes.Equal([]byte(out), []byte(in)) {
		t.Fatalf("got %s", out)
	}
}
