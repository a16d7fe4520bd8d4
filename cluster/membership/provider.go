package membership

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
)

// Status of a member as seen by this node.
const (
	StatusAlive   = "alive"
	StatusSuspect = "suspect"
	StatusDead    = "dead"
	StatusLeft    = "left"
)

// Member is one node as seen by this node.
type Member struct {
	Meta
	Gossip string // gossip address
	Status string
}

// Provider is a protoactor ClusterProvider backed by memberlist.
//
// Concurrency: memberlist calls the delegate methods while holding its own
// locks; they only record into p.nodes and poke p.changed. All pushes to
// protoactor happen on the push goroutine.
type Provider struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	nodes   map[string]*Member // by memberlist name (= member id)
	self    Meta
	ml      *memberlist.Memberlist
	cl      *cluster.Cluster
	joined  bool
	stopped bool

	del      *delegate
	changed  chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	started  atomic.Bool
	onChange []func([]Member)
}

// New returns a Provider; nothing runs until StartMember or StartClient.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Provider{
		cfg:     cfg,
		log:     lg.With("subsystem", "membership"),
		nodes:   map[string]*Member{},
		changed: make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}, nil
}

// OnChange registers fn to be called (on the push goroutine) with the full
// member view whenever it changes. Call before start.
func (p *Provider) OnChange(fn func([]Member)) { p.onChange = append(p.onChange, fn) }

// StartMember implements cluster.ClusterProvider.
func (p *Provider) StartMember(c *cluster.Cluster) error { return p.start(c, RoleMember) }

// StartClient implements cluster.ClusterProvider: the process watches but is
// never placed on.
func (p *Provider) StartClient(c *cluster.Cluster) error { return p.start(c, RoleClient) }

func (p *Provider) start(c *cluster.Cluster, role string) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("membership: already started")
	}
	host, portStr, err := net.SplitHostPort(c.ActorSystem.Address())
	if err != nil {
		return fmt.Errorf("membership: actor system address: %w", err)
	}
	port, _ := strconv.Atoi(portStr)
	self := p.cfg.Meta
	self.ID = c.ActorSystem.ID
	self.Host, self.Port = host, port
	self.Role = role
	if role == RoleMember {
		self.Kinds = c.GetClusterKinds()
		sort.Strings(self.Kinds)
	}
	meta, err := self.encode()
	if err != nil {
		return err
	}

	mlc, err := p.memberlistConfig()
	if err != nil {
		return err
	}
	mlc.Name = self.ID
	p.del = &delegate{meta: meta}
	mlc.Delegate = p.del
	mlc.Events = &events{p: p}

	p.mu.Lock()
	p.self = self
	p.cl = c
	p.mu.Unlock()

	ml, err := memberlist.Create(mlc)
	if err != nil {
		return fmt.Errorf("membership: memberlist: %w", err)
	}
	p.mu.Lock()
	p.ml = ml
	if len(p.cfg.Seeds) == 0 {
		p.joined = true // bootstrapping alone: publishing ourselves is right
	}
	p.mu.Unlock()
	p.log.Info("memberlist started", "member_id", self.ID, "gossip", p.GossipAddr(), "seeds", p.cfg.Seeds)

	p.wg.Add(2)
	go p.joinLoop()
	go p.pushLoop()
	p.poke()
	return nil
}

func (p *Provider) memberlistConfig() (*memberlist.Config, error) {
	host, portStr, err := net.SplitHostPort(p.cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("membership: bind address %q: %w", p.cfg.BindAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("membership: bind port %q: %w", portStr, err)
	}
	var c *memberlist.Config
	switch p.cfg.Profile {
	case ProfileTest:
		c = memberlist.DefaultLocalConfig()
		c.ProbeInterval = 200 * time.Millisecond
		c.ProbeTimeout = 100 * time.Millisecond
		c.SuspicionMult = 2
		c.GossipInterval = 50 * time.Millisecond
		c.TCPTimeout = 500 * time.Millisecond
		c.PushPullInterval = 5 * time.Second
	default:
		c = memberlist.DefaultLANConfig()
		c.ProbeInterval = 500 * time.Millisecond
		c.ProbeTimeout = 250 * time.Millisecond
		c.SuspicionMult = 4
	}
	c.BindAddr = host
	c.BindPort = port
	adv := p.cfg.AdvertiseHost
	if adv == "" {
		adv = host
	}
	c.AdvertiseAddr = adv
	c.AdvertisePort = port // 0: memberlist uses the bound port
	c.LogOutput = nil
	c.Logger = log.New(&slogWriter{l: p.log}, "", 0)
	return c, nil
}

// GossipAddr returns the bound gossip address (useful with port 0).
func (p *Provider) GossipAddr() string {
	p.mu.Lock()
	ml := p.ml
	p.mu.Unlock()
	if ml == nil {
		return ""
	}
	n := ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Joined reports whether this node has joined its seeds (or started alone).
func (p *Provider) Joined() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.joined
}

// Self returns this node's advertised metadata.
func (p *Provider) Self() Meta {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.self
}

func (p *Provider) joinLoop() {
	defer p.wg.Done()
	if len(p.cfg.Seeds) == 0 {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		ml := p.ml
		p.mu.Unlock()
		n, err := ml.Join(p.cfg.Seeds)
		// Joining only ourselves (a seed list naming this node) is not a join.
		if err == nil && n > 0 && (ml.NumMembers() > 1 || onlySelf(p.cfg.Seeds, p.GossipAddr())) {
			p.mu.Lock()
			p.joined = true
			p.mu.Unlock()
			p.log.Info("joined cluster", "contacted", n, "members", ml.NumMembers())
			p.poke()
			return
		}
		if err != nil {
			p.log.Debug("join attempt failed", "err", err)
		}
		t.Reset(p.cfg.JoinRetry)
	}
}

func onlySelf(seeds []string, self string) bool {
	for _, s := range seeds {
		if s != self {
			return false
		}
	}
	return true
}

func (p *Provider) poke() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *Provider) pushLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.Repush)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.changed:
		case <-t.C:
		}
		p.push()
	}
}

