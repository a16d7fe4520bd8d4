package raftnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexushq/plexus/cluster/fsm"
	"github.com/plexushq/plexus/cluster/state"
)

// fakeClock drives dead-server detection in tests.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

type testCluster struct {
	t      *testing.T
	expect int
	mut    func(*Config)
	clock  *fakeClock

	mu    sync.Mutex
	nodes map[string]*Node
	dirs  map[string]string
	addrs map[string]string
}

func newTestCluster(t *testing.T, expect int, mut func(*Config)) *testCluster {
	return &testCluster{t: t, expect: expect, mut: mut, clock: &fakeClock{}, nodes: map[string]*Node{},
		dirs: map[string]string{}, addrs: map[string]string{}}
}

// start creates and starts server id, reusing its data dir and address after a restart.
func (c *testCluster) start(id string) *Node {
	c.t.Helper()
	c.mu.Lock()
	dir, ok := c.dirs[id]
	if !ok {
		dir = c.t.TempDir()
		c.dirs[id] = dir
	}
	addr := c.addrs[id]
	c.mu.Unlock()
	cfg := TestConfig()
	cfg.ServerID, cfg.DataDir, cfg.BootstrapExpect, cfg.NoSync = id, dir, c.expect, true
	if addr != "" {
		cfg.BindAddr = addr
	}
	cfg.Logger = slog.New(slog.NewTextHandler(c.t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", id)
	if c.mut != nil {
		c.mut(&cfg)
	}
	f, err := fsm.New(fsm.DefaultConfig(), state.New())
	if err != nil {
		c.t.Fatal(err)
	}
	n, err := New(cfg, f)
	if err != nil {
		c.t.Fatal(err)
	}
	n.setClock(c.clock.now)
	if err := n.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = n.Kill() })
	c.mu.Lock()
	c.nodes[id], c.addrs[id] = n, n.Addr()
	c.mu.Unlock()
	return n
}

func (c *testCluster) node(id string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

func (c *testCluster) running() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, n := range c.nodes {
		if n.running() {
			out = append(out, n)
		}
	}
	return out
}

func (c *testCluster) peers(ids ...string) []Peer {
	var ps []Peer
	for _, id := range ids {
		ps = append(ps, c.node(id).Self())
	}
	return ps
}

// forward simulates the remote hop: it calls Apply on the target node directly.
func (c *testCluster) forward(ctx context.Context, leaderID, _ string, cmd fsm.Command) (fsm.Result, error) {
	n := c.node(leaderID)
	if n == nil || !n.running() {
		return fsm.Result{}, errors.New("forward: node unreachable")
	}
	return n.Apply(ctx, cmd)
}

