package embed

import (
	"context"
	"time"

	"github.com/plexushq/plexus/cluster/membership"
)

// clusterInfo answers the gateway's operator questions.
type clusterInfo Node

type memberView struct {
	Name   string   `json:"name"`
	ID     string   `json:"id"`
	Gossip string   `json:"gossip"`
	Remote string   `json:"remote"`
	Raft   string   `json:"raft"`
	HTTP   string   `json:"http"`
	Status string   `json:"status"`
	Kinds  []string `json:"kinds"`
	Placed bool     `json:"placed"`
}

type raftView struct {
	Leader    string   `json:"leader"`
	Voters    []string `json:"voters"`
	Nonvoters []string `json:"nonvoters"`
}

type leaseView struct {
	MemberID   string `json:"member_id"`
	Held       bool   `json:"held"`
	ValidUntil string `json:"valid_until,omitempty"`
	Fenced     bool   `json:"fenced"`
}

type clusterView struct {
	Self     string                      `json:"self"`
	Members  []memberView                `json:"members"`
	Raft     any                         `json:"raft"`
	Lease    any                         `json:"lease"`
	Grains   map[string]map[string]int64 `json:"grains"`
	Sessions map[string]int64            `json:"sessions"`
}

func (c *clusterInfo) View(ctx context.Context) (any, error) {
	n := (*Node)(c)
	placed := map[string]bool{}
	for _, m := range n.look.Members() {
		placed[m.Id] = true
	}
	v := clusterView{Self: n.cfg.NodeName, Grains: map[string]map[string]int64{}, Sessions: map[string]int64{}}
	leader, _ := n.meta.Node().Leader()
	rv := raftView{Leader: leader, Voters: []string{}, Nonvoters: []string{}}
	if st, err := n.meta.Node().Stats(); err == nil {
		for _, s := range st.Voters {
			rv.Voters = append(rv.Voters, s.ID)
		}
		for _, s := range st.NonVoters {
			rv.Nonvoters = append(rv.Nonvoters, s.ID)
		}
	}
	v.Raft = rv
	lv := leaseView{MemberID: n.sys.ID, Held: n.meta.HoldsLease(), Fenced: n.fenced.Load()}
	if lv.Held {
		lv.ValidUntil = n.meta.LeaseValidUntil().UTC().Format(time.RFC3339Nano)
	}
	v.Lease = lv
	for _, m := range n.prov.Members() {
		mv := memberView{Name: m.Name, ID: m.ID, Gossip: m.Gossip, Remote: remoteAddr(m), Raft: m.RaftAddr, HTTP: m.HTTPAddr, Status: m.Status, Kinds: m.Kinds, Placed: placed[m.ID]}
		if mv.Kinds == nil {
			mv.Kinds = []string{}
		}
		if m.ID == n.sys.ID {
			mv.Gossip = n.prov.GossipAddr()
			mv.HTTP = n.gw.Addr()
		}
		v.Members = append(v.Members, mv)
		if m.Status != membership.StatusAlive && m.Status != membership.StatusSuspect {
			continue
		}
		counts, err := n.look.Counts(ctx, remoteAddr(m))
		if err != nil {
			continue // an unreachable member shows no counts
		}
		for kind, cnt := range counts {
			if v.Grains[kind] == nil {
				v.Grains[kind] = map[string]int64{}
			}
			v.Grains[kind][m.Name] = cnt
		}
	}
	return v, nil
}

func remoteAddr(m membership.Member) string {
	if m.Host == "" {
		return ""
	}
	return joinHostPort(m.Host, m.Port)
}

func (c *clusterInfo) Ready(ctx context.Context) (bool, string) {
	n := (*Node)(c)
	if n.stopped.Load() {
		return false, "stopping"
	}
	if n.fenced.Load() {
		return false, "fenced: lease lost"
	}
	if !n.prov.Joined() {
		return false, "not joined"
	}
	if !n.meta.HoldsLease() {
		return false, "no lease"
	}
	if !n.defaultApp.Load() {
		return false, "default app not created yet"
	}
	if err := n.store.Ping(ctx); err != nil {
		return false, "store unreachable"
	}
	return true, ""
}