// push publishes the placement set to protoactor. Runs on the push goroutine only.
func (p *Provider) push() {
	suspect := p.suspects()
	p.mu.Lock()
	if !p.joined || p.stopped || p.cl == nil {
		p.mu.Unlock()
		return
	}
	cl := p.cl
	view := p.viewLocked(suspect)
	p.mu.Unlock()

	members := make(cluster.Members, 0, len(view))
	for _, m := range view {
		if m.Status != StatusAlive && m.Status != StatusSuspect {
			continue
		}
		if m.Role != RoleMember {
			continue
		}
		if p.cfg.Filter != nil && !p.cfg.Filter(m.Meta) {
			continue
		}
		members = append(members, &cluster.Member{Id: m.ID, Host: m.Host, Port: int32(m.Port), Kinds: m.Kinds})
	}
	cl.MemberList.UpdateClusterTopology(members)
	for _, fn := range p.onChange {
		fn(view)
	}
}

// Members returns this node's view of every node it has heard of, sorted by
// name then id.
func (p *Provider) Members() []Member {
	suspect := p.suspects()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.viewLocked(suspect)
}

// suspects asks memberlist which nodes are suspect. It must be called without
// p.mu held: memberlist's callbacks take p.mu under memberlist's node lock.
func (p *Provider) suspects() map[string]bool {
	p.mu.Lock()
	ml := p.ml
	p.mu.Unlock()
	if ml == nil {
		return nil
	}
	var suspect map[string]bool
	for _, n := range ml.Members() {
		if n.State == memberlist.StateSuspect {
			if suspect == nil {
				suspect = map[string]bool{}
			}
			suspect[n.Name] = true
		}
	}
	return suspect
}

// viewLocked builds the member view; p.mu must be held.
func (p *Provider) viewLocked(suspect map[string]bool) []Member {
	out := make([]Member, 0, len(p.nodes)+1)
	seenSelf := false
	for _, n := range p.nodes {
		m := *n
		if m.Status == StatusAlive && suspect[m.ID] {
			m.Status = StatusSuspect
		}
		if m.ID == p.self.ID {
			seenSelf = true
		}
		out = append(out, m)
	}
	if !seenSelf && p.self.ID != "" {
		out = append(out, Member{Meta: p.self, Gossip: "", Status: StatusAlive})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// UpdateMeta changes this node's advertised metadata (for example: Raft
// state now exists) and gossips it. It must not be called from a memberlist
// callback.
func (p *Provider) UpdateMeta(fn func(m *Meta)) error {
	p.mu.Lock()
	fn(&p.self)
	self := p.self
	ml := p.ml
	p.mu.Unlock()
	b, err := self.encode()
	if err != nil {
		return err
	}
	if p.del == nil || ml == nil {
		return errors.New("membership: not started")
	}
	p.del.set(b)
	return ml.UpdateNode(time.Second)
}

// Leave announces a graceful leave and waits for it to propagate (at most
// timeout). Grains keep running; call this before stopping them.
func (p *Provider) Leave(timeout time.Duration) error {
	p.mu.Lock()
	ml := p.ml
	p.mu.Unlock()
	if ml == nil {
		return nil
	}
	return ml.Leave(timeout)
}

// Shutdown implements cluster.ClusterProvider. It is idempotent.
func (p *Provider) Shutdown(graceful bool) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	ml := p.ml
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	if ml == nil {
		return nil
	}
	if graceful {
		_ = ml.Leave(2 * time.Second)
	}
	return ml.Shutdown()
}

// delegate serves our node meta to memberlist.
type delegate struct {
	mu   sync.Mutex
	meta []byte
}

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil
	}
	return d.meta
}

func (d *delegate) set(b []byte) {
	d.mu.Lock()
	d.meta = b
	d.mu.Unlock()
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// events records memberlist events. memberlist holds its node lock while it
// calls these: never call back into memberlist here.
type events struct{ p *Provider }

func (e *events) NotifyJoin(n *memberlist.Node)   { e.p.record(n, StatusAlive) }
func (e *events) NotifyUpdate(n *memberlist.Node) { e.p.record(n, StatusAlive) }
func (e *events) NotifyLeave(n *memberlist.Node) {
	st := StatusDead
	if n.State == memberlist.StateLeft {
		st = StatusLeft
	}
	e.p.record(n, st)
}

func (p *Provider) record(n *memberlist.Node, status string) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		p.log.Warn("ignoring node with bad meta", "node", n.Name, "err", err)
		return
	}
	m := &Member{Meta: meta, Gossip: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))), Status: status}
	p.mu.Lock()
	prev := p.nodes[n.Name]
	p.nodes[n.Name] = m
	p.mu.Unlock()
	if prev == nil || prev.Status != status {
		p.log.Info("member "+status, "member_id", meta.ID, "node", meta.Name, "gossip", m.Gossip)
	}
	p.poke()
}

// slogWriter turns memberlist's log lines into debug/warn slog records.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(b []byte) (int, error) {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n') {
		s = s[:len(s)-1]
	}
	switch {
	case len(s) > 7 && (s[:7] == "[ERR] m" || s[:6] == "[WARN]"):
		w.l.Warn(s)
	default:
		w.l.Debug(s)
	}
	return len(b), nil
}

// Interface guards
var (
	_ cluster.ClusterProvider  = (*Provider)(nil)
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*events)(nil)
	_ io.Writer                = (*slogWriter)(nil)
)
