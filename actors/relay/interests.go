package relay

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// InterestTTL is how long a registration lasts without being renewed; relays
// renew every RefreshInterval. A relay whose node died stops renewing and is
// dropped, so grains stop sending to dead addresses.
const (
	InterestTTL     = 45 * time.Second
	RefreshInterval = 15 * time.Second
)

// Interests is the set of node relays interested in one grain. It belongs to
// the grain's actor goroutine; it is not safe for concurrent use.
type Interests struct {
	relays map[string]interest // by address
	now    func() time.Time    // tests replace it
}

type interest struct {
	pid  *actor.PID
	seen time.Time
}

func (in *Interests) clock() time.Time {
	if in.now != nil {
		return in.now()
	}
	return time.Now()
}

// Apply adds or removes the relay named in m.
func (in *Interests) Apply(m *pb.Interest) {
	if in.relays == nil {
		in.relays = map[string]interest{}
	}
	if m.Remove {
		if cur, ok := in.relays[m.RelayAddress]; ok && cur.pid.Id == m.RelayId {
			delete(in.relays, m.RelayAddress)
		}
		return
	}
	in.relays[m.RelayAddress] = interest{pid: actor.NewPID(m.RelayAddress, m.RelayId), seen: in.clock()}
}

// Len returns the number of interested relays (expired ones included until
// the next Send).
func (in *Interests) Len() int { return len(in.relays) }

// Send delivers d once to each interested relay, dropping registrations not
// renewed within InterestTTL.
func (in *Interests) Send(ctx actor.SenderContext, d *pb.Delivery) {
	now := in.clock()
	for addr, it := range in.relays {
		if now.Sub(it.seen) > InterestTTL {
			delete(in.relays, addr)
			continue
		}
		ctx.Send(it.pid, d)
	}
}
