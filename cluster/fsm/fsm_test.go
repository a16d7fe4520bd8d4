package fsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-json"
	"github.com/hashicorp/raft"

	"github.com/plexushq/plexus/cluster/state"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)

type harness struct {
	t     *testing.T
	f     *FSM
	index uint64
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	f, err := New(cfg, state.New())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, f: f}
}

// apply goes through raft.Log bytes, as raft would.
func (h *harness) apply(c Command) Result {
	h.t.Helper()
	b, err := c.Encode()
	if err != nil {
		h.t.Fatal(err)
	}
	h.index++
	r, ok := h.f.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: b}).(Result)
	if !ok {
		h.t.Fatal("Apply did not return a Result")
	}
	return r
}

func (h *harness) ok(c Command, v any) Result {
	h.t.Helper()
	r := h.apply(c)
	if err := r.Err(); err != nil {
		h.t.Fatalf("%s: %v", c.Type, err)
	}
	if v != nil {
		if err := r.Decode(v); err != nil {
			h.t.Fatalf("%s decode: %v", c.Type, err)
		}
	}
	return r
}

// must unwraps a command constructor; constructors only fail on invalid input, a test bug.
func must(c Command, err error) Command {
	if err != nil {
		panic(err)
	}
	return c
}

func TestFSMCommands(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	st := h.f.State()

	var created AppWithCredentials
	r := h.ok(NewCreateApp("chat", t0), &created)
	if r.Index != 1 || created.App.Name != "chat" || !created.App.CreatedAt.Equal(t0) || created.Credentials.Secret == "" {
		t.Fatalf("create: %+v %+v", r, created)
	}
	id := created.App.ID
	if a, k, ok := st.AppByKey(created.Credentials.PublisherKey); !ok || a.ID != id || k != state.KindPublisherKey {
		t.Fatal("credential index")
	}
	if r := h.apply(NewCreateApp("chat", t0)); !errors.Is(r.Err(), state.ErrConflict) || r.Code != CodeConflict {
		t.Fatalf("duplicate name: %+v", r)
	}

	name, dis := "chat2", true
	var upd state.App
	h.ok(must(NewUpdateApp(id, state.AppUpdate{Name: &name, Disabled: &dis, Settings: json.RawMessage(`{"a":1}`)}, t0)), &upd)
	if upd.Name != "chat2" || !upd.Disabled || string(upd.Settings) != `{"a":1}` {
		t.Fatalf("update: %+v", upd)
	}
	if _, err := NewUpdateApp(id, state.AppUpdate{Settings: json.RawMessage(`{bad`)}, t0); err == nil {
		t.Fatal("invalid settings accepted")
	}

	var rot state.Credentials
	h.ok(must(NewRotateCredentials(id, []state.KeyKind{state.KindSecret, state.KindAppToken}, t0.Add(time.Hour))), &rot)
	if rot.Secret == created.Credentials.Secret || len(rot.History) != 2 || !rot.History[0].RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("rotate: %+v", rot)
	}
	if _, _, ok := st.AppByKey(created.Credentials.Secret); ok {
		t.Fatal("old secret still valid")
	}
	if _, err := NewRotateCredentials(id, nil, t0); err == nil {
		t.Fatal("empty rotate accepted")
	}
	if _, err := NewRotateCredentials(id, []state.KeyKind{"nope"}, t0); err == nil {
		t.Fatal("bad kind accepted")
	}

	var u state.User
	h.ok(must(NewCreateUser("a@x", "pw", state.RoleUser, []string{id}, t0)), &u)
	if u.PasswordHash != "" || u.Email != "a@x" {
		t.Fatalf("user result leaks hash or is wrong: %+v", u)
	}
	if full, _ := st.User(u.ID); !CheckPassword(full.PasswordHash, "pw") || CheckPassword(full.PasswordHash, "nope") {
		t.Fatal("bcrypt hash")
	}

	for _, c := range []Command{
		must(NewPutTopicDef(state.TopicDef{AppID: id, Name: "t", Config: json.RawMessage(`{"x":1}`)}, t0)),
		must(NewPutStreamDef(state.StreamDef{AppID: id, Name: "s"}, t0)),
		must(NewPutFeedGroup(state.FeedGroup{AppID: id, Name: "f"}, t0)),
	} {
		h.ok(c, nil)
	}
	if d, ok := st.TopicDef(id, "t"); !ok || string(d.Config) != `{"x":1}` {
		t.Fatal("topic def")
	}
	if _, err := NewPutTopicDef(state.TopicDef{AppID: id, Name: "t", Config: json.RawMessage(`{`)}, t0); err == nil {
		t.Fatal("invalid config accepted")
	}
	if r := h.apply(must(NewPutStreamDef(state.StreamDef{AppID: "nope", Name: "s"}, t0))); r.Code != CodeNotFound {
		t.Fatalf("def on unknown app: %+v", r)
	}
	h.ok(NewDeleteTopicDef(id, "t", t0), nil)
	h.ok(NewDeleteStreamDef(id, "s", t0), nil)
	h.ok(NewDeleteFeedGroup(id, "f", t0), nil)
	if r := h.apply(NewDeleteFeedGroup(id, "f", t0)); r.Code != CodeNotFound {
		t.Fatalf("delete twice: %+v", r)
	}

	var l state.Lease
	h.ok(NewRenewLease("m1", "s1", t0.Add(5*time.Second), t0), &l)
	if l.MemberID != "m1" || !l.ExpiresAt.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("lease: %+v", l)
	}
	h.ok(NewRevokeLease("m1", t0), &l)
	if !l.Revoked {
		t.Fatal("not revoked")
	}
	r = h.apply(NewRenewLease("m1", "s1", t0.Add(10*time.Second), t0.Add(time.Second)))
	if !errors.Is(r.Err(), ErrLeaseRevoked) || r.Code != CodeLeaseRevoked {
		t.Fatalf("renew after revoke: %+v", r)
	}
	h.ok(NewRenewLease("m2", "s1", t0.Add(5*time.Second), t0), nil) // rejoin with a new member id
	h.ok(NewReleaseLease("m2", t0), &l)
	if !l.Released {
		t.Fatal("not released")
	}
	if r := h.apply(NewRenewLease("", "s1", t0, t0)); r.Code != CodeInvalid {
		t.Fatalf("invalid renew: %+v", r)
	}

	h.ok(NewDeleteUser(u.ID, t0), nil)
	h.ok(NewDeleteApp(id, t0), nil)
	if r := h.apply(NewDeleteApp(id, t0)); r.Code != CodeNotFound || !strings.Contains(r.Err().Error(), "not found") {
		t.Fatalf("delete unknown: %+v", r)
	}
	if st.AppCount() != 0 {
		t.Fatal("app not deleted")
	}
	if h.f.AppliedIndex() != h.index {
		t.Fatalf("applied %d want %d", h.f.AppliedIndex(), h.index)
	}
}

