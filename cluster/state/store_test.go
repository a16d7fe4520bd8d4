package state

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-json"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)

func creds(p string) Credentials {
	return Credentials{Key: p + "-key", Secret: p + "-secret", SubscriberKey: p + "-sub", PublisherKey: p + "-pub",
		AppToken: p + "-tok"}
}

func mustApp(t *testing.T, s *Store, id, name string) {
	t.Helper()
	if err := s.CreateApp(App{ID: id, Name: name, CreatedAt: t0}, creds(id)); err != nil {
		t.Fatalf("create app %s: %v", id, err)
	}
}

func TestStateApps(t *testing.T) {
	s := New()
	mustApp(t, s, "a1", "chat")
	mustApp(t, s, "a2", "Chat") // names are case-sensitive
	tests := []struct {
		name string
		app  App
		c    Credentials
		want error
	}{
		{"dup id", App{ID: "a1", Name: "x"}, creds("x"), ErrConflict},
		{"dup name", App{ID: "a3", Name: "chat"}, creds("x"), ErrConflict},
		{"dup key", App{ID: "a3", Name: "x"}, creds("a1"), ErrConflict},
		{"empty name", App{ID: "a3"}, creds("x"), ErrInvalid},
		{"empty cred", App{ID: "a3", Name: "x"}, Credentials{Key: "k"}, ErrInvalid},
		{"same value twice", App{ID: "a3", Name: "x"}, Credentials{Key: "v", Secret: "v", SubscriberKey: "s",
			PublisherKey: "p", AppToken: "t"}, ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateApp(tt.app, tt.c); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if s.AppCount() != 2 {
		t.Fatalf("count %d", s.AppCount())
	}
	if a, ok := s.App("a1"); !ok || a.Name != "chat" || !a.CreatedAt.Equal(t0) {
		t.Fatalf("App: %+v %v", a, ok)
	}
	if _, ok := s.App("nope"); ok {
		t.Fatal("unknown app found")
	}
	if a, ok := s.AppByName("Chat"); !ok || a.ID != "a2" {
		t.Fatalf("AppByName: %+v", a)
	}
	if apps := s.Apps(); len(apps) != 2 || apps[0].Name != "Chat" || apps[1].Name != "chat" {
		t.Fatalf("Apps not sorted: %+v", apps)
	}
	for _, k := range AllKeyKinds {
		c, _ := s.Credentials("a1")
		a, kind, ok := s.AppByKey(c.Value(k))
		if !ok || a.ID != "a1" || kind != k {
			t.Fatalf("AppByKey(%s) = %v %v %v", k, a.ID, kind, ok)
		}
	}
	if _, _, ok := s.AppByKey(""); ok {
		t.Fatal("empty key matched")
	}

	// Update.
	name, dis := "chat2", true
	a, err := s.UpdateApp("a1", AppUpdate{Name: &name, Disabled: &dis, Settings: json.RawMessage(`{"x":1}`)})
	if err != nil || a.Name != "chat2" || !a.Disabled || string(a.Settings) != `{"x":1}` {
		t.Fatalf("UpdateApp: %+v %v", a, err)
	}
	if _, ok := s.AppByName("chat"); ok {
		t.Fatal("old name still indexed")
	}
	taken := "Chat"
	if _, err := s.UpdateApp("a1", AppUpdate{Name: &taken}); !errors.Is(err, ErrConflict) {
		t.Fatalf("rename to taken: %v", err)
	}
	if _, err := s.UpdateApp("zz", AppUpdate{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	// Returned copies do not alias the store.
	a.Settings[0] = 'X'
	if got, _ := s.App("a1"); string(got.Settings) != `{"x":1}` {
		t.Fatal("read aliases store")
	}
}

func TestStateRotateAndDeleteIndex(t *testing.T) {
	s := New()
	mustApp(t, s, "a1", "one")
	old, _ := s.Credentials("a1")
	c, err := s.RotateCredentials("a1", map[KeyKind]string{KindKey: "new-key", KindAppToken: "new-tok"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Key != "new-key" || c.AppToken != "new-tok" || c.Secret != old.Secret || len(c.History) != 2 {
		t.Fatalf("rotated: %+v", c)
	}
	if c.History[0] != (RevokedCredential{Kind: KindKey, Value: old.Key, RevokedAt: t0}) {
		t.Fatalf("history: %+v", c.History)
	}
	for _, v := range []string{old.Key, old.AppToken} {
		if _, _, ok := s.AppByKey(v); ok {
			t.Fatalf("revoked %q still authenticates", v)
		}
	}
	if _, k, ok := s.AppByKey("new-key"); !ok || k != KindKey {
		t.Fatal("new key not indexed")
	}
	if _, k, ok := s.AppByKey(old.Secret); !ok || k != KindSecret {
		t.Fatal("unrotated secret lost")
	}
	for name, tc := range map[string]struct {
		app  string
		vals map[KeyKind]string
		want error
	}{
		"unknown app":  {"zz", map[KeyKind]string{KindKey: "q"}, ErrNotFound},
		"empty":        {"a1", nil, ErrInvalid},
		"empty value":  {"a1", map[KeyKind]string{KindKey: ""}, ErrInvalid},
		"taken value":  {"a1", map[KeyKind]string{KindKey: old.Secret}, ErrConflict},
		"unknown kind": {"a1", map[KeyKind]string{"bogus": "q"}, ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.RotateCredentials(tc.app, tc.vals, t0); !errors.Is(err, tc.want) {
				t.Fatalf("got %v want %v", err, tc.want)
			}
		})
	}
	for i := range MaxHistory + 10 {
		if _, err := s.RotateCredentials("a1", map[KeyKind]string{KindPublisherKey: fmt.Sprint("p", i)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := s.Credentials("a1"); len(c.History) != MaxHistory {
		t.Fatalf("history len %d", len(c.History))
	}

	// Delete cascades.
	if err := s.PutTopicDef(TopicDef{AppID: "a1", Name: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutStreamDef(StreamDef{AppID: "a1", Name: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFeedGroup(FeedGroup{AppID: "a1", Name: "f"}); err != nil {
		t.Fatal(err)
	}
	mustApp(t, s, "a2", "two")
	if err := s.CreateUser(User{ID: "u1", Email: "e@x", PasswordHash: "h", Role: RoleUser, Apps: []string{"a2", "a1"}}); err != nil {
		t.Fatal(err)
	}
	cur, _ := s.Credentials("a1")
	if err := s.DeleteApp("a1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp("a1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	for _, k := range AllKeyKinds {
		if _, _, ok := s.AppByKey(cur.Value(k)); ok {
			t.Fatalf("deleted app's %s still indexed", k)
		}
	}
	if len(s.keys) != len(AllKeyKinds) {
		t.Fatalf("index has %d entries, want %d", len(s.keys), len(AllKeyKinds))
	}
	if len(s.TopicDefs("a1"))+len(s.StreamDefs("a1"))+len(s.FeedGroups("a1")) != 0 {
		t.Fatal("definitions survived app delete")
	}
	if u, _ := s.User("u1"); !reflect.DeepEqual(u.Apps, []string{"a2"}) {
		t.Fatalf("user apps: %v", u.Apps)
	}
	if _, ok := s.AppByName("one"); ok {
		t.Fatal("name survived delete")
	}
}

func TestStateUsers(t *testing.T) {
	s := New()
	mustApp(t, s, "a1", "one")
	u := User{ID: "u1", Email: "Ann@Example.com", PasswordHash: "$2a$hash", Role: RoleAdmin, Apps: []string{"a1"}, CreatedAt: t0}
	if err := s.CreateUser(u); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		u    User
		want error
	}{
		"dup email ci": {User{ID: "u2", Email: "ann@example.COM", PasswordHash: "h", Role: RoleUser}, ErrConflict},
		"dup id":       {User{ID: "u1", Email: "b@x", PasswordHash: "h", Role: RoleUser}, ErrConflict},
		"bad role":     {User{ID: "u2", Email: "b@x", PasswordHash: "h", Role: "root"}, ErrInvalid},
		"no hash":      {User{ID: "u2", Email: "b@x", Role: RoleUser}, ErrInvalid},
		"unknown app":  {User{ID: "u2", Email: "b@x", PasswordHash: "h", Role: RoleUser, Apps: []string{"zz"}}, ErrNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			if err := s.CreateUser(tc.u); !errors.Is(err, tc.want) {
				t.Fatalf("got %v want %v", err, tc.want)
			}
		})
	}
	if got, ok := s.User("u1"); !ok || !reflect.DeepEqual(got, u) {
		t.Fatalf("User: %+v", got)
	}
	if got, ok := s.UserByEmail("ANN@example.com"); !ok || got.ID != "u1" {
		t.Fatal("UserByEmail")
	}
	if err := s.CreateUser(User{ID: "u0", Email: "b@x", PasswordHash: "h", Role: RoleUser}); err != nil {
		t.Fatal(err)
	}
	if us := s.Users(); len(us) != 2 || us[0].ID != "u1" {
		t.Fatalf("Users order: %+v", us)
	}
	if err := s.DeleteUser("u1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser("u1"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, ok := s.UserByEmail("ann@example.com"); ok {
		t.Fatal("email survived delete")
	}
}

func TestStateDefinitions(t *testing.T) {
	s := New()
	mustApp(t, s, "a1", "one")
	cfg := json.RawMessage(`{"history":10}`)
	type ops struct {
		put   func(appID, name string) error
		del   func(appID, name string) error
		get   func(appID, name string) (json.RawMessage, bool)
		names func(appID string) []string
	}
	all := map[string]ops{
		"topic": {
			put: func(a, n string) error { return s.PutTopicDef(TopicDef{AppID: a, Name: n, Config: cfg}) },
			del: s.DeleteTopicDef,
			get: func(a, n string) (json.RawMessage, bool) { d, ok := s.TopicDef(a, n); return d.Config, ok },
			names: func(a string) (out []string) {
				for _, d := range s.TopicDefs(a) {
					out = append(out, d.Name)
				}
				return
			},
		},
		"stream": {
			put: func(a, n string) error { return s.PutStreamDef(StreamDef{AppID: a, Name: n, Config: cfg}) },
			del: s.DeleteStreamDef,
			get: func(a, n string) (json.RawMessage, bool) { d, ok := s.StreamDef(a, n); return d.Config, ok },
			names: func(a string) (out []string) {
				for _, d := range s.StreamDefs(a) {
					out = append(out, d.Name)
				}
				return
			},
		},
		"feed": {
			put: func(a, n string) error { return s.PutFeedGroup(FeedGroup{AppID: a, Name: n, Config: cfg}) },
			del: s.DeleteFeedGroup,
			get: func(a, n string) (json.RawMessage, bool) { d, ok := s.FeedGroup(a, n); return d.Config, ok },
			names: func(a string) (out []string) {
				for _, d := range s.FeedGroups(a) {
					out = append(out, d.Name)
				}
				return
			},
		},
	}
	for kind, o := range all {
		t.Run(kind, func(t *testing.T) {
			for _, n := range []string{"b", "a", "b"} {
				if err := o.put("a1", n); err != nil {
					t.Fatal(err)
				}
			}
			if err := o.put("zz", "a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("put on unknown app: %v", err)
			}
			if err := o.put("a1", ""); !errors.Is(err, ErrInvalid) {
				t.Fatalf("put empty name: %v", err)
			}
			if got := o.names("a1"); !reflect.DeepEqual(got, []string{"a", "b"}) {
				t.Fatalf("names %v", got)
			}
			if c, ok := o.get("a1", "a"); !ok || !bytes.Equal(c, cfg) {
				t.Fatalf("get %s %v", c, ok)
			}
			if err := o.del("a1", "a"); err != nil {
				t.Fatal(err)
			}
			if err := o.del("a1", "a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
			if _, ok := o.get("a1", "a"); ok {
				t.Fatal("deleted def found")
			}
		})
	}
}

func TestStateLeases(t *testing.T) {
	s := New()
	exp := t0.Add(5 * time.Second)
	l, err := s.RenewLease("m1", "srv1", exp, t0)
	if err != nil || !l.Valid(t0) || l.Valid(exp) {
		t.Fatalf("renew: %+v %v", l, err)
	}
	// An older (delayed) renewal never shortens the lease.
	if l, _ := s.RenewLease("m1", "srv1", t0.Add(time.Second), t0); !l.ExpiresAt.Equal(exp) {
		t.Fatalf("lease shortened to %v", l.ExpiresAt)
	}
	if _, err := s.RenewLease("m1", "srv2", exp, t0); !errors.Is(err, ErrConflict) {
		t.Fatalf("member moved server: %v", err)
	}
	if _, err := s.RenewLease("", "srv1", exp, t0); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	// A new member of the same server supersedes the old one.
	if _, err := s.RenewLease("m2", "srv1", exp, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Lease("m1"); !l.Revoked || !l.ExpiresAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("old member not superseded: %+v", l)
	}
	if _, err := s.RenewLease("m1", "srv1", exp, t0); !errors.Is(err, ErrLeaseRevoked) {
		t.Fatalf("superseded member renewed: %v", err)
	}
	// Revoke and release.
	if l, err := s.RevokeLease("m2", t0); err != nil || !l.Revoked || l.Released {
		t.Fatalf("revoke: %+v %v", l, err)
	}
	if _, err := s.RenewLease("m2", "srv1", exp, t0); !errors.Is(err, ErrLeaseRevoked) {
		t.Fatalf("revoked renewed: %v", err)
	}
	if l, _ := s.RevokeLease("ghost", t0); !l.Revoked { // tombstone for a member without lease
		t.Fatal("no tombstone")
	}
	if _, err := s.RenewLease("ghost", "srv9", exp, t0); !errors.Is(err, ErrLeaseRevoked) {
		t.Fatal("tombstoned member renewed")
	}
	if _, err := s.RenewLease("m3", "srv3", exp, t0); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ReleaseLease("m3", t0); !l.Revoked || !l.Released || l.Valid(t0) {
		t.Fatalf("release: %+v", l)
	}
	if ls := s.Leases(); len(ls) != 4 || ls[0].MemberID != "ghost" {
		t.Fatalf("Leases: %+v", ls)
	}
	// Tombstones are pruned a day after expiry.
	if _, err := s.RenewLease("m4", "srv4", t0.Add(49*time.Hour), t0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ls := s.Leases(); len(ls) != 1 || ls[0].MemberID != "m4" {
		t.Fatalf("after prune: %+v", ls)
	}
	if _, ok := s.Lease("nope"); ok {
		t.Fatal("unknown lease")
	}
}

// richStore builds a state that uses every field.
func richStore(t *testing.T) *Store {
	t.Helper()
	s := New()
	for i := range 5 {
		id := fmt.Sprint("app", i)
		if err := s.CreateApp(App{ID: id, Name: fmt.Sprint("name", i), CreatedAt: t0.Add(time.Duration(i)),
			Disabled: i%2 == 0, Settings: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}, creds(id)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RotateCredentials(id, map[KeyKind]string{KindSecret: id + "-s2", KindKey: id + "-k2"}, t0); err != nil {
			t.Fatal(err)
		}
		_ = s.PutTopicDef(TopicDef{AppID: id, Name: "t", Config: json.RawMessage(`{"a":1}`)})
		_ = s.PutStreamDef(StreamDef{AppID: id, Name: "s"})
		_ = s.PutFeedGroup(FeedGroup{AppID: id, Name: "f", Config: json.RawMessage(`[1,2]`)})
	}
	mustApp(t, s, "plain", "plain")
	_ = s.CreateUser(User{ID: "u1", Email: "a@x", PasswordHash: "h1", Role: RoleAdmin, CreatedAt: t0})
	_ = s.CreateUser(User{ID: "u2", Email: "b@x", PasswordHash: "h2", Role: RoleUser, Apps: []string{"app1", "app2"}, CreatedAt: t0})
	_, _ = s.RenewLease("m1", "s1", t0.Add(time.Hour), t0)
	_, _ = s.RenewLease("m2", "s2", t0.Add(time.Hour), t0)
	_, _ = s.RevokeLease("m2", t0)
	_, _ = s.ReleaseLease("m3", t0)
	return s
}

func stateFields(s *Store) []any {
	return []any{s.apps, s.appNames, s.creds, s.keys, s.users, s.emails, s.topics, s.streams, s.feeds, s.leases}
}

func TestStateSnapshotRestore(t *testing.T) {
	s := richStore(t)
	b, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := New()
	mustApp(t, r, "junk", "junk") // Restore replaces everything
	if err := r.Restore(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stateFields(s), stateFields(r)) {
		t.Fatalf("state differs after restore\n%#v\n%#v", stateFields(s), stateFields(r))
	}
	b2, _ := r.Snapshot()
	if !bytes.Equal(b, b2) {
		t.Fatal("snapshot bytes are not deterministic")
	}
	if _, ok := r.App("junk"); ok {
		t.Fatal("restore kept old data")
	}
	if err := r.Restore([]byte("{")); err == nil {
		t.Fatal("bad snapshot accepted")
	}
	if err := r.Restore([]byte(`{"version":99}`)); err == nil {
		t.Fatal("future version accepted")
	}
	if !reflect.DeepEqual(stateFields(s), stateFields(r)) {
		t.Fatal("failed restore changed state")
	}
	// Empty store round trip.
	e := New()
	b, _ = e.Snapshot()
	e2 := New()
	if err := e2.Restore(b); err != nil || !reflect.DeepEqual(stateFields(e), stateFields(e2)) {
		t.Fatalf("empty round trip: %v", err)
	}
}

func TestStateConcurrentReads(t *testing.T) {
	s := richStore(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				_, _, _ = s.AppByKey("app1-pub")
				_ = s.Apps()
				_, _ = s.Snapshot()
				if i == 0 {
					_, _ = s.RotateCredentials("app3", map[KeyKind]string{KindAppToken: fmt.Sprint("tok", j)}, t0)
				}
			}
		})
	}
	wg.Wait()
}

func TestStateSecretsNotLogged(t *testing.T) {
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		l := slog.New(h)
		c := Credentials{AppID: "a", Key: "pub-key", Secret: "SECRETVALUE", SubscriberKey: "s", PublisherKey: "p",
			AppToken: "TOKENVALUE", History: []RevokedCredential{{Kind: KindSecret, Value: "OLDSECRET"}}}
		u := User{ID: "u", Email: "e@x", PasswordHash: "HASHVALUE", Role: RoleAdmin}
		l.Info("creds", "creds", c, "user", u, "rev", c.History[0])
	}
	out := buf.String()
	for _, secret := range []string{"SECRETVALUE", "TOKENVALUE", "HASHVALUE", "OLDSECRET"} {
		if strings.Contains(out, secret) {
			t.Fatalf("%s leaked into log: %s", secret, out)
		}
	}
	if !strings.Contains(out, "pub-key") || !strings.Contains(out, redacted) {
		t.Fatalf("log lacks expected fields: %s", out)
	}
}
