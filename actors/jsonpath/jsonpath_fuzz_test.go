package jsonpath

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"a", "a.b[2][0]", "[0]", " a . b ", "a[x]", "a[-1]", "a[1.5]", "a[1]b", "a[1", "__proto__",
		"users[2].firstname", "a..b", "a.2", "a[007]", "a[2147483648]", "é[1]", "",
	} {
		f.Add(s, `{"a":[1,{"b":2}],"c":null}`)
	}
	f.Fuzz(func(t *testing.T, path, doc string) {
		tokens, err := Parse(path)
		if err != nil {
			if !errors.Is(err, ErrInvalidPath) || tokens != nil {
				t.Fatalf("Parse(%q) = %+v, %v", path, tokens, err)
			}
			return
		}
		if len(tokens) == 0 {
			t.Fatalf("Parse(%q) returned no tokens", path)
		}
		for _, tok := range tokens {
			if tok.IsIndex {
				if tok.Index < 0 || tok.Index > MaxIndex || tok.Key != "" {
					t.Fatalf("Parse(%q): bad index token %+v", path, tok)
				}
				continue
			}
			if forbidden(tok.Key) || strings.ContainsAny(tok.Key, ".[]") {
				t.Fatalf("Parse(%q): bad key token %+v", path, tok)
			}
		}
		again, err := Parse(format(tokens))
		if err != nil || !reflect.DeepEqual(again, tokens) {
			t.Fatalf("Parse(%q) = %+v; formatted %q parses to %+v, %v", path, tokens, format(tokens), again, err)
		}

		root, ok := decodeOK(doc)
		if !ok {
			return
		}
		before := encode(t, root)
		if _, err := SetMax(root, tokens, "v", 64); err != nil {
			if !errors.Is(err, ErrNotApplicable) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("Set: %v", err)
			}
			if after := encode(t, root); after != before {
				t.Fatalf("Set error changed root: %s -> %s", before, after)
			}
		}
		root, _ = decodeOK(doc)
		if _, err := EraseMax(root, tokens, 64); err != nil {
			if after := encode(t, root); after != before {
				t.Fatalf("Erase error changed root: %s -> %s", before, after)
			}
		}
	})
}

// decodeOK decodes doc as the record state machine does, reporting false for anything but one valid JSON value.
func decodeOK(doc string) (any, bool) {
	if !json.Valid([]byte(doc)) {
		return nil, false
	}
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}
