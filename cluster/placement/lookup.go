package placement

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// ActivatorName is the name of the activator actor on every node.
const ActivatorName = "plexus-activator"

// Factory builds the props of one grain activation of a kind.
type Factory func(identity string) *actor.Props

// Config configures the Lookup.
type Config struct {
	// Kinds maps each grain kind hosted here to its factory.
	Kinds map[string]Factory
	// ActivationTimeout bounds one activation request (notes §2: not 5 s).
	ActivationTimeout time.Duration
	Logger            *slog.Logger
}

// DefaultConfig returns the production settings.
func DefaultConfig() Config {
	return Config{ActivationTimeout: time.Second}
}

// Lookup is our cluster.IdentityLookup. Its view is the member set the
// provider last pushed; its PID cache is dropped whenever that set changes.
type Lookup struct {
	cfg Config
	log *slog.Logger

	mu        sync.RWMutex
	cl        *cluster.Cluster
	self      string // this node's actor system address
	members   []*cluster.Member
	hash      uint64
	cache     map[grainKey]*actor.PID
	gone      map[string]chan struct{} // address -> closed when it leaves the view
	activator *actor.PID
	sub       *eventstream.Subscription
	listeners []func(joined, left []string)
}

// NewLookup returns a Lookup; it starts when protoactor calls Setup.
func NewLookup(cfg Config) *Lookup {
	if cfg.ActivationTimeout <= 0 {
		cfg.ActivationTimeout = time.Second
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Lookup{cfg: cfg, log: lg.With("subsystem", "placement"), cache: map[grainKey]*actor.PID{}, gone: map[string]chan struct{}{}}
}

// OnTopology registers fn, called after every topology change with the
// addresses that joined and left. Register before the cluster starts.
func (l *Lookup) OnTopology(fn func(joined, left []string)) {
	l.mu.Lock()
	l.listeners = append(l.listeners, fn)
	l.mu.Unlock()
}

// grainKey names one grain (a struct key: no string built per lookup).
type grainKey struct{ kind, identity string }

// Setup implements cluster.IdentityLookup.
func (l *Lookup) Setup(c *cluster.Cluster, kinds []string, isClient bool) {
	l.mu.Lock()
	l.cl = c
	l.self = c.ActorSystem.Address()
	l.mu.Unlock()
	if !isClient {
		props := actor.PropsFromProducer(func() actor.Actor {
			return &activator{l: l, local: map[grainKey]*actor.PID{}, byID: map[string]grainKey{}}
		})
		pid, err := c.ActorSystem.Root.SpawnNamed(props, ActivatorName)
		if err != nil {
			l.log.Error("cannot spawn activator", "err", err)
		} else {
			l.mu.Lock()
			l.activator = pid
			l.mu.Unlock()
		}
	}
	l.sub = c.ActorSystem.EventStream.Subscribe(func(evt any) {
		switch e := evt.(type) {
		case *cluster.ClusterTopology:
			l.onTopology(e)
		case *actor.DeadLetterEvent:
			deadLetter(e)
		}
	})
}

func (l *Lookup) onTopology(t *cluster.ClusterTopology) {
	members := append([]*cluster.Member(nil), t.Members...)
	sort.Slice(members, func(i, j int) bool { return members[i].Id < members[j].Id })
	present := map[string]bool{}
	for _, m := range members {
		present[m.Address()] = true
	}
	var joined, left []string
	for _, m := range t.Joined {
		joined = append(joined, m.Address())
	}
	for _, m := range t.Left {
		left = append(left, m.Address())
	}
	l.mu.Lock()
	changed := l.hash != t.TopologyHash || len(l.members) != len(members)
	l.members = members
	l.hash = t.TopologyHash
	if changed {
		l.cache = map[grainKey]*actor.PID{}
	}
	for addr, ch := range l.gone {
		if !present[addr] {
			close(ch)
			delete(l.gone, addr)
		}
	}
	act := l.activator
	cl := l.cl
	listeners := append([]func(joined, left []string){}, l.listeners...)
	l.mu.Unlock()
	if !changed {
		return
	}
	l.log.Info("topology changed", "members", len(members), "hash", t.TopologyHash, "joined", joined, "left", left)
	if act != nil && cl != nil {
		cl.ActorSystem.Root.Send(act, rebalance{})
	}
	for _, fn := range listeners {
		fn(joined, left)
	}
}

// ownerOf returns the owning member's address under this node's view.
func (l *Lookup) ownerOf(kind, identity string) (string, uint64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	m := owner(l.members, kind, identity)
	if m == nil {
		return "", l.hash
	}
	return m.Address(), l.hash
}

// Owner returns the address of the member owning (kind, identity) under this
// node's view, "" when none hosts kind.
func (l *Lookup) Owner(kind, identity string) string {
	a, _ := l.ownerOf(kind, identity)
	return a
}

// Members returns the current placement set.
func (l *Lookup) Members() []*cluster.Member {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return append([]*cluster.Member(nil), l.members...)
}

// Self returns this node's actor system address.
func (l *Lookup) Self() string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.self
}

