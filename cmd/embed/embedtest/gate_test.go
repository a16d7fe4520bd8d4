package embedtest_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexushq/plexus/cmd/embed"
	"github.com/plexushq/plexus/cmd/embed/embedtest"
	"github.com/plexushq/plexus/test/procs"
)

// A node whose seeds cannot be reached publishes no topology (it would own
// every identity alone, notes §1 item 6), places nothing and is not ready.
func TestMembershipNoTopologyBeforeJoin(t *testing.T) {
	cfg := embed.DefaultConfig()
	cfg.NodeName = "lonely"
	cfg.HTTPAddr, cfg.GossipAddr, cfg.RemoteAddr, cfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Profile = "test"
	cfg.AllowLocalStore = true
	cfg.AdminToken = "tok"
	cfg.Join = []string{"127.0.0.1:" + strconv.Itoa(procs.FreePort(t))}
	cfg.Logger = slog.New(slog.DiscardHandler)
	n, err := embed.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(t.Context()) })
	time.Sleep(500 * time.Millisecond) // a few join retries and re-pushes
	if m := n.Lookup().Members(); len(m) != 0 {
		t.Fatalf("placement set before join: %v", m)
	}
	st, body := embedtest.Do(t, http.MethodGet, "http://"+n.HTTPAddr()+"/readyz", "", "", "")
	if st != 503 || !strings.Contains(body, "not joined") {
		t.Fatalf("/readyz: %d %s", st, body)
	}
	// Without a Raft cluster there is no app either: nothing is served.
	st, body = embedtest.Do(t, http.MethodPost, "http://"+n.HTTPAddr()+"/api", "application/json", `{"body":[{"topic":"record","action":"head","recordName":"x"}]}`, "")
	if st == 200 && !strings.Contains(body, `"success":false`) {
		t.Fatalf("a request with no placement must fail, got %d %s", st, body)
	}
}

// A multi-node configuration refuses the node-local store unless marked throwaway.
func TestClusterRefusesLocalStore(t *testing.T) {
	cfg := embed.DefaultConfig()
	cfg.Join = []string{"127.0.0.1:1"}
	if err := cfg.Validate(); err != embed.ErrLocalStoreInCluster {
		t.Fatalf("join with pebble: %v", err)
	}
	cfg.Join = nil
	cfg.BootstrapExpect = 3
	if err := cfg.Validate(); err != embed.ErrLocalStoreInCluster {
		t.Fatalf("expect 3 with pebble: %v", err)
	}
	cfg.AllowLocalStore = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.AllowLocalStore = false
	cfg.Store = "postgres://127.0.0.1/x"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
