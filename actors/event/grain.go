package event

import (
	"context"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/plexushq/plexus/actors/client"
	"github.com/plexushq/plexus/actors/relay"
	"github.com/plexushq/plexus/actors/store"
	"github.com/plexushq/plexus/cluster/placement"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// HistorySize is how many emits a grain keeps for resume.
const HistorySize = 256

// Deps are what an event grain needs from its node.
type Deps struct {
	Store       store.Store
	Logger      *slog.Logger
	IdleTimeout time.Duration // passivate after this long idle with no interest
}

// Props returns the props of the event grain for identity.
func Props(d Deps, identity string) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return newGrain(d, identity) })
}

type grain struct {
	d        Deps
	log      *slog.Logger
	app      string
	name     string
	epoch    uint64
	seq      uint64
	history  []*pb.Delivery // the last HistorySize emits, a ring indexed by seq
	dedup    *dedup
	interest relay.Interests
	idle     placement.Idle
	failed   error
}

func newGrain(d Deps, identity string) *grain {
	app, name := client.SplitIdentity(identity)
	lg := d.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &grain{d: d, app: app, name: name, log: lg.With("grain_kind", client.KindEvent, "grain_id", identity), dedup: newDedup(1024)}
}

func (g *grain) Receive(ctx actor.Context) {
	msg := placement.Message(ctx.Message())
	if g.idle.Observe(ctx, msg, g.d.IdleTimeout, g.interest.Len() == 0) {
		return
	}
	switch m := msg.(type) {
	case *actor.Started:
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ep, err := g.d.Store.Acquire(c, store.Key{Kind: client.KindEvent, App: g.app, ID: g.name})
		if err != nil {
			g.failed = err
			g.log.Warn("activation failed to take ownership", "err", err)
			ctx.Poison(ctx.Self())
			return
		}
		g.epoch = ep
	case *pb.EventEmit:
		if g.failed != nil {
			placement.Reply(ctx, &pb.EventEmitReply{Error: &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION, Message: g.failed.Error()}})
			return
		}
		if r, ok := g.dedup.get(m.IdempotencyKey); ok {
			placement.Reply(ctx, r)
			return
		}
		g.seq++
		d := &pb.Delivery{Kind: client.KindEvent, App: g.app, Name: g.name, Action: "emit", Data: m.Data, HasData: m.HasData, Origin: m.Origin, Epoch: g.epoch, Seq: g.seq}
		// A ring: the emit with seq s sits at (s-1) % HistorySize, so a full
		// history overwrites its oldest entry instead of shifting the rest.
		if len(g.history) < HistorySize {
			g.history = append(g.history, d)
		} else {
			g.history[(g.seq-1)%HistorySize] = d
		}
		g.interest.Send(ctx, d)
		r := &pb.EventEmitReply{Epoch: g.epoch, Seq: g.seq}
		g.dedup.put(m.IdempotencyKey, r)
		placement.Reply(ctx, r)
	case *pb.Interest:
		g.interest.Apply(m)
		placement.Reply(ctx, &pb.InterestReply{})
	}
}
