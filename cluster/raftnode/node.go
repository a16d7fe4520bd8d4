package raftnode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/plexushq/plexus/cluster/fsm"
)

// Node is one Raft server of the metadata cluster.
//
// Lifecycle: New opens the stores (no goroutines), Start binds the transport and starts Raft, Stop (or Kill)
// shuts it down; Stop is idempotent. Every other method is safe for concurrent use after Start.
type Node struct {
	cfg      Config
	log      *slog.Logger
	fsm      *fsm.FSM
	store    *raftboltdb.BoltStore
	snaps    *raft.FileSnapshotStore
	hasState bool // raft.HasExistingState at New

	startOnce sync.Once
	started   atomic.Bool
	stopped   atomic.Bool
	raft      *raft.Raft
	trans     *raft.NetworkTransport
	addr      string
	notifyCh  chan bool
	done      chan struct{}
	wg        sync.WaitGroup

	ready    atomic.Bool   // leader and its post-election barrier applied
	readyGen atomic.Uint64 // bumped on every leadership change

	bootMu       sync.Mutex
	bootstrapped bool

	recMu     sync.Mutex
	lastAlive map[raft.ServerID]time.Time
	now       func() time.Time // clock of dead-server detection; tests replace it before Start
}

// New validates cfg and opens the log, stable and snapshot stores under cfg.DataDir/raft. It starts nothing.
func New(cfg Config, f *fsm.FSM) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if f == nil {
		return nil, errors.New("raftnode: fsm is required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("subsystem", "raft", "server_id", cfg.ServerID)
	dir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("raftnode: create %s: %w", dir, err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), NoSync: cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("raftnode: open log store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 3, newHCLog(logger, "raft-snapshot"))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raftnode: open snapshot store: %w", err)
	}
	has, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("raftnode: check existing state: %w", err)
	}
	return &Node{cfg: cfg, log: logger, fsm: f, store: store, snaps: snaps, hasState: has,
		notifyCh: make(chan bool, 1), done: make(chan struct{}), lastAlive: map[raft.ServerID]time.Time{},
		now: time.Now}, nil
}

// Start binds the Raft transport and starts the Raft server. It may be called once.
func (n *Node) Start() error {
	err := errors.New("raftnode: already started")
	n.startOnce.Do(func() { err = n.start() })
	return err
}

func (n *Node) start() error {
	if n.stopped.Load() {
		return ErrStopped
	}
	stream, err := listenTCP(n.cfg.BindAddr, n.cfg.AdvertiseAddr)
	if err != nil {
		return err
	}
	n.addr = stream.Addr().String()
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: n.cfg.TransportMaxPool, Timeout: n.cfg.TransportTimeout,
		Logger: newHCLog(n.log, "raft-net"),
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.ServerID)
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.ShutdownOnRemove = true
	rc.NotifyCh = n.notifyCh
	rc.Logger = newHCLog(n.log, "raft")
	if err := raft.ValidateConfig(rc); err != nil {
		n.trans.Close()
		return fmt.Errorf("raftnode: %w", err)
	}
	logs, err := raft.NewLogCache(512, n.store)
	if err != nil {
		n.trans.Close()
		return fmt.Errorf("raftnode: log cache: %w", err)
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, n.store, n.snaps, n.trans)
	if err != nil {
		n.trans.Close()
		return fmt.Errorf("raftnode: start raft: %w", err)
	}
	n.raft = r
	n.started.Store(true)
	n.wg.Add(1)
	go n.watchLeadership()
	n.log.Info("raft started", "addr", n.addr, "existing_state", n.hasState)
	return nil
}

// watchLeadership consumes raft's NotifyCh (raft blocks until it is read) and maintains the ready flag: true
// only after a Barrier issued as leader has been applied, so the local FSM holds every committed entry.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	for {
		select {
		case <-n.done:
			return
		case leader := <-n.notifyCh:
			gen := n.readyGen.Add(1)
			n.ready.Store(false)
			if !leader {
				n.log.Info("lost leadership")
				continue
			}
			n.log.Info("gained leadership")
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				err := n.raft.Barrier(n.cfg.ConfigChangeTimeout).Error()
				if err == nil && n.readyGen.Load() == gen {
					n.ready.Store(true)
				}
			}()
		}
	}
}

// Addr returns the advertised Raft address (valid after Start).
func (n *Node) Addr() string { return n.addr }

// ServerID returns the configured server id.
func (n *Node) ServerID() string { return n.cfg.ServerID }