func TestFSMIdempotentReapply(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	c := NewCreateApp("one", t0)
	first := h.ok(c, nil)
	before, _ := h.f.State().Snapshot()
	// The same request applied again at a later index: same result, no change.
	second := h.apply(c)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("reapply result differs:\n%+v\n%+v", first, second)
	}
	after, _ := h.f.State().Snapshot()
	if !bytes.Equal(before, after) {
		t.Fatal("reapply changed state")
	}
	// Failed results are remembered too.
	dup := NewCreateApp("one", t0)
	r1 := h.apply(dup)
	h.ok(NewDeleteApp(func() string { a, _ := h.f.State().AppByName("one"); return a.ID }(), t0), nil)
	if r2 := h.apply(dup); !reflect.DeepEqual(r1, r2) || h.f.State().AppCount() != 0 {
		t.Fatalf("retried failure re-executed: %+v %+v", r1, r2)
	}
	// Rotation retried: one rotation, not two.
	c = NewCreateApp("two", t0)
	var a AppWithCredentials
	h.ok(c, &a)
	rot := must(NewRotateCredentials(a.App.ID, []state.KeyKind{state.KindKey}, t0))
	h.ok(rot, nil)
	h.ok(rot, nil)
	if cr, _ := h.f.State().Credentials(a.App.ID); len(cr.History) != 1 {
		t.Fatalf("rotation applied %d times", len(cr.History))
	}
}

func TestFSMDedupBounded(t *testing.T) {
	h := newHarness(t, Config{DedupKeep: 3, DedupWindow: time.Minute, DedupMax: 5})
	cmds := make([]Command, 0)
	for i := range 4 { // all within the window: kept beyond DedupKeep, up to DedupMax
		c := NewRevokeLease(fmt.Sprint("m", i), t0.Add(time.Duration(i)*time.Second))
		cmds = append(cmds, c)
		h.apply(c)
	}
	if len(h.f.dedup) != 4 {
		t.Fatalf("dedup size %d", len(h.f.dedup))
	}
	// A command 2 minutes later expires everything older than the window beyond the last 3.
	c := NewRevokeLease("late", t0.Add(2*time.Minute))
	h.apply(c)
	if len(h.f.dedup) != 3 || len(h.f.order) != 3 {
		t.Fatalf("dedup size %d order %d", len(h.f.dedup), len(h.f.order))
	}
	if _, ok := h.f.dedup[cmds[0].RequestID]; ok {
		t.Fatal("oldest kept")
	}
	for i := range 10 {
		h.apply(NewRevokeLease(fmt.Sprint("x", i), t0.Add(2*time.Minute)))
	}
	if len(h.f.dedup) != 5 {
		t.Fatalf("hard bound: %d", len(h.f.dedup))
	}
	if err := (Config{}).Validate(); err == nil {
		t.Fatal("zero config valid")
	}
}

type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

func snapshotBytes(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil || !sink.closed {
		t.Fatalf("persist: %v", err)
	}
	return sink.Bytes()
}

