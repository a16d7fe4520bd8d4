//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/plexushq/plexus/actors/store/pgtest"
	"github.com/plexushq/plexus/test/procs"
)

// storeResult is one command result of the deepstream HTTP batch API.
type storeResult struct {
	Success    bool            `json:"success"`
	ErrorEvent string          `json:"errorEvent"`
	Version    int32           `json:"version"`
	Data       json.RawMessage `json:"data"`
}

// storeCmd posts one command with a 15 s bound and returns the HTTP status
// and, on 200, the command's result.
func storeCmd(t *testing.T, n *procs.Node, cmd string) (int, *storeResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	st, body, err := procs.Do(ctx, http.MethodPost, n.URL()+"/api", "application/json", []byte(`{"body":[`+cmd+`]}`), "")
	if err != nil || st != 200 {
		return st, nil, fmt.Errorf("HTTP %d %v: %s", st, err, body)
	}
	var r struct {
		Body []storeResult `json:"body"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Body) != 1 {
		return st, nil, fmt.Errorf("bad response %s: %v", body, err)
	}
	return st, &r.Body[0], nil
}

func storeWrite(name string, version int) string {
	return fmt.Sprintf(`{"topic":"record","action":"write","recordName":%q,"data":{"v":%d},"version":%d}`, name, version, version)
}

func storeRead(name string) string {
	return fmt.Sprintf(`{"topic":"record","action":"read","recordName":%q}`, name)
}

func readyStatus(n *procs.Node) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, _, _ := procs.Do(ctx, http.MethodGet, n.URL()+"/readyz", "", nil, "")
	return st
}

// checkAcked reads every record through every node and wants exactly the
// acknowledged version with its data.
func checkAcked(t *testing.T, c *procs.Cluster, names []string, want int) {
	t.Helper()
	for _, n := range c.Nodes {
		for _, name := range names {
			_, r, err := storeCmd(t, n, storeRead(name))
			if err != nil || !r.Success {
				t.Fatalf("read %s via %s: %v %+v", name, n.Name, err, r)
			}
			var d struct{ V int }
			if err := json.Unmarshal(r.Data, &d); err != nil || r.Version != int32(want) || d.V != want {
				t.Fatalf("read %s via %s: version %d data %s, want version %d data {\"v\":%d}", name, n.Name, r.Version, r.Data, want, want)
			}
		}
	}
}

// Three nodes on one Postgres. With Postgres stopped a write fails within
// 10 s with RECORD_UPDATE_ERROR and /readyz answers 503; nothing is half
// applied; once Postgres is back (same port) writes succeed again without
// restarting any node.
func TestE2EPostgresDown(t *testing.T) {
	srv := pgtest.StartServer(t)
	c := procs.New(t, 3, "--store", srv.URL())
	for _, n := range c.Nodes {
		waitAlive(t, c, n, 3, 15*time.Second)
	}
	names := make([]string, 10)
	for i := range names {
		names[i] = fmt.Sprintf("pgdown/%d", i)
	}
	for v := 1; v <= 3; v++ {
		for i, name := range names {
			n := c.Nodes[(i+v)%len(c.Nodes)]
			if _, r, err := storeCmd(t, n, storeWrite(name, v)); err != nil || !r.Success {
				t.Fatalf("write %s v%d via %s: %v %+v", name, v, n.Name, err, r)
			}
		}
	}
	checkAcked(t, c, names, 3)

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()

	// Writes fail, each with a clear per-command error, within 10 s.
	for i, name := range names {
		n := c.Nodes[i%len(c.Nodes)]
		start := time.Now()
		st, r, err := storeCmd(t, n, storeWrite(name, 4))
		took := time.Since(start)
		if err != nil {
			t.Fatalf("write %s with Postgres down via %s: %v", name, n.Name, err)
		}
		if r.Success || r.ErrorEvent != "RECORD_UPDATE_ERROR" {
			t.Fatalf("write %s with Postgres down via %s: HTTP %d %+v, want failure RECORD_UPDATE_ERROR", name, n.Name, st, r)
		}
		if took > 10*time.Second {
			t.Fatalf("write %s with Postgres down took %v to fail, want < 10 s", name, took)
		}
		if i == 0 {
			t.Logf("first write with Postgres down failed after %v: %s", took.Round(time.Millisecond), r.ErrorEvent)
		}
	}

	// Every node reports not ready.
	for _, n := range c.Nodes {
		deadline := time.Now().Add(10 * time.Second)
		for readyStatus(n) != http.StatusServiceUnavailable {
			if time.Now().After(deadline) {
				t.Fatalf("%s /readyz still not 503 10 s after Postgres stopped", n.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("every /readyz answers 503 %v after Postgres stopped", time.Since(stopped).Round(time.Millisecond))

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()

	// Nothing half applied: exactly the acknowledged versions.
	deadline := time.Now().Add(15 * time.Second)
	for _, n := range c.Nodes {
		for readyStatus(n) != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatalf("%s /readyz not 200 within 15 s of Postgres restarting", n.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	checkAcked(t, c, names, 3)

	// Writes succeed again, through every node, without restarting any.
	for i, name := range names {
		n := c.Nodes[i%len(c.Nodes)]
		for {
			_, r, err := storeCmd(t, n, storeWrite(name, 4))
			if err == nil && r.Success {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("write %s via %s still failing 15 s after Postgres restarted: %v %+v", name, n.Name, err, r)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("all writes succeed again %v after Postgres restarted", time.Since(restarted).Round(time.Millisecond))
	checkAcked(t, c, names, 4)
}