// gone returns a channel closed once address is no longer in the view.
func (l *Lookup) goneCh(address string) <-chan struct{} {
	l.mu.RLock()
	ch, ok := l.gone[address]
	l.mu.RUnlock()
	if ok {
		return ch
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.gone[address]; ok {
		return ch
	}
	ch = make(chan struct{})
	present := false
	for _, m := range l.members {
		if m.Address() == address {
			present = true
			break
		}
	}
	if !present {
		close(ch)
		return ch
	}
	l.gone[address] = ch
	return ch
}

// Get implements cluster.IdentityLookup: the PID of the activation, or nil
// when it cannot be had right now (no owner, owner disagrees, timeout).
func (l *Lookup) Get(ci *cluster.ClusterIdentity) *actor.PID {
	r, _ := l.get(context.Background(), time.Now().Add(l.cfg.ActivationTimeout), ci.Kind, ci.Identity)
	return r.pid
}

// route is where a request goes: the activation, the cluster to send
// through, and whether the activation is on this node. One read of the
// lookup's state gives all three.
type route struct {
	pid   *actor.PID
	cl    *cluster.Cluster
	local bool
}

// get returns the route to the activation of (kind, identity), activating
// it if needed, by the deadline dl; ctx can cancel the wait.
func (l *Lookup) get(ctx context.Context, dl time.Time, kind, identity string) (route, error) {
	k := grainKey{kind, identity}
	l.mu.RLock()
	pid := l.cache[k]
	cl, self := l.cl, l.self
	l.mu.RUnlock()
	if cl == nil {
		return route{}, Errorf(pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "cluster not started")
	}
	if pid != nil {
		return route{pid, cl, pid.Address == self}, nil
	}
	addr, hash := l.ownerOf(kind, identity)
	if addr == "" {
		return route{}, Errorf(pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "no member hosts kind %q", kind)
	}
	timeout := min(l.cfg.ActivationTimeout, time.Until(dl))
	if timeout <= 0 {
		return route{}, Errorf(pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded before activation")
	}
	target := actor.NewPID(addr, ActivatorName)
	f := cl.ActorSystem.Root.RequestFuture(target, &pb.ActivationRequest{Kind: kind, Identity: identity, TopologyHash: hash}, timeout)
	var res any
	var err error
	if addr == self {
		res, err = waitLocal(f)
	} else {
		res, err = waitFuture(ctx, f, l.goneCh(addr))
	}
	if err != nil {
		return route{}, err
	}
	r, ok := res.(*pb.ActivationResponse)
	if !ok {
		return route{}, Errorf(pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "activator answered %T", res)
	}
	if r.NotOwner {
		return route{}, Errorf(pb.ErrorReason_ERROR_REASON_NOT_OWNER, "%s does not own %s/%s under its view", addr, kind, identity)
	}
	if r.Error != nil {
		return route{}, &Error{Reason: r.Error.Reason, Message: r.Error.Message}
	}
	pid = actor.NewPID(r.PidAddress, r.PidId)
	l.mu.Lock()
	if l.hash == hash {
		l.cache[k] = pid
	}
	l.mu.Unlock()
	return route{pid, cl, pid.Address == self}, nil
}

// RemovePid implements cluster.IdentityLookup: drop a cached PID that failed.
func (l *Lookup) RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID) {
	l.evict(ci.Kind, ci.Identity, pid)
}

func (l *Lookup) evict(kind, identity string, pid *actor.PID) {
	k := grainKey{kind, identity}
	l.mu.Lock()
	if cur := l.cache[k]; cur != nil && (pid == nil || cur.Equal(pid)) {
		delete(l.cache, k)
	}
	l.mu.Unlock()
}

// Shutdown implements cluster.IdentityLookup.
func (l *Lookup) Shutdown() {
	l.mu.Lock()
	cl, sub := l.cl, l.sub
	l.sub = nil
	l.mu.Unlock()
	if cl != nil && sub != nil {
		cl.ActorSystem.EventStream.Unsubscribe(sub)
	}
}

// LocalCounts returns the number of activations per kind on this node.
func (l *Lookup) LocalCounts(ctx context.Context) (map[string]int64, error) {
	return l.Counts(ctx, l.Self())
}

// Counts asks the activator at address for its activation counts.
func (l *Lookup) Counts(ctx context.Context, address string) (map[string]int64, error) {
	l.mu.RLock()
	cl := l.cl
	l.mu.RUnlock()
	if cl == nil {
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "cluster not started")
	}
	f := cl.ActorSystem.Root.RequestFuture(actor.NewPID(address, ActivatorName), &pb.GrainCountsRequest{}, time.Second)
	res, err := waitFuture(ctx, f, l.goneCh(address))
	if err != nil {
		return nil, err
	}
	r, ok := res.(*pb.GrainCountsResponse)
	if !ok {
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "activator answered %T", res)
	}
	return r.Counts, nil
}