// bootstrap starts ids and runs MaybeBootstrap on each with the full view.
func (c *testCluster) bootstrap(ids ...string) {
	c.t.Helper()
	for _, id := range ids {
		c.start(id)
	}
	seen := c.peers(ids...)
	for _, id := range ids {
		ok, err := c.node(id).MaybeBootstrap(seen)
		if err != nil || !ok {
			c.t.Fatalf("bootstrap %s: %v %v", id, ok, err)
		}
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLeader waits until exactly one running node leads and is ready, and every running node that knows a
// leader (servers not yet in the configuration know none) names it.
func (c *testCluster) waitLeader() *Node {
	c.t.Helper()
	var leader *Node
	waitFor(c.t, 10*time.Second, "leader", func() bool {
		leader = nil
		nodes := c.running()
		for _, n := range nodes {
			if n.IsLeader() {
				if leader != nil {
					return false
				}
				leader = n
			}
		}
		if leader == nil || !leader.Ready() {
			return false
		}
		for _, n := range nodes {
			if id, _ := n.Leader(); id != "" && id != leader.ServerID() {
				return false
			}
		}
		return true
	})
	return leader
}

func (c *testCluster) followers(leader *Node) []*Node {
	var out []*Node
	for _, n := range c.running() {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

// reconcile runs Reconcile on whichever node leads, retrying across leadership changes, and merges the changes.
// exact is false when an attempt failed: a change whose outcome was unknown may then be missing from the list
// (the retry finds it already applied), so callers check the configuration instead.
func (c *testCluster) reconcile(alive []string, left []string) (total Changes, exact bool) {
	c.t.Helper()
	for i := range 20 {
		l := c.waitLeader()
		ch, err := l.Reconcile(ctxT(c.t, 5*time.Second), c.peers(alive...), left)
		total.Added = append(total.Added, ch.Added...)
		total.Voters = append(total.Voters, ch.Voters...)
		total.Updated = append(total.Updated, ch.Updated...)
		total.Demoted = append(total.Demoted, ch.Demoted...)
		total.Removed = append(total.Removed, ch.Removed...)
		total.Deferred = ch.Deferred
		if err == nil {
			return total, i == 0
		}
		if !Retryable(err) && !errors.Is(err, ErrStopped) {
			c.t.Fatalf("reconcile: %v", err)
		}
	}
	c.t.Fatal("reconcile kept failing")
	return total, false
}

// stats returns the current leader's stats.
func (c *testCluster) stats() Stats {
	c.t.Helper()
	var st Stats
	waitFor(c.t, 10*time.Second, "leader stats", func() bool {
		var err error
		st, err = c.waitLeader().Stats()
		return err == nil && st.LeaderID == st.ServerID
	})
	return st
}

func ids(ss []Server) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return fmt.Sprint(out)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// createApp commits a CreateApp through n, forwarding and retrying like production callers (leadership may move
// under test load).
func (c *testCluster) createApp(t *testing.T, n *Node, name string) fsm.Result {
	t.Helper()
	res, err := n.ApplyAnywhere(ctxT(t, 10*time.Second), fsm.NewCreateApp(name, time.Now()), c.forward)
	if err != nil || res.Err() != nil {
		t.Fatalf("create %s: %v %v", name, err, res.Err())
	}
	return res
}

func TestRaftThreeNodes(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.bootstrap("n1", "n2", "n3")
	leader := c.waitLeader()

	// Apply on the leader, read-your-writes on every follower.
	res := c.createApp(t, leader, "chat")
	var created fsm.AppWithCredentials
	if err := res.Decode(&created); err != nil {
		t.Fatal(err)
	}
	for _, f := range c.followers(leader) {
		if err := f.WaitApplied(ctxT(t, 5*time.Second), res.Index); err != nil {
			t.Fatal(err)
		}
		if a, kind, ok := f.FSM().State().AppByKey(created.Credentials.AppToken); !ok || a.Name != "chat" || kind != state.KindAppToken {
			t.Fatalf("follower %s lacks the app", f.ServerID())
		}
	}

	// A follower refuses with the leader's identity (retried only if leadership moved meanwhile).
	var f *Node
	waitFor(t, 10*time.Second, "follower refusal naming the leader", func() bool {
		leader = c.waitLeader()
		f = c.followers(leader)[0]
		_, err := f.Apply(ctxT(t, time.Second), fsm.NewCreateApp("x", time.Now()))
		var nle *NotLeaderError
		if err == nil {
			t.Fatal("follower committed")
		}
		return errors.As(err, &nle) && nle.LeaderID == leader.ServerID() && nle.LeaderAddr == leader.Addr() &&
			errors.Is(f.VerifyLeader(ctxT(t, time.Second)), ErrNotLeader)
	})
	waitFor(t, 10*time.Second, "leader VerifyLeader", func() bool {
		return c.waitLeader().VerifyLeader(ctxT(t, time.Second)) == nil
	})

	// ApplyAnywhere from a follower forwards; a retry with the same request id is de-duplicated.
	cmd := fsm.NewCreateApp("forwarded", time.Now())
	r1, err := f.ApplyAnywhere(ctxT(t, 10*time.Second), cmd, c.forward)
	if err != nil || r1.Err() != nil {
		t.Fatalf("ApplyAnywhere: %v %v", err, r1.Err())
	}
	r2, err := c.running()[1].ApplyAnywhere(ctxT(t, 10*time.Second), cmd, c.forward)
	if err != nil || r2.Index != r1.Index || string(r2.Value) != string(r1.Value) {
		t.Fatalf("retry not deduplicated: %+v %+v %v", r1, r2, err)
	}
	if err := f.WaitApplied(ctxT(t, 5*time.Second), r1.Index); err != nil || f.FSM().State().AppCount() != 2 {
		t.Fatalf("apps on follower: %d %v", f.FSM().State().AppCount(), err)
	}
	// Without a forward func a follower reports the leader.
	waitFor(t, 10*time.Second, "ApplyAnywhere without forward reports the leader", func() bool {
		f = c.followers(c.waitLeader())[0]
		_, err := f.ApplyAnywhere(ctxT(t, 200*time.Millisecond), cmd, nil)
		return errors.Is(err, ErrNotLeader)
	})

	if st := c.stats(); ids(st.Voters) != "[n1 n2 n3]" || len(st.NonVoters) != 0 {
		t.Fatalf("stats: %+v", st)
	}
	// Never bootstrap twice.
	for _, n := range c.running() {
		if ok, err := n.MaybeBootstrap(c.peers("n1", "n2", "n3")); ok || err != nil {
			t.Fatalf("second bootstrap: %v %v", ok, err)
		}
	}

	// Graceful Stop transfers leadership; Stop is idempotent.
	leader = c.waitLeader()
	if err := leader.Stop(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := leader.Stop(ctxT(t, time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Apply(t.Context(), cmd); !errors.Is(err, ErrStopped) {
		t.Fatalf("apply after stop: %v", err)
	}
	c.waitLeader()
}

func TestRaftLeaderFailoverAndRestart(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.bootstrap("n1", "n2", "n3")
	leader := c.waitLeader()
	var last uint64
	for i := range 10 {
		last = c.createApp(t, leader, fmt.Sprint("app", i)).Index
	}
	// A command whose reply was "lost": it committed, the client will retry it after the failover.
	retried := fsm.NewCreateApp("retried", time.Now())
	first, err := leader.ApplyAnywhere(ctxT(t, 10*time.Second), retried, c.forward)
	if err != nil {
		t.Fatal(err)
	}

	leader = c.waitLeader()
	oldID := leader.ServerID()
	if err := leader.Kill(); err != nil { // crash: no leadership transfer
		t.Fatal(err)
	}
	leader2 := c.waitLeader()
	if leader2.ServerID() == oldID {
		t.Fatal("dead node still leader")
	}
	if err := leader2.WaitApplied(ctxT(t, 5*time.Second), last); err != nil {
		t.Fatal(err)
	}
	if got := leader2.FSM().State().AppCount(); got != 11 {
		t.Fatalf("new leader has %d apps, want 11", got)
	}
	again, err := c.running()[0].ApplyAnywhere(ctxT(t, 10*time.Second), retried, c.forward)
	if err != nil || again.Index != first.Index || c.waitLeader().FSM().State().AppCount() != 11 {
		t.Fatalf("retry after failover: %+v %v (apps %d)", again, err, leader2.FSM().State().AppCount())
	}
	for i := range 5 {
		last = c.createApp(t, c.running()[0], fmt.Sprint("after", i)).Index
	}

	// Restart the crashed node on its data dir and address: it must not bootstrap again and must catch up.
	n := c.start(oldID)
	if !n.HasExistingState() {
		t.Fatal("restarted node has no state")
	}
	if ok, err := n.MaybeBootstrap(c.peers("n1", "n2", "n3")); ok || err != nil {
		t.Fatalf("restarted node bootstrapped: %v %v", ok, err)
	}
	if err := n.WaitApplied(ctxT(t, 10*time.Second), last); err != nil {
		t.Fatal(err)
	}
	if got := n.FSM().State().AppCount(); got != 16 {
		t.Fatalf("restarted node has %d apps, want 16", got)
	}
}

func TestRaftMinorityCannotCommit(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.bootstrap("n1", "n2", "n3")
	leader := c.waitLeader()
	before := c.createApp(t, leader, "before").Index
	for _, f := range c.followers(leader) {
		if err := f.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	// The lone former leader cannot commit: either it refuses at once (it stepped down) or the apply times out.
	_, err := leader.Apply(ctxT(t, 1500*time.Millisecond), fsm.NewCreateApp("lost", time.Now()))
	if err == nil || !Retryable(err) {
		t.Fatalf("minority committed or failed oddly: %v", err)
	}
	waitFor(t, 5*time.Second, "step down", func() bool { return !leader.IsLeader() })
	_, err = leader.ApplyAnywhere(ctxT(t, 500*time.Millisecond), fsm.NewCreateApp("lost2", time.Now()), c.forward)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ApplyAnywhere without quorum: %v", err)
	}
	if _, ok := leader.FSM().State().AppByName("lost"); ok {
		t.Fatal("uncommitted entry applied")
	}
	if got := leader.FSM().AppliedIndex(); got < before {
		t.Fatalf("applied index went back: %d", got)
	}
}

func TestRaftFiveNodesReconcile(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.MaxVoters = 5 })
	c.bootstrap("n1", "n2", "n3")
	leader := c.waitLeader()
	c.start("n4")
	c.start("n5")
	all := []string{"n1", "n2", "n3", "n4", "n5"}
	if _, err := c.node("n4").Reconcile(t.Context(), c.peers(all...), nil); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("reconcile on follower: %v", err)
	}
	if ch, exact := c.reconcile(all, nil); exact && (fmt.Sprint(ch.Voters) != "[n4 n5]" || fmt.Sprint(ch.Added) != "[n4 n5]") {
		t.Fatalf("reconcile: %+v", ch)
	}
	if st := c.stats(); ids(st.Voters) != "[n1 n2 n3 n4 n5]" {
		t.Fatalf("voters: %+v", st.Voters)
	}
	res := c.createApp(t, leader, "five")
	if err := c.node("n5").WaitApplied(ctxT(t, 5*time.Second), res.Index); err != nil {
		t.Fatal(err)
	}
	if ch, _ := c.reconcile(all, nil); !ch.Empty() {
		t.Fatalf("second reconcile not a no-op: %+v", ch)
	}

	// Dead-server cleanup: kill three non-leaders one at a time; the first two are removed after the
	// stabilisation time, the third is kept by the MinQuorum floor (3).
	alive := append([]string(nil), all...)
	for i := range 3 {
		l := c.waitLeader()
		victim := ""
		for _, id := range alive {
			if id != l.ServerID() {
				victim = id
				break
			}
		}
		if err := c.node(victim).Kill(); err != nil {
			t.Fatal(err)
		}
		for j, a := range alive {
			if a == victim {
				alive = append(alive[:j], alive[j+1:]...)
				break
			}
		}
		if ch, _ := c.reconcile(alive, nil); !ch.Empty() {
			t.Fatalf("removed before stabilisation: %+v", ch)
		}
		var removed, deferred bool
		for range 5 { // a leadership change restarts the stabilisation clock
			c.clock.advance(2 * time.Second) // > ServerStabilizationTime (1 s)
			ch, _ := c.reconcile(alive, nil)
			removed = slices.Contains(ch.Removed, victim) || !slices.ContainsFunc(c.stats().Voters,
				func(s Server) bool { return s.ID == victim })
			deferred = slices.Contains(ch.Deferred, victim)
			if removed || deferred {
				break
			}
		}
		if i < 2 && !removed {
			t.Fatalf("dead %s not removed", victim)
		}
		if i == 2 && (removed || !deferred) {
			t.Fatalf("floor not kept for %s (removed %v)", victim, removed)
		}
	}
	if st := c.stats(); len(st.Voters) != 3 {
		t.Fatalf("voters after cleanup: %+v", st.Voters)
	}
}

func TestRaftJoinAsNonVoterAndLeave(t *testing.T) {
	c := newTestCluster(t, 3, nil) // MaxVoters 3
	c.bootstrap("n1", "n2", "n3")
	leader := c.waitLeader()
	c.start("n4")
	all := []string{"n1", "n2", "n3", "n4"}
	if ch, exact := c.reconcile(all, nil); exact && (fmt.Sprint(ch.Added) != "[n4]" || len(ch.Voters) != 0) {
		t.Fatalf("join: %+v", ch)
	}
	if st := c.stats(); ids(st.Voters) != "[n1 n2 n3]" || ids(st.NonVoters) != "[n4]" {
		t.Fatalf("stats: %+v", st)
	}
	res := c.createApp(t, leader, "seen-by-nonvoter")
	if err := c.node("n4").WaitApplied(ctxT(t, 5*time.Second), res.Index); err != nil {
		t.Fatal(err)
	}
	// n4 leaves gracefully.
	if err := c.node("n4").Stop(ctxT(t, 2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ch, exact := c.reconcile([]string{"n1", "n2", "n3"}, []string{"n4"}); exact && fmt.Sprint(ch.Removed) != "[n4]" {
		t.Fatalf("leave: %+v", ch)
	}
	if st := c.stats(); len(st.NonVoters) != 0 {
		t.Fatalf("left server still configured: %+v", st)
	}
}

func TestRaftSnapshotInstall(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.TrailingLogs = 2; cfg.SnapshotThreshold = 4 })
	c.bootstrap("n1", "n2", "n3")
	leader := c.waitLeader()
	var last uint64
	for i := range 20 {
		last = c.createApp(t, leader, fmt.Sprint("app", i)).Index
	}
	for _, n := range c.running() { // every node compacts, so whoever leads must send n4 a snapshot
		if err := n.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	n4 := c.start("n4")
	c.reconcile([]string{"n1", "n2", "n3", "n4"}, nil)
	if err := n4.WaitApplied(ctxT(t, 10*time.Second), last); err != nil {
		t.Fatal(err)
	}
	if got := n4.FSM().State().AppCount(); got != 20 {
		t.Fatalf("n4 has %d apps", got)
	}
	snaps, err := n4.snaps.List()
	if err != nil || len(snaps) == 0 {
		t.Fatalf("n4 did not install a snapshot: %v %v", snaps, err)
	}
	// The snapshot carried the dedup table: re-applying an old request changes nothing.
	b2, _ := n4.FSM().State().Snapshot()
	for _, n := range c.running() {
		b1, _ := n.FSM().State().Snapshot()
		if n.FSM().AppliedIndex() == n4.FSM().AppliedIndex() && string(b1) != string(b2) {
			t.Fatalf("%s state differs from n4", n.ServerID())
		}
	}
}

func TestRaftSingleNodeRestart(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	n := c.start("solo")
	if n.HasExistingState() {
		t.Fatal("fresh dir has state")
	}
	if ok, err := n.MaybeBootstrap(nil); !ok || err != nil {
		t.Fatalf("bootstrap: %v %v", ok, err)
	}
	if ok, _ := n.MaybeBootstrap(nil); ok {
		t.Fatal("bootstrapped twice")
	}
	c.waitLeader()
	res := c.createApp(t, n, "default")
	if err := n.Stop(ctxT(t, 2*time.Second)); err != nil {
		t.Fatal(err)
	}
	n = c.start("solo")
	if !n.HasExistingState() {
		t.Fatal("state lost")
	}
	if ok, err := n.MaybeBootstrap(nil); ok || err != nil {
		t.Fatalf("restart bootstrapped: %v %v", ok, err)
	}
	c.waitLeader()
	if err := n.WaitApplied(ctxT(t, 5*time.Second), res.Index); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.FSM().State().AppByName("default"); !ok {
		t.Fatal("app lost across restart")
	}
	if err := n.Start(); err == nil {
		t.Fatal("second Start accepted")
	}
}

func TestRaftLeaseRenewalAndRevocation(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.bootstrap("n1", "n2", "n3")
	c.waitLeader()
	cfg := TestLeaseConfig()
	holder := c.running()[0]
	apply := func(ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
		return holder.ApplyAnywhere(ctx, cmd, c.forward)
	}
	tr := NewLeaseTracker(cfg)
	lost := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunLeaseRenewer(t.Context(), cfg, tr, "member-1", holder.ServerID(), apply,
			func(err error) { lost <- err }, quietLogger())
	}()
	waitFor(t, 5*time.Second, "lease held", func() bool { return tr.Valid(time.Now()) })
	waitFor(t, 5*time.Second, "lease replicated", func() bool {
		for _, n := range c.running() {
			if l, ok := n.FSM().State().Lease("member-1"); !ok || !l.Valid(time.Now()) {
				return false
			}
		}
		return true
	})
	// The leader revokes the member (memberlist declared it dead): the next renewal is refused.
	if _, err := holder.ApplyAnywhere(ctxT(t, 10*time.Second), fsm.NewRevokeLease("member-1", time.Now()), c.forward); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, ErrLeaseRevoked) {
			t.Fatalf("lost: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("revocation not noticed")
	}
	if err := <-done; !errors.Is(err, ErrLeaseRevoked) || tr.Valid(time.Now()) {
		t.Fatalf("renewer: %v", err)
	}
	// Rejoining with a new member id works; the old id stays refused.
	res, err := apply(ctxT(t, 5*time.Second), fsm.NewRenewLease("member-2", holder.ServerID(), time.Now().Add(cfg.Validity), time.Now()))
	if err != nil || res.Err() != nil {
		t.Fatalf("new member: %v %v", err, res.Err())
	}
	res, err = apply(ctxT(t, 5*time.Second), fsm.NewRenewLease("member-1", holder.ServerID(), time.Now().Add(cfg.Validity), time.Now()))
	if err != nil || !errors.Is(res.Err(), fsm.ErrLeaseRevoked) {
		t.Fatalf("old member renewed: %v %v", err, res.Err())
	}
}
