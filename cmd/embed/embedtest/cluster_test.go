package embedtest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/plexushq/plexus/actors/relay"
	"github.com/plexushq/plexus/cmd/embed/embedtest"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

type clusterView struct {
	Members []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"members"`
	Grains map[string]map[string]int64 `json:"grains"`
}

func view(t *testing.T, c *embedtest.Cluster, i int) clusterView {
	t.Helper()
	st, body := embedtest.Do(t, "GET", "http://"+c.Nodes[i].HTTPAddr()+"/admin/v1/cluster", "", "", c.Token)
	if st != 200 {
		t.Fatalf("cluster view: %d %s", st, body)
	}
	var v clusterView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func write(t *testing.T, ctx context.Context, c *embedtest.Cluster, via int, name string, v int) {
	t.Helper()
	_, err := c.Nodes[via].Client().RecordWrite(ctx, &pb.RecordWrite{IdempotencyKey: fmt.Sprintf("%s-%d-%d", name, via, v), App: "default", Name: name,
		Transport: pb.Transport_TRANSPORT_HTTP, Version: -1, Data: []byte(fmt.Sprintf(`{"v":%d}`, v))})
	if err != nil {
		t.Fatalf("write %s via node%d: %v", name, via, err)
	}
}

// Grains of each kind land on every node, and a request from any node reaches
// the owner: every node reads back what another node wrote.
func TestClusterPlacementAndRouting(t *testing.T) {
	c := embedtest.New(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const n = 60
	for i := 0; i < n; i++ {
		write(t, ctx, c, i%3, fmt.Sprintf("rec-%d", i), i)
		if _, err := c.Nodes[(i+1)%3].Client().EventEmit(ctx, &pb.EventEmit{IdempotencyKey: fmt.Sprintf("e%d", i), App: "default", Name: fmt.Sprintf("ev-%d", i)}); err != nil {
			t.Fatalf("emit: %v", err)
		}
	}
	for i := 0; i < n; i++ {
		for via := 0; via < 3; via++ {
			r, err := c.Nodes[via].Client().RecordRead(ctx, &pb.RecordRead{App: "default", Name: fmt.Sprintf("rec-%d", i)})
			if err != nil {
				t.Fatalf("read via node%d: %v", via, err)
			}
			if !r.Exists || r.Version != 1 || string(r.Data) != fmt.Sprintf(`{"v":%d}`, i) {
				t.Fatalf("rec-%d via node%d: exists=%v version=%d data=%s", i, via, r.Exists, r.Version, r.Data)
			}
		}
	}
	v := view(t, c, 0)
	if len(v.Members) != 3 {
		t.Fatalf("members: %+v", v.Members)
	}
	for _, kind := range []string{"record", "event"} {
		total := int64(0)
		for i := 0; i < 3; i++ {
			cnt := v.Grains[kind][fmt.Sprintf("node%d", i)]
			if cnt == 0 {
				t.Errorf("no %s grain on node%d: %v", kind, i, v.Grains)
			}
			total += cnt
		}
		if total != n {
			t.Errorf("%s grains: %d in all, want %d (one activation each)", kind, total, n)
		}
	}
}

// Stopping a node moves its grains: requests succeed again on the survivors,
// and the grain counts there add up to every identity.
func TestClusterStopMovesGrains(t *testing.T) {
	c := embedtest.New(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	const n = 30
	for i := 0; i < n; i++ {
		write(t, ctx, c, i%3, fmt.Sprintf("mv-%d", i), 1)
	}
	before := view(t, c, 0)
	if before.Grains["record"]["node2"] == 0 {
		t.Fatalf("node2 hosts no record grain: %v", before.Grains)
	}
	c.Stop(2)
	c.WaitMembers(2, 10*time.Second)
	for i := 0; i < n; i++ {
		write(t, ctx, c, i%2, fmt.Sprintf("mv-%d", i), 2)
	}
	after := view(t, c, 0)
	if len(after.Members) < 2 {
		t.Fatalf("members after stop: %+v", after.Members)
	}
	got := after.Grains["record"]["node0"] + after.Grains["record"]["node1"]
	if got != n {
		t.Fatalf("record grains on survivors = %d, want %d: %v", got, n, after.Grains)
	}
}

type sink struct {
	mu  sync.Mutex
	got []*pb.Delivery
	ch  chan struct{}
}

func newSink() *sink { return &sink{ch: make(chan struct{}, 1024)} }

func (s *sink) Deliver(d *pb.Delivery) {
	s.mu.Lock()
	s.got = append(s.got, d)
	s.mu.Unlock()
	s.ch <- struct{}{}
}

func (s *sink) wait(t *testing.T, n int) []*pb.Delivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		if len(s.got) >= n {
			out := append([]*pb.Delivery(nil), s.got...)
			s.mu.Unlock()
			return out
		}
		s.mu.Unlock()
		select {
		case <-s.ch:
		case <-deadline:
			t.Fatalf("waited for %d deliveries, got %d", n, len(s.got))
		}
	}
}

// The relay delivers an event emitted on another node to local sessions,
// skips the emitting session, and keeps delivering after the event grain's
// node stops (interest re-registered on the topology change, design §3.5).
func TestClusterRelayFanOutSurvivesGrainMove(t *testing.T) {
	c := embedtest.New(t, 3)
	// Pick an event name owned by node2, so stopping node2 moves the grain.
	name := ""
	for i := 0; i < 200 && name == ""; i++ {
		cand := fmt.Sprintf("news-%d", i)
		if strings.HasSuffix(c.Nodes[0].Lookup().Owner("event", c.App()+"/"+cand), addrPort(c, 2)) {
			name = cand
		}
	}
	if name == "" {
		t.Fatal("no event name owned by node2")
	}
	a, b := newSink(), newSink()
	topic := relay.Topic{Kind: "event", App: c.App(), Name: name}
	defer c.Nodes[0].Relay().Subscribe(topic, "session-a", a)()
	defer c.Nodes[0].Relay().Subscribe(topic, "session-b", b)()

	st, body := c.Post(1, "/api", fmt.Sprintf(`{"body":[{"topic":"event","action":"emit","eventName":%q,"data":{"n":1}}]}`, name))
	if st != 200 || !strings.Contains(body, `"SUCCESS"`) {
		t.Fatalf("emit: %d %s", st, body)
	}
	got := a.wait(t, 1)
	if string(got[0].Data) != `{"n":1}` || got[0].Seq != 1 {
		t.Fatalf("delivery: %+v", got[0])
	}
	b.wait(t, 1)

	// Origin is skipped: session-a emits, only session-b hears it.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := c.Nodes[0].Client().EventEmit(ctx, &pb.EventEmit{IdempotencyKey: "k2", App: c.App(), Name: name, Data: []byte("2"), HasData: true, Origin: "session-a"}); err != nil {
		t.Fatal(err)
	}
	b.wait(t, 2)
	time.Sleep(200 * time.Millisecond) // room for a wrong delivery to session-a to land
	a.mu.Lock()
	echoed := len(a.got)
	a.mu.Unlock()
	if echoed != 1 {
		t.Fatalf("session-a got %d deliveries, want 1: its own emit came back", echoed)
	}

	c.Stop(2)
	c.WaitMembers(2, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for i := 3; ; i++ {
		_, err := c.Nodes[1].Client().EventEmit(ctx, &pb.EventEmit{IdempotencyKey: fmt.Sprintf("k%d", i), App: c.App(), Name: name, Data: []byte("3"), HasData: true})
		if err != nil {
			t.Fatal(err)
		}
		a.mu.Lock()
		n := len(a.got)
		a.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery after the event grain moved")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func addrPort(c *embedtest.Cluster, i int) string {
	v := c.Nodes[i].Lookup().Self()
	return v[strings.LastIndex(v, ":"):]
}
