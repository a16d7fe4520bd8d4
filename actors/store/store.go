package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
)

// Key names one grain's state: kind ("record", "topic", "feed", ...), app id,
// grain id. All three components must be non-empty.
type Key struct{ Kind, App, ID string }

// String returns a human-readable form of k for logs; it is not an encoding
// and may be ambiguous.
func (k Key) String() string { return k.Kind + "/" + k.App + "/" + k.ID }

// Doc is a versioned document owned by a grain.
type Doc struct {
	Version int64  // >0 for a stored doc
	Data    []byte // opaque (JSON) bytes
}

// Entry is one record of a grain's ordered log.
type Entry struct {
	Seq  uint64
	Data []byte
}

// IndexItem is one member of a grain's sorted index, with its value.
type IndexItem struct {
	Member string
	Value  []byte
}

// Errors returned by every backend. Test them with errors.Is.
var (
	// ErrFenced means the caller's epoch is not the key's current owner
	// epoch: the caller is a stale activation and must stop.
	ErrFenced = errors.New("store: fenced: owner epoch changed")
	// ErrVersion means the stored document version is not the expected one.
	ErrVersion = errors.New("store: version conflict")
	// ErrUnavailable means the backend could not be reached; the cause is
	// wrapped too. Whether a write that failed this way was applied is
	// unknown only when the failure hit the commit itself.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrClosed is returned by every method once Close has been called.
	ErrClosed = errors.New("store: closed")
	// ErrInvalidKey means a Key component is empty or too long.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidArgument means another argument is out of range, such as a
	// Doc.Version that does not exceed the expected version, or an empty
	// Append.
	ErrInvalidArgument = errors.New("store: invalid argument")
)

// Store persists grain state. All methods are safe for concurrent use. Every
// write is conditional on the owner epoch and is durable (fsync'd or
// committed) before it returns nil; a write that returns ErrFenced,
// ErrVersion, ErrInvalidKey or ErrInvalidArgument changed nothing.
type Store interface {
	// Acquire takes ownership of k: atomically sets epoch = current+1
	// (current is 0 for a never-seen key) and returns the new epoch.
	Acquire(ctx context.Context, k Key) (epoch uint64, err error)
	// Get returns the document of k; ok=false when none is stored. Reads
	// are not fenced.
	Get(ctx context.Context, k Key) (doc Doc, ok bool, err error)
	// Put stores doc iff the owner epoch of k equals epoch (else ErrFenced)
	// and the stored version equals expect (0 = no document stored, else
	// ErrVersion). The stored version is doc.Version when it is non-zero
	// (it must then exceed expect, else ErrInvalidArgument) and expect+1
	// otherwise. Durable before it returns nil.
	Put(ctx context.Context, k Key, epoch uint64, expect int64, doc Doc) error
	// Delete removes the document under the same conditions as Put
	// (expect = current version, which must be > 0).
	Delete(ctx context.Context, k Key, epoch uint64, expect int64) error
	// Append adds entries to k's ordered log iff epoch is current; returns
	// the seq of the first appended entry (seqs start at 1, contiguous,
	// never reused, even after Trim).
	Append(ctx context.Context, k Key, epoch uint64, data ...[]byte) (first uint64, err error)
	// ReadLog returns up to limit entries with Seq >= from, ascending.
	ReadLog(ctx context.Context, k Key, from uint64, limit int) ([]Entry, error)
	// Trim deletes log entries with Seq < before, iff epoch is current.
	Trim(ctx context.Context, k Key, epoch uint64, before uint64) error
	// IndexPut sets member to value in k's sorted index, iff epoch is current.
	IndexPut(ctx context.Context, k Key, epoch uint64, member string, value []byte) error
	// IndexDelete removes member from k's index, iff epoch is current.
	// Removing an absent member is not an error.
	IndexDelete(ctx context.Context, k Key, epoch uint64, member string) error
	// IndexRange lists members > after (after "" = from the start),
	// ascending by byte order, at most limit.
	IndexRange(ctx context.Context, k Key, after string, limit int) ([]IndexItem, error)
	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the backend. It is idempotent; every later call of
	// another method returns ErrClosed.
	Close() error
}

// Options configures a backend. The zero value is usable.
type Options struct {
	// Logger receives backend logs; nil discards them.
	Logger *slog.Logger
	// PoolSize is the Postgres connection pool size; 0 means 16.
	PoolSize int
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger.With("subsystem", "store")
}

// Open opens a backend from the --store flag value: "pebble" (uses
// filepath.Join(dataDir, "pebble")) or a postgres:// / postgresql:// URL.
func Open(ctx context.Context, spec, dataDir string, opts Options) (Store, error) {
	switch {
	case spec == "pebble":
		if dataDir == "" {
			return nil, fmt.Errorf("store: pebble needs a data dir")
		}
		return OpenPebble(filepath.Join(dataDir, "pebble"), opts)
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return OpenPostgres(ctx, spec, opts)
	default:
		return nil, fmt.Errorf("store: unknown store %q: want \"pebble\" or a postgres:// URL", redactSpec(spec))
	}
}

// redactSpec drops anything that may carry a password.
func redactSpec(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		return s[:i] + "://..."
	}
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// unavailableError wraps a backend error so that errors.Is matches both
// ErrUnavailable and the cause.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string { return "store: unavailable: " + e.cause.Error() }

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return &unavailableError{cause: err}
}
