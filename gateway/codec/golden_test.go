package codec

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// Golden files: testdata/<mode>_<case>.golden hold an input, a line "----" and the expected output. Modes:
//
//	batch     input: a POST /api body, optionally after a first line "# maxNameBytes=N";
//	          output: "<status> <text>" or the parsed Batch as JSON (data as strings, to show compaction).
//	auth      input: a POST /api/auth body; output: "<status> <text>" or the parsed AuthRequest.
//	response  input: one result per line, as a JSON array ["Constructor", args...]; output: EncodeResponse.
//	authok    input: a JSON array [token, clientData-or-absent]; output: EncodeAuthSuccess.
//	errors    input: names of the exported *RequestError values, one per line; output: "<name> <status> <text>" each.
const goldenSep = "----"

func TestGatewayCodecGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".golden")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := splitGolden(raw)
			if !ok {
				t.Fatalf("%s: no %q separator line", file, goldenSep)
			}
			got := runGolden(t, name, input)
			if *update {
				out := append(append(append([]byte{}, input...), "\n"+goldenSep+"\n"...), got...)
				if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != want {
				t.Errorf("%s:\n got: %s\nwant: %s", file, got, want)
			}
		})
	}
}

// splitGolden splits a golden file at its first separator line; the input keeps its bytes exactly (without the
// newline before the separator), the expected output loses its final newline.
func splitGolden(raw []byte) (input []byte, want string, ok bool) {
	sep := []byte(goldenSep + "\n")
	var rest []byte
	if bytes.HasPrefix(raw, sep) {
		input, rest = raw[:0], raw[len(sep):]
	} else {
		i := bytes.Index(raw, []byte("\n"+goldenSep+"\n"))
		if i < 0 {
			return nil, "", false
		}
		input, rest = raw[:i], raw[i+1+len(sep):]
	}
	return input, strings.TrimSuffix(string(rest), "\n"), true
}

func runGolden(t *testing.T, name string, input []byte) string {
	t.Helper()
	mode, _, _ := strings.Cut(name, "_")
	switch mode {
	case "batch":
		maxName := 0
		if rest, ok := bytes.CutPrefix(input, []byte("# maxNameBytes=")); ok {
			line, body, _ := bytes.Cut(rest, []byte("\n"))
			n, err := strconv.Atoi(string(line))
			if err != nil {
				t.Fatal(err)
			}
			maxName, input = n, body
		}
		b, err := ParseBatch(input, maxName)
		if err != nil {
			re := err.(*RequestError)
			checkBody(t, re)
			return fmt.Sprintf("%d %s", re.Status, re.Text)
		}
		checkReparse(t, b, maxName)
		return dumpJSON(t, toBatchView(b))
	case "auth":
		a, re := ParseAuth(input)
		if re != nil {
			checkBody(t, re)
			return fmt.Sprintf("%d %s", re.Status, re.Text)
		}
		return dumpJSON(t, authView{Data: string(a.Data), APIKey: a.APIKey, HasAPIKey: a.HasAPIKey})
	case "response":
		var results []Result
		for line := range strings.SplitSeq(string(input), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			results = append(results, buildResult(t, line))
		}
		out := EncodeResponse(results)
		if !json.Valid(out) {
			t.Errorf("EncodeResponse gave invalid JSON: %s", out)
		}
		return string(out)
	case "authok":
		var args []json.RawMessage
		if err := json.Unmarshal(input, &args); err != nil || len(args) == 0 {
			t.Fatalf("authok input: %v", err)
		}
		var token string
		mustUnmarshal(t, args[0], &token)
		var cd []byte
		if len(args) > 1 {
			cd = args[1]
		}
		out := EncodeAuthSuccess(token, cd)
		if !json.Valid(out) {
			t.Errorf("EncodeAuthSuccess gave invalid JSON: %s", out)
		}
		return string(out)
	case "errors":
		var out []string
		for line := range strings.SplitSeq(string(input), "\n") {
			re, ok := requestErrors[line]
			if !ok {
				t.Fatalf("unknown error value %q", line)
			}
			checkBody(t, re)
			out = append(out, fmt.Sprintf("%s %d %s", line, re.Status, re.Text))
		}
		return strings.Join(out, "\n")
	}
	t.Fatalf("unknown golden mode %q", mode)
	return ""
}

