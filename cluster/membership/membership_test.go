package membership

import (
	"strings"
	"testing"
)

func TestMembershipMetaRoundTripAndLimit(t *testing.T) {
	m := Meta{ID: "abc", Host: "127.0.0.1", Port: 8090, Kinds: []string{"event", "record"}, Role: RoleMember, Name: "n0", RaftAddr: "127.0.0.1:8300", HTTPAddr: "127.0.0.1:8080", Expect: 3, Raft: true}
	b, err := m.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMeta(b)
	if err != nil || got.Name != "n0" || got.Expect != 3 || !got.Raft || len(got.Kinds) != 2 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	m.Name = strings.Repeat("x", maxMetaBytes)
	if _, err := m.encode(); err == nil {
		t.Fatal("meta over memberlist's 512-byte limit accepted")
	}
	if _, err := decodeMeta([]byte("{")); err == nil {
		t.Fatal("bad meta accepted")
	}
}

func TestMembershipConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mut := range []func(*Config){
		func(c *Config) { c.BindAddr = "" },
		func(c *Config) { c.Profile = "fast" },
		func(c *Config) { c.Repush = 0 },
	} {
		c := DefaultConfig()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("invalid config accepted: %+v", c)
		}
	}
	if !onlySelf([]string{"a:1", "a:1"}, "a:1") || onlySelf([]string{"a:1", "b:2"}, "a:1") {
		t.Fatal("onlySelf")
	}
}

// Two providers started by hand would need protoactor clusters; the
// in-process cluster tests (cmd/embed/embedtest) cover join, gate, push and
// leave end to end.
