package store

import (
	"errors"
	"testing"

	"github.com/plexushq/plexus/actors/store/pgtest"
)

// A statement error inside a group commit aborts the shared transaction; the
// committer then runs each op alone, so only the bad op fails and the others
// apply exactly once.
func TestStorePostgresGroupIsolation(t *testing.T) {
	p, err := OpenPostgres(t.Context(), pgtest.Start(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	k := Key{Kind: "record", App: "group", ID: "r"}
	enc, _ := encodeKey(k)
	e, err := p.Acquire(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	ops := []*pgOp{
		{kind: opPut, key: enc, epoch: int64(e), expect: 0, version: 1, data: []byte("x")},
		{kind: opAcquire, key: nil}, // NULL key: violates NOT NULL
		{kind: opAppend, key: enc, epoch: int64(e), entries: [][]byte{[]byte("a")}},
		{kind: opPut, key: enc, epoch: int64(e) + 1, expect: 1, version: 2, data: []byte("fenced")},
	}
	for _, op := range ops {
		op.done = make(chan struct{})
		op.state.Store(opPending)
	}
	if n := p.execute(ops); n != len(ops) {
		t.Fatalf("execute ran %d ops, want %d", n, len(ops))
	}
	if ops[0].err != nil || ops[2].err != nil || ops[2].res != 1 {
		t.Fatalf("good ops: %v, %v (first %d)", ops[0].err, ops[2].err, ops[2].res)
	}
	if ops[1].err == nil || errors.Is(ops[1].err, ErrUnavailable) {
		t.Fatalf("bad op: %v, want a statement error", ops[1].err)
	}
	if !errors.Is(ops[3].err, ErrFenced) {
		t.Fatalf("fenced op: %v", ops[3].err)
	}
	d, ok, err := p.Get(t.Context(), k)
	if err != nil || !ok || d.Version != 1 || string(d.Data) != "x" {
		t.Fatalf("Get = %+v %v %v", d, ok, err)
	}
	es, err := p.ReadLog(t.Context(), k, 0, 10)
	if err != nil || len(es) != 1 {
		t.Fatalf("log = %v %v, want exactly one entry", es, err)
	}
}
