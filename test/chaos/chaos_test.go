//go:build e2e

package chaos

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/plexushq/plexus/actors/store/pgtest"
	"github.com/plexushq/plexus/test/procs"
)

const (
	chaosClients = 20
	chaosRecords = 6
	callTimeout  = 5 * time.Second
)

// Operation kinds and outcomes of the register model.
const (
	kindRead = iota
	kindWrite
)

const (
	outOK       = iota // write applied
	outExists          // VERSION_EXISTS with the current version and data
	outUnknown         // write may or may not have been applied
	outRead            // read: version and data
	outNotFound        // read: RECORD_NOT_FOUND
)

// opIn is a porcupine input: a read, or a write of Data with version Expect.
type opIn struct {
	Kind   int
	Expect int32
	Data   string
}

// opOut is a porcupine output.
type opOut struct {
	Kind    int
	Version int32
	Data    string
}

// regState is the model state of one record: its version (0: missing) and
// its data in canonical form ("c3.n17", "" for none).
type regState struct {
	V int32
	D string
}

var recordModel = porcupine.Model{
	Init: func() any { return regState{} },
	Step: func(s, in, out any) (bool, any) {
		st, i, o := s.(regState), in.(opIn), out.(opOut)
		if i.Kind == kindRead {
			if o.Kind == outNotFound {
				return st.V == 0, st
			}
			return o.Version == st.V && o.Data == st.D, st
		}
		applies := i.Expect == st.V+1
		switch o.Kind {
		case outOK:
			if applies {
				return true, regState{V: i.Expect, D: i.Data}
			}
			return false, st
		case outExists:
			return !applies && o.Version == st.V && (st.V == 0 || o.Data == st.D), st
		default: // unknown: its return time is the end of the history, so "not applied" is the same as placed last
			if applies {
				return true, regState{V: i.Expect, D: i.Data}
			}
			return true, st
		}
	},
	Equal: func(a, b any) bool { return a.(regState) == b.(regState) },
	Hash: func(s any) uint64 {
		st := s.(regState)
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", st.V, st.D)
		return h.Sum64()
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(opIn), out.(opOut)
		if i.Kind == kindRead {
			if o.Kind == outNotFound {
				return "read() -> not found"
			}
			return fmt.Sprintf("read() -> v%d %s", o.Version, o.Data)
		}
		switch o.Kind {
		case outOK:
			return fmt.Sprintf("write(v%d, %s) -> ok", i.Expect, i.Data)
		case outExists:
			return fmt.Sprintf("write(v%d, %s) -> exists v%d %s", i.Expect, i.Data, o.Version, o.Data)
		}
		return fmt.Sprintf("write(v%d, %s) -> unknown", i.Expect, i.Data)
	},
	DescribeState: func(s any) string {
		st := s.(regState)
		return fmt.Sprintf("v%d %s", st.V, st.D)
	},
}

// op is one recorded operation.
type op struct {
	client int
	record int
	node   string
	in     opIn
	out    opOut
	call   int64
	ret    int64
}

// history collects operations and the (record, version) -> data pairs seen.
type history struct {
	mu       sync.Mutex
	ops      []op
	seen     map[[2]int64]string // (record, version) -> data
	seenFrom map[[2]int64]string
	clash    []string
	maxAck   map[int]int32

	acks, conflicts, unknowns, reads, refused atomic.Int64
}

func (h *history) add(o op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, o)
	switch {
	case o.in.Kind == kindWrite && o.out.Kind == outOK:
		h.observe(o.record, o.in.Expect, o.in.Data, fmt.Sprintf("ack of client %d via %s", o.client, o.node))
		h.maxAck[o.record] = max(h.maxAck[o.record], o.in.Expect)
	case o.out.Kind == outExists && o.out.Version > 0:
		h.observe(o.record, o.out.Version, o.out.Data, fmt.Sprintf("VERSION_EXISTS to client %d via %s", o.client, o.node))
	case o.out.Kind == outRead:
		h.observe(o.record, o.out.Version, o.out.Data, fmt.Sprintf("read of client %d via %s", o.client, o.node))
	}
}

// observe records that version v of record r held data d; h.mu is held.
func (h *history) observe(r int, v int32, d, from string) {
	k := [2]int64{int64(r), int64(v)}
	if prev, ok := h.seen[k]; ok {
		if prev != d {
			h.clash = append(h.clash, fmt.Sprintf("%s v%d: %q (%s) and %q (%s)", recordName(r), v, prev, h.seenFrom[k], d, from))
		}
		return
	}
	h.seen[k], h.seenFrom[k] = d, from
}

