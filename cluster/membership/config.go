package membership

import (
	"errors"
	"log/slog"
	"time"
)

// Profile names a memberlist tuning (notes §9).
const (
	ProfileProduction = "production"
	ProfileTest       = "test"
)

// Config configures a Provider. Every duration is written out by DefaultConfig.
type Config struct {
	// BindAddr is the gossip host:port; port 0 picks a free port.
	BindAddr string
	// AdvertiseHost is the host peers use to reach this node ("" = bind host).
	AdvertiseHost string
	// Seeds are gossip addresses of existing nodes. Empty means this node
	// starts alone and may publish itself before any join.
	Seeds []string
	// Profile selects failure-detection timings: production or test.
	Profile string
	// Meta is the static part of this node's advertised metadata; ID, Host,
	// Port and Kinds are filled in from the actor system at start.
	Meta Meta
	// JoinRetry is the pause between join attempts until one succeeds.
	JoinRetry time.Duration
	// Repush is how often the full member set is pushed even when unchanged.
	Repush time.Duration
	// Filter, when set, keeps only members that may host grains (for
	// example: those holding a Raft lease). It must be cheap and must not
	// call back into the provider.
	Filter func(m Meta) bool
	// Logger receives lifecycle logs; nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the production configuration.
func DefaultConfig() Config {
	return Config{
		BindAddr:  "127.0.0.1:7946",
		Profile:   ProfileProduction,
		JoinRetry: 300 * time.Millisecond,
		Repush:    time.Second,
		Meta:      Meta{Role: RoleMember},
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.BindAddr == "" {
		return errors.New("membership: empty bind address")
	}
	if c.Profile != ProfileProduction && c.Profile != ProfileTest {
		return errors.New("membership: profile must be production or test")
	}
	if c.JoinRetry <= 0 || c.Repush <= 0 {
		return errors.New("membership: join retry and repush must be positive")
	}
	return nil
}
