package placement

import (
	"fmt"
	"testing"

	"github.com/asynkron/protoactor-go/cluster"
)

func members(n int) []*cluster.Member {
	var ms []*cluster.Member
	for i := 0; i < n; i++ {
		ms = append(ms, &cluster.Member{Id: fmt.Sprint(i), Host: "127.0.0.1", Port: int32(40000 + i), Kinds: []string{"record"}})
	}
	return ms
}

// Identities spread over members on one host (addresses differ only in the
// port), and removing a member moves only the identities it owned.
func TestPlacementRendezvousSpreadAndStability(t *testing.T) {
	ms := members(3)
	counts := map[string]int{}
	owners := map[string]string{}
	for i := 0; i < 3000; i++ {
		id := fmt.Sprintf("default/rec-%d", i)
		o := owner(ms, "record", id)
		counts[o.Id]++
		owners[id] = o.Id
	}
	for _, m := range ms {
		if c := counts[m.Id]; c < 800 || c > 1200 {
			t.Fatalf("member %s owns %d of 3000: %v", m.Id, c, counts)
		}
	}
	// Member 2 leaves: only its identities move, and they spread over both
	// survivors.
	movedTo := map[string]int{}
	for id, o := range owners {
		n := owner(ms[:2], "record", id)
		if n == nil {
			t.Fatalf("%s has no owner after member 2 left", id)
		}
		if o != "2" && n.Id != o {
			t.Fatalf("%s moved from %s to %s though its owner stayed", id, o, n.Id)
		}
		if o == "2" {
			movedTo[n.Id]++
		}
	}
	for _, m := range ms[:2] {
		if c := movedTo[m.Id]; c < counts["2"]/4 {
			t.Fatalf("member %s took %d of member 2's %d identities: %v", m.Id, c, counts["2"], movedTo)
		}
	}
	if owner(ms, "topic", "x") != nil {
		t.Fatal("a kind no member hosts has an owner")
	}
}
