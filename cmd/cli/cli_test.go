package cli

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Precedence is defaults < file < env < flags, and every flag has an env var.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plexus.yaml")
	if err := os.WriteFile(file, []byte("http: 127.0.0.1:1111\ngossip: 127.0.0.1:2222\nnode-name: from-file\njoin: [a:1, b:2]\nallow-local-store: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PLEXUS_GOSSIP", "127.0.0.1:3333")
	t.Setenv("PLEXUS_NODE_NAME", "from-env")
	cfg, err := loadConfig([]string{"--config", file, "--node-name", "from-flag", "--bootstrap-expect", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != "127.0.0.1:1111" || cfg.GossipAddr != "127.0.0.1:3333" || cfg.NodeName != "from-flag" || cfg.BootstrapExpect != 3 {
		t.Fatalf("precedence: %+v", cfg)
	}
	if len(cfg.Join) != 2 || cfg.Join[1] != "b:2" || !cfg.AllowLocalStore {
		t.Fatalf("file values: join=%v allow=%v", cfg.Join, cfg.AllowLocalStore)
	}
	if cfg.RaftAddr != "127.0.0.1:8300" {
		t.Fatalf("default raft: %s", cfg.RaftAddr)
	}
}

func TestConfigRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("no-such-key: 1\n"), 0o600)
	for _, args := range [][]string{
		{"--bootstrap-expect", "x"},
		{"--allow-local-store=maybe"},
		{"--config", bad},
		{"--config", filepath.Join(dir, "missing.yaml")},
		{"stray"},
	} {
		if _, err := loadConfig(args, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	t.Setenv("PLEXUS_BOOTSTRAP_EXPECT", "many")
	if _, err := loadConfig(nil, io.Discard); err == nil {
		t.Error("bad env accepted")
	}
}

// Every flag of design.md §7 is in the table (and so has its env var and YAML key).
func TestEnvNames(t *testing.T) {
	want := []string{"http", "gossip", "remote", "raft", "advertise-host", "join", "bootstrap-expect", "node-name",
		"data-dir", "store", "allow-local-store", "admin-token", "profile", "log-level", "log-format"}
	have := map[string]bool{}
	for _, o := range options() {
		have[o.name] = true
	}
	for _, n := range want {
		if !have[n] {
			t.Errorf("flag --%s missing from the table", n)
		}
	}
	if envName("bootstrap-expect") != "PLEXUS_BOOTSTRAP_EXPECT" {
		t.Fatal(envName("bootstrap-expect"))
	}
}

func TestAdminCommandLines(t *testing.T) {
	cases := []struct {
		args         []string
		method, path string
		body         string
		ok           bool
	}{
		{[]string{"cluster"}, "GET", "/admin/v1/cluster", "", true},
		{[]string{"apps", "list"}, "GET", "/admin/v1/apps?per_page=1000", "", true},
		{[]string{"apps", "create", "shop"}, "POST", "/admin/v1/apps", `{"name":"shop"}`, true},
		{[]string{"apps", "get", "a/b"}, "GET", "/admin/v1/apps/a%2Fb", "", true},
		{[]string{"apps", "disable", "x"}, "PATCH", "/admin/v1/apps/x", `{"disabled":true}`, true},
		{[]string{"apps", "rotate", "x", "key", "secret"}, "POST", "/admin/v1/apps/x/rotate", `{"kinds":["key","secret"]}`, true},
		{[]string{"apps", "create"}, "", "", "", false},
		{[]string{"apps", "rotate", "x"}, "", "", "", false},
		{[]string{"nope"}, "", "", "", false},
		{nil, "", "", "", false},
	}
	for _, c := range cases {
		m, p, b, ok := adminRequest(c.args)
		if ok != c.ok || m != c.method || p != c.path || string(b) != c.body {
			t.Errorf("%v: %s %s %s %v", c.args, m, p, b, ok)
		}
	}
}
