package placement

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Call carries a request to a grain on this node together with the channel
// its reply goes to. The request wrapper uses it instead of a protoactor
// future for local grains: a future costs a process-registry entry (a
// concurrent string-keyed map insert and delete), a condition variable and a
// registry lookup for the reply, which was a fifth of the CPU of a local
// durable write. Grains read the request with Message and answer with Reply;
// a Call that reaches a stopped grain is answered from the dead-letter event
// (see Lookup.Setup), like a future's DeadLetterResponse.
type Call struct {
	Msg proto.Message
	res chan callResult // buffered 1: exactly one answer, never blocks
	t   *time.Timer     // the caller's timeout, reused with the Call
}

type callResult struct {
	msg proto.Message
	err error
}

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging: a Call
// sent to a stopped grain is normal during moves and is answered, not lost.
func (*Call) IgnoreDeadLetterLogging() {}

var callPool = sync.Pool{New: func() any { return &Call{res: make(chan callResult, 1)} }}

// Message returns the request a grain is handling: the Msg of a Call, or m.
func Message(m any) any {
	if c, ok := m.(*Call); ok {
		return c.Msg
	}
	return m
}

// Reply answers the message ctx is handling with r: through the channel of
// a Call, or with ctx.Respond for a request from a future (remote callers,
// tests).
func Reply(ctx actor.Context, r proto.Message) {
	if c, ok := ctx.Message().(*Call); ok {
		c.res <- callResult{msg: r}
		return
	}
	ctx.Respond(r)
}

// deadLetter answers a Call that reached no grain.
func deadLetter(evt *actor.DeadLetterEvent) {
	if c, ok := evt.Message.(*Call); ok {
		select {
		case c.res <- callResult{err: Errorf(pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION, "target is gone")}:
		default: // already answered
		}
	}
}

// callLocal sends msg to the local grain pid as a Call and waits up to
// timeout for its reply.
func callLocal(sys *actor.ActorSystem, pid *actor.PID, msg proto.Message, timeout time.Duration) (proto.Message, error) {
	c := callPool.Get().(*Call)
	c.Msg = msg
	if c.t == nil {
		c.t = time.NewTimer(timeout)
	} else {
		c.t.Reset(timeout) // stopped before pooling: no stale tick (Go ≥ 1.23 timers)
	}
	sys.Root.Send(pid, c)
	select {
	case r := <-c.res:
		c.t.Stop()
		c.Msg = nil
		callPool.Put(c) // answered once: safe to reuse
		return r.msg, r.err
	case <-c.t.C:
		// Not reused: a late answer may still arrive on c.res.
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "attempt timed out")
	}
}
