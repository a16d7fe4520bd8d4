package raftnode

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config configures a Node. Every duration is written out by DefaultConfig and TestConfig; a zero value never
// means "use a default".
type Config struct {
	// ServerID is the stable Raft server id (--node-name). Required.
	ServerID string
	// DataDir is the node's data directory; Raft keeps its files under DataDir/raft. Required.
	DataDir string
	// BindAddr is the Raft TCP listen address; port 0 picks one (read it back with Node.Addr).
	BindAddr string
	// AdvertiseAddr is the address peers dial. Empty means the bound address (which must then not be a wildcard
	// host); a port of 0 is replaced by the bound port.
	AdvertiseAddr string

	// BootstrapExpect is the number of voters to wait for before bootstrapping (--bootstrap-expect). It is also
	// the MinQuorum floor of dead-server cleanup unless MinQuorum is set.
	BootstrapExpect int
	// MaxVoters caps the number of voters Reconcile maintains (3 or 5); further servers join as non-voters.
	MaxVoters int
	// MinQuorum is the number of voters dead-server cleanup never goes below. 0 means BootstrapExpect.
	MinQuorum int
	// ServerStabilizationTime is how long a server in the configuration must have been missing from the alive set
	// before Reconcile removes it as dead.
	ServerStabilizationTime time.Duration

	// Raft timings, passed to raft.Config.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotInterval   time.Duration
	SnapshotThreshold  uint64
	TrailingLogs       uint64

	// TransportTimeout is the I/O deadline of Raft RPCs; TransportMaxPool the pooled connections per peer.
	TransportTimeout time.Duration
	TransportMaxPool int
	// ConfigChangeTimeout bounds each AddVoter/AddNonvoter/RemoveServer enqueue in Reconcile.
	ConfigChangeTimeout time.Duration
	// NoSync disables fsync of the bolt log store. Only for throwaway test data.
	NoSync bool

	// Logger receives Raft's own logs and this package's; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns production settings (raft.DefaultConfig timings, 3 voters, 10 s stabilisation).
// ServerID, DataDir, BindAddr and BootstrapExpect must still be set.
func DefaultConfig() Config {
	return Config{
		BindAddr:                "127.0.0.1:8300",
		BootstrapExpect:         1,
		MaxVoters:               3,
		ServerStabilizationTime: 10 * time.Second,
		HeartbeatTimeout:        1000 * time.Millisecond,
		ElectionTimeout:         1000 * time.Millisecond,
		LeaderLeaseTimeout:      500 * time.Millisecond,
		CommitTimeout:           50 * time.Millisecond,
		SnapshotInterval:        120 * time.Second,
		SnapshotThreshold:       8192,
		TrailingLogs:            10240,
		TransportTimeout:        10 * time.Second,
		TransportMaxPool:        3,
		ConfigChangeTimeout:     5 * time.Second,
	}
}

// TestConfig returns loopback test settings: 200 ms Raft timeouts, port 0, 1 s stabilisation.
func TestConfig() Config {
	c := DefaultConfig()
	c.BindAddr = "127.0.0.1:0"
	c.ServerStabilizationTime = time.Second
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 200 * time.Millisecond
	c.CommitTimeout = 10 * time.Millisecond
	c.SnapshotInterval = 5 * time.Second
	c.TransportTimeout = 2 * time.Second
	c.ConfigChangeTimeout = 2 * time.Second
	return c
}

// Validate checks c.
func (c Config) Validate() error {
	var errs []error
	if c.ServerID == "" {
		errs = append(errs, errors.New("server id is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is required"))
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		errs = append(errs, fmt.Errorf("bind addr %q: %w", c.BindAddr, err))
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("advertise addr %q: %w", c.AdvertiseAddr, err))
		}
	}
	if c.BootstrapExpect < 1 {
		errs = append(errs, errors.New("bootstrap expect must be at least 1"))
	}
	if c.MaxVoters < 1 || c.MaxVoters%2 == 0 {
		errs = append(errs, fmt.Errorf("max voters %d must be odd and positive", c.MaxVoters))
	}
	if c.BootstrapExpect > c.MaxVoters {
		errs = append(errs, fmt.Errorf("bootstrap expect %d exceeds max voters %d", c.BootstrapExpect, c.MaxVoters))
	}
	if c.MinQuorum < 0 || c.MinQuorum > c.MaxVoters {
		errs = append(errs, fmt.Errorf("min quorum %d out of range", c.MinQuorum))
	}
	for name, d := range map[string]time.Duration{
		"heartbeat timeout": c.HeartbeatTimeout, "election timeout": c.ElectionTimeout,
		"leader lease timeout": c.LeaderLeaseTimeout, "commit timeout": c.CommitTimeout,
		"snapshot interval": c.SnapshotInterval, "transport timeout": c.TransportTimeout,
		"config change timeout": c.ConfigChangeTimeout, "server stabilization time": c.ServerStabilizationTime,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		errs = append(errs, errors.New("leader lease timeout must not exceed heartbeat timeout"))
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, errors.New("election timeout must not be below heartbeat timeout"))
	}
	if c.SnapshotThreshold == 0 || c.TransportMaxPool < 1 {
		errs = append(errs, errors.New("snapshot threshold and transport max pool must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("raftnode: invalid config: %w", err)
	}
	return nil
}

func (c Config) minQuorum() int {
	if c.MinQuorum > 0 {
		return c.MinQuorum
	}
	return c.BootstrapExpect
}
