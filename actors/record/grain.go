package record

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	json "github.com/goccy/go-json"

	"github.com/plexushq/plexus/actors/client"
	"github.com/plexushq/plexus/actors/relay"
	"github.com/plexushq/plexus/actors/store"
	"github.com/plexushq/plexus/cluster/placement"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Deps are what a record grain needs from its node.
type Deps struct {
	Store          store.Store
	Logger         *slog.Logger
	MaxRecordBytes int           // default 1 MiB
	IdleTimeout    time.Duration // passivate after this long idle with no interest
	// StoreTimeout bounds one Store call; 0 means 5 s, negative means no
	// bound (for the embedded store, whose calls never wait on a network:
	// a timer per call is then pure cost).
	StoreTimeout time.Duration
	// VerifyReads makes every answer that reveals state without writing it
	// (reads, heads, version conflicts, deletes of missing records) first
	// check the Store still holds the version this activation holds. With a
	// shared store and several nodes this keeps a stale activation (a paused
	// node that resumed) from answering from memory: it stops instead and
	// the caller retries on the current owner. Single-node Pebble needs none.
	VerifyReads bool
}

// errStaleCache means the Store moved on without this activation.
var errStaleCache = errors.New("record: stored version differs from the activation's: stale activation")

// Props returns the props of the record grain for identity (app/name).
func Props(d Deps, identity string) *actor.Props {
	if d.MaxRecordBytes <= 0 {
		d.MaxRecordBytes = 1 << 20
	}
	if d.StoreTimeout == 0 {
		d.StoreTimeout = 5 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return actor.PropsFromProducer(func() actor.Actor { return newGrain(d, identity) })
}

// keepKeys is how many idempotency keys a record persists with its data, so
// a retried write is recognised even after the grain moved.
const keepKeys = 32

// appliedKey remembers one applied write: the hash of its idempotency key
// (keyHash) and the version it produced.
type appliedKey struct {
	Hash    uint64
	Version int32
}

// envelopeV1 tags the binary envelope: the byte 1, a uvarint key count, per
// key its hash (8 bytes BE) and version (4 bytes BE), then the record data.
// Keys are stored as 64-bit hashes, not strings: a write then costs 12 bytes
// per remembered key instead of ~40 of JSON, which is most of the bytes (and
// of the WAL CRC and compaction work) of a small record. A new key is taken
// for an old one only on a 64-bit collision with one of the 32 kept keys.
// Envelopes written as JSON ({"d":data,"k":[{"k":key,"v":version}]}) by
// earlier builds are still read.
const envelopeV1 = 1

// keyHash is FNV-1a 64 with a murmur3 finaliser: stable across processes
// (the hashes are persisted) and allocation-free.
func keyHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// encodeEnvelope returns the persisted form of data and keys.
func encodeEnvelope(data []byte, keys []appliedKey) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+12*len(keys)+len(data))
	b = append(b, envelopeV1)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.BigEndian.AppendUint64(b, k.Hash)
		b = binary.BigEndian.AppendUint32(b, uint32(k.Version))
	}
	return append(b, data...)
}

// errEnvelope means a stored envelope could not be decoded.
var errEnvelope = errors.New("record: corrupt stored envelope")