func checkBody(t *testing.T, re *RequestError) {
	t.Helper()
	if got, want := string(re.Body()), re.Text+"\r\n\r\n"; got != want {
		t.Errorf("Body() = %q, want %q", got, want)
	}
}

// checkReparse asserts that every parsed command re-validates and that the batch survives a rebuild through JSON.
func checkReparse(t *testing.T, b *Batch, maxName int) {
	t.Helper()
	for i := range b.Commands {
		if err := b.Commands[i].Validate(maxName); err != nil {
			t.Errorf("command %d does not re-validate: %v", i, err)
		}
	}
	again, err := ParseBatch(rebuild(t, b), maxName)
	if err != nil {
		t.Fatalf("rebuilt batch refused: %v", err)
	}
	if got, want := dumpJSON(t, toBatchView(again)), dumpJSON(t, toBatchView(b)); got != want {
		t.Errorf("rebuilt batch differs:\n got: %s\nwant: %s", got, want)
	}
}

// rebuild writes b back as a POST /api body.
func rebuild(t *testing.T, b *Batch) []byte {
	t.Helper()
	req := map[string]any{}
	if b.HasToken {
		req["token"] = b.Token
	}
	if b.AuthData != nil {
		req["authData"] = b.AuthData
	}
	cmds := make([]map[string]any, len(b.Commands))
	for i, c := range b.Commands {
		m := map[string]any{"topic": c.Topic, "action": c.Action}
		if c.Name != "" {
			m[nameKey(c.Topic)] = c.Name
		}
		if c.HasNames {
			if c.Topic == "record" {
				m["recordNames"] = c.Names
			} else {
				m["names"] = c.Names
			}
		}
		if c.Data != nil {
			m["data"] = c.Data
		}
		if c.HasPath {
			m["path"] = c.Path
		}
		if c.HasVersion {
			m["version"] = c.Version
		}
		cmds[i] = m
	}
	req["body"] = cmds
	out, err := json.MarshalWithOption(req, json.DisableHTMLEscape())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func nameKey(topic string) string {
	switch topic {
	case "event":
		return "eventName"
	case "record":
		return "recordName"
	case "list":
		return "listName"
	}
	return "rpcName"
}

var requestErrors = map[string]*RequestError{
	"ErrBodyMissing":          ErrBodyMissing,
	"ErrBodyNotArray":         ErrBodyNotArray,
	"ErrTokenInvalid":         ErrTokenInvalid,
	"ErrAuthDataInvalid":      ErrAuthDataInvalid,
	"ErrTokenAndAuthData":     ErrTokenAndAuthData,
	"ErrInvalidJSON":          ErrInvalidJSON,
	"ErrAuthInvalid":          ErrAuthInvalid,
	"ErrAuthRefused":          ErrAuthRefused,
	"ErrUnauthorized":         ErrUnauthorized,
	"ErrAppDisabled":          ErrAppDisabled,
	"ErrEndpointNotFound":     ErrEndpointNotFound,
	"ErrMethodNotAllowed":     ErrMethodNotAllowed,
	"ErrTooLarge":             ErrTooLarge,
	"ErrUnsupportedMediaType": ErrUnsupportedMediaType,
}

type authView struct {
	Data      string `json:"data"`
	APIKey    string `json:"apiKey"`
	HasAPIKey bool   `json:"hasApiKey"`
}

type commandView struct {
	Topic      string   `json:"topic"`
	Action     string   `json:"action"`
	Name       string   `json:"name,omitempty"`
	Names      []string `json:"names,omitempty"`
	HasNames   bool     `json:"hasNames,omitempty"`
	Data       *string  `json:"data,omitempty"`
	Path       string   `json:"path,omitempty"`
	HasPath    bool     `json:"hasPath,omitempty"`
	Version    int32    `json:"version,omitempty"`
	HasVersion bool     `json:"hasVersion,omitempty"`
}

type batchView struct {
	Token    string        `json:"token,omitempty"`
	HasToken bool          `json:"hasToken,omitempty"`
	AuthData *string       `json:"authData,omitempty"`
	Commands []commandView `json:"commands"`
}

func toBatchView(b *Batch) batchView {
	v := batchView{Token: b.Token, HasToken: b.HasToken, AuthData: strPtr(b.AuthData)}
	for _, c := range b.Commands {
		v.Commands = append(v.Commands, commandView{Topic: c.Topic, Action: c.Action, Name: c.Name, Names: c.Names,
			HasNames: c.HasNames, Data: strPtr(c.Data), Path: c.Path, HasPath: c.HasPath, Version: c.Version,
			HasVersion: c.HasVersion})
	}
	return v
}

func strPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func dumpJSON(t *testing.T, v any) string {
	t.Helper()
	if b, ok := v.(*Batch); ok {
		v = toBatchView(b)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func mustUnmarshal(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}

// buildResult turns ["Constructor", args...] into a Result.
func buildResult(t *testing.T, line string) Result {
	t.Helper()
	var args []json.RawMessage
	mustUnmarshal(t, []byte(line), &args)
	var fn string
	mustUnmarshal(t, args[0], &fn)
	args = args[1:]
	str := func(i int) string {
		var s string
		mustUnmarshal(t, args[i], &s)
		return s
	}
	i32 := func(i int) int32 {
		var n int32
		mustUnmarshal(t, args[i], &n)
		return n
	}
	raw := func(i int) []byte {
		if i >= len(args) {
			return nil
		}
		return args[i]
	}
	strs := func(i int) []string {
		var s []string
		mustUnmarshal(t, args[i], &s)
		return s
	}
	switch fn {
	case "ResultOK":
		return ResultOK()
	case "ResultRead":
		return ResultRead(i32(0), raw(1))
	case "ResultHead":
		return ResultHead(i32(0))
	case "ResultRPC":
		return ResultRPC(raw(0))
	case "ResultPresence":
		return ResultPresence(strs(0))
	case "ResultPresenceQuery":
		var online map[string]bool
		mustUnmarshal(t, args[1], &online)
		return ResultPresenceQuery(strs(0), online)
	case "ResultError":
		return ResultError(str(0), str(1), str(2))
	case "ResultErrorParams":
		return ResultErrorParams(str(0), str(1), str(2))
	case "ResultNotFound":
		return ResultNotFound(str(0))
	case "ResultVersionExists":
		return ResultVersionExists(str(0), i32(1), raw(2))
	case "ResultUpdateError":
		return ResultUpdateError(str(0))
	case "ResultDeleteError":
		return ResultDeleteError(str(0))
	case "ResultNotifyError":
		return ResultNotifyError(str(0))
	case "ResultStorageTimeout":
		return ResultStorageTimeout(str(0))
	case "ResultDenied":
		return ResultDenied(str(0), str(1))
	case "ResultTimeout":
		return ResultTimeout()
	case "ResultNoRPCProvider":
		return ResultNoRPCProvider(str(0))
	case "ResultRPCAcceptTimeout":
		return ResultRPCAcceptTimeout(str(0))
	case "ResultRPCResponseTimeout":
		return ResultRPCResponseTimeout()
	case "ResultRPCRequestError":
		return ResultRPCRequestError(raw(0))
	}
	t.Fatalf("unknown constructor %q", fn)
	return Result{}
}
