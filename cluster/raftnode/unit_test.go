package raftnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/plexushq/plexus/cluster/fsm"
	"github.com/plexushq/plexus/cluster/state"
)

func TestRaftBootstrapDecision(t *testing.T) {
	p := func(id string, expect int, has bool) Peer {
		return Peer{ServerID: id, RaftAddr: "10.0.0." + id[1:] + ":8300", Expect: expect, HasState: has}
	}
	a, b, c := p("n1", 3, false), p("n2", 3, false), p("n3", 3, false)
	tests := []struct {
		name    string
		self    Peer
		seen    []Peer
		ok      bool
		wantErr error
		ids     []string
	}{
		{"alone waits", a, nil, false, nil, nil},
		{"two of three waits", a, []Peer{b}, false, nil, nil},
		{"three of three", a, []Peer{b, c}, true, nil, []string{"n1", "n2", "n3"}},
		{"self listed too", c, []Peer{c, b, a}, true, nil, []string{"n1", "n2", "n3"}},
		{"duplicates collapse", b, []Peer{a, a, c, c}, true, nil, []string{"n1", "n2", "n3"}},
		{"expect one", p("n1", 1, false), nil, true, nil, []string{"n1"}},
		{"self has state", p("n1", 3, true), []Peer{b, c}, false, nil, nil},
		{"peer has state", a, []Peer{b, p("n3", 3, true)}, false, nil, nil},
		{"mismatched expect", a, []Peer{b, p("n3", 5, false)}, false, ErrExpectMismatch, nil},
		{"zero expect peer", a, []Peer{p("n2", 0, false)}, false, ErrExpectMismatch, nil},
		{"too many", a, []Peer{b, c, p("n4", 3, false)}, false, ErrTooManyPeers, nil},
		{"empty peer id ignored", a, []Peer{{}, b, c}, true, nil, []string{"n1", "n2", "n3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers, ok, err := BootstrapDecision(tt.self, tt.seen)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if ok != tt.ok {
				t.Fatalf("ok %v", ok)
			}
			var ids []string
			for _, s := range servers {
				if s.Suffrage != raft.Voter {
					t.Fatal("non-voter in bootstrap configuration")
				}
				ids = append(ids, string(s.ID))
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.ids) {
				t.Fatalf("ids %v want %v", ids, tt.ids)
			}
		})
	}
	// Every server of the set computes the identical configuration.
	s1, _, _ := BootstrapDecision(a, []Peer{c, b})
	s2, _, _ := BootstrapDecision(c, []Peer{a, b})
	if fmt.Sprint(s1) != fmt.Sprint(s2) {
		t.Fatalf("configurations differ: %v vs %v", s1, s2)
	}
	for _, bad := range []Peer{{ServerID: "x", RaftAddr: "a:1"}, {ServerID: "", RaftAddr: "a:1", Expect: 1}} {
		if _, _, err := BootstrapDecision(bad, nil); err == nil {
			t.Fatalf("bad self %+v accepted", bad)
		}
	}
	if _, _, err := BootstrapDecision(a, []Peer{b, {ServerID: "n2", RaftAddr: "x:1", Expect: 3}}); err == nil {
		t.Fatal("same id at two addresses accepted")
	}
	if _, _, err := BootstrapDecision(a, []Peer{b, {ServerID: "n3", RaftAddr: b.RaftAddr, Expect: 3}}); err == nil {
		t.Fatal("two ids at one address accepted")
	}
}

func TestRaftConfigValidate(t *testing.T) {
	good := TestConfig()
	good.ServerID, good.DataDir = "n1", t.TempDir()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	d.ServerID, d.DataDir = "n1", "/x"
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no id":         func(c *Config) { c.ServerID = "" },
		"no dir":        func(c *Config) { c.DataDir = "" },
		"bad bind":      func(c *Config) { c.BindAddr = "nope" },
		"bad advertise": func(c *Config) { c.AdvertiseAddr = "nope" },
		"expect 0":      func(c *Config) { c.BootstrapExpect = 0 },
		"even voters":   func(c *Config) { c.MaxVoters = 4 },
		"expect > max":  func(c *Config) { c.BootstrapExpect = 5 },
		"lease > hb":    func(c *Config) { c.LeaderLeaseTimeout = time.Hour },
		"zero commit":   func(c *Config) { c.CommitTimeout = 0 },
		"min quorum":    func(c *Config) { c.MinQuorum = 9 },
	} {
		t.Run(name, func(t *testing.T) {
			c := good
			mut(&c)
			if err := c.Validate(); err == nil {
				t.Fatal("invalid config accepted")
			}
		})
	}
}

