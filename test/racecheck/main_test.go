package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A map race: the top frame of each access is the runtime's map code, the
// racing code its caller. Ours must be found behind it; a report whose
// callers are all dependencies must not count.
const mapRace = `==================
WARNING: DATA RACE
Write at 0x00c0001a2c30 by goroutine 12:
  runtime.mapassign_faststr()
      /usr/local/go/src/internal/runtime/maps/runtime_faststr.go:263 +0x0
  %s
      /work/main/x.go:10 +0x44

Previous read at 0x00c0001a2c30 by goroutine 11:
  runtime.mapaccess1_faststr()
      /usr/local/go/src/internal/runtime/maps/runtime_faststr.go:13 +0x0
  github.com/asynkron/protoactor-go/remote.(*BlockList).IsBlocked()
      /root/go/pkg/mod/x/blocklist.go:30 +0x88

Goroutine 12 (running) created at:
  main.main()
      /work/main/main.go:5 +0x1
==================
`

func TestOwnAccessLooksPastRuntimeFrames(t *testing.T) {
	dir := t.TempDir()
	write := func(name, caller string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(fmt.Sprintf(mapRace, caller)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		caller string
		ours   bool
	}{
		{"github.com/plexushq/plexus/cluster/placement.(*Lookup).get()", true},
		{"github.com/asynkron/protoactor-go/remote.(*BlockList).Block()", false},
		{"github.com/plexushq/plexus/test/procs.(*Node).Start()", false}, // harness code is not checked
	} {
		reports, err := readReports(write("race.1", c.caller))
		if err != nil || len(reports) != 1 {
			t.Fatalf("%d reports, %v", len(reports), err)
		}
		if got := ownAccess(reports[0]); got != c.ours {
			t.Errorf("caller %s: ownAccess = %v, want %v", c.caller, got, c.ours)
		}
		if got := firstFrame(reports[0]); got != c.caller {
			t.Errorf("firstFrame = %q, want %q", got, c.caller)
		}
	}
}
