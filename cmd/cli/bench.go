package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/plexushq/plexus/cmd/embed"
)

// bench runs load against the HTTP batch API: plexus bench records [flags].
func bench(args []string) int {
	if len(args) == 0 || args[0] != "records" {
		fmt.Fprintln(os.Stderr, "usage: plexus bench records [--addr URL] [--writers 1,16,256] [--duration 10s] [--records N] [--batch 1] [--store pebble|postgres://...]")
		return 2
	}
	fs := flag.NewFlagSet("plexus bench records", flag.ContinueOnError)
	addr := fs.String("addr", "", "base URL of a running node (default: start a child plexus serve and stop it afterwards)")
	writersFlag := fs.String("writers", "1,16,256", "comma-separated writer (goroutine) counts, one run each")
	duration := fs.Duration("duration", 10*time.Second, "measured duration of each run")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up before each run")
	records := fs.Int("records", 10000, "number of distinct records written")
	batch := fs.Int("batch", 1, "record writes per HTTP request (to distinct records)")
	storeFlag := fs.String("store", "pebble", "store of the child node: pebble or a postgres:// URL (ignored with --addr)")
	logLevel := fs.String("log-level", "warn", "log level of the child node")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	writers, err := parseWriters(*writersFlag)
	if err == nil && (*batch < 1 || *records < *batch) {
		err = fmt.Errorf("need 1 <= --batch <= --records")
	}
	if err == nil && *duration <= 0 {
		err = fmt.Errorf("--duration must be positive")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "plexus bench:", err)
		return 2
	}
	base := *addr
	storeName := "(running node)"
	cpu := func() (time.Duration, bool) { return 0, false } // a node we did not start
	if base == "" {
		child, err := startChild(*storeFlag, *logLevel)
		if err != nil {
			fmt.Fprintln(os.Stderr, "plexus bench:", err)
			return 1
		}
		defer child.stop()
		base = child.url
		pid := child.cmd.Process.Pid
		cpu = func() (time.Duration, bool) { return processCPU(pid) }
		storeName = embed.StoreKind(*storeFlag)
	} else if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	base = strings.TrimRight(base, "/")
	fmt.Printf("plexus bench records: %s, store %s, batch %d, %d records, %v per run after %v warm-up\n\n",
		base, storeName, *batch, *records, *duration, *warmup)
	var rows []benchRow
	for _, w := range writers {
		l := &loader{url: base + "/api", writers: w, batch: *batch, records: *records}
		if *warmup > 0 {
			l.run(*warmup)
		}
		c0, ok0 := cpu()
		row := l.run(*duration)
		if c1, ok1 := cpu(); ok0 && ok1 {
			row.ServerCPU = c1 - c0
		}
		rows = append(rows, row)
	}
	printTable(os.Stdout, rows)
	return 0
}

// parseWriters parses "1,16,256".
func parseWriters(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--writers: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchRow is one line of the result table.
type benchRow struct {
	Writers  int
	Batch    int
	Requests int64         // requests answered 200 with every command successful
	Writes   int64         // successful record writes
	Errors   int64         // failed requests (transport error, non-200, any failed command)
	Elapsed  time.Duration // measured wall time
	P50, P99 time.Duration // per-request latency
	// ServerCPU is the child node's user+system CPU time during the run,
	// 0 when unknown (--addr, or no /proc). CPU per write is a steadier
	// measure than writes/s on a shared machine.
	ServerCPU time.Duration
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted latencies, or 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// summarize fills a row from the per-request latencies (sorted in place).
func summarize(writers, batch int, lat []time.Duration, writes, errs int64, elapsed time.Duration) benchRow {
	slices.Sort(lat)
	return benchRow{Writers: writers, Batch: batch, Requests: int64(len(lat)) - errs, Writes: writes, Errors: errs, Elapsed: elapsed,
		P50: percentile(lat, 50), P99: percentile(lat, 99)}
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func fmtLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
}

// printTable writes the result table.
func printTable(w io.Writer, rows []benchRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "writers\tbatch\trequests/s\twrites/s\tp50\tp99\terrors\tserver CPU/write\t")
	for _, r := range rows {
		perWrite := "-"
		if r.ServerCPU > 0 && r.Writes > 0 {
			perWrite = fmt.Sprintf("%.1f µs", float64(r.ServerCPU)/float64(r.Writes)/float64(time.Microsecond))
		}
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.0f\t%s\t%s\t%d\t%s\t\n", r.Writers, r.Batch, perSecond(r.Requests, r.Elapsed), perSecond(r.Writes, r.Elapsed),
			fmtLatency(r.P50), fmtLatency(r.P99), r.Errors, perWrite)
	}
	tw.Flush()
}

