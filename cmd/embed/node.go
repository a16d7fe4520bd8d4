package embed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/plexushq/plexus/actors/client"
	"github.com/plexushq/plexus/actors/event"
	"github.com/plexushq/plexus/actors/record"
	"github.com/plexushq/plexus/actors/relay"
	"github.com/plexushq/plexus/actors/store"
	"github.com/plexushq/plexus/cluster/membership"
	"github.com/plexushq/plexus/cluster/metadata"
	"github.com/plexushq/plexus/cluster/placement"
	"github.com/plexushq/plexus/gateway"
)

// Node is one running Plexus node.
type Node struct {
	cfg    Config
	log    *slog.Logger
	store  store.Store
	sys    *actor.ActorSystem
	cl     *cluster.Cluster
	prov   *membership.Provider
	look   *placement.Lookup
	grain  *client.Client
	meta   *metadata.Service
	fenced atomic.Bool
	// defaultApp is set once the default app exists (created by any node).
	defaultApp atomic.Bool
	relay      atomic.Pointer[relay.Relay] // set after the cluster starts; read by topology callbacks
	gw         *gateway.Server

	httpLn     net.Listener
	adminToken string
	wg         sync.WaitGroup
	quit       chan struct{}
	stopOnce   sync.Once
	stopErr    error
	stopped    atomic.Bool
	errc       chan error
}

// Start builds and starts a node. On error everything started is stopped.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := cfg.Logger
	if lg == nil {
		lg = NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	}
	lg = lg.With("node", cfg.NodeName)
	n = &Node{cfg: cfg, log: lg, errc: make(chan error, 1), quit: make(chan struct{})}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("embed: start panicked: %v", r)
		}
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = n.Stop(sctx)
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return n, fmt.Errorf("embed: data dir: %w", err)
	}
	if n.adminToken, err = adminToken(cfg, lg); err != nil {
		return n, err
	}
	if n.store, err = store.Open(ctx, cfg.Store, cfg.DataDir, store.Options{Logger: lg}); err != nil {
		return n, fmt.Errorf("embed: store: %w", err)
	}

	if n.meta, err = newMetadata(cfg, lg, n.fence); err != nil {
		return n, fmt.Errorf("embed: raft: %w", err)
	}
	if err := n.meta.StartRaft(); err != nil {
		return n, fmt.Errorf("embed: raft: %w", err)
	}

	n.sys = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return lg.With("subsystem", "protoactor")
	}))
	rhost, rport, err := splitPort(cfg.RemoteAddr)
	if err != nil {
		return n, err
	}
	var ropts []remote.ConfigOption
	if cfg.AdvertiseHost != "" && cfg.AdvertiseHost != rhost {
		if rport == 0 {
			return n, errors.New("embed: --advertise-host needs a fixed --remote port")
		}
		ropts = append(ropts, remote.WithAdvertisedHost(fmt.Sprintf("%s:%d", cfg.AdvertiseHost, rport)))
	}
	rcfg := remote.Configure(rhost, rport, ropts...)

	// A shared store with other nodes writing it: answers must be checked
	// against it (see record.Deps.VerifyReads).
	shared := strings.HasPrefix(cfg.Store, "postgres")
	deps := record.Deps{Store: n.store, Logger: lg, MaxRecordBytes: cfg.MaxRecordBytes, IdleTimeout: cfg.GrainIdle, VerifyReads: shared}
	if !shared {
		deps.StoreTimeout = -1 // Pebble: local disk, no network wait to bound
	}
	edeps := event.Deps{Store: n.store, Logger: lg, IdleTimeout: cfg.GrainIdle}
	factories := map[string]placement.Factory{
		client.KindRecord: func(id string) *actor.Props { return record.Props(deps, id) },
		client.KindEvent:  func(id string) *actor.Props { return event.Props(edeps, id) },
	}
	pcfg := placement.DefaultConfig()
	pcfg.Kinds = factories
	pcfg.Logger = lg
	n.look = placement.NewLookup(pcfg)

	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return n, fmt.Errorf("embed: http: %w", err)
	}
	n.httpLn = httpLn

	mcfg := membership.DefaultConfig()
	mcfg.BindAddr = cfg.GossipAddr
	mcfg.AdvertiseHost = cfg.AdvertiseHost
	mcfg.Seeds = cfg.Join
	mcfg.Profile = cfg.Profile
	mcfg.Logger = lg
	mcfg.Meta = membership.Meta{Role: membership.RoleMember, Name: cfg.NodeName, RaftAddr: n.meta.RaftAddr(), HTTPAddr: httpLn.Addr().String(), Expect: cfg.BootstrapExpect, Raft: n.meta.HasState()}
	// Placement set = alive members holding an unexpired lease (notes §1 item 5).
	mcfg.Filter = func(m membership.Meta) bool { return n.meta.Placeable(m.ID) }
	if n.prov, err = membership.New(mcfg); err != nil {
		return n, err
	}

	var kinds []*cluster.Kind
	for name, f := range factories {
		kinds = append(kinds, cluster.NewKind(name, f("")))
	}
	ccfg := cluster.Configure("plexus", n.prov, n.look, rcfg, cluster.WithKinds(kinds...))
	n.cl = cluster.New(n.sys, ccfg)

	n.grain = client.New(placement.NewClient(n.look, placement.DefaultClientConfig()))
	// The relay must exist before the first topology event reaches the lookup.
	n.look.OnTopology(func(joined, left []string) {
		if r := n.relay.Load(); r != nil {
			r.Reregister()
		}
	})
	n.cl.StartMember() // panics on failure; recovered above
	if err := n.meta.Start(n.sys, n.prov); err != nil {
		return n, fmt.Errorf("embed: raft: %w", err)
	}
	rl, err := relay.New(n.sys, n.grain, lg)
	if err != nil {
		return n, err
	}
	n.relay.Store(rl)
	rl.Reregister()

	gw, err := gateway.New(gateway.Config{
		Addr: cfg.HTTPAddr, Listener: httpLn, MaxMessageBytes: cfg.MaxMessageBytes, MaxNameBytes: cfg.MaxNameBytes,
		RequestTimeout: cfg.RequestTimeout, AdminToken: n.adminToken,
		Backend: n.grain, Apps: (*apps)(n), Admin: (*admin)(n), Cluster: (*clusterInfo)(n), Logger: lg,
	})
	if err != nil {
		return n, err
	}
	if err := gw.Start(); err != nil {
		return n, fmt.Errorf("embed: http: %w", err)
	}
	n.gw = gw
	n.wg.Add(1)
	go n.ensureDefaultApp()
	lg.Info("node started", "http", gw.Addr(), "gossip", n.prov.GossipAddr(), "remote", n.sys.Address(), "member_id", n.sys.ID, "store", StoreKind(cfg.Store))
	return n, nil
}

