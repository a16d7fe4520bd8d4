package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plexushq/plexus/actors/store"
	"github.com/plexushq/plexus/actors/store/pgtest"
	"github.com/plexushq/plexus/actors/store/storetest"
)

func openPostgres(t testing.TB, url string, opts store.Options) *store.Postgres {
	t.Helper()
	s, err := store.OpenPostgres(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestStorePostgres runs the subtests that can share one server.
func TestStorePostgres(t *testing.T) {
	url := pgtest.Start(t)
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openPostgres(t, url, store.Options{PoolSize: 4}) })
	})
	t.Run("Open", func(t *testing.T) { testPostgresOpen(t, url) })
	t.Run("TwoNodes", func(t *testing.T) { testPostgresTwoNodes(t, url) })
}

func testPostgresOpen(t *testing.T, url string) {
	// Concurrent opens race on the migrations; then a reopen finds them done.
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := store.Open(t.Context(), url, "", store.Options{})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s := openPostgres(t, url, store.Options{})
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	// An unreachable server fails with ErrUnavailable, promptly.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := store.OpenPostgres(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", store.Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("open of a closed port: %v, want ErrUnavailable", err)
	}
}

// Two stores on one database act as two nodes: the takeover on one fences
// the other.
func testPostgresTwoNodes(t *testing.T, url string) {
	a, b := openPostgres(t, url, store.Options{}), openPostgres(t, url, store.Options{})
	ctx := t.Context()
	k := store.Key{Kind: "record", App: "two", ID: "r"}
	ea, err := a.Acquire(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, k, ea, 0, store.Doc{Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	eb, err := b.Acquire(ctx, k)
	if err != nil || eb != ea+1 {
		t.Fatalf("Acquire on node b = %d, %v", eb, err)
	}
	if err := a.Put(ctx, k, ea, 1, store.Doc{Data: []byte("stale")}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("stale Put from node a: %v, want ErrFenced", err)
	}
	if err := b.Put(ctx, k, eb, 1, store.Doc{Data: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := a.Get(ctx, k); string(d.Data) != "b" || d.Version != 2 {
		t.Fatalf("Get = %+v", d)
	}
}

func TestStorePostgresDown(t *testing.T) {
	srv := pgtest.StartServer(t)
	s := openPostgres(t, srv.URL(), store.Options{PoolSize: 4})
	k := store.Key{Kind: "record", App: "down", ID: "r"}
	e, err := s.Acquire(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), k, e, 0, store.Doc{Data: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("server stopped in %v", time.Since(t0))

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err = s.Put(ctx, k, e, 1, store.Doc{Data: []byte("2")})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Put with the server down: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Put took %v, past its deadline", d)
	}
	_, _, err = s.Get(ctx, k)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get with the server down: %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping with the server down: %v, want ErrUnavailable", err)
	}

	t0 = time.Now()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("server restarted in %v", time.Since(t0))
	t0 = time.Now()
	// The same Store recovers without a reopen. A pooled connection that
	// died with the server may fail one more call; after that it must work.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = s.Put(t.Context(), k, e, 1, store.Doc{Data: []byte("2")})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Put after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("store recovered %v after the restart", time.Since(t0))
	d, ok, err := s.Get(t.Context(), k)
	if err != nil || !ok || d.Version != 2 || string(d.Data) != "2" {
		t.Fatalf("Get after restart = %+v %v %v", d, ok, err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}
