// Package embedtest runs N full Plexus nodes (gateway, actors, cluster) in one
// test process on 127.0.0.1 with ports picked by the kernel, for tests that
// need real sockets without OS processes. Import it from _test.go files only.
package embedtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/plexushq/plexus/cmd/embed"
	"github.com/plexushq/plexus/test/procs"
)

// Cluster is N in-process nodes.
type Cluster struct {
	t     testing.TB
	mu    sync.Mutex
	Nodes []*embed.Node
	cfgs  []embed.Config
	// Token is the admin token every node shares.
	Token string
}

// Option adjusts each node's config before start.
type Option func(i int, c *embed.Config)

// WithLogs sends every node's logs (debug and up) to w as well.
func WithLogs(w io.Writer) Option {
	return func(i int, c *embed.Config) {
		c.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test_node", c.NodeName)
	}
}

// WithStore makes every node use store (for example a postgres:// URL).
func WithStore(store string) Option {
	return func(_ int, c *embed.Config) { c.Store = store }
}

// New starts n nodes; node 0 starts alone and the others join it. It waits
// until every node sees n placed members.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Token: "test-admin-token"}
	t.Cleanup(c.Shutdown)
	for i := 0; i < n; i++ {
		cfg := embed.DefaultConfig()
		cfg.NodeName = fmt.Sprintf("node%d", i)
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.GossipAddr = "127.0.0.1:0"
		cfg.RemoteAddr = "127.0.0.1:0"
		cfg.RaftAddr = "127.0.0.1:0"
		cfg.DataDir = t.TempDir()
		cfg.Profile = "test"
		cfg.AdminToken = c.Token
		cfg.AllowLocalStore = true
		cfg.Logger = nodeLogger(t, cfg.NodeName)
		if i > 0 {
			cfg.Join = []string{c.Nodes[0].GossipAddr()}
		}
		for _, o := range opts {
			o(i, &cfg)
		}
		node, err := embed.Start(t.Context(), cfg)
		if err != nil {
			t.Fatalf("start %s: %v", cfg.NodeName, err)
		}
		c.mu.Lock()
		c.Nodes = append(c.Nodes, node)
		c.cfgs = append(c.cfgs, cfg)
		c.mu.Unlock()
	}
	c.WaitMembers(n, 15*time.Second)
	c.waitDefaultApp(15 * time.Second)
	return c
}

// waitDefaultApp waits until every node knows the default app.
func (c *Cluster) waitDefaultApp(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, n := range c.Live() {
		for n.DefaultAppID() == "" {
			if time.Now().After(deadline) {
				c.t.Fatal("no default app")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// App returns the default app's id.
func (c *Cluster) App() string { return c.Live()[0].DefaultAppID() }

func nodeLogger(t testing.TB, name string) *slog.Logger {
	var w io.Writer = io.Discard
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		w = tt.Output()
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test_node", name)
}

// Live returns the nodes not stopped.
func (c *Cluster) Live() []*embed.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*embed.Node
	for _, n := range c.Nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// WaitMembers waits until every live node places exactly n members.
func (c *Cluster) WaitMembers(n int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, node := range c.Live() {
			if len(node.Lookup().Members()) != n {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var got []int
			for _, node := range c.Live() {
				got = append(got, len(node.Lookup().Members()))
			}
			c.t.Fatalf("members: want %d on every node, got %v", n, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops node i gracefully.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	n := c.Nodes[i]
	c.Nodes[i] = nil
	c.mu.Unlock()
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		c.t.Logf("stop node%d: %v", i, err)
	}
}

// Shutdown stops every node. Idempotent.
func (c *Cluster) Shutdown() {
	for i := range c.Nodes {
		c.Stop(i)
	}
}

// Post sends a JSON body to node i's path and returns status and body.
func (c *Cluster) Post(i int, path, body string) (int, string) {
	c.t.Helper()
	return Do(c.t, http.MethodPost, "http://"+c.Nodes[i].HTTPAddr()+path, "application/json", body, "")
}

// Do performs one HTTP request and returns status and body.
func Do(t testing.TB, method, url, contentType, body, token string) (int, string) {
	t.Helper()
	st, b, err := procs.Do(context.Background(), method, url, contentType, []byte(body), token)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return st, string(b)
}
