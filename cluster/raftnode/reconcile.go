package raftnode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// Changes lists the configuration changes one Reconcile made, by server id.
type Changes struct {
	Added    []string // new servers, as voters or non-voters
	Voters   []string // servers added as voters or promoted to voter
	Updated  []string // known servers re-added with a new address
	Demoted  []string // voters beyond MaxVoters demoted to non-voter
	Removed  []string // gracefully left or dead servers removed
	Deferred []string // dead voters kept because removing them would go below MinQuorum
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool {
	return len(c.Added)+len(c.Voters)+len(c.Updated)+len(c.Demoted)+len(c.Removed) == 0
}

// Reconcile moves the Raft configuration towards the membership view; only the leader may call it (others get a
// *NotLeaderError). Call it on every membership event and periodically (say every second) from one goroutine.
//
// alive are the servers memberlist reports alive (self may be omitted); left the server ids that left
// gracefully. The rules, in order (this is the equivalent of raft-autopilot's dead-server cleanup, without its
// need for a per-server stats RPC):
//   - a left server (not also alive) is removed at once;
//   - an alive server not in the configuration is added as voter while fewer than MaxVoters healthy voters
//     exist, else as non-voter; a known server with a new address is re-added with the new address;
//   - a server in the configuration missing from alive for longer than ServerStabilizationTime is dead; dead
//     voters do not count as healthy, so alive non-voters are promoted (sorted by id) to fill their seats;
//   - healthy voters beyond MaxVoters are demoted (highest ids first, never the leader);
//   - dead non-voters are removed; a dead voter is removed only while the voters left stay >= MinQuorum
//     (default BootstrapExpect), otherwise it is reported in Changes.Deferred.
//
// The missing-since clock starts when this leader first notices a server missing, so a new leader waits a full
// stabilisation time before removing anyone.
func (n *Node) Reconcile(ctx context.Context, alive []Peer, left []string) (Changes, error) {
	var ch Changes
	if !n.running() {
		return ch, ErrStopped
	}
	if n.raft.State() != raft.Leader {
		return ch, n.notLeader()
	}
	n.recMu.Lock()
	defer n.recMu.Unlock()
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return ch, n.mapErr(err)
	}
	now := n.now()
	self := raft.ServerID(n.cfg.ServerID)
	config := map[raft.ServerID]raft.Server{}
	for _, s := range cf.Configuration().Servers {
		config[s.ID] = s
	}
	aliveByID := map[raft.ServerID]Peer{}
	for _, p := range alive {
		if p.ServerID != "" && p.RaftAddr != "" {
			aliveByID[raft.ServerID(p.ServerID)] = p
			n.lastAlive[raft.ServerID(p.ServerID)] = now
		}
	}
	n.lastAlive[self] = now

	var errs []error
	change := func(what string, id raft.ServerID, fut raft.IndexFuture, list *[]string) bool {
		if err := n.wait(ctx, fut); err != nil {
			errs = append(errs, fmt.Errorf("raftnode: %s %s: %w", what, id, err))
			return false
		}
		*list = append(*list, string(id))
		n.log.Info("raft configuration change", "change", what, "server", id)
		return true
	}
	timeout := n.cfg.ConfigChangeTimeout

	// Gracefully left servers.
	for _, id := range sortedIDs(left) {
		if _, isAlive := aliveByID[id]; isAlive || id == self {
			continue
		}
		if _, ok := config[id]; ok && change("remove left", id, n.raft.RemoveServer(id, 0, timeout), &ch.Removed) {
			delete(config, id)
			delete(n.lastAlive, id)
		}
	}

	dead := func(id raft.ServerID) bool {
		if _, ok := aliveByID[id]; ok || id == self {
			return false
		}
		seen, ok := n.lastAlive[id]
		if !ok {
			n.lastAlive[id] = now // start the clock
			return false
		}
		return now.Sub(seen) > n.cfg.ServerStabilizationTime
	}
	healthyVoters := func() int {
		c := 0
		for id, s := range config {
			if s.Suffrage == raft.Voter && !dead(id) {
				c++
			}
		}
		return c
	}

	// New servers and address changes.
	for _, id := range sortedKeys(aliveByID) {
		p := aliveByID[id]
		addr := raft.ServerAddress(p.RaftAddr)
		s, known := config[id]
		if known && s.Address == addr {
			continue
		}
		voter := (known && s.Suffrage == raft.Voter) || (!known && healthyVoters() < n.cfg.MaxVoters)
		what, list := "add nonvoter", &ch.Added
		switch {
		case known:
			what, list = "update address", &ch.Updated
		case voter:
			what, list = "add voter", &ch.Voters
		}
		var fut raft.IndexFuture
		if voter {
			fut = n.raft.AddVoter(id, addr, 0, timeout)
		} else {
			fut = n.raft.AddNonvoter(id, addr, 0, timeout)
		}
		if !change(what, id, fut, list) {
			continue
		}
		if voter && !known {
			ch.Added = append(ch.Added, string(id))
		}
		suffrage := raft.Nonvoter
		if voter {
			suffrage = raft.Voter
		}
		config[id] = raft.Server{ID: id, Address: addr, Suffrage: suffrage}
	}

	// Promote alive non-voters into empty seats.
	for _, id := range sortedKeys(config) {
		s := config[id]
		if s.Suffrage == raft.Voter || dead(id) || healthyVoters() >= n.cfg.MaxVoters {
			continue
		}
		if _, ok := aliveByID[id]; !ok {
			continue
		}
		if change("promote", id, n.raft.AddVoter(id, s.Address, 0, timeout), &ch.Voters) {
			s.Suffrage = raft.Voter
			config[id] = s
		}
	}

	// Demote surplus healthy voters (highest ids first, never self).
	ids := sortedKeys(config)
	slices.Reverse(ids)
	for _, id := range ids {
		s := config[id]
		if healthyVoters() <= n.cfg.MaxVoters {
			break
		}
		if s.Suffrage != raft.Voter || id == self || dead(id) {
			continue
		}
		if change("demote", id, n.raft.DemoteVoter(id, 0, timeout), &ch.Demoted) {
			s.Suffrage = raft.Nonvoter
			config[id] = s
		}
	}

	// Dead servers, with the MinQuorum floor for voters.
	for _, id := range sortedKeys(config) {
		s := config[id]
		if !dead(id) {
			continue
		}
		if s.Suffrage == raft.Voter {
			voters := 0
			for _, o := range config {
				if o.Suffrage == raft.Voter {
					voters++
				}
			}
			if voters-1 < n.cfg.minQuorum() {
				ch.Deferred = append(ch.Deferred, string(id))
				n.log.Warn("dead voter kept: removing it would go below min quorum", "server", id,
					"voters", voters, "min_quorum", n.cfg.minQuorum())
				continue
			}
		}
		if change("remove dead", id, n.raft.RemoveServer(id, 0, timeout), &ch.Removed) {
			delete(config, id)
			delete(n.lastAlive, id)
		}
	}

	// Forget servers that are neither configured nor alive.
	for id := range n.lastAlive {
		if _, ok := config[id]; !ok {
			if _, ok := aliveByID[id]; !ok {
				delete(n.lastAlive, id)
			}
		}
	}
	return ch, errors.Join(errs...)
}

func sortedIDs(ids []string) []raft.ServerID {
	out := make([]raft.ServerID, 0, len(ids))
	for _, id := range ids {
		out = append(out, raft.ServerID(id))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys[V any](m map[raft.ServerID]V) []raft.ServerID {
	out := make([]raft.ServerID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b raft.ServerID) int { return cmp.Compare(a, b) })
	return out
}

// setClock replaces the clock of dead-server detection; tests only, before Start.
func (n *Node) setClock(now func() time.Time) { n.now = now }
