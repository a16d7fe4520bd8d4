package embedtest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/plexushq/plexus/cmd/embed/embedtest"
)

var urlField = regexp.MustCompile(`"(ws|http|auth)_url":"[^"]*",?`)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type adminApp struct {
	ID, Name, Key, Secret string
	AppToken              string `json:"app_token"`
	SubscriberKey         string `json:"subscriber_key"`
	PublisherKey          string `json:"publisher_key"`
	HTTPURL               string `json:"http_url"`
	Disabled              bool
}

type raftView struct {
	Raft struct {
		Leader    string   `json:"leader"`
		Voters    []string `json:"voters"`
		Nonvoters []string `json:"nonvoters"`
	} `json:"raft"`
}

func admin(t *testing.T, c *embedtest.Cluster, i int, method, path, body, token string) (int, string) {
	t.Helper()
	return embedtest.Do(t, method, "http://"+c.Nodes[i].HTTPAddr()+path, "application/json", body, token)
}

// Apps created through any node are listed identically by every node; the
// admin API refuses bad input without changing anything; app keys select the
// app on the deepstream HTTP API; secrets never reach the logs.
func TestRaftAdminAppsAcrossNodes(t *testing.T) {
	var logs lockedBuffer
	c := embedtest.New(t, 3, embedtest.WithLogs(&logs))
	// Same leader and voters everywhere.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var views []raftView
		for i := range 3 {
			_, body := admin(t, c, i, "GET", "/admin/v1/cluster", "", c.Token)
			var v raftView
			_ = json.Unmarshal([]byte(body), &v)
			views = append(views, v)
		}
		same := views[0].Raft.Leader != "" && len(views[0].Raft.Voters) == 3
		for _, v := range views[1:] {
			same = same && v.Raft.Leader == views[0].Raft.Leader && strings.Join(v.Raft.Voters, ",") == strings.Join(views[0].Raft.Voters, ",")
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes disagree on raft: %+v", views)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var created []adminApp
	for i := range 6 {
		st, body := admin(t, c, i%3, "POST", "/admin/v1/apps", fmt.Sprintf(`{"name":"app-%d"}`, i), c.Token)
		if st != 201 {
			t.Fatalf("create via node%d: %d %s", i%3, st, body)
		}
		var a adminApp
		if err := json.Unmarshal([]byte(body), &a); err != nil || a.ID == "" || a.Key == "" || a.Secret == "" {
			t.Fatalf("created app: %s", body)
		}
		created = append(created, a)
	}
	// Every node lists the same apps with the same credentials (default app included).
	var lists []string
	for i := range 3 {
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, body := admin(t, c, i, "GET", "/admin/v1/apps", "", c.Token)
			if st != 200 {
				t.Fatalf("list: %d %s", st, body)
			}
			if strings.Count(body, `"id"`) == 7 || time.Now().After(deadline) {
				// URLs name the answering node's own address; the rest must be identical.
				lists = append(lists, urlField.ReplaceAllString(body, ""))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if lists[0] != lists[1] || lists[1] != lists[2] {
		t.Fatalf("lists differ:\n%s\n%s\n%s", lists[0], lists[1], lists[2])
	}
	for _, a := range created {
		if !strings.Contains(lists[0], a.Secret) {
			t.Fatalf("app %s missing from list", a.Name)
		}
	}

	before := lists[0]
	bad := []struct {
		method, path, body, token string
		status                    int
	}{
		{"POST", "/admin/v1/apps", `{"name":"app-0"}`, c.Token, 409},
		{"POST", "/admin/v1/apps", `{"name":`, c.Token, 400},
		{"POST", "/admin/v1/apps", `{}`, c.Token, 400},
		{"POST", "/admin/v1/apps", `{"name":"sneaky"}`, "", 401},
		{"POST", "/admin/v1/apps", `{"name":"sneaky"}`, "wrong", 401},
		{"GET", "/admin/v1/apps/nope", ``, c.Token, 404},
		{"PATCH", "/admin/v1/apps/nope", `{"name":"x"}`, c.Token, 404},
		{"DELETE", "/admin/v1/apps/nope", ``, c.Token, 404},
		{"DELETE", "/admin/v1/apps/" + created[0].ID, ``, "wrong", 401},
		{"PATCH", "/admin/v1/apps/" + created[0].ID, `{"name":"app-1"}`, c.Token, 409},
		{"POST", "/admin/v1/apps/" + created[0].ID + "/rotate", `{"kinds":["nonsense"]}`, c.Token, 400},
	}
	for _, b := range bad {
		st, body := admin(t, c, 1, b.method, b.path, b.body, b.token)
		if st != b.status || !strings.Contains(body, `"error"`) {
			t.Fatalf("%s %s %s: %d %s, want %d", b.method, b.path, b.body, st, body, b.status)
		}
	}
	if _, after := admin(t, c, 2, "GET", "/admin/v1/apps", "", c.Token); urlField.ReplaceAllString(after, "") != before {
		t.Fatalf("bad requests changed the apps:\n%s\n%s", before, after)
	}

	// The app key selects the app: a record written under app-0 is invisible to app-1.
	post := func(key, body string) string {
		_, out := embedtest.Do(t, http.MethodPost, "http://"+c.Nodes[0].HTTPAddr()+"/api?apiKey="+key, "application/json", body, "")
		return out
	}
	if out := post(created[0].Key, `{"body":[{"topic":"record","action":"write","recordName":"shared","data":{"owner":0}}]}`); !strings.Contains(out, "SUCCESS") {
		t.Fatal(out)
	}
	if out := post(created[1].Key, `{"body":[{"topic":"record","action":"read","recordName":"shared"}]}`); !strings.Contains(out, "RECORD_NOT_FOUND") {
		t.Fatalf("app-1 sees app-0's record: %s", out)
	}
	if out := post(created[0].Key, `{"body":[{"topic":"record","action":"read","recordName":"shared"}]}`); !strings.Contains(out, `"owner":0`) {
		t.Fatalf("app-0 read: %s", out)
	}
	// Rotation: the old key stops working at once, the new one works.
	st, body := admin(t, c, 2, "POST", "/admin/v1/apps/"+created[0].ID+"/rotate", `{"kinds":["key"]}`, c.Token)
	var rotated adminApp
	if st != 200 || json.Unmarshal([]byte(body), &rotated) != nil || rotated.Key == created[0].Key || rotated.Secret != created[0].Secret {
		t.Fatalf("rotate: %d %s", st, body)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		st, _ := embedtest.Do(t, http.MethodPost, "http://"+c.Nodes[0].HTTPAddr()+"/api?apiKey="+created[0].Key, "application/json", `{"body":[{"topic":"record","action":"head","recordName":"shared"}]}`, "")
		if st == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("old key still accepted after rotation")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := post(rotated.Key, `{"body":[{"topic":"record","action":"read","recordName":"shared"}]}`); !strings.Contains(out, `"owner":0`) {
		t.Fatalf("new key: %s", out)
	}
	// Disable, then delete.
	if st, body := admin(t, c, 0, "PATCH", "/admin/v1/apps/"+created[2].ID, `{"disabled":true}`, c.Token); st != 200 || !strings.Contains(body, `"disabled":true`) {
		t.Fatalf("disable: %d %s", st, body)
	}
	if st, _ := embedtest.Do(t, http.MethodPost, "http://"+c.Nodes[0].HTTPAddr()+"/api?apiKey="+created[2].Key, "application/json", `{"body":[{"topic":"record","action":"head","recordName":"x"}]}`, ""); st != 403 {
		t.Fatalf("disabled app: %d", st)
	}
	if st, _ := admin(t, c, 1, "DELETE", "/admin/v1/apps/"+created[3].ID, "", c.Token); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _ := admin(t, c, 1, "GET", "/admin/v1/apps/"+created[3].ID, "", c.Token); st != 404 {
		t.Fatalf("deleted app still there: %d", st)
	}

	// No secret value ever reached a log line.
	all := logs.String()
	for _, a := range append(created, rotated) {
		for _, secret := range []string{a.Secret, a.AppToken} {
			if secret == "" {
				t.Fatalf("app %s: empty secret in the admin answer", a.Name)
			}
			if strings.Contains(all, secret) {
				t.Fatalf("secret %q of %s appears in the logs", secret, a.Name)
			}
		}
	}
	if !strings.Contains(all, "app created") {
		t.Fatal("log capture is not working")
	}
}
