package embedtest_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/plexushq/plexus/cmd/embed"
)

// Two nodes that advertise different --bootstrap-expect values never
// bootstrap (guessing could make two clusters): no leader, not ready.
func TestRaftMismatchedExpectRefusesBootstrap(t *testing.T) {
	var logs lockedBuffer
	start := func(name string, expect int, join []string) *embed.Node {
		cfg := embed.DefaultConfig()
		cfg.NodeName = name
		cfg.HTTPAddr, cfg.GossipAddr, cfg.RemoteAddr, cfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		cfg.DataDir = t.TempDir()
		cfg.Profile = "test"
		cfg.AllowLocalStore = true
		cfg.AdminToken = "tok"
		cfg.BootstrapExpect = expect
		cfg.Join = join
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil)).With("test_node", name)
		n, err := embed.Start(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Stop(t.Context()) })
		return n
	}
	a := start("a", 2, nil)
	b := start("b", 3, []string{a.GossipAddr()})
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range []*embed.Node{a, b} {
			if n.DefaultAppID() != "" {
				t.Fatal("a cluster was bootstrapped despite mismatched expect values")
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "bootstrap refused") {
		t.Fatalf("no refusal logged:\n%s", logs.String())
	}
}