// StopAll stops every activation on this node and waits (bounded by ctx)
// until they are gone. Used by shutdown and self-fencing.
func (l *Lookup) StopAll(ctx context.Context) error {
	l.mu.RLock()
	cl, act := l.cl, l.activator
	l.mu.RUnlock()
	if cl == nil || act == nil {
		return nil
	}
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		timeout = time.Millisecond
	}
	_, err := cl.ActorSystem.Root.RequestFuture(act, stopAll{}, timeout).Result()
	return err
}

// waitLocal waits for a future whose target lives on this node: no member
// can leave under it, and the future's own timeout is within ctx's deadline
// (the caller sized it so), so it blocks on the future directly.
func waitLocal(f *actor.Future) (any, error) {
	v, err := f.Result()
	return futureResult(v, err)
}

func futureResult(v any, err error) (any, error) {
	switch {
	case err == actor.ErrTimeout:
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "attempt timed out")
	case err == actor.ErrDeadLetter: // the activation is gone
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION, "target is gone")
	case err != nil:
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "%v", err)
	}
	return v, nil
}

// waitFuture waits for f, for ctx, or for the target's member to leave.
func waitFuture(ctx context.Context, f *actor.Future, gone <-chan struct{}) (any, error) {
	type out struct {
		v   any
		err error
	}
	ch := make(chan out, 1)
	go func() { // bounded by the future's own timeout
		v, err := f.Result()
		ch <- out{v, err}
	}()
	select {
	case o := <-ch:
		return futureResult(o.v, o.err)
	case <-gone:
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_UNAVAILABLE, "target member left")
	case <-ctx.Done():
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "%v", ctx.Err())
	}
}

// rebalance tells the activator to stop activations it no longer owns.
type rebalance struct{}

// stopAll tells the activator to stop every activation and answer when done.
type stopAll struct{}

// activator spawns and tracks this node's grain activations. It runs on its
// own actor goroutine; all its maps are touched only there.
type activator struct {
	l        *Lookup
	local    map[grainKey]*actor.PID
	byID     map[string]grainKey // pid id -> key
	stopping []stopWaiter
}

type stopWaiter struct {
	sender *actor.PID
}

func (a *activator) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *pb.ActivationRequest:
		ctx.Respond(a.activate(ctx, m))
	case rebalance:
		self := a.l.Self()
		for k, pid := range a.local {
			if addr, _ := a.l.ownerOf(k.kind, k.identity); addr != self {
				ctx.Poison(pid)
			}
		}
	case *pb.GrainCountsRequest:
		counts := map[string]int64{}
		for k := range a.local {
			counts[k.kind]++
		}
		ctx.Respond(&pb.GrainCountsResponse{Counts: counts})
	case stopAll:
		if len(a.local) == 0 {
			ctx.Respond(true)
			return
		}
		a.stopping = append(a.stopping, stopWaiter{sender: ctx.Sender()})
		for _, pid := range a.local {
			ctx.Poison(pid)
		}
	case *actor.Terminated:
		if k, ok := a.byID[m.Who.Id]; ok {
			delete(a.byID, m.Who.Id)
			if cur := a.local[k]; cur != nil && cur.Id == m.Who.Id {
				delete(a.local, k)
			}
			a.l.evict(k.kind, k.identity, m.Who)
		}
		if len(a.local) == 0 && len(a.stopping) > 0 {
			for _, w := range a.stopping {
				if w.sender != nil {
					ctx.Send(w.sender, true)
				}
			}
			a.stopping = nil
		}
	}
}

func (a *activator) activate(ctx actor.Context, m *pb.ActivationRequest) *pb.ActivationResponse {
	addr, hash := a.l.ownerOf(m.Kind, m.Identity)
	if addr != a.l.Self() {
		return &pb.ActivationResponse{NotOwner: true, TopologyHash: hash}
	}
	if len(a.stopping) > 0 {
		return &pb.ActivationResponse{Error: &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_SHUTTING_DOWN, Message: "node is stopping its grains"}}
	}
	k := grainKey{m.Kind, m.Identity}
	if pid, ok := a.local[k]; ok {
		return &pb.ActivationResponse{PidAddress: pid.Address, PidId: pid.Id, TopologyHash: hash}
	}
	f, ok := a.l.cfg.Kinds[m.Kind]
	if !ok {
		return &pb.ActivationResponse{Error: &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_NOT_FOUND, Message: "unknown kind " + m.Kind}}
	}
	pid := ctx.SpawnPrefix(f(m.Identity), m.Kind+"$")
	a.local[k] = pid
	a.byID[pid.Id] = k
	return &pb.ActivationResponse{PidAddress: pid.Address, PidId: pid.Id, TopologyHash: hash}
}

// Interface guards
var _ cluster.IdentityLookup = (*Lookup)(nil)