// processCPU returns the user+system CPU time of process pid so far, from
// /proc/<pid>/stat (fields 14 and 15, in USER_HZ = 100 ticks per second on
// every Linux); ok=false where that cannot be read.
func processCPU(pid int) (d time.Duration, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime+stime from the text of /proc/<pid>/stat. The
// command name (field 2) is in parentheses and may hold spaces or ")", so
// fields are counted from the last ")".
func parseStatCPU(stat string) (time.Duration, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+st) * 10 * time.Millisecond, true
}

// loader runs writers goroutines of forced record writes against url.
type loader struct {
	url     string
	writers int
	batch   int
	records int
	next    atomic.Uint64
}

var successTrue = []byte(`"success":true`)

func (l *loader) run(d time.Duration) benchRow {
	tr := &http.Transport{MaxIdleConns: l.writers, MaxIdleConnsPerHost: l.writers, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		mu     sync.Mutex
		lat    []time.Duration
		writes int64
		errs   int64
		wg     sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for w := 0; w < l.writers; w++ {
		wg.Go(func() {
			var my []time.Duration
			var myWrites, myErrs int64
			var body bytes.Buffer
			for i := 0; time.Now().Before(end); i++ {
				first := l.next.Add(uint64(l.batch)) - uint64(l.batch)
				body.Reset()
				body.WriteString(`{"body":[`)
				for j := 0; j < l.batch; j++ {
					if j > 0 {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `{"topic":"record","action":"write","recordName":"bench/%d","data":{"w":%d,"i":%d}}`,
						(first+uint64(j))%uint64(l.records), w, i)
				}
				body.WriteString(`]}`)
				t0 := time.Now()
				ok, n := l.post(hc, body.Bytes())
				my = append(my, time.Since(t0))
				myWrites += n
				if !ok {
					myErrs++
				}
			}
			mu.Lock()
			lat = append(lat, my...)
			writes += myWrites
			errs += myErrs
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarize(l.writers, l.batch, lat, writes, errs, time.Since(start))
}

// post sends one batch; ok means HTTP 200 with every command successful, n
// counts the successful commands.
func (l *loader) post(hc *http.Client, body []byte) (ok bool, n int64) {
	req, err := http.NewRequest(http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return false, 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return false, 0
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return false, 0
	}
	n = int64(bytes.Count(b, successTrue))
	return n == int64(l.batch), n
}

// child is a plexus serve process started for the benchmark.
type child struct {
	cmd  *exec.Cmd
	url  string
	dir  string
	done chan struct{}
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startChild starts this binary as a single node on free loopback ports
// with a temporary data directory and waits until it is ready.
func startChild(storeURL, logLevel string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "plexus-bench-")
	if err != nil {
		return nil, err
	}
	var addrs [4]string
	for i := range addrs {
		if addrs[i], err = freeLoopback(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(exe, "serve", "--node-name", "bench", "--http", addrs[0], "--gossip", addrs[1], "--remote", addrs[2], "--raft", addrs[3],
		"--data-dir", dir, "--store", storeURL, "--admin-token", hex.EncodeToString(tok), "--log-level", logLevel)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &child{cmd: cmd, url: "http://" + addrs[0], dir: dir, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("child plexus serve exited while starting")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.stop()
	return nil, fmt.Errorf("child plexus serve not ready within 60 s")
}

// stop sends SIGTERM, waits up to 30 s (then SIGKILL) and removes the data
// directory.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	os.RemoveAll(c.dir)
}
