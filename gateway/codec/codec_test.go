package codec

import (
	stdjson "encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGatewayCodecCheckContentType(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ct string
		ok bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON;charset=UTF-8", true},
		{" application/json ; x=y", true},
		{"application/json;", true},
		{"", false},
		{"text/plain", false},
		{"application/jsonx", false},
		{"application/json+patch", false},
		{"application/x-www-form-urlencoded", false},
		{"multipart/form-data; boundary=x", false},
	} {
		got := CheckContentType(tc.ct)
		if (got == nil) != tc.ok {
			t.Errorf("CheckContentType(%q) = %v, want ok=%v", tc.ct, got, tc.ok)
		}
		if got != nil && got != ErrUnsupportedMediaType {
			t.Errorf("CheckContentType(%q) = %v, want ErrUnsupportedMediaType", tc.ct, got)
		}
	}
}

func TestGatewayCodecCheckBodySize(t *testing.T) {
	t.Parallel()
	if CheckBodySize(1<<20, 1<<20) != nil {
		t.Error("a body of exactly max_message_bytes must pass")
	}
	if CheckBodySize(1<<20+1, 1<<20) != ErrTooLarge {
		t.Error("a body over max_message_bytes must be 413")
	}
}

func TestGatewayCodecRequestError(t *testing.T) {
	t.Parallel()
	var err error = ErrTooLarge
	var re *RequestError
	if !errors.As(err, &re) || re.Status != 413 {
		t.Fatalf("errors.As: %v", err)
	}
	if got := err.Error(); got != "codec: 413 Failed to parse body of request: request entity too large" {
		t.Errorf("Error() = %q", got)
	}
	if got := string(ErrEndpointNotFound.Body()); got != "Endpoint not found.\r\n\r\n" {
		t.Errorf("Body() = %q", got)
	}
	// A batch error is a *RequestError through the error interface, and nil really is nil.
	if _, err := ParseBatch([]byte(`{"body":[{"topic":"presence","action":"query"}]}`), 0); err != nil {
		t.Fatalf("valid batch: %v", err)
	}
	_, err = ParseBatch([]byte(`{"body":[1]}`), 0)
	if !errors.As(err, &re) || re.Status != 400 || re.Text != "Failed to parse JIF object at index 0." {
		t.Fatalf("invalid batch: %#v", err)
	}
}

func TestGatewayCodecFalsyBody(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`null`, `false`, `0`, `-0`, `0.0`, `0e10`, `""`} {
		_, err := ParseBatch([]byte(`{"body":`+body+`}`), 0)
		if err != ErrBodyMissing {
			t.Errorf("body %s: %v, want ErrBodyMissing", body, err)
		}
	}
	for _, body := range []string{`true`, `1`, `"x"`, `{}`, `-0.5`} {
		_, err := ParseBatch([]byte(`{"body":`+body+`}`), 0)
		if err != ErrBodyNotArray {
			t.Errorf("body %s: %v, want ErrBodyNotArray", body, err)
		}
	}
}

func TestGatewayCodecVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw          string
		v            int32
		isInt, inRng bool
	}{
		{"0", 0, true, true},
		{"-1", -1, true, true},
		{"-0", 0, true, true},
		{"6", 6, true, true},
		{"2147483647", 2147483647, true, true},
		{"-2147483648", -2147483648, true, true},
		{"2147483648", 0, true, false},
		{"9999999999", 0, true, false},
		{"12345678901234567890", 0, true, false},
		{"1.0", 1, true, true},
		{"1e2", 100, true, true},
		{"1E+2", 100, true, true},
		{"15e-1", 0, false, false},
		{"1.5", 0, false, false},
		{"1e400", 0, false, false},
		{"-1e400", 0, false, false},
		{"1e-400", 0, true, true},
		{`"1"`, 0, false, false},
		{"null", 0, false, false},
		{"true", 0, false, false},
		{"[1]", 0, false, false},
	} {
		v, isInt, inRng := jsonInt32([]byte(tc.raw))
		if v != tc.v || isInt != tc.isInt || inRng != tc.inRng {
			t.Errorf("jsonInt32(%s) = %d,%v,%v; want %d,%v,%v", tc.raw, v, isInt, inRng, tc.v, tc.isInt, tc.inRng)
		}
	}
}

func TestGatewayCodecAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "\x00\x01\x1f\x7f", "\n\r\t\b\f", "é€😀",
		"\u2028\u2029", "<script>&", "bad\xffutf8\xc3", "users/123"} {
		out := appendString(nil, s)
		var back string
		if err := stdjson.Unmarshal(out, &back); err != nil {
			t.Errorf("appendString(%q) = %s: invalid JSON: %v", s, out, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			want = string([]rune(s)) // each invalid byte becomes one U+FFFD
		}
		if back != want {
			t.Errorf("appendString(%q) round trip = %q, want %q", s, back, want)
		}
	}
}

