package fsm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/goccy/go-json"
	"github.com/hashicorp/raft"

	"github.com/plexushq/plexus/cluster/state"
)

// ErrLeaseRevoked is the application error of a RenewLease for a revoked or released member id.
var ErrLeaseRevoked = state.ErrLeaseRevoked

// Code is the machine-readable outcome of a command; "" means success.
type Code string

// Result codes. They map one to one onto the state sentinel errors.
const (
	CodeOK           Code = ""
	CodeConflict     Code = "conflict"
	CodeNotFound     Code = "not_found"
	CodeInvalid      Code = "invalid"
	CodeLeaseRevoked Code = "lease_revoked"
	CodeInternal     Code = "internal"
)

// codeErrs maps each application code to its state sentinel, both ways.
var codeErrs = []struct {
	code Code
	err  error
}{
	{CodeConflict, state.ErrConflict},
	{CodeNotFound, state.ErrNotFound},
	{CodeInvalid, state.ErrInvalid},
	{CodeLeaseRevoked, state.ErrLeaseRevoked},
}

func codeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	for _, ce := range codeErrs {
		if errors.Is(err, ce.err) {
			return ce.code
		}
	}
	return CodeInternal
}

// Result is what Apply returns for every command. Value is the JSON of the command's result object (see each
// command type) so that a Result can cross the remote hop and the snapshot unchanged; use Decode. Index is the log
// index at which the request id was first applied (wait for it for read-your-writes).
type Result struct {
	Index   uint64          `json:"index"`
	Code    Code            `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Value   json.RawMessage `json:"value,omitempty"`
}

// Error is the application error carried by a Result. errors.Is matches the state sentinels.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel matching the code.
func (e *Error) Unwrap() error {
	for _, ce := range codeErrs {
		if ce.code == e.Code {
			return ce.err
		}
	}
	return nil
}

// Err returns the application error of r, or nil on success.
func (r Result) Err() error {
	if r.Code == CodeOK {
		return nil
	}
	return &Error{Code: r.Code, Message: r.Message}
}

// Decode unmarshals the result value into v. It returns r.Err() first if the command failed.
func (r Result) Decode(v any) error {
	if err := r.Err(); err != nil {
		return err
	}
	if len(r.Value) == 0 {
		return fmt.Errorf("fsm: result has no value")
	}
	return json.Unmarshal(r.Value, v)
}

// AppWithCredentials is the result value of CreateApp.
type AppWithCredentials struct {
	App         state.App         `json:"app"`
	Credentials state.Credentials `json:"credentials"`
}

// Config tunes request-id de-duplication.
type Config struct {
	// DedupKeep is the number of most recent request ids always remembered.
	DedupKeep int
	// DedupWindow keeps older request ids while their command time is within this window of the newest one.
	DedupWindow time.Duration
	// DedupMax is a hard bound on remembered request ids, whatever their age.
	DedupMax int
}

// DefaultConfig remembers the last 10,000 request ids plus any from the last 10 minutes, at most 100,000.
func DefaultConfig() Config {
	return Config{DedupKeep: 10_000, DedupWindow: 10 * time.Minute, DedupMax: 100_000}
}

// Validate checks c.
func (c Config) Validate() error {
	if c.DedupKeep < 1 || c.DedupMax < c.DedupKeep || c.DedupWindow < 0 {
		return fmt.Errorf("fsm: invalid dedup config %+v", c)
	}
	return nil
}

type dedupEntry struct {
	RequestID string `json:"request_id"`
	At        int64  `json:"at"`
	Result    Result `json:"result"`
}

// FSM implements raft.FSM over a state.Store. Apply, Snapshot and Restore are called by raft from its FSM
// goroutine, never concurrently with each other; AppliedIndex, WaitApplied and State are safe from any goroutine.
type FSM struct {
	cfg   Config
	store *state.Store

	mu        sync.Mutex
	dedup     map[string]dedupEntry
	order     []string // request ids in apply order; order[0] is the oldest
	maxAt     int64
	applied   uint64
	appliedCh chan struct{} // closed and replaced whenever applied advances
}

// New returns an FSM applying commands to store.
func New(cfg Config, store *state.Store) (*FSM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &FSM{cfg: cfg, store: store, dedup: map[string]dedupEntry{}, appliedCh: make(chan struct{})}, nil
}

// State returns the store for reads. Callers must not mutate it.
func (f *FSM) State() *state.Store { return f.store }

// AppliedIndex returns the index of the last entry applied to the state (or restored from a snapshot).
func (f *FSM) AppliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// WaitApplied blocks until AppliedIndex() >= index or ctx ends.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		applied, ch := f.applied, f.appliedCh
		f.mu.Unlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fsm: wait for index %d (applied %d): %w", index, applied, ctx.Err())
		}
	}
}

func (f *FSM) setApplied(index uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index > f.applied {
		f.applied = index
		close(f.appliedCh)
		f.appliedCh = make(chan struct{})
	}
}

// Apply implements raft.FSM. It returns a Result.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		f.setApplied(l.Index)
		return Result{Index: l.Index}
	}
	cmd, err := DecodeCommand(l.Data)
	if err != nil {
		panic(fmt.Sprintf("fsm: log entry %d: %v", l.Index, err))
	}
	r := f.ApplyCommand(l.Index, cmd)
	return r
}

// ApplyCommand applies a decoded command at log index. It is Apply without the raft.Log, for tests and tools.
// It panics on an unknown command type or a payload that fails to decode.
func (f *FSM) ApplyCommand(index uint64, cmd Command) Result {
	defer f.setApplied(index)
	f.mu.Lock()
	if e, ok := f.dedup[cmd.RequestID]; ok {
		f.mu.Unlock()
		return e.Result
	}
	f.mu.Unlock()

	val, err := f.dispatch(cmd)
	r := Result{Index: index, Code: codeOf(err)}
	if err != nil {
		r.Message = err.Error()
	} else if val != nil {
		b, merr := json.Marshal(val)
		if merr != nil {
			panic(fmt.Sprintf("fsm: encode %s result at %d: %v", cmd.Type, index, merr))
		}
		r.Value = b
	}
	f.remember(cmd, r)
	return r
}

func (f *FSM) remember(cmd Command, r Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dedup[cmd.RequestID] = dedupEntry{RequestID: cmd.RequestID, At: cmd.At, Result: r}
	f.order = append(f.order, cmd.RequestID)
	f.maxAt = max(f.maxAt, cmd.At)
	cut := f.maxAt - int64(f.cfg.DedupWindow)
	n := 0
	for n < len(f.order) {
		left := len(f.order) - n
		oldest := f.dedup[f.order[n]]
		if left > f.cfg.DedupMax || (left > f.cfg.DedupKeep && oldest.At < cut) {
			delete(f.dedup, f.order[n])
			n++
			continue
		}
		break
	}
	if n > 0 {
		// Drop the forgotten ids in place: append moves the rest down when it
		// next runs out of room, instead of a copy of the window per apply.
		clear(f.order[:n])
		f.order = f.order[n:]
	}
}

func decode[T any](cmd Command) T {
	var p T
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		panic(fmt.Sprintf("fsm: decode %s payload (request %s): %v", cmd.Type, cmd.RequestID, err))
	}
	return p
}

// dispatch is the table from command type to state mutation. It returns the result value.
func (f *FSM) dispatch(cmd Command) (any, error) {
	s, at := f.store, cmd.Time()
	switch cmd.Type {
	case TypeCreateApp:
		p := decode[CreateAppPayload](cmd)
		app := state.App{ID: p.ID, Name: p.Name, CreatedAt: at, Settings: p.Settings}
		if err := s.CreateApp(app, p.Credentials); err != nil {
			return nil, err
		}
		a, _ := s.App(p.ID)
		c, _ := s.Credentials(p.ID)
		return AppWithCredentials{App: a, Credentials: c}, nil
	case TypeUpdateApp:
		p := decode[UpdateAppPayload](cmd)
		return s.UpdateApp(p.ID, p.AppUpdate)
	case TypeDeleteApp:
		return nil, s.DeleteApp(decode[IDPayload](cmd).ID)
	case TypeRotateCredentials:
		p := decode[RotateCredentialsPayload](cmd)
		return s.RotateCredentials(p.AppID, p.Values, at)
	case TypeCreateUser:
		p := decode[CreateUserPayload](cmd)
		u := state.User{ID: p.ID, Email: p.Email, PasswordHash: p.PasswordHash, Role: p.Role, Apps: p.Apps, CreatedAt: at}
		if err := s.CreateUser(u); err != nil {
			return nil, err
		}
		u, _ = s.User(p.ID)
		u.PasswordHash = "" // results cross the network; the hash stays in the state
		return u, nil
	case TypeDeleteUser:
		return nil, s.DeleteUser(decode[IDPayload](cmd).ID)
	case TypePutTopicDef:
		p := decode[DefPayload](cmd)
		d := state.TopicDef{AppID: p.AppID, Name: p.Name, Config: p.Config}
		return d, s.PutTopicDef(d)
	case TypeDeleteTopicDef:
		p := decode[DefPayload](cmd)
		return nil, s.DeleteTopicDef(p.AppID, p.Name)
	case TypePutStreamDef:
		p := decode[DefPayload](cmd)
		d := state.StreamDef{AppID: p.AppID, Name: p.Name, Config: p.Config}
		return d, s.PutStreamDef(d)
	case TypeDeleteStreamDef:
		p := decode[DefPayload](cmd)
		return nil, s.DeleteStreamDef(p.AppID, p.Name)
	case TypePutFeedGroup:
		p := decode[DefPayload](cmd)
		d := state.FeedGroup{AppID: p.AppID, Name: p.Name, Config: p.Config}
		return d, s.PutFeedGroup(d)
	case TypeDeleteFeedGroup:
		p := decode[DefPayload](cmd)
		return nil, s.DeleteFeedGroup(p.AppID, p.Name)
	case TypeRenewLease:
		p := decode[RenewLeasePayload](cmd)
		return s.RenewLease(p.MemberID, p.ServerID, time.Unix(0, p.ExpiresAt).UTC(), at)
	case TypeRevokeLease:
		return s.RevokeLease(decode[MemberPayload](cmd).MemberID, at)
	case TypeReleaseLease:
		return s.ReleaseLease(decode[MemberPayload](cmd).MemberID, at)
	}
	panic(fmt.Sprintf("fsm: unknown command type %q (request %s)", cmd.Type, cmd.RequestID))
}

// ---- snapshots ----

type snapshotFile struct {
	Version int             `json:"version"`
	Applied uint64          `json:"applied"`
	MaxAt   int64           `json:"max_at"`
	Dedup   []dedupEntry    `json:"dedup"`
	State   json.RawMessage `json:"state"`
}

const snapshotVersion = 1

type fsmSnapshot struct{ file snapshotFile }

// Snapshot implements raft.FSM: it copies the state and the dedup table under their locks; Persist encodes and
// writes the copy without holding any lock.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	st, err := f.store.Snapshot()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file := snapshotFile{Version: snapshotVersion, Applied: f.applied, MaxAt: f.maxAt, State: st,
		Dedup: make([]dedupEntry, 0, len(f.order))}
	for _, id := range f.order {
		file.Dedup = append(file.Dedup, f.dedup[id])
	}
	return &fsmSnapshot{file: file}, nil
}

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := json.Marshal(s.file)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("fsm: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() {}

// Restore implements raft.FSM: it replaces the state, the dedup table and the applied index.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("fsm: read snapshot: %w", err)
	}
	var file snapshotFile
	if err := json.Unmarshal(b, &file); err != nil {
		return fmt.Errorf("fsm: decode snapshot: %w", err)
	}
	if file.Version != snapshotVersion {
		return fmt.Errorf("fsm: snapshot version %d not supported", file.Version)
	}
	if err := f.store.Restore(file.State); err != nil {
		return err
	}
	f.mu.Lock()
	f.dedup = make(map[string]dedupEntry, len(file.Dedup))
	f.order = make([]string, 0, len(file.Dedup))
	for _, e := range file.Dedup {
		f.dedup[e.RequestID] = e
		f.order = append(f.order, e.RequestID)
	}
	f.maxAt = file.MaxAt
	f.applied = 0 // a restore may move the index either way; WaitApplied waiters re-check
	f.mu.Unlock()
	f.setApplied(file.Applied)
	return nil
}

// Interface guards
var _ raft.FSM = (*FSM)(nil)
