package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	json "github.com/goccy/go-json"

	"github.com/plexushq/plexus/cluster/fsm"
	"github.com/plexushq/plexus/cluster/membership"
	"github.com/plexushq/plexus/cluster/raftnode"
	"github.com/plexushq/plexus/cluster/state"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// ActorName is the metadata actor's name on every node.
const ActorName = "plexus-metadata"

// Config configures the Service.
type Config struct {
	Raft  raftnode.Config
	Lease raftnode.LeaseConfig
	// Tick is how often bootstrap, reconcile and revocation run.
	Tick   time.Duration
	Logger *slog.Logger
	// OnLost is called once when this member's lease is lost (self-fence).
	OnLost func(error)
	// JoinOnly: never bootstrap; wait for the leader to add this server
	// (a node started with --join and --bootstrap-expect 1 joins an existing
	// cluster rather than founding one).
	JoinOnly bool
}

// Service is one node's metadata service.
type Service struct {
	cfg  Config
	log  *slog.Logger
	fsm  *fsm.FSM
	node *raftnode.Node

	sys      *actor.ActorSystem
	prov     *membership.Provider
	tracker  *raftnode.LeaseTracker
	memberID string

	ctx    context.Context
	cancel context.CancelFunc
	// mu guards stopping; wg.Add happens only under mu while not stopping.
	mu       sync.Mutex
	stopping bool
	wg       sync.WaitGroup
	stop     sync.Once
	booted   atomic.Bool
	// lastBootErr is only touched by the loop goroutine.
	lastBootErr string
}

// New opens the Raft stores; nothing runs until Start.
func New(cfg Config) (*Service, error) {
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	f, err := fsm.New(fsm.DefaultConfig(), state.New())
	if err != nil {
		return nil, err
	}
	cfg.Raft.Logger = lg
	node, err := raftnode.New(cfg.Raft, f)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: lg.With("subsystem", "metadata"), fsm: f, node: node, tracker: raftnode.NewLeaseTracker(cfg.Lease)}, nil
}

// RaftAddr returns the bound Raft address (valid after New).
func (s *Service) RaftAddr() string { return s.node.Addr() }

// HasState reports whether the data dir held Raft state at start.
func (s *Service) HasState() bool { return s.node.HasExistingState() }

// State is the replicated metadata, read locally.
func (s *Service) State() *state.Store { return s.fsm.State() }

// Node exposes the Raft node (stats, leader).
func (s *Service) Node() *raftnode.Node { return s.node }

// StartRaft starts the Raft node (binding its address) without bootstrapping.
func (s *Service) StartRaft() error { return s.node.Start() }

// Start spawns the metadata actor on sys and starts the background loops
// (StartRaft must have run). memberID is the actor system id.
func (s *Service) Start(sys *actor.ActorSystem, prov *membership.Provider) error {
	s.sys, s.prov, s.memberID = sys, prov, sys.ID
	if _, err := sys.Root.SpawnNamed(actor.PropsFromFunc(s.receive), ActorName); err != nil {
		return fmt.Errorf("metadata: spawn actor: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.loop()
	go func() {
		defer s.wg.Done()
		err := raftnode.RunLeaseRenewer(s.ctx, s.cfg.Lease, s.tracker, s.memberID, s.cfg.Raft.ServerID, s.Apply, s.cfg.OnLost, s.log)
		if err != nil && s.ctx.Err() == nil {
			s.log.Warn("lease renewer ended", "err", err)
		}
	}()
	return nil
}

// Apply commits cmd wherever the leader is, retrying with the same request
// id until ctx ends.
func (s *Service) Apply(ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
	return s.node.ApplyAnywhere(ctx, cmd, s.forward)
}

// HoldsLease reports whether this member's own lease is valid now.
func (s *Service) HoldsLease() bool { return s.tracker.Valid(time.Now()) }

// LeaseValidUntil is when this member's lease runs out on its own clock.
func (s *Service) LeaseValidUntil() time.Time { return s.tracker.ValidUntil() }

// Placeable reports whether member id holds an unexpired lease in the local FSM.
func (s *Service) Placeable(memberID string) bool {
	l, ok := s.State().Lease(memberID)
	return ok && l.Valid(time.Now())
}

// forward sends cmd to the leader's metadata actor.
func (s *Service) forward(ctx context.Context, leaderID, _ string, cmd fsm.Command) (fsm.Result, error) {
	var addr string
	for _, m := range s.prov.Members() {
		if m.Name == leaderID && m.Host != "" && (m.Status == membership.StatusAlive || m.Status == membership.StatusSuspect) {
			addr = fmt.Sprintf("%s:%d", m.Host, m.Port)
		}
	}
	if addr == "" {
		return fsm.Result{}, fmt.Errorf("metadata: leader %q not in the member view", leaderID)
	}
	b, err := cmd.Encode()
	if err != nil {
		return fsm.Result{}, err
	}
	timeout := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return fsm.Result{}, context.DeadlineExceeded
	}
	res, err := s.sys.Root.RequestFuture(actor.NewPID(addr, ActorName), &pb.MetadataApply{Command: b}, timeout).Result()
	if err != nil {
		return fsm.Result{}, fmt.Errorf("metadata: forward to %s: %w", leaderID, err)
	}
	r, ok := res.(*pb.MetadataApplyReply)
	if !ok {
		return fsm.Result{}, fmt.Errorf("metadata: leader answered %T", res)
	}
	if r.NotLeader {
		return fsm.Result{}, &raftnode.NotLeaderError{LeaderID: r.LeaderId, LeaderAddr: r.LeaderAddr}
	}
	if r.Error != nil {
		return fsm.Result{}, errors.New("metadata: " + r.Error.Message)
	}
	var out fsm.Result
	if err := json.Unmarshal(r.Result, &out); err != nil {
		return fsm.Result{}, err
	}
	return out, nil
}

// receive is the metadata actor: it applies forwarded commands on the leader.
func (s *Service) receive(ctx actor.Context) {
	m, ok := ctx.Message().(*pb.MetadataApply)
	if !ok {
		return
	}
	cmd, err := fsm.DecodeCommand(m.Command)
	if err != nil {
		ctx.Respond(&pb.MetadataApplyReply{Error: &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, Message: "undecodable command"}})
		return
	}
	sender := ctx.Sender()
	// Apply blocks on Raft: run it off the actor goroutine, owned by the service.
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		ctx.Respond(&pb.MetadataApplyReply{Error: &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_SHUTTING_DOWN, Message: "metadata service stopping"}})
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		actx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := s.node.Apply(actx, cmd)
		var reply *pb.MetadataApplyReply
		var nl *raftnode.NotLeaderError
		switch {
		case errors.As(err, &nl):
			reply = &pb.MetadataApplyReply{NotLeader: true, LeaderId: nl.LeaderID, LeaderAddr: nl.LeaderAddr}
		case err != nil:
			reply = &pb.MetadataApplyReply{Error: &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_UNAVAILABLE, Message: err.Error()}}
		default:
			b, _ := json.Marshal(res)
			reply = &pb.MetadataApplyReply{Result: b}
		}
		s.sys.Root.Send(sender, reply)
	}()
}

