package record

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/plexushq/plexus/actors/store"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

func request[T any](t *testing.T, sys *actor.ActorSystem, pid *actor.PID, msg any) T {
	t.Helper()
	res, err := sys.Root.RequestFuture(pid, msg, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("request %T: %v", msg, err)
	}
	r, ok := res.(T)
	if !ok {
		t.Fatalf("reply %T", res)
	}
	return r
}

// grainEnv opens a Pebble store and an actor system, both closed when the
// test ends (the system first: grains may still use the store).
func grainEnv(t *testing.T) (store.Store, *actor.ActorSystem) {
	st, err := store.OpenPebble(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	return st, sys
}

func reason(e *pb.Error) pb.ErrorReason {
	if e == nil {
		return pb.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	return e.Reason
}

// Two activations of one record on one store (a paused node that resumed):
// the older one is fenced on write, refuses to answer reads from memory once
// the store moved on, and a retried write (same idempotency key) applies once.
func TestGrainFencingAndIdempotency(t *testing.T) {
	st, sys := grainEnv(t)
	deps := Deps{Store: st, VerifyReads: true}
	old := sys.Root.Spawn(Props(deps, "app/doc"))
	w := func(pid *actor.PID, key string, v int32, data string) *pb.RecordWriteReply {
		return request[*pb.RecordWriteReply](t, sys, pid, &pb.RecordWrite{IdempotencyKey: key, App: "app", Name: "doc", Transport: pb.Transport_TRANSPORT_HTTP, Version: v, HasVersion: true, Data: []byte(data)})
	}
	if r := w(old, "k1", 1, `{"a":1}`); r.Error != nil || r.Version != 1 {
		t.Fatalf("first write: %+v", r)
	}
	// Retrying k1 returns its result without applying again.
	if r := w(old, "k1", 1, `{"a":1}`); r.Error != nil || r.Version != 1 {
		t.Fatalf("retried write: %+v", r)
	}
	cur := sys.Root.Spawn(Props(deps, "app/doc")) // takes ownership: epoch 2
	if r := request[*pb.RecordReadReply](t, sys, cur, &pb.RecordRead{App: "app", Name: "doc"}); r.Version != 1 || string(r.Data) != `{"a":1}` {
		t.Fatalf("new activation read: %+v", r)
	}
	// The new activation also knows k1 (keys are persisted with the record).
	if r := w(cur, "k1", 1, `{"a":1}`); r.Error != nil || r.Version != 1 {
		t.Fatalf("k1 on new activation: %+v", r)
	}
	if r := w(cur, "k2", 2, `{"a":2}`); r.Error != nil || r.Version != 2 {
		t.Fatalf("write on new activation: %+v", r)
	}
	// The old activation still holds version 1: its read must not answer from memory.
	if r := request[*pb.RecordReadReply](t, sys, old, &pb.RecordRead{App: "app", Name: "doc"}); reason(r.Error) != pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION {
		t.Fatalf("stale read answered: %+v", r)
	}
	// A second old activation writing with a stale epoch is fenced and data is untouched.
	stale := sys.Root.Spawn(Props(deps, "app/doc")) // epoch 3
	_ = request[*pb.RecordReadReply](t, sys, stale, &pb.RecordRead{App: "app", Name: "doc"})
	if r := w(cur, "k3", 3, `{"a":3}`); reason(r.Error) != pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION {
		t.Fatalf("fenced write: %+v", r)
	}
	if r := request[*pb.RecordReadReply](t, sys, stale, &pb.RecordRead{App: "app", Name: "doc"}); r.Version != 2 || string(r.Data) != `{"a":2}` {
		t.Fatalf("after fenced write: %+v", r)
	}
	// Version conflicts carry the current version and data.
	if r := w(stale, "k4", 2, `{"a":9}`); reason(r.Error) != pb.ErrorReason_ERROR_REASON_VERSION_EXISTS || r.CurrentVersion != 2 || string(r.CurrentData) != `{"a":2}` {
		t.Fatalf("conflict: %+v", r)
	}
}

func TestGrainEnvelopeRoundTrip(t *testing.T) {
	for _, keys := range [][]appliedKey{nil, {{Hash: keyHash("a"), Version: 3}}, {{Hash: 1, Version: 1}, {Hash: 1<<64 - 1, Version: -1}}} {
		b := encodeEnvelope([]byte(`{"x":[1,2]}`), keys)
		data, got, err := decodeEnvelope(b)
		if err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		if string(data) != `{"x":[1,2]}` || !slices.Equal(got, keys) {
			t.Fatalf("round trip of %x: %s %+v", b, data, got)
		}
	}
	// Every truncation of an envelope with keys is refused, not misread.
	b := encodeEnvelope(nil, []appliedKey{{Hash: 7, Version: 2}, {Hash: 8, Version: 3}})
	for i := range len(b) - 1 {
		if _, _, err := decodeEnvelope(b[:i]); err == nil {
			t.Fatalf("truncated envelope %x accepted", b[:i])
		}
	}
	// Envelopes of earlier builds (JSON with string keys) still decode, and
	// their keys match the hashes of the same strings.
	data, keys, err := decodeEnvelope([]byte(`{"d":{"a":1},"k":[{"k":"g1-7","v":4}]}`))
	if err != nil || string(data) != `{"a":1}` || len(keys) != 1 || keys[0] != (appliedKey{Hash: keyHash("g1-7"), Version: 4}) {
		t.Fatalf("JSON envelope: %s %+v %v", data, keys, err)
	}
	if keyHash("a") == keyHash("b") || keyHash("") == keyHash("a") {
		t.Fatal("keyHash collides on trivial inputs")
	}
}

// The last keepKeys idempotency keys are remembered, in memory and across
// activations; an older key is forgotten (its retry applies again).
func TestGrainRemembersLastKeys(t *testing.T) {
	st, sys := grainEnv(t)
	deps := Deps{Store: st}
	pid := sys.Root.Spawn(Props(deps, "app/keys"))
	w := func(pid *actor.PID, i int) *pb.RecordWriteReply {
		return request[*pb.RecordWriteReply](t, sys, pid, &pb.RecordWrite{IdempotencyKey: fmt.Sprintf("key-%d", i), App: "app", Name: "keys", Transport: pb.Transport_TRANSPORT_HTTP, Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
	}
	const n = keepKeys + 8
	for i := 1; i <= n; i++ {
		if r := w(pid, i); r.Error != nil || r.Version != int32(i) {
			t.Fatalf("write %d: %+v", i, r)
		}
	}
	check := func(pid *actor.PID, what string) {
		t.Helper()
		for _, i := range []int{n, n - keepKeys + 1} { // newest and oldest kept
			if r := w(pid, i); r.Error != nil || r.Version != int32(i) {
				t.Fatalf("%s: retry of key %d: %+v, want its version %d", what, i, r, i)
			}
		}
	}
	check(pid, "same activation")
	if err := sys.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	again := sys.Root.Spawn(Props(deps, "app/keys"))
	check(again, "new activation")
	// The first key was pushed out: its retry is a new write.
	if r := w(again, 1); r.Error != nil || r.Version != n+1 {
		t.Fatalf("retry of a forgotten key: %+v, want version %d", r, n+1)
	}
	if r := request[*pb.RecordReadReply](t, sys, again, &pb.RecordRead{App: "app", Name: "keys"}); r.Version != n+1 || string(r.Data) != `{"i":1}` {
		t.Fatalf("read: %+v", r)
	}
}
