// Package procs runs Plexus nodes as real OS processes of the built binary on
// loopback, for black-box, chaos and compatibility suites: free ports, one
// data dir per node, stdout/stderr captured per node and dumped when the test
// fails, readiness polling, SIGTERM/SIGKILL/SIGSTOP helpers and restarts.
package procs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary returns the plexus binary under test ($PLEXUS_BIN, else bin/plexus
// from the module root), skipping the test when it does not exist.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PLEXUS_BIN"); p != "" {
		return p
	}
	if root := RepoRoot(); root != "" {
		p := filepath.Join(root, "bin", "plexus")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("no binary at %s: run make build (or set PLEXUS_BIN)", p)
		}
		return p
	}
	t.Fatal("module root not found")
	return ""
}

// Node is one plexus process.
type Node struct {
	t       testing.TB
	Name    string
	Bin     string
	DataDir string
	HTTP    string
	Gossip  string
	Remote  string
	Raft    string
	Extra   []string // extra flags
	Join    []string
	Token   string
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Cluster is a set of nodes.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
	Token string
	logs  string // the nodes' log files live here
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func addr(t testing.TB) string { return "127.0.0.1:" + strconv.Itoa(FreePort(t)) }

// New prepares n nodes (node 0 alone, the others joining node 0's gossip
// address) with extra flags for every node, starts them and waits until each
// is ready.
func New(t testing.TB, n int, extra ...string) *Cluster {
	t.Helper()
	c := newCluster(t)
	for i := 0; i < n; i++ {
		nd := c.newNode(extra)
		if i > 0 {
			nd.Join = []string{c.Nodes[0].Gossip}
		}
	}
	c.startAll()
	return c
}

// newCluster returns an empty cluster whose nodes are killed at the end of
// the test, their logs dumped if it failed.
func newCluster(t testing.TB) *Cluster {
	c := &Cluster{t: t, Token: "e2e-admin-token", logs: t.TempDir()}
	t.Cleanup(func() {
		for _, nd := range c.Nodes {
			nd.Kill()
		}
		if t.Failed() {
			for _, nd := range c.Nodes {
				b, _ := os.ReadFile(nd.LogPath)
				t.Logf("==== log of %s ====\n%s", nd.Name, tail(b, 200))
			}
		}
	})
	return c
}

// newNode adds a node with fresh loopback ports and data dir (not started).
func (c *Cluster) newNode(extra []string) *Node {
	name := fmt.Sprintf("n%d", len(c.Nodes))
	nd := &Node{t: c.t, Name: name, Bin: Binary(c.t), DataDir: c.t.TempDir(), HTTP: addr(c.t), Gossip: addr(c.t), Remote: addr(c.t), Raft: addr(c.t),
		Extra: extra, Token: c.Token, LogPath: filepath.Join(c.logs, name+".log")}
	c.Nodes = append(c.Nodes, nd)
	return nd
}

// startAll starts every node, then waits until each is ready.
func (c *Cluster) startAll() {
	for _, nd := range c.Nodes {
		nd.Start()
	}
	for _, nd := range c.Nodes {
		nd.WaitReady(30 * time.Second)
	}
}

func tail(b []byte, lines int) string {
	ls := bytes.Split(b, []byte("\n"))
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return string(bytes.Join(ls, []byte("\n")))
}

// Args returns the node's command line.
func (n *Node) Args() []string {
	a := []string{"serve", "--node-name", n.Name, "--http", n.HTTP, "--gossip", n.Gossip, "--remote", n.Remote, "--raft", n.Raft,
		"--data-dir", n.DataDir, "--admin-token", n.Token, "--profile", "test", "--log-level", "info"}
	if len(n.Join) > 0 {
		a = append(a, "--join", strings.Join(n.Join, ","))
	}
	return append(a, n.Extra...)
}

// Start starts the process (again, after Kill or Stop).
func (n *Node) Start() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	f, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	fmt.Fprintf(f, "---- start %s %v\n", time.Now().Format(time.RFC3339Nano), n.Args())
	cmd := exec.Command(n.Bin, n.Args()...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		n.t.Fatalf("start %s: %v", n.Name, err)
	}
	done := make(chan struct{})
	n.cmd, n.done = cmd, done
	go func() {
		err := cmd.Wait()
		f.Close()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(done)
	}()
}

// URL returns the node's base URL.
func (n *Node) URL() string { return "http://" + n.HTTP }

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

func (n *Node) signal(s syscall.Signal) {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(s)
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (n *Node) Kill() {
	n.signal(syscall.SIGCONT)
	n.signal(syscall.SIGKILL)
	n.wait(10 * time.Second)
}

// Pause sends SIGSTOP; Resume sends SIGCONT.
func (n *Node) Pause()  { n.signal(syscall.SIGSTOP) }
func (n *Node) Resume() { n.signal(syscall.SIGCONT) }

// Stop sends SIGTERM, waits up to timeout, then SIGKILL; it fails the test
// unless the process exited 0 by itself.
func (n *Node) Stop(timeout time.Duration) {
	n.t.Helper()
	n.signal(syscall.SIGTERM)
	if !n.wait(timeout) {
		n.Kill()
		n.t.Errorf("%s did not stop within %v after SIGTERM", n.Name, timeout)
		return
	}
	n.mu.Lock()
	err := n.err
	n.mu.Unlock()
	if err != nil {
		n.t.Errorf("%s exited with %v", n.Name, err)
	}
}

func (n *Node) wait(d time.Duration) bool {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// WaitReady polls /readyz until it answers 200.
func (n *Node) WaitReady(timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !n.Running() {
			n.t.Fatalf("%s exited while starting", n.Name)
		}
		if st, _, err := Do(context.Background(), http.MethodGet, n.URL()+"/readyz", "", nil, ""); err == nil && st == 200 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.t.Fatalf("%s not ready within %v", n.Name, timeout)
}

// Do performs an HTTP request with an optional content type and bearer token.
func Do(ctx context.Context, method, url, contentType string, body []byte, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Ready reports whether the node answers 200 on /readyz right now.
func (n *Node) Ready(ctx context.Context) bool {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, _, err := Do(c, http.MethodGet, n.URL()+"/readyz", "", nil, "")
	return err == nil && st == 200
}

// AwaitReady polls /readyz until it answers 200 or timeout passes. Unlike
// WaitReady it returns an error instead of failing the test, so goroutines
// other than the test's (a nemesis) may call it.
func (n *Node) AwaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !n.Running() {
			return fmt.Errorf("%s is not running", n.Name)
		}
		if n.Ready(context.Background()) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v", n.Name, timeout)
}

// RepoRoot returns the module root (the nearest directory above the working
// directory holding go.mod), or "" when there is none.
func RepoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return ""
}
