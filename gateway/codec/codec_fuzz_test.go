package codec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

// FuzzParseBatch checks that ParseBatch never panics, refuses only with a 400 (or 413) *RequestError, and that a
// batch it accepts holds valid, compact JSON, re-validates command by command, and parses again to the same batch
// when written back. Seeded with every batch golden file.
func FuzzParseBatch(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "batch_*.golden"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		input, _, ok := splitGolden(raw)
		if !ok {
			continue
		}
		if s, ok := strings.CutPrefix(string(input), "# maxNameBytes="); ok {
			_, body, _ := strings.Cut(s, "\n")
			input = []byte(body)
		}
		f.Add(input, uint16(0))
	}
	f.Add([]byte(`{"body":[{"topic":"record","action":"write","recordName":"r","path":"a[0].b","data":1}]}`), uint16(4))
	f.Fuzz(func(t *testing.T, body []byte, maxName uint16) {
		b, err := ParseBatch(body, int(maxName))
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || (re.Status != 400 && re.Status != 413) {
				t.Fatalf("error %#v is not a 400/413 *RequestError", err)
			}
			if b != nil {
				t.Fatal("a batch together with an error")
			}
			return
		}
		if len(b.Commands) == 0 {
			t.Fatal("a batch without commands")
		}
		if b.HasToken && (b.Token == "" || b.AuthData != nil) {
			t.Fatalf("bad token/authData: %+v", b)
		}
		if b.AuthData != nil {
			checkCompactJSON(t, b.AuthData)
		}
		for i := range b.Commands {
			c := &b.Commands[i]
			if c.Data != nil {
				checkCompactJSON(t, c.Data)
			}
			if err := c.Validate(int(maxName)); err != nil {
				t.Fatalf("command %d does not re-validate: %v", i, err)
			}
		}
		checkReparse(t, b, int(maxName))
		results := make([]Result, len(b.Commands))
		for i, c := range b.Commands {
			results[i] = ResultRead(c.Version, c.Data)
			if i%2 == 1 {
				results[i] = ResultVersionExists(c.Name, c.Version, c.Data)
			}
		}
		if out := EncodeResponse(results); !json.Valid(out) {
			t.Fatalf("EncodeResponse gave invalid JSON: %s", out)
		}
	})
}

// FuzzParseAuth checks that ParseAuth never panics and that accepted data is a compact JSON object.
func FuzzParseAuth(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"apiKey":"k","username":"alice"}`, `[]`, `{"apiKey":1}`, `{"a":{"b":[1,2]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, re := ParseAuth(body)
		if re != nil {
			if re != ErrAuthInvalid || a != nil {
				t.Fatalf("unexpected refusal %v", re)
			}
			return
		}
		checkCompactJSON(t, a.Data)
		if a.Data[0] != '{' {
			t.Fatalf("auth data is not an object: %s", a.Data)
		}
	})
}

func checkCompactJSON(t *testing.T, raw []byte) {
	t.Helper()
	if !validJSON(raw) {
		t.Fatalf("invalid JSON kept: %q", raw)
	}
	if string(appendCompact(nil, raw)) != string(raw) {
		t.Fatalf("JSON not compact: %q", raw)
	}
}
