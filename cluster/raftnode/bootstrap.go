package raftnode

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/raft"
)

// Peer is a server as seen through memberlist metadata: its stable id, Raft address, advertised
// bootstrap-expect value, and whether its data directory already holds Raft state.
type Peer struct {
	ServerID string
	RaftAddr string
	Expect   int
	HasState bool
}

// BootstrapDecision is the bootstrap-expect rule as a pure function. self is this server; seen the servers it sees
// (self may be included or not). It returns the configuration to bootstrap and ok=true only when exactly
// self.Expect distinct servers (self included) are visible, all advertise the same expect value and none has Raft
// state. The configuration is the list of those servers as voters sorted by id, so every one of them computes the
// identical configuration. It never bootstraps a server with existing state, and gives up (ok=false, no error)
// when any seen server has state: that cluster exists and this server must join it instead. Mismatched expect
// values return ErrExpectMismatch and more than Expect fresh servers ErrTooManyPeers: an operator must fix the
// flags, since guessing could create two clusters.
func BootstrapDecision(self Peer, seen []Peer) ([]raft.Server, bool, error) {
	if self.Expect < 1 {
		return nil, false, fmt.Errorf("raftnode: bootstrap expect %d must be at least 1", self.Expect)
	}
	if self.ServerID == "" || self.RaftAddr == "" {
		return nil, false, errors.New("raftnode: bootstrap needs this server's id and raft address")
	}
	if self.HasState {
		return nil, false, nil
	}
	byID := map[string]Peer{self.ServerID: self}
	for _, p := range seen {
		if p.ServerID == "" {
			continue
		}
		if p.Expect != self.Expect {
			return nil, false, fmt.Errorf("%w: %s expects %d, %s expects %d", ErrExpectMismatch,
				self.ServerID, self.Expect, p.ServerID, p.Expect)
		}
		if p.HasState {
			return nil, false, nil
		}
		if old, ok := byID[p.ServerID]; ok && old.RaftAddr != p.RaftAddr {
			return nil, false, fmt.Errorf("raftnode: server id %s seen at %s and %s", p.ServerID, old.RaftAddr, p.RaftAddr)
		}
		byID[p.ServerID] = p
	}
	if len(byID) < self.Expect {
		return nil, false, nil
	}
	if len(byID) > self.Expect {
		return nil, false, fmt.Errorf("%w: %d servers for expect %d", ErrTooManyPeers, len(byID), self.Expect)
	}
	servers := make([]raft.Server, 0, len(byID))
	addrs := map[string]string{}
	for _, p := range byID {
		if other, dup := addrs[p.RaftAddr]; dup {
			return nil, false, fmt.Errorf("raftnode: servers %s and %s share raft address %s", other, p.ServerID, p.RaftAddr)
		}
		addrs[p.RaftAddr] = p.ServerID
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ServerID),
			Address: raft.ServerAddress(p.RaftAddr)})
	}
	slices.SortFunc(servers, func(a, b raft.Server) int { return cmp.Compare(a.ID, b.ID) })
	return servers, true, nil
}

// Self returns this node as a Peer, for memberlist metadata and BootstrapDecision (valid after Start).
func (n *Node) Self() Peer {
	return Peer{ServerID: n.cfg.ServerID, RaftAddr: n.addr, Expect: n.cfg.BootstrapExpect, HasState: n.HasExistingState()}
}

// MaybeBootstrap applies BootstrapDecision for this node and, when it says so, bootstraps the cluster. It returns
// true only for the call that bootstrapped. A data directory is never bootstrapped twice: the node refuses once it
// has existing state or has bootstrapped before (and raft itself refuses with ErrCantBootstrap).
func (n *Node) MaybeBootstrap(seen []Peer) (bool, error) {
	if !n.running() {
		return false, ErrStopped
	}
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	if n.hasState || n.bootstrapped {
		return false, nil
	}
	self := Peer{ServerID: n.cfg.ServerID, RaftAddr: n.addr, Expect: n.cfg.BootstrapExpect}
	servers, ok, err := BootstrapDecision(self, seen)
	if err != nil || !ok {
		return false, err
	}
	err = n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		n.hasState = true
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("raftnode: bootstrap: %w", err)
	}
	n.bootstrapped = true
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = string(s.ID)
	}
	n.log.Info("bootstrapped raft cluster", "voters", ids)
	return true, nil
}
