package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	r := summarize(4, 10, lat, 990, 1, 2*time.Second)
	if r.P50 != 50*time.Millisecond || r.P99 != 99*time.Millisecond {
		t.Fatalf("p50 %v p99 %v, want 50ms 99ms", r.P50, r.P99)
	}
	if r.Requests != 99 || r.Writes != 990 || r.Errors != 1 {
		t.Fatalf("row %+v", r)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Fatalf("percentile of nothing = %v", got)
	}
	one := []time.Duration{7}
	if percentile(one, 1) != 7 || percentile(one, 100) != 7 {
		t.Fatal("percentile of one value")
	}
	if got := percentile([]time.Duration{1, 2}, 50); got != 1 {
		t.Fatalf("p50 of [1 2] = %v, want 1 (nearest rank)", got)
	}
}

func TestParseWriters(t *testing.T) {
	got, err := parseWriters("1, 16,256")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 16 || got[2] != 256 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-3"} {
		if _, err := parseWriters(bad); err == nil {
			t.Errorf("parseWriters(%q) accepted", bad)
		}
	}
}

func TestPrintTable(t *testing.T) {
	var b bytes.Buffer
	printTable(&b, []benchRow{
		{Writers: 1, Batch: 1, Requests: 1000, Writes: 1000, Elapsed: time.Second, P50: 900 * time.Microsecond, P99: 2500 * time.Microsecond},
		{Writers: 256, Batch: 10, Requests: 500, Writes: 5000, Errors: 3, Elapsed: 2 * time.Second, P50: 1500 * time.Millisecond, P99: 3 * time.Second, ServerCPU: 125 * time.Millisecond},
	})
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", b.String())
	}
	for _, want := range []string{"writers", "writes/s", "p50", "p99", "errors", "server CPU/write"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %q", lines[0], want)
		}
	}
	for i, want := range [][]string{{"1000", "900 µs", "2.50 ms", " 0", " -"}, {"256", "250", "2500", "1.50 s", "3.00 s", " 3", "25.0 µs"}} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d %q lacks %q", i+1, lines[i+1], w)
			}
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// utime 250 and stime 50 ticks; the command name holds a space and ")".
	stat := "4242 (plexus (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 12 0 100 2000000 3000 18446744073709551615"
	if d, ok := parseStatCPU(stat); !ok || d != 3*time.Second {
		t.Fatalf("parseStatCPU = %v %v, want 3s", d, ok)
	}
	for _, bad := range []string{"", "4242 plexus S 1", "4242 (p) S 1 2 3", "4242 (p) S 1 4242 4242 0 -1 4194560 900 0 0 0 x 50 0"} {
		if _, ok := parseStatCPU(bad); ok {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
	if _, ok := processCPU(os.Getpid()); !ok {
		t.Error("cannot read this process's CPU time")
	}
}
