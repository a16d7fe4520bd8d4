package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/plexushq/plexus/actors/store"
	"github.com/plexushq/plexus/actors/store/storetest"
)

func openPebble(t testing.TB, dir string) *store.Pebble {
	t.Helper()
	s, err := store.OpenPebble(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestStorePebbleConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openPebble(t, t.TempDir()) })
}

func TestStorePebbleReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	k := store.Key{Kind: "record", App: "a", ID: "r"}
	s, err := store.OpenPebble(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := s.Acquire(ctx, k)
	if err := s.Put(ctx, k, e, 0, store.Doc{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, k, e, []byte("a"), []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openPebble(t, dir)
	if e2, _ := s.Acquire(ctx, k); e2 != e+1 {
		t.Fatalf("epoch after reopen = %d, want %d", e2, e+1)
	}
	if first, err := s.Append(ctx, k, e+1, []byte("c")); err != nil || first != 3 {
		t.Fatalf("Append after reopen = %d, %v; want 3", first, err)
	}
	if d, ok, _ := s.Get(ctx, k); !ok || d.Version != 1 || string(d.Data) != "x" {
		t.Fatalf("Get after reopen = %+v %v", d, ok)
	}
}

func TestStoreOpen(t *testing.T) {
	s, err := store.Open(t.Context(), "pebble", t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*store.Pebble); !ok {
		t.Fatalf("Open(pebble) = %T", s)
	}
	s.Close()
	for _, spec := range []string{"", "bolt", "mysql://x", "postgres"} {
		if _, err := store.Open(t.Context(), spec, t.TempDir(), store.Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", spec)
		}
	}
	if _, err := store.Open(t.Context(), "pebble", "", store.Options{}); err == nil {
		t.Error("Open(pebble) without a data dir succeeded")
	}
}

// Crash safety: a child process writes to Pebble and prints every
// acknowledged write; the parent SIGKILLs it mid-stream, reopens the dir
// and checks that every acknowledged write is there.
const crashEnv = "PLEXUS_STORE_CRASH_CHILD_DIR"

func TestStorePebbleCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestStorePebbleCrash")
	}
	s, err := store.OpenPebble(dir, store.Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	ack := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush() // printed only after the write returned nil
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			k := store.Key{Kind: "record", App: "crash", ID: strconv.Itoa(w)}
			e, err := s.Acquire(ctx, k)
			if err != nil {
				ack("ERR %v", err)
				return
			}
			for v := int64(0); ; v++ {
				if err := s.Put(ctx, k, e, v, store.Doc{Data: []byte(strconv.FormatInt(v+1, 10))}); err != nil {
					ack("ERR %v", err)
					return
				}
				ack("PUT %d %d", w, v+1)
				first, err := s.Append(ctx, k, e, []byte(strconv.FormatInt(v+1, 10)))
				if err != nil {
					ack("ERR %v", err)
					return
				}
				ack("LOG %d %d", w, first)
			}
		})
	}
	wg.Wait()
	os.Exit(1)
}

func TestStorePebbleCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := filepath.Join(t.TempDir(), "pebble")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStorePebbleCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() }) // if we fail before the kill
	puts := map[int]int64{}                  // writer → highest acknowledged version
	logs := map[int]uint64{}                 // writer → highest acknowledged seq
	sc := bufio.NewScanner(stdout)
	lines, killed := 0, false
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "PUT", "LOG":
			w, _ := strconv.Atoi(f[1])
			n, _ := strconv.ParseInt(f[2], 10, 64)
			if f[0] == "PUT" {
				puts[w] = max(puts[w], n)
			} else {
				logs[w] = max(logs[w], uint64(n))
			}
			lines++
		case "ERR":
			t.Fatalf("child: %s", sc.Text())
		default:
			continue // test framework output
		}
		if lines == 1500 && !killed {
			// Lines still in the pipe are acknowledged writes too: keep
			// reading them after the kill.
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before the kill after %d acks: %v", lines, err)
	}
	t.Logf("child killed after %d acknowledged writes", lines)

	s := openPebble(t, dir)
	ctx := t.Context()
	for w := range 8 {
		k := store.Key{Kind: "record", App: "crash", ID: strconv.Itoa(w)}
		d, ok, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if want := puts[w]; want > 0 && (!ok || d.Version < want || string(d.Data) != strconv.FormatInt(d.Version, 10)) {
			t.Errorf("writer %d: acknowledged version %d, found %+v ok=%v", w, want, d, ok)
		}
		if want := logs[w]; want > 0 {
			es, err := s.ReadLog(ctx, k, want, 1)
			if err != nil || len(es) != 1 || es[0].Seq != want {
				t.Errorf("writer %d: acknowledged log seq %d missing: %v %v", w, want, es, err)
			}
		}
	}
}
