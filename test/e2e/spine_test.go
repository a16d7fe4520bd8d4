//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexushq/plexus/test/procs"
)

type clusterView struct {
	Members []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"members"`
}

func alive(t *testing.T, c *procs.Cluster, n *procs.Node) []string {
	t.Helper()
	st, body, err := procs.Do(t.Context(), "GET", n.URL()+"/admin/v1/cluster", "", nil, c.Token)
	if err != nil || st != 200 {
		t.Fatalf("cluster view of %s: %d %v %s", n.Name, st, err, body)
	}
	var v clusterView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range v.Members {
		if m.Status == "alive" {
			names = append(names, m.Name)
		}
	}
	return names
}

func waitAlive(t *testing.T, c *procs.Cluster, n *procs.Node, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := alive(t, c, n)
		if len(got) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sees alive %v, want %d members", n.Name, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeRecord(ctx context.Context, n *procs.Node, name string, v int) error {
	body := fmt.Sprintf(`{"body":[{"topic":"record","action":"write","recordName":%q,"data":{"v":%d}}]}`, name, v)
	st, resp, err := procs.Do(ctx, "POST", n.URL()+"/api", "application/json", []byte(body), "")
	if err != nil {
		return err
	}
	if st != 200 || !strings.Contains(string(resp), `"result":"SUCCESS"`) {
		return fmt.Errorf("%d %s", st, resp)
	}
	return nil
}

// Three processes; 100 records written through random nodes; SIGKILL one;
// within 3 s every record is writable through the survivors, and the
// survivors' cluster view shows 2 alive members.
func TestE2ESpineKillOneOfThree(t *testing.T) {
	c := procs.New(t, 3, "--allow-local-store")
	for _, n := range c.Nodes {
		waitAlive(t, c, n, 3, 15*time.Second)
	}
	ctx := t.Context()
	const records = 100
	for i := 0; i < records; i++ {
		n := c.Nodes[rand.IntN(3)]
		if err := writeRecord(ctx, n, fmt.Sprintf("spine/%d", i), 1); err != nil {
			t.Fatalf("write %d via %s: %v", i, n.Name, err)
		}
	}
	victim := rand.IntN(3)
	survivors := []*procs.Node{}
	for i, n := range c.Nodes {
		if i != victim {
			survivors = append(survivors, n)
		}
	}
	c.Nodes[victim].Kill()
	killed := time.Now()

	// The 3 s bound holds for the normal binary; a -race build (make
	// test-race) runs several times slower and gets 10 s.
	bound := 3 * time.Second
	if os.Getenv("PLEXUS_RACE") == "1" {
		bound = 10 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	var slowest time.Duration
	for i := 0; i < records; i++ {
		wg.Go(func() {
			name := fmt.Sprintf("spine/%d", i)
			for {
				err := writeRecord(wctx, survivors[i%2], name, 2)
				if err == nil {
					mu.Lock()
					slowest = max(slowest, time.Since(killed))
					mu.Unlock()
					return
				}
				if wctx.Err() != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v", name, err))
					mu.Unlock()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d records not writable within %v of the kill; first: %s", len(failed), bound, failed[0])
	}
	t.Logf("all %d records writable again %v after SIGKILL of %s", records, slowest, c.Nodes[victim].Name)
	for _, n := range survivors {
		waitAlive(t, c, n, 2, 5*time.Second)
	}
	for _, n := range survivors {
		n.Stop(20 * time.Second)
	}
}

// A node stopped with SIGTERM leaves memberlist before it releases its
// lease; its own leader loop must not take that leave for a death, revoke
// its own lease and fence the node on the way out. Stop fails the test
// unless the process exits 0; the log must show no fence. (The window is
// short: this caught nothing in 4 runs with the fix reverted; the fix was
// found when a benchmark child with 10,000 live grains fenced on stop.)
func TestE2EGracefulStopDoesNotFence(t *testing.T) {
	// The production profile's leave and lease timings (the test profile's
	// leave returns before the leader loop can look at it).
	c := procs.New(t, 1, "--profile", "production")
	n := c.Nodes[0] // procs.New waited for /readyz
	// Many live grains make the stop take long enough for the leader loop
	// and the lease renewer to run between the leave and the release.
	for i := range 20 {
		var cmds []string
		for j := range 100 {
			cmds = append(cmds, fmt.Sprintf(`{"topic":"record","action":"write","recordName":"g%d-%d","data":{"v":1}}`, i, j))
		}
		st, resp, err := procs.Do(t.Context(), "POST", n.URL()+"/api", "application/json", []byte(`{"body":[`+strings.Join(cmds, ",")+`]}`), "")
		if err != nil || st != 200 || !strings.Contains(string(resp), `"result":"SUCCESS"`) {
			t.Fatalf("batch %d: %d %v %.200s", i, st, err, resp)
		}
	}
	n.Stop(20 * time.Second)
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"fencing this node", "revoked lease"} {
		if strings.Contains(string(b), bad) {
			t.Fatalf("graceful stop logged %q:\n%s", bad, b)
		}
	}
	if !strings.Contains(string(b), "node stopped") {
		t.Fatalf("no clean stop in the log:\n%s", b)
	}
}
