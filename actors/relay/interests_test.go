package relay

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Registrations deliver once per relay, can be withdrawn only by the same
// relay incarnation, and expire when not renewed.
func TestRelayInterestsRemoveAndExpire(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	got := make(chan string, 16)
	mk := func(name string) *actor.PID {
		return sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*pb.Delivery); ok {
				got <- name
			}
		}))
	}
	a, b := mk("a"), mk("b")
	now := time.Unix(1000, 0)
	in := &Interests{now: func() time.Time { return now }}
	in.Apply(&pb.Interest{RelayAddress: "node-a", RelayId: a.Id})
	in.Apply(&pb.Interest{RelayAddress: "node-a", RelayId: a.Id}) // renewal, still one
	in.Apply(&pb.Interest{RelayAddress: "node-b", RelayId: b.Id})
	// A stale incarnation's removal is ignored.
	in.Apply(&pb.Interest{RelayAddress: "node-b", RelayId: "old", Remove: true})
	if in.Len() != 2 {
		t.Fatalf("len %d", in.Len())
	}
	// Send through the real PIDs (the map keys are the node addresses).
	in.relays["node-a"] = interest{pid: a, seen: now}
	in.relays["node-b"] = interest{pid: b, seen: now}
	in.Send(sys.Root, &pb.Delivery{})
	seen := map[string]int{}
	for range 2 {
		select {
		case n := <-got:
			seen[n]++
		case <-time.After(2 * time.Second):
			t.Fatal("delivery missing")
		}
	}
	if seen["a"] != 1 || seen["b"] != 1 {
		t.Fatalf("deliveries %v", seen)
	}
	// b renews, a does not: after the TTL only b is sent to.
	now = now.Add(InterestTTL - time.Second)
	in.Apply(&pb.Interest{RelayAddress: "node-b", RelayId: b.Id}) // the renewal under test
	rb := in.relays["node-b"]
	rb.pid = b // routable in this process; seen is what Apply set
	in.relays["node-b"] = rb
	now = now.Add(2 * time.Second)
	in.Send(sys.Root, &pb.Delivery{})
	select {
	case n := <-got:
		if n != "b" {
			t.Fatalf("expired relay %s still delivered to", n)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("renewed relay not delivered to")
	}
	if in.Len() != 1 {
		t.Fatalf("expired registration kept: %d", in.Len())
	}
	in.Apply(&pb.Interest{RelayAddress: "node-b", RelayId: b.Id, Remove: true})
	if in.Len() != 0 {
		t.Fatal("remove by the same incarnation ignored")
	}
}
