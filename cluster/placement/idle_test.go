package placement

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// idleActor passivates through Idle the way the grains do.
type idleActor struct {
	idle   Idle
	period time.Duration
}

func (a *idleActor) Receive(ctx actor.Context) {
	a.idle.Observe(ctx, Message(ctx.Message()), a.period, true)
}

// TestIdlePassivates checks that a grain kept busy outlives many idle
// periods and that it stops on its own once messages cease.
func TestIdlePassivates(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	const period = 100 * time.Millisecond
	stopped := make(chan struct{})
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &idleActor{period: period} }))
	sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.Watch(pid)
		case *actor.Terminated:
			if m.Who.Equal(pid) {
				close(stopped)
			}
		}
	}))
	busyUntil := time.Now().Add(6 * period)
	for time.Now().Before(busyUntil) {
		sys.Root.Send(pid, "work")
		time.Sleep(period / 10)
		select {
		case <-stopped:
			t.Fatal("a grain that received a message every period/10 passivated")
		default:
		}
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("an idle grain did not passivate")
	}
}
