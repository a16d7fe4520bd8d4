package relay

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/plexushq/plexus/actors/client"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Name is the relay actor's name on every node.
const Name = "plexus-relay"

// Sink receives deliveries for one local session. Deliver is called on the
// relay's actor goroutine and must not block (sessions queue and write on
// their own writer).
type Sink interface {
	Deliver(d *pb.Delivery)
}

// Topic names what a sink follows.
type Topic struct{ Kind, App, Name string }

type sub struct {
	session string
	sink    Sink
}

// Relay is one node's relay.
type Relay struct {
	sys *actor.ActorSystem
	c   *client.Client
	log *slog.Logger
	pid *actor.PID

	mu   sync.Mutex
	subs map[Topic]map[uint64]sub
	// scratch is receive's reusable target list (actor goroutine only).
	scratch []sub
	nextID  uint64
	closed  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}
}

// New spawns the relay actor on sys. Registrations with grains go through c.
func New(sys *actor.ActorSystem, c *client.Client, lg *slog.Logger) (*Relay, error) {
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	r := &Relay{sys: sys, c: c, log: lg.With("subsystem", "relay"), subs: map[Topic]map[uint64]sub{}, kick: make(chan struct{}, 1)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	pid, err := sys.Root.SpawnNamed(actor.PropsFromFunc(r.receive), Name)
	if err != nil {
		return nil, err
	}
	r.pid = pid
	r.wg.Add(1)
	go r.registrar()
	return r, nil
}

// PID returns the relay's actor PID.
func (r *Relay) PID() *actor.PID { return r.pid }

func (r *Relay) receive(ctx actor.Context) {
	d, ok := ctx.Message().(*pb.Delivery)
	if !ok {
		return
	}
	t := Topic{Kind: d.Kind, App: d.App, Name: d.Name}
	r.mu.Lock()
	targets := r.scratch[:0] // receive runs on the actor's goroutine only
	for _, s := range r.subs[t] {
		if d.Origin != "" && s.session == d.Origin {
			continue
		}
		targets = append(targets, s)
	}
	r.mu.Unlock()
	for _, s := range targets {
		s.sink.Deliver(d)
	}
	clear(targets) // keep no sink alive through the scratch slice
	r.scratch = targets
}

// Subscribe adds sink (of session) to t's local subscribers; the first local
// subscriber registers this node's interest with the grain. The returned
// function unsubscribes.
func (r *Relay) Subscribe(t Topic, session string, sink Sink) (unsubscribe func()) {
	r.mu.Lock()
	r.nextID++
	id := r.nextID
	m := r.subs[t]
	first := m == nil
	if first {
		m = map[uint64]sub{}
		r.subs[t] = m
	}
	m[id] = sub{session: session, sink: sink}
	r.mu.Unlock()
	if first {
		r.register(t, false)
	}
	return func() {
		r.mu.Lock()
		last := false
		if m := r.subs[t]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(r.subs, t)
				last = true
			}
		}
		r.mu.Unlock()
		if last {
			r.register(t, true)
		}
	}
}

// register tells the grain about this node's interest, synchronously with a
// short deadline; failures are repaired by the next Reregister.
func (r *Relay) register(t Topic, remove bool) {
	if err := r.sendInterest(t, remove); err != nil && !remove {
		r.log.Warn("interest registration failed; retrying in the background", "kind", t.Kind, "name", t.Name, "err", err)
		r.Reregister()
	}
}

// sendInterest registers (or removes) this node's interest in t with its
// grain, within 3 s.
func (r *Relay) sendInterest(t Topic, remove bool) error {
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	_, err := r.c.Interest(ctx, &pb.Interest{Kind: t.Kind, App: t.App, Name: t.Name, RelayAddress: r.pid.Address, RelayId: r.pid.Id, Remove: remove})
	return err
}

// Reregister re-sends every interest of this node (after a topology change a
// grain may have moved and lost its in-memory interest set).
func (r *Relay) Reregister() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Relay) registrar() {
	defer r.wg.Done()
	refresh := time.NewTicker(RefreshInterval)
	defer refresh.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.kick:
		case <-refresh.C: // renew before grains expire the registration
		}
		r.mu.Lock()
		topics := make([]Topic, 0, len(r.subs))
		for t := range r.subs {
			topics = append(topics, t)
		}
		r.mu.Unlock()
		failed := 0
		for _, t := range topics {
			if err := r.sendInterest(t, false); err != nil && r.ctx.Err() == nil {
				failed++
				r.log.Warn("interest re-registration failed", "kind", t.Kind, "name", t.Name, "err", err)
			}
		}
		if failed > 0 {
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-r.ctx.Done():
				t.Stop()
				return
			case <-t.C:
				r.Reregister()
			}
		}
	}
}

// Stop stops the registrar and the relay actor. Idempotent.
func (r *Relay) Stop() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	_ = r.sys.Root.StopFuture(r.pid).Wait()
}