func TestRaftLeaseTracker(t *testing.T) {
	cfg := DefaultLeaseConfig() // valid 5 s, margin 1 s: locally valid 4 s after the send time
	base := time.Now()
	at := func(d time.Duration) time.Time { return base.Add(d) }
	steps := []struct {
		name  string
		do    func(*LeaseTracker)
		check time.Duration
		valid bool
	}{
		{"fresh tracker is not valid", func(*LeaseTracker) {}, 0, false},
		{"renewed at 0 valid at 3.9s", func(l *LeaseTracker) { l.Renewed(at(0)) }, 3900 * time.Millisecond, true},
		{"invalid at 4s", func(*LeaseTracker) {}, 4 * time.Second, false},
		{"renewal sent at 1s extends to 5s", func(l *LeaseTracker) { l.Renewed(at(time.Second)) }, 4900 * time.Millisecond, true},
		{"late ack of an older send does not shorten", func(l *LeaseTracker) { l.Renewed(at(0)) }, 4900 * time.Millisecond, true},
		{"revoked is invalid", func(l *LeaseTracker) { l.Revoke() }, 2 * time.Second, false},
		{"renew after revoke stays invalid", func(l *LeaseTracker) { l.Renewed(at(3 * time.Second)) }, 3500 * time.Millisecond, false},
	}
	l := NewLeaseTracker(cfg)
	for _, s := range steps {
		s.do(l)
		if got := l.Valid(at(s.check)); got != s.valid {
			t.Fatalf("%s: valid=%v", s.name, got)
		}
	}
	for _, bad := range []LeaseConfig{{}, {RenewInterval: time.Second, Validity: 2 * time.Second, Margin: time.Second}} {
		if bad.Validate() == nil {
			t.Fatalf("bad lease config %+v accepted", bad)
		}
	}
	if TestLeaseConfig().Validate() != nil || DefaultLeaseConfig().Validate() != nil {
		t.Fatal("stock lease configs invalid")
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

func TestRaftLeaseRenewer(t *testing.T) {
	cfg := DefaultLeaseConfig()
	okResult := func(cmd fsm.Command) fsm.Result { return fsm.Result{Index: 1} }

	t.Run("renews and stays valid", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			var calls atomic.Int32
			tr := NewLeaseTracker(cfg)
			done := make(chan error, 1)
			go func() {
				done <- RunLeaseRenewer(ctx, cfg, tr, "m1", "s1", func(_ context.Context, c fsm.Command) (fsm.Result, error) {
					calls.Add(1)
					if c.Type != fsm.TypeRenewLease {
						t.Errorf("type %s", c.Type)
					}
					return okResult(c), nil
				}, func(error) { t.Error("lost") }, quietLogger())
			}()
			time.Sleep(10 * time.Second)
			synctest.Wait()
			if !tr.Valid(time.Now()) || calls.Load() < 10 {
				t.Fatalf("valid=%v calls=%d", tr.Valid(time.Now()), calls.Load())
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	})

	t.Run("expires when renewals fail", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			var fail atomic.Bool
			tr := NewLeaseTracker(cfg)
			var lostAt time.Time
			var lostErr error
			done := make(chan error, 1)
			go func() {
				done <- RunLeaseRenewer(t.Context(), cfg, tr, "m1", "s1", func(ctx context.Context, c fsm.Command) (fsm.Result, error) {
					if fail.Load() {
						<-ctx.Done() // a partitioned node: the call hangs until its attempt timeout
						return fsm.Result{}, ctx.Err()
					}
					return okResult(c), nil
				}, func(err error) { lostAt, lostErr = time.Now(), err }, quietLogger())
			}()
			time.Sleep(2500 * time.Millisecond) // renewals at 0, 1 s, 2 s succeed
			fail.Store(true)
			err := <-done
			if !errors.Is(err, ErrLeaseExpired) || !errors.Is(lostErr, ErrLeaseExpired) {
				t.Fatalf("err %v lost %v", err, lostErr)
			}
			// Last good send at 2 s: locally valid until 6 s; lost detected then (plus at most one attempt).
			if d := lostAt.Sub(start); d < 6*time.Second || d > 7*time.Second {
				t.Fatalf("lost after %v", d)
			}
			if tr.Valid(time.Now()) {
				t.Fatal("still valid")
			}
		})
	})

	t.Run("revoked by the cluster", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := NewLeaseTracker(cfg)
			var n atomic.Int32
			err := RunLeaseRenewer(t.Context(), cfg, tr, "m1", "s1", func(_ context.Context, c fsm.Command) (fsm.Result, error) {
				if n.Add(1) < 3 {
					return okResult(c), nil
				}
				return fsm.Result{Code: fsm.CodeLeaseRevoked, Message: "revoked"}, nil
			}, nil, quietLogger())
			if !errors.Is(err, ErrLeaseRevoked) || !errors.Is(err, state.ErrLeaseRevoked) || tr.Valid(time.Now()) {
				t.Fatalf("err %v valid %v", err, tr.Valid(time.Now()))
			}
		})
	})

	t.Run("not held yet is not lost", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err := RunLeaseRenewer(ctx, cfg, NewLeaseTracker(cfg), "m1", "s1", func(context.Context, fsm.Command) (fsm.Result, error) {
				return fsm.Result{}, ErrNoLeader
			}, func(error) { t.Error("lost before held") }, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestRaftHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), "raft")
	l.Debug("hidden")
	l.Info("entering leader state", "leader", "n1")
	l.Named("net").With("peer", "n2").Warn("failed to contact", "err", errors.New("boom"))
	l.StandardLogger(nil).Print("[ERR] from std logger")
	out := buf.String()
	for _, want := range []string{"level=INFO msg=\"entering leader state\" subsystem=raft leader=n1",
		"level=WARN msg=\"failed to contact\"", "component=net", "peer=n2", "err=boom", "level=ERROR msg=\"from std logger\""} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") || l.IsDebug() || !l.IsInfo() || l.GetLevel() != hclog.Info {
		t.Fatalf("levels wrong:\n%s", out)
	}
}

func TestRaftErrors(t *testing.T) {
	e := &NotLeaderError{LeaderID: "n2", LeaderAddr: "a:1"}
	if !errors.Is(e, ErrNotLeader) || errors.Is(e, ErrNoLeader) || !strings.Contains(e.Error(), "n2") {
		t.Fatal(e)
	}
	var none error = &NotLeaderError{}
	if !errors.Is(none, ErrNoLeader) || !errors.Is(none, ErrNotLeader) {
		t.Fatal(none)
	}
	for _, err := range []error{e, none, ErrLeadershipLost, fmt.Errorf("x: %w", ErrTimeout)} {
		if !Retryable(err) {
			t.Fatalf("%v not retryable", err)
		}
	}
	if Retryable(ErrStopped) || Retryable(errors.New("x")) {
		t.Fatal("retryable too broad")
	}
}