func TestGatewayCodecAppendCompact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`1`:                             `1`,
		` { "a" : [ 1 , 2 ] } `:         `{"a":[1,2]}`,
		"{\n\t\"k y\": \"v \\\" w\"\r}": `{"k y":"v \" w"}`,
		`"\\"`:                          `"\\"`,
		`[ "a\\", " " ]`:                `["a\\"," "]`,
	} {
		if got := string(appendCompact(nil, trimSpace([]byte(in)))); got != want {
			t.Errorf("appendCompact(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestGatewayCodecValidate(t *testing.T) {
	t.Parallel()
	bad := []Command{
		{Topic: "event", Action: "subscribe", Name: "e"},
		{Topic: "event", Action: "emit"},
		{Topic: "event", Action: "emit", Name: strings.Repeat("x", DefaultMaxNameBytes+1)},
		{Topic: "event", Action: "emit", Name: "e", Data: []byte("{")},
		{Topic: "event", Action: "emit", Name: "e", HasPath: true, Path: "a"},
		{Topic: "record", Action: "read", Name: "r", Data: []byte("{}")},
		{Topic: "record", Action: "write", Name: "r"},
		{Topic: "record", Action: "write", Name: "r", Data: []byte("1")},
		{Topic: "record", Action: "write", Name: "r", Data: []byte("{}"), HasVersion: true, Version: -2},
		{Topic: "record", Action: "write", Name: "r", Data: []byte("1"), HasPath: true, Path: ""},
		{Topic: "record", Action: "notify"},
		{Topic: "record", Action: "notify", HasNames: true, Names: []string{""}},
		{Topic: "record", Action: "notify", Name: "r", HasNames: true},
		{Topic: "list", Action: "write", Name: "l", Data: []byte(`[1]`)},
		{Topic: "presence", Action: "query", Name: "u"},
		{Topic: "rpc", Action: "make", Name: "r", HasNames: true},
	}
	for _, c := range bad {
		if err := c.Validate(0); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidCommand", c, err)
		}
	}
	good := []Command{
		{Topic: "event", Action: "emit", Name: "e"},
		{Topic: "record", Action: "write", Name: "r", Data: []byte("null"), HasPath: true, Path: "a.b"},
		{Topic: "record", Action: "notify", HasNames: true},
		{Topic: "list", Action: "write", Name: "l", Data: []byte(`["a"]`), HasVersion: true, Version: -1},
		{Topic: "presence", Action: "query"},
	}
	for _, c := range good {
		if err := c.Validate(0); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

// TestGatewayCodecBatchCopies checks that a parsed batch keeps nothing of the request buffer, which the HTTP server
// reuses once the handler returns.
func TestGatewayCodecBatchCopies(t *testing.T) {
	t.Parallel()
	body := []byte(`{"authData":{"u":"a"},"body":[{"topic":"rpc","action":"make","rpcName":"r","data":{"x":1}}]}`)
	b, err := ParseBatch(body, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = ' '
	}
	if string(b.AuthData) != `{"u":"a"}` || string(b.Commands[0].Data) != `{"x":1}` || b.Commands[0].Name != "r" {
		t.Fatalf("batch aliases the request body: %+v", b)
	}
	// Appending to one value must not overwrite the next.
	_ = append(b.AuthData, "XXXXXXXX"...)
	if string(b.Commands[0].Data) != `{"x":1}` {
		t.Fatalf("data slices share capacity: %s", b.Commands[0].Data)
	}
}

func TestGatewayCodecMaxNameBytes(t *testing.T) {
	t.Parallel()
	ok := `{"body":[{"topic":"presence","action":"query","names":["` + strings.Repeat("u", DefaultMaxNameBytes) + `"]}]}`
	if _, err := ParseBatch([]byte(ok), 0); err != nil {
		t.Errorf("a name of max_name_bytes: %v", err)
	}
	long := `{"body":[{"topic":"presence","action":"query","names":["` + strings.Repeat("u", DefaultMaxNameBytes+1) + `"]}]}`
	if _, err := ParseBatch([]byte(long), 0); err == nil || err.(*RequestError).Text != "Failed to parse JIF object at index 0." {
		t.Errorf("a name over max_name_bytes: %v", err)
	}
	if _, err := ParseBatch([]byte(long), DefaultMaxNameBytes+1); err != nil {
		t.Errorf("a larger max_name_bytes: %v", err)
	}
}

func TestGatewayCodecResultSuccess(t *testing.T) {
	t.Parallel()
	for _, r := range []Result{ResultOK(), ResultRead(1, []byte(`{}`)), ResultHead(-1), ResultRPC(nil),
		ResultPresence(nil), ResultPresenceQuery(nil, nil)} {
		if !r.Success() {
			t.Errorf("%+v: Success() = false", r)
		}
	}
	for _, r := range []Result{ResultNotFound("x"), ResultVersionExists("x", 1, nil), ResultDenied("event", "emit"),
		ResultTimeout(), ResultRPCRequestError(nil), ResultNoRPCProvider("x"), ResultRPCAcceptTimeout("x"),
		ResultRPCResponseTimeout(), ResultUpdateError("x"), ResultDeleteError("x"), ResultNotifyError("x"),
		ResultStorageTimeout("x"), ResultError("record", "X", "y")} {
		if r.Success() {
			t.Errorf("%+v: Success() = true", r)
		}
		out := r.AppendJSON(nil)
		var m map[string]any
		if err := stdjson.Unmarshal(out, &m); err != nil || m["success"] != false {
			t.Errorf("%s: %v", out, err)
		}
	}
	// A long presence query (the map path of the duplicate check).
	names := make([]string, 40)
	for i := range names {
		names[i] = string(rune('a' + i%20))
	}
	out := ResultPresenceQuery(names, map[string]bool{"a": true}).AppendJSON(nil)
	var m struct{ Users map[string]bool }
	if err := stdjson.Unmarshal(out, &m); err != nil || len(m.Users) != 20 || !m.Users["a"] || m.Users["b"] {
		t.Errorf("%s: %v", out, err)
	}
}
