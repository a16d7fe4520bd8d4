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
// Use it from the grain's Receive only: Start on *actor.Started, Touch on
// every other message, Check on *IdleCheck, Stop on *actor.Stopping.
type Idle struct {
	period      time.Duration
	turns, seen uint64
	t           *time.Timer
}

// IdleCheck is the message Idle's timer sends to its grain.
type IdleCheck struct{}

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging: a
// check may reach a grain that has just stopped.
func (*IdleCheck) IgnoreDeadLetterLogging() {}

var idleCheck = &IdleCheck{}

// Start arms the timer; period ≤ 0 disables Idle.
func (i *Idle) Start(ctx actor.Context, period time.Duration) {
	if period <= 0 {
		return
	}
	i.period = period
	sys, self := ctx.ActorSystem(), ctx.Self()
	i.t = time.AfterFunc(period, func() { sys.Root.Send(self, idleCheck) })
}

// Touch counts a turn.
func (i *Idle) Touch() { i.turns++ }

// Check reports whether no turn happened since the previous check (or
// Start), and re-arms the timer.
func (i *Idle) Check() bool {
	if i.t == nil {
		return false
	}
	idle := i.turns == i.seen
	i.seen = i.turns
	i.t.Reset(i.period)
	return idle
}

// Stop disarms the timer.
func (i *Idle) Stop() {
	if i.t != nil {
		i.t.Stop()
	}
}
