package procs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// NewSeeded starts n nodes that all list every node's gossip address as
// seeds and found the cluster together with --bootstrap-expect n (the
// production way to start a cluster, make cluster's way). extra flags go to
// every node.
func NewSeeded(t testing.TB, n int, extra ...string) *Cluster {
	t.Helper()
	bin := Binary(t)
	c := &Cluster{t: t, Token: "e2e-admin-token"}
	logs := t.TempDir()
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, &Node{t: t, Name: fmt.Sprintf("n%d", i), Bin: bin, DataDir: t.TempDir(), HTTP: addr(t), Gossip: addr(t),
			Remote: addr(t), Raft: addr(t), Token: c.Token, LogPath: filepath.Join(logs, fmt.Sprintf("n%d.log", i)),
			Extra: append([]string{"--bootstrap-expect", strconv.Itoa(n)}, extra...)})
	}
	var seeds []string
	for _, nd := range c.Nodes {
		seeds = append(seeds, nd.Gossip)
	}
	for _, nd := range c.Nodes {
		nd.Join = seeds
	}
	c.cleanup(logs)
	for _, nd := range c.Nodes {
		nd.Start()
	}
	for _, nd := range c.Nodes {
		nd.WaitReady(30 * time.Second)
	}
	return c
}

// Add starts one more node that joins the cluster's first node (and every
// other seed), with expect 1: it joins the existing cluster, never founds one.
func (c *Cluster) Add(extra ...string) *Node {
	c.t.Helper()
	var seeds []string
	for _, nd := range c.Nodes {
		seeds = append(seeds, nd.Gossip)
	}
	nd := &Node{t: c.t, Name: fmt.Sprintf("n%d", len(c.Nodes)), Bin: Binary(c.t), DataDir: c.t.TempDir(), HTTP: addr(c.t), Gossip: addr(c.t),
		Remote: addr(c.t), Raft: addr(c.t), Token: c.Token, Join: seeds, Extra: extra,
		LogPath: filepath.Join(filepath.Dir(c.Nodes[0].LogPath), fmt.Sprintf("n%d.log", len(c.Nodes)))}
	c.Nodes = append(c.Nodes, nd)
	nd.Start()
	nd.WaitReady(30 * time.Second)
	return nd
}

// cleanup kills every node at the end and dumps their logs if the test failed.
func (c *Cluster) cleanup(logs string) {
	c.t.Cleanup(func() {
		for _, nd := range c.Nodes {
			nd.Kill()
		}
		if c.t.Failed() {
			for _, nd := range c.Nodes {
				b, _ := os.ReadFile(nd.LogPath)
				c.t.Logf("==== log of %s ====\n%s", nd.Name, tail(b, 200))
			}
		}
	})
}

// Exited reports whether the process has exited and with which status.
func (n *Node) Exited() (code int, exited bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil {
		return 0, false
	}
	select {
	case <-n.done:
	default:
		return 0, false
	}
	if n.cmd != nil && n.cmd.ProcessState != nil {
		return n.cmd.ProcessState.ExitCode(), true
	}
	return -1, true
}