// StoreKind names the --store value for logs and reports: "pebble" or
// "postgres" (never the URL, which may hold a password).
func StoreKind(s string) string {
	if strings.HasPrefix(s, "postgres") {
		return "postgres"
	}
	return s
}

// HTTPAddr returns the bound HTTP address.
func (n *Node) HTTPAddr() string { return n.gw.Addr() }

// GossipAddr returns the bound gossip address.
func (n *Node) GossipAddr() string { return n.prov.GossipAddr() }

// MemberID returns this process's member id (the actor system id).
func (n *Node) MemberID() string { return n.sys.ID }

// AdminToken returns the admin bearer token.
func (n *Node) AdminToken() string { return n.adminToken }

// Client returns the typed grain client (tests use it).
func (n *Node) Client() *client.Client { return n.grain }

// Relay returns the node relay (tests use it).
func (n *Node) Relay() *relay.Relay { return n.relay.Load() }

// Lookup returns the identity lookup (tests use it).
func (n *Node) Lookup() *placement.Lookup { return n.look }

// DefaultAppID returns the id of the app named "default" ("" until it exists).
func (n *Node) DefaultAppID() string {
	app, _ := n.meta.State().AppByName("default")
	return app.ID
}

// Err reports fatal errors after start.
func (n *Node) Err() <-chan error { return n.errc }

// Stop shuts the node down in the order of notes §8.4: stop accepting and
// drain HTTP, leave memberlist (and wait for it to spread), stop grains, then
// the actor system and the store. Idempotent.
func (n *Node) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() {
		n.stopped.Store(true)
		var errs []error
		if n.gw != nil {
			errs = append(errs, n.gw.Stop(ctx))
		} else if n.httpLn != nil {
			_ = n.httpLn.Close()
		}
		if n.prov != nil && n.cl != nil {
			if err := n.prov.Leave(2 * time.Second); err != nil {
				n.log.Warn("memberlist leave", "err", err)
			}
		}
		if n.look != nil && n.cl != nil {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := n.look.StopAll(sctx); err != nil {
				n.log.Warn("stopping grains", "err", err)
			}
			cancel()
		}
		if r := n.relay.Load(); r != nil {
			r.Stop()
		}
		close(n.quit)
		n.wg.Wait()
		if n.meta != nil {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			if n.cl != nil && !n.fenced.Load() {
				n.meta.Release(rctx)
			}
			cancel()
			errs = append(errs, n.meta.Stop(ctx))
		}
		if n.prov != nil {
			errs = append(errs, n.prov.Shutdown(false))
		}
		if n.cl != nil && n.cl.Remote != nil {
			n.cl.Shutdown(false)
		} else if n.sys != nil {
			n.sys.Shutdown()
		}
		if n.store != nil {
			errs = append(errs, n.store.Close())
		}
		n.stopErr = errors.Join(errs...)
		n.log.Info("node stopped")
	})
	return n.stopErr
}

// adminToken returns the configured token, or the one saved in the data dir,
// or a new one it saves and prints once.
func adminToken(cfg Config, lg *slog.Logger) (string, error) {
	if cfg.AdminToken != "" {
		return cfg.AdminToken, nil
	}
	p := filepath.Join(cfg.DataDir, "admin-token")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("embed: save admin token: %w", err)
	}
	// Printed once, to stdout, never through the logger.
	fmt.Fprintf(os.Stdout, "plexus: generated admin token (saved in %s): %s\n", p, tok)
	return tok, nil
}
