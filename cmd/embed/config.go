package embed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Config is everything a node needs. Zero values are not defaults: start from
// DefaultConfig.
type Config struct {
	NodeName        string
	HTTPAddr        string
	GossipAddr      string
	RemoteAddr      string
	RaftAddr        string
	AdvertiseHost   string
	Join            []string
	BootstrapExpect int
	DataDir         string
	Store           string // "pebble" or a postgres:// URL
	AllowLocalStore bool
	AdminToken      string
	Profile         string // production | test
	LogLevel        string
	LogFormat       string

	MaxMessageBytes int
	MaxRecordBytes  int
	MaxNameBytes    int
	RequestTimeout  time.Duration // one HTTP batch command (http_request_timeout)
	GrainIdle       time.Duration // grain passivation

	// Logger overrides LogLevel/LogFormat (tests route nodes to t.Output()).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults of design.md §7.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "plexus"
	}
	return Config{
		NodeName:        host + "-8080",
		HTTPAddr:        "127.0.0.1:8080",
		GossipAddr:      "127.0.0.1:7946",
		RemoteAddr:      "127.0.0.1:8090",
		RaftAddr:        "127.0.0.1:8300",
		BootstrapExpect: 1,
		DataDir:         "./data",
		Store:           "pebble",
		Profile:         "production",
		LogLevel:        "info",
		LogFormat:       "text",
		MaxMessageBytes: 1 << 20,
		MaxRecordBytes:  1 << 20,
		MaxNameBytes:    1024,
		RequestTimeout:  20 * time.Second,
		GrainIdle:       5 * time.Minute,
	}
}

// ErrLocalStoreInCluster explains why a cluster refuses a node-local store.
var ErrLocalStoreInCluster = errors.New("embed: a multi-node cluster (--join or --bootstrap-expect > 1) cannot use the node-local pebble store: " +
	"a node killed with its disk loses every acknowledged write the others cannot see. Use --store postgres://..., " +
	"or pass --allow-local-store for a throwaway test cluster")

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	for name, a := range map[string]string{"http": c.HTTPAddr, "gossip": c.GossipAddr, "remote": c.RemoteAddr, "raft": c.RaftAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("embed: --%s %q: %w", name, a, err)
		}
	}
	if c.NodeName == "" {
		return errors.New("embed: empty --node-name")
	}
	if c.Profile != "production" && c.Profile != "test" {
		return fmt.Errorf("embed: --profile %q: want production or test", c.Profile)
	}
	if c.BootstrapExpect < 1 {
		return errors.New("embed: --bootstrap-expect must be at least 1")
	}
	if c.Store == "pebble" && (len(c.Join) > 0 || c.BootstrapExpect > 1) && !c.AllowLocalStore {
		return ErrLocalStoreInCluster
	}
	if c.MaxMessageBytes <= 0 || c.MaxRecordBytes <= 0 || c.MaxNameBytes <= 0 || c.RequestTimeout <= 0 {
		return errors.New("embed: limits and timeouts must be positive")
	}
	return nil
}

func splitPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}

func joinHostPort(h string, p int) string { return net.JoinHostPort(h, strconv.Itoa(p)) }