// FSM returns the node's state machine; read the state through FSM().State().
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Raft returns the underlying raft server for diagnostics and tests (nil before Start).
func (n *Node) Raft() *raft.Raft { return n.raft }

// HasExistingState reports whether the data directory held Raft state when the node was created, or the node
// has bootstrapped since.
func (n *Node) HasExistingState() bool {
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	return n.hasState || n.bootstrapped
}

func (n *Node) running() bool { return n.started.Load() && !n.stopped.Load() }

// Leader returns the leader's server id and address, empty if unknown.
func (n *Node) Leader() (id, addr string) {
	if !n.running() {
		return "", ""
	}
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.running() && n.raft.State() == raft.Leader }

func (n *Node) notLeader() error {
	id, addr := n.Leader()
	if id == n.cfg.ServerID { // stale view during a step-down
		id, addr = "", ""
	}
	return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
}

func (n *Node) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return n.notLeader()
	case errors.Is(err, raft.ErrLeadershipLost):
		return ErrLeadershipLost
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return ErrTimeout
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrStopped
	}
	return fmt.Errorf("raftnode: %w", err)
}

// wait blocks for a raft future or ctx. On ctx end the future keeps running; its outcome is unknown.
func (n *Node) wait(ctx context.Context, fut raft.Future) error {
	ch := make(chan error, 1)
	go func() { ch <- fut.Error() }() // returns at the latest when raft shuts down
	select {
	case err := <-ch:
		return n.mapErr(err)
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	}
}

func enqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return 0
}

// Apply commits cmd if this node is the leader and returns the FSM's Result, whose Index can be passed to
// WaitApplied on any node for read-your-writes. The error is about replication only: *NotLeaderError on a
// follower (forward to the leader it names), ErrLeadershipLost or ErrTimeout when the outcome is unknown (retry
// with the same request id), ErrStopped. Application errors (conflict, not found, ...) are in Result.Err().
func (n *Node) Apply(ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
	if !n.running() {
		return fsm.Result{}, ErrStopped
	}
	if n.raft.State() != raft.Leader {
		return fsm.Result{}, n.notLeader()
	}
	data, err := cmd.Encode()
	if err != nil {
		return fsm.Result{}, err
	}
	fut := n.raft.Apply(data, enqueueTimeout(ctx))
	if err := n.wait(ctx, fut); err != nil {
		return fsm.Result{}, err
	}
	res, ok := fut.Response().(fsm.Result)
	if !ok {
		return fsm.Result{}, fmt.Errorf("raftnode: unexpected fsm response %T", fut.Response())
	}
	return res, nil
}

// ForwardFunc sends cmd to the leader (leaderID at leaderAddr, its Raft address) and returns the leader's Apply
// outcome. The remote side should call Node.Apply and return a *NotLeaderError (or an error wrapping
// ErrNotLeader) if it is no longer the leader; any other forward error is treated as transient.
type ForwardFunc func(ctx context.Context, leaderID, leaderAddr string, cmd fsm.Command) (fsm.Result, error)