// decodeEnvelope parses what encodeEnvelope (or an earlier build's JSON
// encoder) wrote. data aliases b.
func decodeEnvelope(b []byte) (data []byte, keys []appliedKey, err error) {
	if len(b) > 0 && b[0] == '{' {
		var env struct {
			Data json.RawMessage `json:"d"`
			Keys []struct {
				Key     string `json:"k"`
				Version int32  `json:"v"`
			} `json:"k"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", errEnvelope, err)
		}
		for _, k := range env.Keys {
			keys = append(keys, appliedKey{Hash: keyHash(k.Key), Version: k.Version})
		}
		return env.Data, keys, nil
	}
	if len(b) == 0 || b[0] != envelopeV1 {
		return nil, nil, errEnvelope
	}
	n, m := binary.Uvarint(b[1:])
	if m <= 0 || n > keepKeys || uint64(len(b)-1-m) < 12*n {
		return nil, nil, errEnvelope
	}
	b = b[1+m:]
	keys = make([]appliedKey, n)
	for i := range keys {
		keys[i] = appliedKey{Hash: binary.BigEndian.Uint64(b), Version: int32(binary.BigEndian.Uint32(b[8:]))}
		b = b[12:]
	}
	return b, keys, nil
}

type grain struct {
	d        Deps
	log      *slog.Logger
	key      store.Key
	app      string
	name     string
	epoch    uint64
	st       State
	keys     []appliedKey
	interest relay.Interests
	idle     placement.Idle
	failed   error
}

func newGrain(d Deps, identity string) *grain {
	app, name := client.SplitIdentity(identity)
	return &grain{d: d, app: app, name: name, key: store.Key{Kind: client.KindRecord, App: app, ID: name}, keys: make([]appliedKey, 0, keepKeys+1),
		log: d.Logger.With("grain_kind", client.KindRecord, "grain_id", identity)}
}

func (g *grain) storeCtx() (context.Context, context.CancelFunc) {
	if g.d.StoreTimeout < 0 {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), g.d.StoreTimeout)
}

// activate takes ownership (epoch) and loads the stored record.
func (g *grain) activate() error {
	c, cancel := g.storeCtx()
	defer cancel()
	ep, err := g.d.Store.Acquire(c, g.key)
	if err != nil {
		return err
	}
	g.epoch = ep
	doc, ok, err := g.d.Store.Get(c, g.key)
	if err != nil {
		return err
	}
	if !ok {
		g.st = State{}
		return nil
	}
	data, keys, err := decodeEnvelope(doc.Data)
	if err != nil {
		return err
	}
	g.st = State{Exists: true, Version: int32(doc.Version - 1), Data: data}
	g.keys = append(g.keys[:0], keys...)
	return nil
}

func (g *grain) Receive(ctx actor.Context) {
	msg := placement.Message(ctx.Message())
	if g.idle.Observe(ctx, msg, g.d.IdleTimeout, g.interest.Len() == 0) {
		return
	}
	switch m := msg.(type) {
	case *actor.Started:
		if err := g.activate(); err != nil {
			g.failed = err
			g.log.Warn("activation failed", "err", err)
			ctx.Poison(ctx.Self())
			return
		}
	case *pb.RecordRead:
		placement.Reply(ctx, g.read(ctx, m))
	case *pb.RecordWrite:
		placement.Reply(ctx, g.write(ctx, m))
	case *pb.RecordDelete:
		placement.Reply(ctx, g.delete(ctx, m))
	case *pb.Interest:
		g.interest.Apply(m)
		placement.Reply(ctx, &pb.InterestReply{})
	}
}

// failure turns a Store error into a reply error; a fenced write stops this
// (stale) activation so the caller's retry reaches the current owner.
func (g *grain) failure(ctx actor.Context, err error, reason pb.ErrorReason) *pb.Error {
	switch {
	case g.failed != nil && (errors.Is(g.failed, store.ErrUnavailable) || errors.Is(g.failed, context.DeadlineExceeded)):
		return &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_STORAGE_UNAVAILABLE, Message: g.failed.Error()}
	case g.failed != nil, errors.Is(err, store.ErrFenced), errors.Is(err, errStaleCache):
		if g.failed == nil {
			g.failed = err
			g.log.Warn("fenced by a newer activation; stopping", "epoch", g.epoch)
			ctx.Poison(ctx.Self())
		}
		return &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION, Message: "stale activation"}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return &pb.Error{Reason: pb.ErrorReason_ERROR_REASON_STORAGE_UNAVAILABLE, Message: err.Error()}
	default:
		g.log.Error("store failure", "err", err)
		return &pb.Error{Reason: reason, Message: err.Error()}
	}
}

func (g *grain) persist(st State, keys []appliedKey) error {
	c, cancel := g.storeCtx()
	defer cancel()
	expect := int64(0)
	if g.st.Exists {
		expect = int64(g.st.Version) + 1
	}
	if !st.Exists {
		if !g.st.Exists {
			return nil
		}
		return g.d.Store.Delete(c, g.key, g.epoch, expect)
	}
	return g.d.Store.Put(c, g.key, g.epoch, expect, store.Doc{Version: int64(st.Version) + 1, Data: encodeEnvelope(st.Data, keys)})
}

func (g *grain) read(ctx actor.Context, m *pb.RecordRead) *pb.RecordReadReply {
	if g.failed != nil {
		return &pb.RecordReadReply{Error: g.failure(ctx, g.failed, 0)}
	}
	created := false
	if m.Create && !g.st.Exists {
		st, _ := Create(g.st)
		if err := g.persist(st, g.keys); err != nil {
			return &pb.RecordReadReply{Error: g.failure(ctx, err, pb.ErrorReason_ERROR_REASON_RECORD_UPDATE_ERROR)}
		}
		g.st = st
		created = true
	}
	if !created {
		if err := g.verify(); err != nil {
			return &pb.RecordReadReply{Error: g.failure(ctx, err, pb.ErrorReason_ERROR_REASON_STORAGE_UNAVAILABLE)}
		}
	}
	if !g.st.Exists {
		return &pb.RecordReadReply{Exists: false, Version: -1}
	}
	return &pb.RecordReadReply{Exists: true, Version: g.st.Version, Data: g.st.Data, Created: created}
}

func (g *grain) write(ctx actor.Context, m *pb.RecordWrite) *pb.RecordWriteReply {
	if g.failed != nil {
		return &pb.RecordWriteReply{Error: g.failure(ctx, g.failed, 0)}
	}
	h := keyHash(m.IdempotencyKey)
	for _, k := range g.keys {
		if k.Hash == h {
			return &pb.RecordWriteReply{Version: k.Version}
		}
	}
	w := Write{Transport: Transport(m.Transport), Version: m.Version, HasVersion: m.HasVersion, Path: m.Path, HasPath: m.HasPath, Data: m.Data, Erase: m.Erase}
	st, err := Apply(g.st, w, g.d.MaxRecordBytes)
	if err != nil {
		if errors.Is(err, ErrVersionExists) || errors.Is(err, ErrInvalidVersion) {
			if verr := g.verify(); verr != nil {
				return &pb.RecordWriteReply{Error: g.failure(ctx, verr, pb.ErrorReason_ERROR_REASON_RECORD_UPDATE_ERROR)}
			}
		}
		cur := current(g.st)
		return &pb.RecordWriteReply{Error: &pb.Error{Reason: writeReason(err), Message: err.Error()}, CurrentVersion: cur.Version, CurrentData: cur.Data}
	}
	// g.keys has room for keepKeys+1 entries: the new list is built in place
	// (entries past len(g.keys) are not g.keys' yet) without allocating.
	keys := append(g.keys, appliedKey{Hash: h, Version: st.Version})
	if len(keys) > keepKeys {
		keys = keys[1:]
	}
	if err := g.persist(st, keys); err != nil {
		return &pb.RecordWriteReply{Error: g.failure(ctx, err, pb.ErrorReason_ERROR_REASON_RECORD_UPDATE_ERROR)}
	}
	g.st = st
	g.keys = g.keys[:len(keys)]
	copy(g.keys, keys) // a no-op unless the oldest key was dropped
	if g.interest.Len() == 0 {
		return &pb.RecordWriteReply{Version: st.Version}
	}
	d := &pb.Delivery{Kind: client.KindRecord, App: g.app, Name: g.name, Version: st.Version, Origin: m.Origin, Epoch: g.epoch, Seq: uint64(st.Version)}
	if w.PathWrite() {
		d.Action, d.Path, d.HasPath = "patch", m.Path, true
		if !w.Erases() {
			d.Data, d.HasData = m.Data, true
		}
	} else {
		d.Action, d.Data, d.HasData = "update", st.Data, true
	}
	g.interest.Send(ctx, d)
	return &pb.RecordWriteReply{Version: st.Version}
}

// verify checks, when VerifyReads is on, that the Store still holds the
// version this activation holds.
func (g *grain) verify() error {
	if !g.d.VerifyReads {
		return nil
	}
	c, cancel := g.storeCtx()
	defer cancel()
	doc, ok, err := g.d.Store.Get(c, g.key)
	if err != nil {
		return err
	}
	if ok != g.st.Exists || (ok && doc.Version != int64(g.st.Version)+1) {
		return errStaleCache
	}
	return nil
}

func (g *grain) delete(ctx actor.Context, m *pb.RecordDelete) *pb.RecordDeleteReply {
	if g.failed != nil {
		return &pb.RecordDeleteReply{Error: g.failure(ctx, g.failed, 0)}
	}
	if !g.st.Exists {
		if err := g.verify(); err != nil {
			return &pb.RecordDeleteReply{Error: g.failure(ctx, err, pb.ErrorReason_ERROR_REASON_RECORD_DELETE_ERROR)}
		}
		return &pb.RecordDeleteReply{}
	}
	st := Delete(g.st)
	if err := g.persist(st, nil); err != nil {
		return &pb.RecordDeleteReply{Error: g.failure(ctx, err, pb.ErrorReason_ERROR_REASON_RECORD_DELETE_ERROR)}
	}
	g.st, g.keys = st, g.keys[:0]
	g.interest.Send(ctx, &pb.Delivery{Kind: client.KindRecord, App: g.app, Name: g.name, Action: "delete", Origin: m.Origin, Epoch: g.epoch})
	return &pb.RecordDeleteReply{}
}

// writeReason maps a state machine error to its canonical reason.
func writeReason(err error) pb.ErrorReason {
	switch {
	case errors.Is(err, ErrVersionExists):
		return pb.ErrorReason_ERROR_REASON_VERSION_EXISTS
	case errors.Is(err, ErrInvalidVersion):
		return pb.ErrorReason_ERROR_REASON_INVALID_VERSION
	case errors.Is(err, ErrInvalidData):
		return pb.ErrorReason_ERROR_REASON_INVALID_MESSAGE_DATA
	default: // ErrNotApplicable, ErrTooLarge
		return pb.ErrorReason_ERROR_REASON_RECORD_UPDATE_ERROR
	}
}
