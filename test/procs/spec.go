package procs

import (
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
	c := newCluster(t)
	for range n {
		c.newNode(append([]string{"--bootstrap-expect", strconv.Itoa(n)}, extra...))
	}
	seeds := c.seeds()
	for _, nd := range c.Nodes {
		nd.Join = seeds
	}
	c.startAll()
	return c
}

// Add starts one more node that joins the cluster's first node (and every
// other seed), with expect 1: it joins the existing cluster, never founds one.
func (c *Cluster) Add(extra ...string) *Node {
	c.t.Helper()
	seeds := c.seeds()
	nd := c.newNode(extra)
	nd.Join = seeds
	nd.Start()
	nd.WaitReady(30 * time.Second)
	return nd
}

// seeds returns every node's gossip address.
func (c *Cluster) seeds() []string {
	var seeds []string
	for _, nd := range c.Nodes {
		seeds = append(seeds, nd.Gossip)
	}
	return seeds
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