// loop drives bootstrap (until done), and on the leader: voter reconciliation
// and revocation of dead members' leases.
func (s *Service) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	if s.node.HasExistingState() {
		s.booted.Store(true)
	}
	for {
		s.tick()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) tick() {
	members := s.prov.Members()
	self := s.prov.Self()
	var alive []raftnode.Peer
	var left []string
	var dead []string
	for _, m := range members {
		if m.Raft && m.ID != self.ID && m.Status == membership.StatusAlive {
			s.booted.Store(true) // a cluster exists: its leader adds us
		}
		if m.Role != membership.RoleMember || m.Name == "" || m.RaftAddr == "" {
			continue
		}
		switch m.Status {
		case membership.StatusAlive, membership.StatusSuspect:
			alive = append(alive, raftnode.Peer{ServerID: m.Name, RaftAddr: m.RaftAddr, Expect: m.Expect, HasState: m.Raft})
		case membership.StatusLeft:
			left = append(left, m.Name)
			if m.ID != self.ID {
				dead = append(dead, m.ID)
			}
		case membership.StatusDead:
			if m.ID != self.ID { // our own leave while stopping: Release ends the lease
				dead = append(dead, m.ID)
			}
		}
	}
	if !s.booted.Load() && s.prov.Joined() && !s.cfg.JoinOnly {
		me := s.node.Self()
		seen := alive
		if me.Expect == 1 {
			// Expect 1 without --join founds a single-server cluster; others
			// that join it (JoinOnly) are added by its reconcile loop.
			seen = nil
		}
		ok, err := s.node.MaybeBootstrap(seen)
		switch {
		case err != nil:
			if msg := err.Error(); msg != s.lastBootErr {
				s.lastBootErr = msg
				s.log.Warn("bootstrap refused", "err", err, "expect", me.Expect)
			}
		case ok:
			s.log.Info("raft bootstrapped", "servers", len(alive))
			s.booted.Store(true)
		}
	}
	if !self.Raft && s.hasState() {
		if err := s.prov.UpdateMeta(func(m *membership.Meta) { m.Raft = true }); err != nil {
			s.log.Warn("advertising raft state", "err", err)
		}
	}
	if !s.node.IsLeader() {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	// Reconcile never removes a left server that is alive again (rejoined
	// under the same name).
	if ch, err := s.node.Reconcile(ctx, alive, left); err != nil {
		s.log.Debug("reconcile", "err", err)
	} else if !ch.Empty() {
		s.log.Info("raft configuration changed", "changes", ch)
	}
	for _, id := range dead {
		if l, ok := s.State().Lease(id); ok && !l.Revoked {
			if _, err := s.node.Apply(ctx, fsm.NewRevokeLease(id, time.Now())); err != nil {
				s.log.Debug("revoking lease", "member_id", id, "err", err)
			} else {
				s.log.Info("revoked lease of a dead member", "member_id", id)
			}
		}
	}
}

// hasState reports whether this server's Raft log holds anything (it
// bootstrapped, or a leader replicated to it).
func (s *Service) hasState() bool {
	if s.node.HasExistingState() {
		return true
	}
	st, err := s.node.Stats()
	return err == nil && st.LastIndex > 0
}

// Release gives up this member's lease (graceful shutdown).
func (s *Service) Release(ctx context.Context) {
	if s.memberID == "" {
		return
	}
	if _, err := s.Apply(ctx, fsm.NewReleaseLease(s.memberID, time.Now())); err != nil {
		s.log.Debug("releasing lease", "err", err)
	}
}

// Stop stops the loops and Raft (transferring leadership). Idempotent.
func (s *Service) Stop(ctx context.Context) error {
	var err error
	s.stop.Do(func() {
		s.mu.Lock()
		s.stopping = true
		s.mu.Unlock()
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		err = s.node.Stop(ctx)
	})
	return err
}