func TestFSMSnapshotRestore(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	var cmds []Command
	for i := range 4 {
		c := NewCreateApp(fmt.Sprint("app", i), t0.Add(time.Duration(i)*time.Second))
		cmds = append(cmds, c)
		var a AppWithCredentials
		h.ok(c, &a)
		rc := must(NewRotateCredentials(a.App.ID, []state.KeyKind{state.KindKey, state.KindSecret}, t0))
		cmds = append(cmds, rc)
		h.ok(rc, nil)
		h.ok(must(NewPutTopicDef(state.TopicDef{AppID: a.App.ID, Name: "t", Config: json.RawMessage(`{"n":1}`)}, t0)), nil)
		h.ok(must(NewPutFeedGroup(state.FeedGroup{AppID: a.App.ID, Name: "f"}, t0)), nil)
	}
	h.ok(must(NewCreateUser("a@x", "pw", state.RoleAdmin, nil, t0)), nil)
	h.ok(NewRenewLease("m1", "s1", t0.Add(time.Hour), t0), nil)
	h.ok(NewRevokeLease("m0", t0), nil)

	b := snapshotBytes(t, h.f)
	r := newHarness(t, DefaultConfig())
	r.ok(NewCreateApp("junk", t0), nil)
	if err := r.f.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.f.dedup, r.f.dedup) || !reflect.DeepEqual(h.f.order, r.f.order) ||
		h.f.maxAt != r.f.maxAt || h.f.AppliedIndex() != r.f.AppliedIndex() {
		t.Fatal("dedup table or applied index differs after restore")
	}
	s1, _ := h.f.State().Snapshot()
	s2, _ := r.f.State().Snapshot()
	if !bytes.Equal(s1, s2) {
		t.Fatalf("state differs after restore")
	}
	if !reflect.DeepEqual(h.f.State().Apps(), r.f.State().Apps()) || !reflect.DeepEqual(h.f.State().Users(), r.f.State().Users()) ||
		!reflect.DeepEqual(h.f.State().Leases(), r.f.State().Leases()) {
		t.Fatal("reads differ after restore")
	}
	if b2 := snapshotBytes(t, r.f); !bytes.Equal(b, b2) {
		t.Fatal("snapshot of restored FSM differs")
	}
	// Dedup survives the restore: replaying every old command changes nothing.
	r.index = h.index
	for _, c := range cmds {
		r.apply(c)
	}
	if s3, _ := r.f.State().Snapshot(); !bytes.Equal(s1, s3) {
		t.Fatal("replay after restore changed state")
	}
	if err := r.f.Restore(io.NopCloser(strings.NewReader("nope"))); err == nil {
		t.Fatal("bad snapshot accepted")
	}
	if err := r.f.Restore(io.NopCloser(strings.NewReader(`{"version":7}`))); err == nil {
		t.Fatal("unknown version accepted")
	}
}

func TestFSMDecodeFailurePanics(t *testing.T) {
	for name, data := range map[string][]byte{
		"garbage":      []byte("\x00\x01"),
		"no type":      []byte(`{"request_id":"r","payload":{}}`),
		"unknown type": []byte(`{"type":"launch_missiles","request_id":"r","at":1}`),
		"bad payload":  []byte(`{"type":"create_app","request_id":"r","at":1,"payload":"str"}`),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, DefaultConfig())
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			h.f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: data})
		})
	}
}

func TestFSMWaitApplied(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	done := make(chan error, 1)
	go func() { done <- h.f.WaitApplied(context.Background(), 2) }()
	h.apply(NewRevokeLease("a", t0))
	h.apply(NewRevokeLease("b", t0))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := h.f.WaitApplied(ctx, 99); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait: %v", err)
	}
	// Non-command entries advance the index too.
	if r := h.f.Apply(&raft.Log{Index: 3, Type: raft.LogNoop}).(Result); r.Index != 3 || h.f.AppliedIndex() != 3 {
		t.Fatal("noop entry")
	}
}

func TestFSMCommandLogRedacts(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	c := NewCreateApp("x", t0)
	p := decode[CreateAppPayload](c)
	rot := must(NewRotateCredentials("a", []state.KeyKind{state.KindSecret}, t0))
	rp := decode[RotateCredentialsPayload](rot)
	uc := must(NewCreateUser("e@x", "pw", state.RoleUser, nil, t0))
	up := decode[CreateUserPayload](uc)
	l.Info("cmd", "cmd", c, "payload", p, "rot", rp, "user", up)
	out := buf.String()
	for _, s := range []string{p.Credentials.Secret, p.Credentials.AppToken, rp.Values[state.KindSecret], up.PasswordHash} {
		if strings.Contains(out, s) {
			t.Fatalf("secret %q logged: %s", s, out)
		}
	}
}

func FuzzFSMDecodeCommand(f *testing.F) {
	b, _ := NewCreateApp("x", t0).Encode()
	f.Add(b)
	f.Add([]byte(`{"type":"renew_lease","request_id":"r","payload":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			return
		}
		// What decodes must encode, and the encoding must decode back to the
		// same command (a Raft log entry is replayed from its encoding).
		b, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if b2, err := c2.Encode(); err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("round trip changed the command: %s -> %s (%v)", b, b2, err)
		}
	})
}