// ApplyAnywhere applies cmd on this node if it is the leader and forwards it otherwise, retrying with jittered
// backoff (10 ms doubling to 500 ms) on not-leader, no-leader, lost-leadership, timeout and forward errors until it
// succeeds or ctx ends. The request id never changes, so the FSM applies the command at most once.
// It returns at once on ErrStopped of the local node.
func (n *Node) ApplyAnywhere(ctx context.Context, cmd fsm.Command, forward ForwardFunc) (fsm.Result, error) {
	backoff := 10 * time.Millisecond
	var hint *NotLeaderError
	for {
		res, err := n.applyOnce(ctx, cmd, forward, hint)
		if err == nil {
			return res, nil
		}
		if errors.Is(err, ErrStopped) && !n.running() {
			return fsm.Result{}, err
		}
		hint = nil
		var nle *NotLeaderError
		if errors.As(err, &nle) && nle.LeaderID != "" && nle.LeaderID != n.cfg.ServerID {
			hint = nle
		}
		if ctx.Err() != nil {
			return fsm.Result{}, fmt.Errorf("raftnode: apply %s: %w (last error: %w)", cmd.Type, ctx.Err(), err)
		}
		n.log.Debug("retrying command", "type", cmd.Type, "request_id", cmd.RequestID, "err", err)
		sleep := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, 500*time.Millisecond)
		t := time.NewTimer(sleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

func (n *Node) applyOnce(ctx context.Context, cmd fsm.Command, forward ForwardFunc, hint *NotLeaderError) (fsm.Result, error) {
	if n.IsLeader() {
		return n.Apply(ctx, cmd)
	}
	id, addr := n.Leader()
	if hint != nil {
		id, addr = hint.LeaderID, hint.LeaderAddr
	}
	if id == "" || id == n.cfg.ServerID {
		return fsm.Result{}, &NotLeaderError{}
	}
	if forward == nil {
		return fsm.Result{}, &NotLeaderError{LeaderID: id, LeaderAddr: addr}
	}
	return forward(ctx, id, addr, cmd)
}

// WaitApplied blocks until the local FSM has applied index (read-your-writes after a write returned index).
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.WaitApplied(ctx, index)
}

// Ready reports whether this node is the leader and has applied its post-election barrier.
func (n *Node) Ready() bool { return n.running() && n.ready.Load() && n.raft.State() == raft.Leader }

// VerifyLeader makes a following local read linearizable: it succeeds only on a ready leader (see Ready) that
// still has a quorum's contact. Followers get a *NotLeaderError; callers forward the read to the leader.
func (n *Node) VerifyLeader(ctx context.Context) error {
	if !n.running() {
		return ErrStopped
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	if !n.ready.Load() {
		return ErrNotReady
	}
	return n.wait(ctx, n.raft.VerifyLeader())
}

// Server is a member of the Raft configuration.
type Server struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

// Stats is a snapshot of the node's Raft view, for the admin API.
type Stats struct {
	ServerID     string   `json:"server_id"`
	State        string   `json:"state"`
	LeaderID     string   `json:"leader"`
	LeaderAddr   string   `json:"leader_addr"`
	Term         uint64   `json:"term"`
	LastIndex    uint64   `json:"last_index"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Ready        bool     `json:"ready"`
	Voters       []Server `json:"voters"`
	NonVoters    []Server `json:"nonvoters"`
}

// Stats returns the node's view of the cluster; Voters and NonVoters come from the latest configuration and are
// sorted by id.
func (n *Node) Stats() (Stats, error) {
	if !n.running() {
		return Stats{}, ErrStopped
	}
	s := Stats{ServerID: n.cfg.ServerID, State: n.raft.State().String(), Term: n.raft.CurrentTerm(),
		LastIndex: n.raft.LastIndex(), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.fsm.AppliedIndex(),
		Ready: n.Ready()}
	s.LeaderID, s.LeaderAddr = n.Leader()
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return s, n.mapErr(err)
	}
	for _, srv := range cf.Configuration().Servers {
		x := Server{ID: string(srv.ID), Addr: string(srv.Address)}
		if srv.Suffrage == raft.Voter {
			s.Voters = append(s.Voters, x)
		} else {
			s.NonVoters = append(s.NonVoters, x)
		}
	}
	byID := func(a, b Server) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortFunc(s.Voters, byID)
	slices.SortFunc(s.NonVoters, byID)
	return s, nil
}

// Snapshot forces a Raft snapshot now (normally raft snapshots by SnapshotInterval/SnapshotThreshold).
func (n *Node) Snapshot() error {
	if !n.running() {
		return ErrStopped
	}
	return n.mapErr(n.raft.Snapshot().Error())
}

// Stop transfers leadership if this node leads a multi-voter cluster, then shuts Raft down and closes the
// stores. It is idempotent; ctx bounds the leadership transfer only.
func (n *Node) Stop(ctx context.Context) error { return n.stop(ctx, true) }

// Kill shuts down without transferring leadership, like a crash: for tests and fault injection.
func (n *Node) Kill() error { return n.stop(context.Background(), false) }

func (n *Node) stop(ctx context.Context, transfer bool) error {
	if !n.stopped.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if n.started.Load() {
		if transfer && n.raft.State() == raft.Leader && n.otherVoters() {
			if err := n.wait(ctx, n.raft.LeadershipTransfer()); err != nil {
				n.log.Warn("leadership transfer failed", "err", err)
			}
		}
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raftnode: shutdown: %w", err))
		}
		if err := n.trans.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raftnode: close transport: %w", err))
		}
		close(n.done)
		n.wg.Wait()
	}
	if err := n.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("raftnode: close log store: %w", err))
	}
	n.log.Info("raft stopped")
	return errors.Join(errs...)
}

func (n *Node) otherVoters() bool {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return false
	}
	for _, s := range cf.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != n.cfg.ServerID {
			return true
		}
	}
	return false
}
