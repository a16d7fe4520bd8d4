package placement

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Idle tells a grain when it has handled no message for a while, so it can
// passivate. protoactor's receive timeout does the same by stopping and
// re-arming a timer on every message (two timer-heap operations per
// request, ~4 % of the CPU of a durable write); Idle instead counts turns
// and looks at the count once per period from one timer. A grain is told it
// is idle after between one and two periods without a message.
//
// A grain calls Observe first thing in its Receive.
type Idle struct {
	period      time.Duration
	turns, seen uint64
	t           *time.Timer
}

// idleTick is the message Idle's timer sends to its grain.
type idleTick struct{}

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging: a
// check may reach a grain that has just stopped.
func (*idleTick) IgnoreDeadLetterLogging() {}

var idleCheck = &idleTick{}

// Observe runs Idle for the grain whose Receive got msg: it arms the timer
// on *actor.Started (period ≤ 0: never), disarms it on *actor.Stopping and
// counts every other turn. It returns true when msg was Idle's own check,
// which the grain must not handle: it has then stopped the grain if no turn
// happened for a period and mayStop (e.g. nobody is subscribed).
func (i *Idle) Observe(ctx actor.Context, msg any, period time.Duration, mayStop bool) bool {
	switch msg.(type) {
	case *idleTick:
		if i.check() && mayStop {
			ctx.Poison(ctx.Self())
		}
		return true
	case *actor.Started:
		i.start(ctx, period)
	case *actor.Stopping:
		i.stop()
	}
	i.turns++
	return false
}

// start arms the timer; period ≤ 0 disables Idle.
func (i *Idle) start(ctx actor.Context, period time.Duration) {
	if period <= 0 {
		return
	}
	i.period = period
	sys, self := ctx.ActorSystem(), ctx.Self()
	i.t = time.AfterFunc(period, func() { sys.Root.Send(self, idleCheck) })
}

// check reports whether no turn happened since the previous check (or
// start), and re-arms the timer.
func (i *Idle) check() bool {
	if i.t == nil {
		return false
	}
	idle := i.turns == i.seen
	i.seen = i.turns
	i.t.Reset(i.period)
	return idle
}

// stop disarms the timer.
func (i *Idle) stop() {
	if i.t != nil {
		i.t.Stop()
	}
}
