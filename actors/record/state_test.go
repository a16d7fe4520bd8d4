package record

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/plexushq/plexus/actors/jsonpath"
)

func rec(v int32, data string) State { return State{Exists: true, Version: v, Data: []byte(data)} }

// ws and http build whole-document writes; patch, erase and the With* helpers refine them.
func ws(v int32, data string) Write {
	return Write{Transport: WebSocket, Version: v, HasVersion: true, Data: []byte(data)}
}

func http(v int32, data string) Write {
	return Write{Transport: HTTP, Version: v, Data: []byte(data)}
}

func (w Write) at(path string) Write { w.Path, w.HasPath = path, true; return w }

func (w Write) noData() Write { w.Data = nil; return w }

func (w Write) noVersion() Write { w.Version, w.HasVersion = 0, false; return w }

const limit = 1 << 20

func TestStateApply(t *testing.T) {
	t.Parallel()
	missing := State{}
	tests := []struct {
		name     string
		s        State
		w        Write
		maxBytes int
		want     State
		err      error
		cur      *State // the ConflictError's Current, for conflicts
	}{
		// WebSocket versions.
		{name: "ws next version", s: rec(3, `{"a":1}`), w: ws(4, `{"b":2}`), want: rec(4, `{"b":2}`)},
		{name: "ws force", s: rec(3, `{"a":1}`), w: ws(-1, `{"b":2}`), want: rec(4, `{"b":2}`)},
		{name: "ws stale", s: rec(3, `{"a":1}`), w: ws(3, `{"b":2}`), err: ErrVersionExists, cur: ptr(rec(3, `{"a":1}`))},
		{name: "ws older", s: rec(3, `{"a":1}`), w: ws(1, `{"b":2}`), err: ErrVersionExists, cur: ptr(rec(3, `{"a":1}`))},
		{name: "ws zero", s: rec(3, `{"a":1}`), w: ws(0, `{"b":2}`), err: ErrVersionExists, cur: ptr(rec(3, `{"a":1}`))},
		{name: "ws below -1", s: rec(3, `{"a":1}`), w: ws(-2, `{"b":2}`), err: ErrVersionExists, cur: ptr(rec(3, `{"a":1}`))},
		{name: "ws too new", s: rec(3, `{"a":1}`), w: ws(5, `{"b":2}`), err: ErrInvalidVersion, cur: ptr(rec(3, `{"a":1}`))},
		{name: "ws absent version", s: rec(3, `{"a":1}`), w: ws(4, `{"b":2}`).noVersion(), err: ErrVersionExists, cur: ptr(rec(3, `{"a":1}`))},
		{name: "ws absent version ignores value", s: rec(0, `{}`), w: Write{Transport: WebSocket, Version: 1, Data: []byte(`{}`)}, err: ErrVersionExists, cur: ptr(rec(0, `{}`))},
		{name: "ws missing v1", s: missing, w: ws(1, `{"a":1}`), want: rec(1, `{"a":1}`)},
		{name: "ws missing force", s: missing, w: ws(-1, `{"a":1}`), want: rec(1, `{"a":1}`)},
		{name: "ws missing v2", s: missing, w: ws(2, `{"a":1}`), err: ErrInvalidVersion, cur: &State{Data: []byte(`{}`)}},
		{name: "ws missing v0", s: missing, w: ws(0, `{"a":1}`), err: ErrVersionExists, cur: &State{Data: []byte(`{}`)}},
		{name: "ws missing absent", s: missing, w: ws(0, `{"a":1}`).noVersion(), err: ErrVersionExists, cur: &State{Data: []byte(`{}`)}},
		{name: "ws created by subscribe", s: rec(0, `{}`), w: ws(1, `{"a":1}`), want: rec(1, `{"a":1}`)},
		{name: "ws created by subscribe v0", s: rec(0, `{}`), w: ws(0, `{"a":1}`), err: ErrVersionExists, cur: ptr(rec(0, `{}`))},
		{name: "ws path next", s: rec(1, `{"a":1}`), w: ws(2, `2`).at("a"), want: rec(2, `{"a":2}`)},
		{name: "ws path stale", s: rec(1, `{"a":1}`), w: ws(1, `2`).at("a"), err: ErrVersionExists, cur: ptr(rec(1, `{"a":1}`))},
		{name: "ws erase too new", s: rec(1, `{"a":1}`), w: ws(3, ``).at("a").noData(), err: ErrInvalidVersion, cur: ptr(rec(1, `{"a":1}`))},
		{name: "ws overflow", s: rec(math.MaxInt32, `{}`), w: ws(-1, `{}`), err: ErrVersionOverflow},
		{name: "ws max version", s: rec(math.MaxInt32-1, `{}`), w: ws(math.MaxInt32, `[]`), want: rec(math.MaxInt32, `[]`)},
		{name: "ws min version", s: rec(2, `{}`), w: ws(math.MinInt32, `[]`), err: ErrVersionExists, cur: ptr(rec(2, `{}`))},

		// HTTP versions.
		{name: "http absent", s: rec(6, `{"a":1}`), w: http(-1, `{"b":2}`), want: rec(7, `{"b":2}`)},
		{name: "http zero forced", s: rec(6, `{"a":1}`), w: http(0, `{"b":2}`), want: rec(7, `{"b":2}`)},
		{name: "http next", s: rec(6, `{"a":1}`), w: http(7, `{"b":2}`), want: rec(7, `{"b":2}`)},
		{name: "http stale", s: rec(6, `{"a":1}`), w: http(6, `{"b":2}`), err: ErrVersionExists, cur: ptr(rec(6, `{"a":1}`))},
		{name: "http too new", s: rec(6, `{"a":1}`), w: http(9, `{"b":2}`), err: ErrVersionExists, cur: ptr(rec(6, `{"a":1}`))},
		{name: "http below -1", s: rec(6, `{"a":1}`), w: http(-5, `{"b":2}`), err: ErrVersionExists, cur: ptr(rec(6, `{"a":1}`))},
		{name: "http missing forced", s: missing, w: http(-1, `[1]`), want: rec(1, `[1]`)},
		{name: "http missing zero", s: missing, w: http(0, `[1]`), want: rec(1, `[1]`)},
		{name: "http missing v1", s: missing, w: http(1, `[1]`), want: rec(1, `[1]`)},
		{name: "http missing v2", s: missing, w: http(2, `[1]`), err: ErrVersionExists, cur: &State{Data: []byte(`{}`)}},
		{name: "http ignores HasVersion", s: rec(6, `{}`), w: Write{Transport: HTTP, Version: 6, HasVersion: false, Data: []byte(`{}`)}, err: ErrVersionExists, cur: ptr(rec(6, `{}`))},
		{name: "http path", s: rec(6, `{"a":[1]}`), w: http(-1, `2`).at("a[1]"), want: rec(7, `{"a":[1,2]}`)},
		{name: "unknown transport", s: rec(1, `{}`), w: Write{Transport: 7, Version: -1, Data: []byte(`{}`)}, err: errAny},

		// Whole-document data.
		{name: "compacted", s: rec(1, `{}`), w: ws(2, " {\n \"b\" : [ 1 , 2 ] ,\"a\":\"x y\"}\t"), want: rec(2, `{"b":[1,2],"a":"x y"}`)},
		{name: "bytes kept", s: rec(1, `{}`), w: ws(2, `{"z":1.50,"a":"\u00e9<>&","n":123456789012345678901234567890}`), want: rec(2, `{"z":1.50,"a":"\u00e9<>&","n":123456789012345678901234567890}`)},
		{name: "array document", s: rec(1, `{"a":1}`), w: ws(2, `[1,"2",{"3":null}]`), want: rec(2, `[1,"2",{"3":null}]`)},
		{name: "empty object", s: rec(1, `{"a":1}`), w: ws(2, `{}`), want: rec(2, `{}`)},
		{name: "scalar document", s: rec(1, `{}`), w: ws(2, `1`), err: ErrInvalidData},
		{name: "string document", s: rec(1, `{}`), w: ws(2, `"{}"`), err: ErrInvalidData},
		{name: "null document", s: rec(1, `{}`), w: ws(2, `null`), err: ErrInvalidData},
		{name: "not json", s: rec(1, `{}`), w: ws(2, `{a:1}`), err: ErrInvalidData},
		{name: "trailing garbage", s: rec(1, `{}`), w: ws(2, `{} {}`), err: ErrInvalidData},
		{name: "empty data", s: rec(1, `{}`), w: ws(2, ``), err: ErrInvalidData},
		{name: "no data", s: rec(1, `{}`), w: ws(2, ``).noData(), err: ErrInvalidData},
		{name: "invalid utf8", s: rec(1, `{}`), w: ws(2, "{\"a\":\"\xff\"}"), err: ErrInvalidData},
		{name: "erase without path", s: rec(1, `{}`), w: Write{Transport: WebSocket, Version: -1, HasVersion: true, Erase: true}, err: ErrInvalidData},
		{name: "invalid data before version", s: rec(1, `{}`), w: ws(9, `nope`), err: ErrInvalidData},
		{name: "too deep document", s: rec(1, `{}`), w: ws(2, strings.Repeat("[", 10001)+strings.Repeat("]", 10001)), err: ErrInvalidData},

		// Path writes (contract §8.1 paths).
		{name: "path new key", s: rec(1, `{"a":1}`), w: ws(2, `{"c":true}`).at("b"), want: rec(2, `{"a":1,"b":{"c":true}}`)},
		{name: "path nested creates objects", s: rec(1, `{}`), w: ws(2, `1`).at("a.b.c"), want: rec(2, `{"a":{"b":{"c":1}}}`)},
		{name: "path creates padded array", s: rec(1, `{}`), w: ws(2, `"x"`).at("a.b[2]"), want: rec(2, `{"a":{"b":[null,null,"x"]}}`)},
		{name: "path pads existing array", s: rec(1, `{"a":[1]}`), w: ws(2, `4`).at("a[3]"), want: rec(2, `{"a":[1,null,null,4]}`)},
		{name: "path replaces scalar", s: rec(1, `{"a":5}`), w: ws(2, `1`).at("a.b"), want: rec(2, `{"a":{"b":1}}`)},
		{name: "path replaces null by array", s: rec(1, `{"a":null}`), w: ws(2, `1`).at("a[0]"), want: rec(2, `{"a":[1]}`)},
		{name: "path index on object", s: rec(1, `{"a":{"x":0}}`), w: ws(2, `1`).at("a[2]"), want: rec(2, `{"a":{"2":1,"x":0}}`)},
		{name: "path element", s: rec(1, `{"a":[{"b":1},{"b":2}]}`), w: ws(2, `9`).at("a[1].b"), want: rec(2, `{"a":[{"b":1},{"b":9}]}`)},
		{name: "path on array root", s: rec(1, `[1,2]`), w: ws(2, `{"x":1}`).at("1"), want: rec(2, `[1,{"x":1}]`)},
		{name: "path spaces and dots", s: rec(1, `{}`), w: ws(2, `1`).at(" a .. b "), want: rec(2, `{"a":{"b":1}}`)},
		{name: "path keys sorted on rewrite", s: rec(1, `{"z":1,"a":2}`), w: ws(2, `3`).at("m"), want: rec(2, `{"a":2,"m":3,"z":1}`)},
		{name: "path numbers byte exact", s: rec(1, `{"n":1.0e400,"i":123456789012345678901234567890}`), w: ws(2, `0.10`).at("d"), want: rec(2, `{"d":0.10,"i":123456789012345678901234567890,"n":1.0e400}`)},
		{name: "path no html escaping", s: rec(1, `{}`), w: ws(2, `"<a&b>"`).at("h"), want: rec(2, `{"h":"<a&b>"}`)},
		{name: "path scalar value null", s: rec(1, `{"a":1}`), w: ws(2, `null`).at("a"), want: rec(2, `{"a":null}`)},
		{name: "path on missing record", s: missing, w: ws(-1, `1`).at("a"), want: rec(1, `{"a":1}`)},
		{name: "path from Path only", s: rec(1, `{}`), w: Write{Transport: WebSocket, Version: 2, HasVersion: true, Path: "a", Data: []byte(`1`)}, want: rec(2, `{"a":1}`)},
		{name: "path key on array", s: rec(1, `{"a":[1]}`), w: ws(2, `1`).at("a.b"), err: ErrNotApplicable},
		{name: "path key on root array", s: rec(1, `[1]`), w: http(-1, `1`).at("b"), err: ErrNotApplicable},
		{name: "path leading index on root array", s: rec(1, `[1]`), w: http(-1, `1`).at("[0]"), err: ErrNotApplicable},
		{name: "path empty", s: rec(1, `{}`), w: ws(2, `1`).at(""), err: ErrInvalidData},
		{name: "path only dots", s: rec(1, `{}`), w: ws(2, `1`).at(" . "), err: ErrInvalidData},
		{name: "path bad index", s: rec(1, `{}`), w: ws(2, `1`).at("a[x]"), err: ErrInvalidData},
		{name: "path negative index", s: rec(1, `{}`), w: ws(2, `1`).at("a[-1]"), err: ErrInvalidData},
		{name: "path fractional index", s: rec(1, `{}`), w: ws(2, `1`).at("a[1.5]"), err: ErrInvalidData},
		{name: "path unbalanced", s: rec(1, `{}`), w: ws(2, `1`).at("a[1"), err: ErrInvalidData},
		{name: "path proto", s: rec(1, `{}`), w: ws(2, `1`).at("a.__proto__.b"), err: ErrInvalidData},
		{name: "path constructor", s: rec(1, `{}`), w: ws(2, `1`).at("constructor"), err: ErrInvalidData},
		{name: "path prototype", s: rec(1, `{}`), w: http(-1, `1`).at("prototype"), err: ErrInvalidData},
		{name: "path value not json", s: rec(1, `{}`), w: ws(2, `{`).at("a"), err: ErrInvalidData},
		{name: "path value empty is erase", s: rec(1, `{"a":1,"b":2}`), w: ws(2, ``).at("a"), want: rec(2, `{"b":2}`)},
		{name: "path invalid before version", s: rec(1, `{}`), w: ws(7, `1`).at("a[x]"), err: ErrInvalidData},

		// ERASE.
		{name: "erase key", s: rec(1, `{"a":1,"b":2}`), w: ws(2, ``).at("a").noData(), want: rec(2, `{"b":2}`)},
		{name: "erase flag ignores data", s: rec(1, `{"a":1,"b":2}`), w: Write{Transport: WebSocket, Version: 2, HasVersion: true, Path: "a", HasPath: true, Data: []byte(`"ignored"`), Erase: true}, want: rec(2, `{"b":2}`)},
		{name: "erase missing key", s: rec(1, `{"a":1}`), w: ws(2, ``).at("b").noData(), want: rec(2, `{"a":1}`)},
		{name: "erase creates containers", s: rec(1, `{}`), w: ws(2, ``).at("a.b.c").noData(), want: rec(2, `{"a":{"b":{}}}`)},
		{name: "erase creates padded array", s: rec(1, `{}`), w: ws(2, ``).at("a[2]").noData(), want: rec(2, `{"a":[null,null]}`)},
		{name: "erase element to null", s: rec(1, `{"a":[1,2,3]}`), w: ws(2, ``).at("a[1]").noData(), want: rec(2, `{"a":[1,null,3]}`)},
		{name: "erase beyond end", s: rec(1, `{"a":[1]}`), w: ws(2, ``).at("a[4]").noData(), want: rec(2, `{"a":[1]}`)},
		{name: "erase on missing record", s: missing, w: http(-1, ``).at("a").noData(), want: rec(1, `{}`)},
		{name: "erase key on array", s: rec(1, `{"a":[1]}`), w: ws(2, ``).at("a.x").noData(), err: ErrNotApplicable},
		{name: "erase invalid path", s: rec(1, `{}`), w: ws(2, ``).at("a[").noData(), err: ErrInvalidData},

		// Size.
		{name: "whole at limit", s: rec(1, `{}`), w: ws(2, `{"a":"12345"}`), maxBytes: 13, want: rec(2, `{"a":"12345"}`)},
		{name: "whole too large", s: rec(1, `{}`), w: ws(2, `{"a":"123456"}`), maxBytes: 13, err: ErrTooLarge},
		{name: "whole compacted fits", s: rec(1, `{}`), w: ws(2, ` { "a" : "12345" } `), maxBytes: 13, want: rec(2, `{"a":"12345"}`)},
		{name: "path too large", s: rec(1, `{"a":"1234"}`), w: ws(2, `1`).at("b"), maxBytes: 16, err: ErrTooLarge},
		{name: "path padding too large", s: rec(1, `{}`), w: ws(2, `1`).at("a[100000]"), maxBytes: limit / 8, err: ErrTooLarge},
		{name: "path padding huge index", s: rec(1, `{}`), w: ws(2, `1`).at("a[2147483647]"), maxBytes: limit, err: ErrTooLarge},
		{name: "path padding fits", s: rec(1, `{}`), w: ws(2, `1`).at("a[3]"), maxBytes: 24, want: rec(2, `{"a":[null,null,null,1]}`)},
		{name: "path padding one byte over", s: rec(1, `{}`), w: ws(2, `1`).at("a[3]"), maxBytes: 23, err: ErrTooLarge},
		{name: "path too deep", s: rec(1, `{}`), w: ws(2, `1`).at(strings.Repeat("a.", 10001)), err: ErrTooLarge},
		{name: "path max depth", s: rec(1, `{}`), w: ws(2, `1`).at(strings.Repeat("a.", 9999) + "a"), want: rec(2, strings.Repeat(`{"a":`, 10000)+`1`+strings.Repeat(`}`, 10000))},
		{name: "path one too deep by value", s: rec(1, `{}`), w: ws(2, `[1]`).at(strings.Repeat("a.", 9999) + "a"), err: ErrTooLarge},
		{name: "no limit", s: rec(1, `{}`), w: ws(2, `[`+strings.Repeat(`1,`, 1000)+`1]`), maxBytes: -1, want: rec(2, `[`+strings.Repeat(`1,`, 1000)+`1]`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := clone(tt.s)
			maxBytes := tt.maxBytes
			if maxBytes == 0 {
				maxBytes = limit
			}
			got, err := Apply(tt.s, tt.w, maxBytes)
			if !equal(tt.s, in) {
				t.Fatalf("input modified: %+v", tt.s)
			}
			if tt.err != nil {
				if err == nil || (tt.err != errAny && !errors.Is(err, tt.err)) {
					t.Fatalf("Apply = %v, %v; want error %v", show(got), err, tt.err)
				}
				if !equal(got, in) {
					t.Fatalf("Apply returned %v on error, want the input %v", show(got), show(in))
				}
				var ce *ConflictError
				isConflict := errors.As(err, &ce)
				if isConflict != (tt.cur != nil) {
					t.Fatalf("Apply error %v: ConflictError %v, want %v", err, isConflict, tt.cur != nil)
				}
				if isConflict && !equal(ce.Current, *tt.cur) {
					t.Fatalf("ConflictError.Current = %v, want %v", show(ce.Current), show(*tt.cur))
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !equal(got, tt.want) {
				t.Fatalf("Apply = %v, want %v", show(got), show(tt.want))
			}
		})
	}
}

// errAny accepts any error in the table.
var errAny = errors.New("any error")

func TestStateErrorWrapping(t *testing.T) {
	t.Parallel()
	_, err := Apply(rec(1, `{}`), ws(2, `1`).at("a[x]"), limit)
	if !errors.Is(err, ErrInvalidData) || !errors.Is(err, jsonpath.ErrInvalidPath) {
		t.Errorf("invalid path: %v", err)
	}
	_, err = Apply(rec(1, `{"a":[]}`), ws(2, `1`).at("a.b"), limit)
	if !errors.Is(err, ErrNotApplicable) || !errors.Is(err, jsonpath.ErrNotApplicable) {
		t.Errorf("not applicable: %v", err)
	}
	_, err = Apply(rec(1, `{}`), ws(5, `{}`), limit)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Err != ErrInvalidVersion || ce.Current.Version != 1 {
		t.Errorf("conflict: %v", err)
	}
	if want := "record: invalid version: current version 1"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	for _, e := range []error{ErrVersionExists, ErrInvalidVersion, ErrInvalidData, ErrNotApplicable, ErrTooLarge, ErrVersionOverflow} {
		if !strings.HasPrefix(e.Error(), "record: ") {
			t.Errorf("%q lacks the package prefix", e)
		}
	}
}

func TestStateCorruptStoredData(t *testing.T) {
	t.Parallel()
	s := rec(1, `{"a":`)
	got, err := Apply(s, ws(2, `1`).at("a"), limit)
	if err == nil || errors.Is(err, ErrInvalidData) || !equal(got, s) {
		t.Fatalf("Apply = %v, %v; want a plain error and the input back", show(got), err)
	}
	// A whole-document write replaces corrupt data.
	if got, err := Apply(s, ws(2, `{}`), limit); err != nil || !equal(got, rec(2, `{}`)) {
		t.Fatalf("Apply = %v, %v", show(got), err)
	}
	// Existing records with no data read as {}.
	if got, err := Apply(State{Exists: true, Version: 4}, ws(5, `1`).at("a"), limit); err != nil || !equal(got, rec(5, `{"a":1}`)) {
		t.Fatalf("Apply = %v, %v", show(got), err)
	}
}

func TestStateCreate(t *testing.T) {
	t.Parallel()
	got, created := Create(State{})
	if !created || !equal(got, rec(0, `{}`)) {
		t.Fatalf("Create(missing) = %v, %v", show(got), created)
	}
	existing := rec(3, `{"a":1}`)
	if got, created := Create(existing); created || !equal(got, existing) {
		t.Fatalf("Create(existing) = %v, %v", show(got), created)
	}
	// Created by subscribe: version 0 exists, and the first write makes 1.
	if got, created := Create(rec(0, `{}`)); created || !equal(got, rec(0, `{}`)) {
		t.Fatalf("Create(version 0) = %v, %v", show(got), created)
	}
	next, err := Apply(got, ws(1, `{"x":1}`), limit)
	if err != nil || !equal(next, rec(1, `{"x":1}`)) {
		t.Fatalf("Apply after Create = %v, %v", show(next), err)
	}
}

func TestStateDelete(t *testing.T) {
	t.Parallel()
	if got := Delete(rec(9, `{"a":1}`)); !equal(got, State{}) {
		t.Fatalf("Delete = %v", show(got))
	}
	if got := Delete(State{}); !equal(got, State{}) {
		t.Fatalf("Delete(missing) = %v", show(got))
	}
	// After a delete the record starts again: a write makes version 1, a subscribe version 0.
	got, err := Apply(Delete(rec(9, `{"a":1}`)), http(-1, `{"b":1}`), limit)
	if err != nil || !equal(got, rec(1, `{"b":1}`)) {
		t.Fatalf("Apply after Delete = %v, %v", show(got), err)
	}
	if _, err := Apply(Delete(rec(9, `{}`)), ws(10, `{}`), limit); !errors.Is(err, ErrInvalidVersion) {
		t.Fatalf("old version after Delete = %v", err)
	}
}

// TestStateSequence follows a record through a client's life: subscribe, writes from two clients, a conflict.
func TestStateSequence(t *testing.T) {
	t.Parallel()
	s, _ := Create(State{})
	steps := []struct {
		w    Write
		want string
		err  error
	}{
		{w: ws(1, `{"name":"a"}`), want: `{"name":"a"}`},
		{w: ws(2, `["x"]`).at("tags"), want: `{"name":"a","tags":["x"]}`},
		{w: ws(2, `{"lost":true}`), err: ErrVersionExists},
		{w: ws(3, `"y"`).at("tags[2]"), want: `{"name":"a","tags":["x",null,"y"]}`},
		{w: ws(4, ``).at("tags[0]").noData(), want: `{"name":"a","tags":[null,null,"y"]}`},
		{w: http(-1, ``).at("name").noData(), want: `{"tags":[null,null,"y"]}`},
		{w: http(6, `1`).at("tags.k"), err: ErrNotApplicable},
		{w: http(6, `[]`), want: `[]`},
	}
	for i, st := range steps {
		next, err := Apply(s, st.w, limit)
		if st.err != nil {
			if !errors.Is(err, st.err) || !equal(next, s) {
				t.Fatalf("step %d: %v, %v; want %v", i, show(next), err, st.err)
			}
			continue
		}
		if err != nil || string(next.Data) != st.want || next.Version != s.Version+1 || !next.Exists {
			t.Fatalf("step %d: %v, %v; want version %d %s", i, show(next), err, s.Version+1, st.want)
		}
		s = next
	}
	if s.Version != 6 {
		t.Fatalf("final version %d, want 6", s.Version)
	}
}

func TestStateTransportString(t *testing.T) {
	t.Parallel()
	if WebSocket.String() != "websocket" || HTTP.String() != "http" || Transport(5).String() != "Transport(5)" {
		t.Fatal("Transport.String")
	}
}

func ptr(s State) *State { return &s }

func clone(s State) State {
	if s.Data != nil {
		s.Data = append([]byte(nil), s.Data...)
	}
	return s
}

func equal(a, b State) bool {
	return a.Exists == b.Exists && a.Version == b.Version && string(a.Data) == string(b.Data) &&
		(a.Data == nil) == (b.Data == nil)
}

func show(s State) string {
	return fmt.Sprintf("{exists:%v version:%d data:%s}", s.Exists, s.Version, s.Data)
}

// benchDoc returns a compact JSON object of about n bytes: users with a few fields each.
func benchDoc(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"users":[`)
	for i := 0; b.Len() < n-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"user %d","score":%d.25,"tags":["a","b"],"active":true}`, i, i, i*7)
	}
	b.WriteString(`],"title":"bench"}`)
	return []byte(b.String())
}

func BenchmarkApply(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		doc := benchDoc(size)
		s := State{Exists: true, Version: 1, Data: doc}
		writes := []struct {
			name string
			w    Write
		}{
			{"whole", Write{Transport: WebSocket, Version: 2, HasVersion: true, Data: doc}},
			{"path", Write{Transport: WebSocket, Version: 2, HasVersion: true, Path: "users[3].name", HasPath: true, Data: []byte(`"renamed"`)}},
			{"erase", Write{Transport: HTTP, Version: -1, Path: "users[3].tags", HasPath: true}},
		}
		for _, wr := range writes {
			b.Run(fmt.Sprintf("write=%s/size=%dKiB", wr.name, size>>10), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(doc)))
				for b.Loop() {
					if _, err := Apply(s, wr.w, limit); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