func recordName(r int) string { return fmt.Sprintf("chaos/r%d", r) }

// result is one command result of the deepstream HTTP batch API.
type result struct {
	Success        bool            `json:"success"`
	ErrorEvent     string          `json:"errorEvent"`
	Version        int32           `json:"version"`
	Data           json.RawMessage `json:"data"`
	CurrentVersion int32           `json:"currentVersion"`
	CurrentData    json.RawMessage `json:"currentData"`
}

// canon turns record data {"c":..,"n":..} into "c<c>.n<n>" ("" for {} or none).
func canon(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var d struct {
		C *int `json:"c"`
		N *int `json:"n"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return "", err
	}
	if d.C == nil || d.N == nil {
		if string(bytes.TrimSpace(raw)) == "{}" {
			return "", nil
		}
		return "", fmt.Errorf("unexpected data %s", raw)
	}
	return fmt.Sprintf("c%d.n%d", *d.C, *d.N), nil
}

type caller struct {
	hc *http.Client
	t0 time.Time
}

func (c *caller) now() int64 { return time.Since(c.t0).Nanoseconds() }

// post sends one command; refused reports that the connection was never
// established (the command cannot have run).
func (c *caller) post(n *procs.Node, cmd string) (res *result, refused bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL()+"/api", strings.NewReader(`{"body":[`+cmd+`]}`))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, errors.Is(err, syscall.ECONNREFUSED), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode != 200 {
		return nil, false, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	var r struct {
		Body []result `json:"body"`
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.Body) != 1 {
		return nil, false, fmt.Errorf("bad response %s: %v", b, err)
	}
	return &r.Body[0], false, nil
}

// read performs a recorded read; ok is false when the outcome is unknown
// (then the read is left out of the history: it changed nothing).
func (c *caller) read(h *history, client, rec int, n *procs.Node) (v int32, ok bool) {
	v, _, ok = c.readWhy(h, client, rec, n)
	return v, ok
}

// readWhy is read that also describes a failure.
func (c *caller) readWhy(h *history, client, rec int, n *procs.Node) (v int32, why string, ok bool) {
	call := c.now()
	r, refused, err := c.post(n, fmt.Sprintf(`{"topic":"record","action":"read","recordName":%q}`, recordName(rec)))
	ret := c.now()
	if err != nil || r == nil {
		if refused {
			h.refused.Add(1)
		}
		return 0, fmt.Sprint(err), false
	}
	o := op{client: client, record: rec, node: n.Name, in: opIn{Kind: kindRead}, call: call, ret: ret}
	switch {
	case r.Success:
		d, err := canon(r.Data)
		if err != nil {
			h.mu.Lock()
			h.clash = append(h.clash, fmt.Sprintf("%s: read via %s: %v", recordName(rec), n.Name, err))
			h.mu.Unlock()
			return 0, err.Error(), false
		}
		o.out = opOut{Kind: outRead, Version: r.Version, Data: d}
	case r.ErrorEvent == "RECORD_NOT_FOUND":
		o.out = opOut{Kind: outNotFound}
	default:
		return 0, fmt.Sprintf("failure %s after %v", r.ErrorEvent, time.Duration(ret-call).Round(time.Millisecond)), false
	}
	h.reads.Add(1)
	h.add(o)
	return o.out.Version, "", true
}

// write performs a recorded write of data with version v; it returns the
// version the client should assume next (known false: read first).
func (c *caller) write(h *history, client, rec int, n *procs.Node, v int32, seq int) (next int32, known bool) {
	data := fmt.Sprintf(`{"c":%d,"n":%d}`, client, seq)
	o := op{client: client, record: rec, node: n.Name, in: opIn{Kind: kindWrite, Expect: v, Data: fmt.Sprintf("c%d.n%d", client, seq)}}
	o.call = c.now()
	r, refused, err := c.post(n, fmt.Sprintf(`{"topic":"record","action":"write","recordName":%q,"data":%s,"version":%d}`, recordName(rec), data, v))
	o.ret = c.now()
	switch {
	case err != nil && refused:
		h.refused.Add(1) // never reached the node: not applied, left out
		return 0, false
	case err == nil && r.Success:
		o.out = opOut{Kind: outOK}
		h.acks.Add(1)
		h.add(o)
		return v, true
	case err == nil && r.ErrorEvent == "VERSION_EXISTS":
		d, cerr := canon(r.CurrentData)
		if cerr == nil {
			o.out = opOut{Kind: outExists, Version: r.CurrentVersion, Data: d}
			h.conflicts.Add(1)
			h.add(o)
			return r.CurrentVersion, true
		}
	}
	o.out = opOut{Kind: outUnknown}
	o.ret = -1 // set to the end of the history before checking
	h.unknowns.Add(1)
	h.add(o)
	return 0, false
}

func chaosDuration(t *testing.T) time.Duration {
	if s := os.Getenv("PLEXUS_CHAOS_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("PLEXUS_CHAOS_SECONDS=%q: want a positive number of seconds", s)
		}
		return time.Duration(n) * time.Second
	}
	return 60 * time.Second
}

// chaosNemesis reads PLEXUS_CHAOS_NEMESIS: a comma-separated subset of
// kill (SIGKILL and restart) and pause (SIGSTOP, SIGCONT); default both.
func chaosNemesis(t *testing.T) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(cmp.Or(os.Getenv("PLEXUS_CHAOS_NEMESIS"), "kill,pause"), ",") {
		switch f = strings.TrimSpace(f); f {
		case "kill", "pause":
			m[f] = true
		default:
			t.Fatalf("PLEXUS_CHAOS_NEMESIS: unknown fault %q (want kill, pause)", f)
		}
	}
	return m
}

func sleepUntil(d time.Duration, end time.Time) {
	if until := time.Until(end); until < d {
		d = until
	}
	if d > 0 {
		time.Sleep(d)
	}
}

func aliveMembers(c *procs.Cluster, n *procs.Node) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, body, err := procs.Do(ctx, http.MethodGet, n.URL()+"/admin/v1/cluster", "", nil, c.Token)
	if err != nil || st != 200 {
		return -1
	}
	var v struct {
		Members []struct {
			Status string `json:"status"`
		} `json:"members"`
	}
	if json.Unmarshal(body, &v) != nil {
		return -1
	}
	alive := 0
	for _, m := range v.Members {
		if m.Status == "alive" {
			alive++
		}
	}
	return alive
}

// waitHealthy waits until every node is ready and sees all nodes alive.
func waitHealthy(c *procs.Cluster, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, n := range c.Nodes {
		if err := n.AwaitReady(time.Until(deadline)); err != nil {
			return err
		}
	}
	for _, n := range c.Nodes {
		for aliveMembers(c, n) != len(c.Nodes) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s sees %d alive members, want %d", n.Name, aliveMembers(c, n), len(c.Nodes))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// Three nodes sharing one Postgres; 20 clients doing version-conditional
// writes and reads on a few records through random nodes while a nemesis
// SIGKILLs and restarts, or SIGSTOPs and resumes, one node at a time.
// Every acknowledged write must survive, no version may ever show two
// different data, and each record's history must be linearizable.
func TestE2EChaosRecordsLinearizable(t *testing.T) {
	dur := chaosDuration(t)
	nemesis := chaosNemesis(t)
	pg := pgtest.StartServer(t)
	c := procs.New(t, 3, "--store", pg.URL())
	t.Cleanup(func() { // before procs removes them: keep the node logs of a failed run
		if !t.Failed() {
			return
		}
		for _, n := range c.Nodes {
			if b, err := os.ReadFile(n.LogPath); err == nil {
				p := filepath.Join(filepath.Dir(vizPath(t, 0)), "chaos-"+n.Name+".log")
				if os.WriteFile(p, b, 0o644) == nil {
					t.Logf("log of %s kept in %s", n.Name, p)
				}
			}
		}
	})
	if err := waitHealthy(c, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	h := &history{seen: map[[2]int64]string{}, seenFrom: map[[2]int64]string{}, maxAck: map[int]int32{}}
	tr := &http.Transport{MaxIdleConns: 4 * chaosClients, MaxIdleConnsPerHost: 2 * chaosClients, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	cl := &caller{hc: &http.Client{Transport: tr}, t0: time.Now()}
	end := time.Now().Add(dur)

	var faults []string
	var nemesisErr error
	nemesisDone := make(chan struct{})
	go func() {
		defer close(nemesisDone)
		for i := 0; ; i++ {
			sleepUntil(time.Duration(2000+rand.IntN(2000))*time.Millisecond, end)
			victim := c.Nodes[rand.IntN(len(c.Nodes))]
			kill := nemesis["kill"] && (i%2 == 0 || !nemesis["pause"])
			down := time.Duration(1000+rand.IntN(2000)) * time.Millisecond
			if !kill {
				down = time.Duration(5000+rand.IntN(5000)) * time.Millisecond
			}
			if time.Until(end) < down+time.Second {
				return
			}
			at := time.Since(cl.t0).Round(time.Millisecond)
			if kill {
				victim.Kill()
				time.Sleep(down)
				if victim == c.Nodes[0] {
					// Node 0 was the seed and started alone; on a restart it
					// must find the others.
					victim.Join = []string{c.Nodes[1].Gossip, c.Nodes[2].Gossip}
				}
				victim.Start()
				faults = append(faults, fmt.Sprintf("%v SIGKILL %s, restarted after %v", at, victim.Name, down))
			} else {
				victim.Pause()
				time.Sleep(down)
				victim.Resume()
				faults = append(faults, fmt.Sprintf("%v SIGSTOP %s for %v", at, victim.Name, down))
				// A node that finds its lease lost self-fences and may exit
				// (status 75) for its supervisor to restart it: be that supervisor.
				for wait := time.Now().Add(15 * time.Second); time.Now().Before(wait) && !victim.Ready(context.Background()); {
					if !victim.Running() {
						if victim == c.Nodes[0] {
							victim.Join = []string{c.Nodes[1].Gossip, c.Nodes[2].Gossip}
						}
						victim.Start()
						faults[len(faults)-1] += ", exited after SIGCONT, restarted"
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			if err := waitHealthy(c, 60*time.Second); err != nil {
				nemesisErr = fmt.Errorf("after fault %q: %w", faults[len(faults)-1], err)
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for client := 0; client < chaosClients; client++ {
		wg.Go(func() {
			known := map[int]int32{}
			for seq := 1; time.Now().Before(end); seq++ {
				rec := rand.IntN(chaosRecords)
				n := c.Nodes[rand.IntN(len(c.Nodes))]
				v, ok := known[rec]
				if !ok || rand.IntN(5) == 0 {
					if v, ok = cl.read(h, client, rec, n); !ok {
						delete(known, rec)
						time.Sleep(20 * time.Millisecond)
						continue
					}
					known[rec] = v
					n = c.Nodes[rand.IntN(len(c.Nodes))]
				}
				if next, ok := cl.write(h, client, rec, n, v+1, seq); ok {
					known[rec] = next
				} else {
					delete(known, rec)
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	<-nemesisDone
	t.Logf("nemesis %v, faults injected (%d):\n  %s", nemesis, len(faults), strings.Join(faults, "\n  "))
	if nemesisErr != nil {
		t.Fatalf("cluster did not recover: %v", nemesisErr)
	}
	if err := waitHealthy(c, 60*time.Second); err != nil {
		t.Fatalf("cluster did not recover after the run: %v", err)
	}

	// Every node must place every live member again (a stale placement view
	// makes identities unreachable through the nodes holding it).
	if err := convergeViews(c, 20*time.Second); err != nil {
		t.Errorf("placement views did not converge within 20 s after the last fault: %v", err)
		dumpViews(t, c)
	}

	// (a) Every acknowledged write is readable through every node.
	final := map[int]map[string]int32{}
	var fmu sync.Mutex
	var fwg sync.WaitGroup
	for rec := 0; rec < chaosRecords; rec++ {
		final[rec] = map[string]int32{}
		for ni, n := range c.Nodes {
			fwg.Go(func() {
				deadline := time.Now().Add(20 * time.Second)
				for {
					v, why, ok := cl.readWhy(h, chaosClients+ni, rec, n)
					if ok {
						fmu.Lock()
						final[rec][n.Name] = v
						fmu.Unlock()
						return
					}
					if time.Now().After(deadline) {
						t.Errorf("final read of %s via %s did not succeed within 20 s; last: %s", recordName(rec), n.Name, why)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
	}
	fwg.Wait()
	endTime := cl.now() + 1

	h.mu.Lock()
	defer h.mu.Unlock()
	t.Logf("ops %d: acks %d, VERSION_EXISTS %d, unknown writes %d, reads %d, refused connections (left out) %d",
		len(h.ops), h.acks.Load(), h.conflicts.Load(), h.unknowns.Load(), h.reads.Load(), h.refused.Load())
	for rec := 0; rec < chaosRecords; rec++ {
		t.Logf("%s: highest ack v%d, final reads %v", recordName(rec), h.maxAck[rec], final[rec])
		for node, v := range final[rec] {
			if v < h.maxAck[rec] {
				t.Errorf("%s via %s: final version %d < highest acknowledged %d (acknowledged write lost)", recordName(rec), node, v, h.maxAck[rec])
			}
		}
	}
	for _, s := range h.clash {
		t.Errorf("one version, two data: %s", s)
	}
	if h.acks.Load() == 0 {
		t.Fatal("no write was acknowledged")
	}

	// (b) Each record's history is linearizable.
	byRec := make([][]porcupine.Operation, chaosRecords)
	for _, o := range h.ops {
		ret := o.ret
		if ret < 0 {
			ret = endTime
		}
		byRec[o.record] = append(byRec[o.record], porcupine.Operation{ClientId: o.client, Input: o.in, Output: o.out, Call: o.call, Return: ret,
			Metadata: o.node})
	}
	type verdict struct {
		res  porcupine.CheckResult
		info porcupine.LinearizationInfo
		took time.Duration
	}
	verdicts := make([]verdict, chaosRecords)
	var cwg sync.WaitGroup
	for rec := range byRec {
		cwg.Go(func() {
			start := time.Now()
			res, info := porcupine.CheckOperationsVerbose(recordModel, byRec[rec], 60*time.Second)
			verdicts[rec] = verdict{res, info, time.Since(start)}
		})
	}
	cwg.Wait()
	var bad []string
	for rec, v := range verdicts {
		t.Logf("%s: %d ops, porcupine %s in %v", recordName(rec), len(byRec[rec]), v.res, v.took.Round(time.Millisecond))
		switch v.res {
		case porcupine.Ok:
		case porcupine.Illegal:
			path := vizPath(t, rec)
			if err := porcupine.VisualizePath(recordModel, v.info, path); err != nil {
				t.Errorf("visualize %s: %v", recordName(rec), err)
			}
			bad = append(bad, fmt.Sprintf("%s (see %s)", recordName(rec), path))
		default:
			t.Errorf("%s: porcupine could not decide within 60 s (%s)", recordName(rec), v.res)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Errorf("histories not linearizable: %s", strings.Join(bad, ", "))
	}
}

// convergeViews waits until every node places exactly the members that are
// alive in its view (the admin API's "placed" flag against "status").
func convergeViews(c *procs.Cluster, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var bad []string
		for _, n := range c.Nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			st, body, err := procs.Do(ctx, http.MethodGet, n.URL()+"/admin/v1/cluster", "", nil, c.Token)
			cancel()
			var v struct {
				Members []struct {
					Name, ID, Status string
					Placed           bool
				} `json:"members"`
			}
			if err != nil || st != 200 || json.Unmarshal(body, &v) != nil {
				bad = append(bad, fmt.Sprintf("%s: no cluster view (%d %v)", n.Name, st, err))
				continue
			}
			for _, m := range v.Members {
				if (m.Status == "alive") != m.Placed {
					bad = append(bad, fmt.Sprintf("%s sees %s (id %s) %s but placed=%v", n.Name, m.Name, m.ID, m.Status, m.Placed))
				}
			}
		}
		if len(bad) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New(strings.Join(bad, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dumpViews logs every node's admin cluster view.
func dumpViews(t *testing.T, c *procs.Cluster) {
	for _, n := range c.Nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, body, err := procs.Do(ctx, http.MethodGet, n.URL()+"/admin/v1/cluster", "", nil, c.Token)
		cancel()
		t.Logf("cluster view of %s (remote %s): %d %v %s", n.Name, n.Remote, st, err, body)
	}
}

// vizPath returns tmp/porcupine-<record>.html under the repository root.
func vizPath(t *testing.T, rec int) string {
	root := procs.RepoRoot()
	if root == "" {
		root = "."
	}
	dir := filepath.Join(root, "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("mkdir %s: %v", dir, err)
	}
	return filepath.Join(dir, "porcupine-"+strings.ReplaceAll(recordName(rec), "/", "-")+".html")
}
