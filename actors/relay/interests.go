package relay

import (
	"github.com/asynkron/protoactor-go/actor"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Interests is the set of node relays interested in one grain. It belongs to
// the grain's actor goroutine; it is not safe for concurrent use.
type Interests struct {
	relays map[string]*actor.PID // by address
}

// Apply adds or removes the relay named in m.
func (in *Interests) Apply(m *pb.Interest) {
	if in.relays == nil {
		in.relays = map[string]*actor.PID{}
	}
	if m.Remove {
		if cur, ok := in.relays[m.RelayAddress]; ok && cur.Id == m.RelayId {
			delete(in.relays, m.RelayAddress)
		}
		return
	}
	in.relays[m.RelayAddress] = actor.NewPID(m.RelayAddress, m.RelayId)
}

// Len returns the number of interested relays.
func (in *Interests) Len() int { return len(in.relays) }

// Send delivers d once to each interested relay.
func (in *Interests) Send(ctx actor.SenderContext, d *pb.Delivery) {
	for _, pid := range in.relays {
		ctx.Send(pid, d)
	}
}
