package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	json "github.com/goccy/go-json"

	"github.com/plexushq/plexus/cluster/fsm"
	"github.com/plexushq/plexus/cluster/metadata"
	"github.com/plexushq/plexus/cluster/raftnode"
	"github.com/plexushq/plexus/cluster/state"
)

// ExitFenced is the exit status of a node that lost its lease (notes §8.2):
// a supervisor restarts it under a new member id.
const ExitFenced = 75

// ErrFenced is sent on Node.Err when the node fenced itself.
var ErrFenced = errors.New("embed: lease lost: node fenced itself (stopped every grain); restart it to rejoin under a new member id")

func newMetadata(cfg Config, lg *slog.Logger, onLost func(error)) (*metadata.Service, error) {
	rc := raftnode.DefaultConfig()
	lc := raftnode.DefaultLeaseConfig()
	tick := time.Second
	if cfg.Profile == "test" {
		rc = raftnode.TestConfig()
		// Renew 4x a second, valid 2.5 s: fast enough for the failover tests,
		// slack enough for a loaded 2-core CI machine.
		lc = raftnode.LeaseConfig{RenewInterval: 250 * time.Millisecond, Validity: 2500 * time.Millisecond, Margin: 500 * time.Millisecond}
		tick = 250 * time.Millisecond
	}
	rc.ServerID = cfg.NodeName
	rc.DataDir = cfg.DataDir
	rc.BindAddr = cfg.RaftAddr
	rc.BootstrapExpect = cfg.BootstrapExpect
	if cfg.AdvertiseHost != "" {
		_, port, err := net.SplitHostPort(cfg.RaftAddr)
		if err != nil {
			return nil, err
		}
		rc.AdvertiseAddr = net.JoinHostPort(cfg.AdvertiseHost, port)
	}
	joinOnly := len(cfg.Join) > 0 && cfg.BootstrapExpect == 1
	return metadata.New(metadata.Config{Raft: rc, Lease: lc, Tick: tick, Logger: lg, OnLost: onLost, JoinOnly: joinOnly})
}

// fence stops every grain at once and reports the node as failed (notes §8.2).
func (n *Node) fence(cause error) {
	if n.stopped.Load() {
		// Stopping: grains are being stopped and the lease released anyway;
		// a lease that ends now is no failure to report.
		n.log.Info("lease ended while stopping", "err", cause)
		return
	}
	if !n.fenced.CompareAndSwap(false, true) {
		return
	}
	n.log.Error("lease lost: fencing this node", "err", cause)
	if n.look != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.look.StopAll(ctx)
		cancel()
	}
	select {
	case n.errc <- ErrFenced:
	default:
	}
}

// defaultAppRequestID makes every node's attempt to create the default app
// one command: the FSM applies the first and answers the rest with its result.
const defaultAppRequestID = "plexus-default-app-v1"

// ensureDefaultApp creates the app named "default" once the cluster has a
// working Raft, and writes its credentials to <data-dir>/default-app.json
// (printed once) when that file does not exist yet.
func (n *Node) ensureDefaultApp() {
	defer n.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.quit:
			return
		case <-t.C:
		}
		if !n.meta.HoldsLease() {
			continue
		}
		st := n.meta.State()
		app, ok := st.AppByName("default")
		if !ok {
			cmd := fsm.NewCreateApp("default", time.Now())
			cmd.RequestID = defaultAppRequestID
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			res, err := n.meta.Apply(ctx, cmd)
			cancel()
			if err != nil || (res.Err() != nil && !errors.Is(res.Err(), state.ErrConflict)) {
				n.log.Debug("creating the default app", "err", errors.Join(err, res.Err()))
			}
			continue // read it back from the local FSM next tick (or retry)
		}
		n.writeDefaultApp(app)
		n.defaultApp.Store(true)
		return
	}
}

func (n *Node) writeDefaultApp(app state.App) {
	p := filepath.Join(n.cfg.DataDir, "default-app.json")
	if _, err := os.Stat(p); err == nil {
		return
	}
	creds, ok := n.meta.State().Credentials(app.ID)
	if !ok {
		return
	}
	b, err := json.MarshalIndent(appJSON(n, app, creds), "", "  ")
	if err != nil {
		return
	}
	if err := os.WriteFile(p, append(b, '\n'), 0o600); err != nil {
		n.log.Warn("saving default app credentials", "err", err)
		return
	}
	// Printed once, to stdout, never through the logger.
	fmt.Fprintf(os.Stdout, "plexus: app %q (id %s) credentials saved in %s: key %s\n", app.Name, app.ID, p, creds.Key)
}

// baseURL is the public base URL of this node's gateway.
func (n *Node) baseURL() string {
	host, port, _ := net.SplitHostPort(n.HTTPAddr())
	if n.cfg.AdvertiseHost != "" {
		host = n.cfg.AdvertiseHost
	}
	return "http://" + net.JoinHostPort(host, port)
}
