package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func FuzzApply(f *testing.F) {
	type seed struct {
		exists     bool
		version    int32
		data       string
		transport  uint8
		wVersion   int32
		hasVersion bool
		path       string
		hasPath    bool
		wData      string
		nilData    bool
		erase      bool
		maxBytes   uint16
	}
	for _, s := range []seed{
		{false, 0, "", 0, -1, true, "", false, `{"a":1}`, false, false, 1024},
		{true, 3, `{"a":[1,2]}`, 0, 4, true, "a[3]", true, `"x"`, false, false, 1024},
		{true, 3, `{"a":[1,2]}`, 0, 4, true, "a.b", true, `1`, false, false, 1024},
		{true, 3, `{"a":[1,2]}`, 1, 0, false, "a[0]", true, ``, true, false, 1024},
		{true, 3, `[1,{"b":null}]`, 1, 9, false, "", false, `[]`, false, false, 1024},
		{true, 0, `{}`, 0, 0, false, "x.y[2].z", true, `{"k":[true,false,null,1.5e3]}`, false, false, 64},
		{true, 2147483647, `{}`, 0, -1, true, "", false, `{}`, false, false, 1024},
		{true, 5, `{"a":{"b":1}}`, 0, 6, true, "a.b", true, `2`, false, true, 1024},
		{false, 0, "", 1, 1, false, "__proto__", true, `1`, false, false, 1024},
		{true, 1, `{"n":12345678901234567890}`, 0, 2, true, "m[1000]", true, `1`, false, false, 4096},
	} {
		f.Add(s.exists, s.version, s.data, s.transport, s.wVersion, s.hasVersion, s.path, s.hasPath, s.wData,
			s.nilData, s.erase, s.maxBytes)
	}
	f.Fuzz(func(t *testing.T, exists bool, version int32, data string, transport uint8, wVersion int32,
		hasVersion bool, path string, hasPath bool, wData string, nilData, erase bool, maxBytes uint16) {
		s := State{Exists: exists, Version: version}
		if exists {
			// The grain only ever holds what Apply or Create produced: compact JSON objects and arrays.
			if !json.Valid([]byte(data)) {
				return
			}
			var buf bytes.Buffer
			if json.Compact(&buf, []byte(data)) != nil || (buf.Bytes()[0] != '{' && buf.Bytes()[0] != '[') {
				return
			}
			s.Data = buf.Bytes()
		}
		w := Write{
			Transport: Transport(transport % 2), Version: wVersion, HasVersion: hasVersion,
			Path: path, HasPath: hasPath, Data: []byte(wData), Erase: erase,
		}
		if nilData {
			w.Data = nil
		}
		in := clone(s)
		got, err := Apply(s, w, int(maxBytes))
		if !equal(s, in) {
			t.Fatalf("input modified")
		}
		if err != nil {
			if !equal(got, in) {
				t.Fatalf("error %v returned %v, want the input %v", err, show(got), show(in))
			}
			var ce *ConflictError
			if errors.As(err, &ce) && (ce.Current.Version != map[bool]int32{true: version}[exists] || len(ce.Current.Data) == 0) {
				t.Fatalf("conflict carries %v", show(ce.Current))
			}
			return
		}
		cur := int32(0)
		if exists {
			cur = version
		}
		if !got.Exists || got.Version != cur+1 {
			t.Fatalf("Apply = %v from version %d", show(got), cur)
		}
		if !json.Valid(got.Data) || (got.Data[0] != '{' && got.Data[0] != '[') {
			t.Fatalf("Apply data %q is not a JSON object or array", got.Data)
		}
		var buf bytes.Buffer
		if json.Compact(&buf, got.Data) != nil || !bytes.Equal(buf.Bytes(), got.Data) {
			t.Fatalf("Apply data %q is not compact", got.Data)
		}
		if maxBytes > 0 && len(got.Data) > int(maxBytes) {
			t.Fatalf("Apply data of %d bytes over %d", len(got.Data), maxBytes)
		}
		// The result must take another write: nothing stored may wedge the record.
		if _, err := Apply(got, Write{Transport: HTTP, Version: -1, Path: "z", HasPath: true}, 0); err != nil &&
			!errors.Is(err, ErrVersionOverflow) && !errors.Is(err, ErrNotApplicable) {
			t.Fatalf("follow-up erase on %q: %v", got.Data, err)
		}
	})
}
