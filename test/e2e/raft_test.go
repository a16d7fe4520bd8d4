//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/plexushq/plexus/test/procs"
)

type app struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Key      string `json:"key"`
	Secret   string `json:"secret"`
	AppToken string `json:"app_token"`
	SubKey   string `json:"subscriber_key"`
	PubKey   string `json:"publisher_key"`
}

func (a app) String() string {
	return strings.Join([]string{a.ID, a.Name, a.Key, a.Secret, a.AppToken, a.SubKey, a.PubKey}, "|")
}

type raftInfo struct {
	Raft struct {
		Leader string   `json:"leader"`
		Voters []string `json:"voters"`
	} `json:"raft"`
}

func raftOf(ctx context.Context, c *procs.Cluster, n *procs.Node) (raftInfo, error) {
	var v raftInfo
	st, body, err := procs.Do(ctx, "GET", n.URL()+"/admin/v1/cluster", "", nil, c.Token)
	if err != nil || st != 200 {
		return v, fmt.Errorf("%d %v", st, err)
	}
	return v, json.Unmarshal(body, &v)
}

func listApps(ctx context.Context, c *procs.Cluster, n *procs.Node) ([]string, error) {
	st, body, err := procs.Do(ctx, "GET", n.URL()+"/admin/v1/apps?per_page=1000", "", nil, c.Token)
	if err != nil || st != 200 {
		return nil, fmt.Errorf("%d %v %s", st, err, body)
	}
	var out struct {
		Apps []app `json:"apps"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	var list []string
	for _, a := range out.Apps {
		list = append(list, a.String())
	}
	sort.Strings(list)
	return list, nil
}

// createApp creates name through n, retrying (other nodes too) until the
// cluster answers; a retry that finds the name taken means an earlier attempt
// committed, which is the acknowledged outcome.
func createApp(t *testing.T, c *procs.Cluster, nodes []*procs.Node, name string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		n := nodes[(i+rand.IntN(len(nodes)))%len(nodes)]
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		st, body, err := procs.Do(ctx, "POST", n.URL()+"/admin/v1/apps", "application/json", []byte(`{"name":"`+name+`"}`), c.Token)
		cancel()
		if err == nil && (st == 201 || (st == 409 && i > 0)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("create %s: %d %v %s", name, st, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var secretLike = regexp.MustCompile(`(sec|tok)_[a-z0-9]{20,}`)

// Three nodes found a cluster with --bootstrap-expect 3; 20 apps through
// random nodes; SIGKILL the Raft leader; 20 more; restart the killed node:
// every node lists all 40 apps with identical credentials, and so does a 4th
// node that joins later. No secret reaches any log.
func TestE2ERaftAppsSurviveLeaderKill(t *testing.T) {
	c := procs.NewSeeded(t, 3, "--allow-local-store")
	ctx := t.Context()
	var leader string
	deadline := time.Now().Add(20 * time.Second)
	for {
		agree := true
		var infos []raftInfo
		for _, n := range c.Nodes {
			info, err := raftOf(ctx, c, n)
			agree = agree && err == nil && info.Raft.Leader != "" && len(info.Raft.Voters) == 3
			infos = append(infos, info)
		}
		for _, in := range infos[1:] {
			agree = agree && in.Raft.Leader == infos[0].Raft.Leader && strings.Join(in.Raft.Voters, ",") == strings.Join(infos[0].Raft.Voters, ",")
		}
		if agree {
			leader = infos[0].Raft.Leader
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no agreement on leader and voters: %+v", infos)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 20 {
		createApp(t, c, c.Nodes, fmt.Sprintf("before-%02d", i))
	}
	var victim *procs.Node
	var survivors []*procs.Node
	for _, n := range c.Nodes {
		if n.Name == leader {
			victim = n
		} else {
			survivors = append(survivors, n)
		}
	}
	if victim == nil {
		t.Fatalf("leader %q is not one of the nodes", leader)
	}
	victim.Kill()
	for i := range 20 {
		createApp(t, c, survivors, fmt.Sprintf("after-%02d", i))
	}
	victim.Start()
	victim.WaitReady(30 * time.Second)
	extra := c.Add("--allow-local-store")

	var want []string
	deadline = time.Now().Add(20 * time.Second)
	for {
		var lists [][]string
		ok := true
		for _, n := range c.Nodes {
			l, err := listApps(ctx, c, n)
			ok = ok && err == nil && len(l) == 41 // 40 + default
			lists = append(lists, l)
		}
		for _, l := range lists[1:] {
			ok = ok && strings.Join(l, "\n") == strings.Join(lists[0], "\n")
		}
		if ok {
			want = lists[0]
			break
		}
		if time.Now().After(deadline) {
			for i, l := range lists {
				t.Logf("%s lists %d apps", c.Nodes[i].Name, len(l))
			}
			t.Fatal("nodes do not list the same 41 apps")
		}
		time.Sleep(200 * time.Millisecond)
	}
	names := map[string]bool{}
	for _, a := range want {
		names[strings.Split(a, "|")[1]] = true
	}
	for i := range 20 {
		if !names[fmt.Sprintf("before-%02d", i)] || !names[fmt.Sprintf("after-%02d", i)] {
			t.Fatalf("missing app %d in %v", i, names)
		}
	}
	t.Logf("leader %s killed and restarted; %s joined later; all %d nodes list the same %d apps", leader, extra.Name, len(c.Nodes), len(want))
	for _, n := range c.Nodes {
		b, _ := os.ReadFile(n.LogPath)
		if m := secretLike.Find(b); m != nil {
			t.Fatalf("log of %s holds a secret-looking value %q", n.Name, m)
		}
		for _, a := range want {
			f := strings.Split(a, "|")
			if strings.Contains(string(b), f[3]) || strings.Contains(string(b), f[4]) {
				t.Fatalf("log of %s holds the secret of %s", n.Name, f[1])
			}
		}
	}
}

// A node that cannot renew its lease (the two others are paused, so Raft has
// no quorum) fences itself: it stops serving grains and exits with status 75
// so a supervisor restarts it under a new member id.
func TestE2ERaftMinorityLosesLease(t *testing.T) {
	c := procs.NewSeeded(t, 3, "--allow-local-store")
	lone := c.Nodes[0]
	if err := writeRecord(t.Context(), lone, "fence/1", 1); err != nil {
		t.Fatal(err)
	}
	c.Nodes[1].Pause()
	c.Nodes[2].Pause()
	defer c.Nodes[1].Resume()
	defer c.Nodes[2].Resume()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, exited := lone.Exited(); exited {
			if code != 75 {
				t.Fatalf("%s exited with %d, want 75", lone.Name, code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s kept running without quorum", lone.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(lone.LogPath)
	if !strings.Contains(string(b), "lease lost: fencing this node") {
		t.Fatal("no fencing in the log")
	}
}
