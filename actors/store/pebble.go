package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Key layout in Pebble. Every key starts with a one-byte table tag followed by
// the prefix-free key encoding (see appendKey), so no two grains share a key
// and a prefix scan of one grain never reaches another's.
const (
	tagOwner = 'o' // tag+key → epoch (8 bytes BE) + next log seq (8 bytes BE)
	tagDoc   = 'd' // tag+key → version (8 bytes BE) + data
	tagLog   = 'l' // tag+key+seq (8 bytes BE) → data
	tagIndex = 'x' // tag+key+member → value
)

// lockStripes is the number of striped per-key mutexes. Two keys share a
// mutex only when their hashes collide, which serialises them but never
// deadlocks: an operation holds exactly one stripe.
const lockStripes = 4096

// Pebble is the embedded single-node Store. Every write runs read-check-write
// under its key's striped mutex and commits with pebble.Sync; writers of
// different keys run concurrently, and Pebble's commit pipeline groups their
// synced batches so they share WAL fsyncs.
type Pebble struct {
	db  *pebble.DB
	log *slog.Logger

	// mu is held for reading by every operation and for writing by Close,
	// so the DB is never used after it is closed.
	mu     sync.RWMutex
	closed bool

	locks [lockStripes]paddedMutex
}

type paddedMutex struct {
	sync.Mutex
	// owners caches the owner rows of this stripe's keys, read or written
	// under the stripe lock. This process is the DB's only writer (Pebble
	// locks the directory), so the cache is authoritative; it saves a point
	// read before every conditional write. Bounded: a full stripe is cleared.
	owners map[string]ownerRow
	// versions caches stored document versions the same way (0 = none).
	versions map[string]int64
	_        [40]byte
}

type ownerRow struct{ epoch, next uint64 }

// maxOwnersPerStripe bounds the owner cache (lockStripes × this rows).
const maxOwnersPerStripe = 256

// OpenPebble opens (creating if needed) a Pebble store in dir. It starts no
// goroutine of its own beyond Pebble's, which Close stops.
func OpenPebble(dir string, opts Options) (*Pebble, error) {
	log := opts.logger().With("backend", "pebble")
	// A 64 MiB block cache (Pebble's default is 8 MiB): every conditional
	// write reads the owner and version rows first.
	cache := pebble.NewCache(64 << 20)
	defer cache.Unref()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{log}, Cache: cache})
	if err != nil {
		return nil, fmt.Errorf("store: open pebble %s: %w", dir, err)
	}
	log.Info("store opened", "dir", dir)
	return &Pebble{db: db, log: log}, nil
}

// begin enters an operation; on nil the caller must call p.mu.RUnlock.
func (p *Pebble) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (p *Pebble) lock(enc []byte) *paddedMutex {
	m := p.stripe(enc)
	m.Lock()
	return m
}

// stripe returns the striped mutex (and owner cache) of enc.
func (p *Pebble) stripe(enc []byte) *paddedMutex {
	h := uint32(2166136261) // FNV-1a, inline to stay allocation-free
	for _, c := range enc {
		h = (h ^ uint32(c)) * 16777619
	}
	return &p.locks[h%lockStripes]
}

func tableKey(tag byte, enc []byte, extra int) []byte {
	b := make([]byte, 0, 1+len(enc)+extra)
	b = append(b, tag)
	return append(b, enc...)
}

// get returns a copy of the value of key, or nil, false.
func (p *Pebble) get(key []byte) ([]byte, bool, error) {
	v, c, err := p.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable(err)
	}
	out := append([]byte(nil), v...)
	c.Close()
	return out, true, nil
}

// owner returns the epoch and next log seq of enc. The stripe of enc must be
// held by the caller.
func (p *Pebble) owner(enc []byte) (epoch, next uint64, err error) {
	st := p.stripe(enc)
	if r, ok := st.owners[string(enc)]; ok {
		return r.epoch, r.next, nil
	}
	v, ok, err := p.get(tableKey(tagOwner, enc, 0))
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		epoch, next = 0, 1
	} else {
		if len(v) != 16 {
			return 0, 0, fmt.Errorf("store: corrupt owner record for %x", enc)
		}
		epoch, next = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
	}
	p.cacheOwner(enc, epoch, next)
	return epoch, next, nil
}

// cacheOwner records enc's owner row; the stripe of enc must be held.
func (p *Pebble) cacheOwner(enc []byte, epoch, next uint64) {
	st := p.stripe(enc)
	if st.owners == nil || len(st.owners) >= maxOwnersPerStripe {
		st.owners = make(map[string]ownerRow)
	}
	st.owners[string(enc)] = ownerRow{epoch, next}
}

// forgetOwner drops enc's cached row (after a failed commit whose outcome is
// unknown); the stripe of enc must be held.
func (p *Pebble) forgetOwner(enc []byte) { delete(p.stripe(enc).owners, string(enc)) }

func ownerValue(epoch, next uint64) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), epoch)
	return binary.BigEndian.AppendUint64(v, next)
}

// fenced checks epoch against the stored owner epoch of enc and returns the
// next log seq. The stripe of enc must be held by the caller.
func (p *Pebble) fenced(enc []byte, epoch uint64) (next uint64, err error) {
	cur, next, err := p.owner(enc)
	if err != nil {
		return 0, err
	}
	if cur != epoch {
		return 0, ErrFenced
	}
	return next, nil
}

func (p *Pebble) commit(b *pebble.Batch) error {
	defer b.Close()
	if err := b.Commit(pebble.Sync); err != nil {
		return unavailable(err)
	}
	return nil
}

// Acquire implements Store.
func (p *Pebble) Acquire(ctx context.Context, k Key) (uint64, error) {
	enc, err := encodeKey(k)
	if err != nil {
		return 0, err
	}
	if err := p.begin(ctx); err != nil {
		return 0, err
	}
	defer p.mu.RUnlock()
	defer p.lock(enc).Unlock()
	cur, next, err := p.owner(enc)
	if err != nil {
		return 0, err
	}
	b := p.db.NewBatch()
	b.Set(tableKey(tagOwner, enc, 0), ownerValue(cur+1, next), nil)
	if err := p.commit(b); err != nil {
		p.forgetOwner(enc)
		return 0, err
	}
	p.cacheOwner(enc, cur+1, next)
	return cur + 1, nil
}

// Get implements Store.
func (p *Pebble) Get(ctx context.Context, k Key) (Doc, bool, error) {
	enc, err := encodeKey(k)
	if err != nil {
		return Doc{}, false, err
	}
	if err := p.begin(ctx); err != nil {
		return Doc{}, false, err
	}
	defer p.mu.RUnlock()
	v, ok, err := p.get(tableKey(tagDoc, enc, 0))
	if err != nil || !ok {
		return Doc{}, false, err
	}
	if len(v) < 8 {
		return Doc{}, false, fmt.Errorf("store: corrupt document for %s", k)
	}
	return Doc{Version: int64(binary.BigEndian.Uint64(v)), Data: v[8:]}, true, nil
}

// storedVersion returns the version of the document at key, 0 if none.
func (p *Pebble) storedVersion(key []byte) (int64, error) {
	v, ok, err := p.get(key)
	if err != nil || !ok {
		return 0, err
	}
	if len(v) < 8 {
		return 0, fmt.Errorf("store: corrupt document %x", key)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Put implements Store.
func (p *Pebble) Put(ctx context.Context, k Key, epoch uint64, expect int64, doc Doc) error {
	ver, err := newVersion(expect, doc)
	if err != nil {
		return err
	}
	return p.conditional(ctx, k, epoch, expect, func(b *pebble.Batch, key []byte) int64 {
		val := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(doc.Data)), uint64(ver))
		b.Set(key, append(val, doc.Data...), nil)
		return ver
	})
}

// Delete implements Store.
func (p *Pebble) Delete(ctx context.Context, k Key, epoch uint64, expect int64) error {
	if expect <= 0 {
		return fmt.Errorf("%w: delete needs the current version", ErrInvalidArgument)
	}
	return p.conditional(ctx, k, epoch, expect, func(b *pebble.Batch, key []byte) int64 {
		b.Delete(key, nil)
		return 0
	})
}

// fencedWrite runs fn under k's stripe lock iff epoch is k's owner epoch; fn
// gets the encoded key and the next log seq.
func (p *Pebble) fencedWrite(ctx context.Context, k Key, epoch uint64, fn func(enc []byte, next uint64) error) error {
	enc, err := encodeKey(k)
	if err != nil {
		return err
	}
	if err := checkEpoch(epoch); err != nil {
		return err
	}
	if err := p.begin(ctx); err != nil {
		return err
	}
	defer p.mu.RUnlock()
	defer p.lock(enc).Unlock()
	next, err := p.fenced(enc, epoch)
	if err != nil {
		return err
	}
	return fn(enc, next)
}

// conditional runs change (which returns the version it stores, 0 for none)
// on k's document row, under k's stripe lock, iff
// epoch is k's owner epoch and the stored version is expect; durable before
// it returns nil.
func (p *Pebble) conditional(ctx context.Context, k Key, epoch uint64, expect int64, change func(b *pebble.Batch, key []byte) (version int64)) error {
	return p.fencedWrite(ctx, k, epoch, func(enc []byte, _ uint64) error {
		return p.conditionalLocked(enc, expect, change)
	})
}

func (p *Pebble) conditionalLocked(enc []byte, expect int64, change func(b *pebble.Batch, key []byte) (version int64)) error {
	var err error
	key := tableKey(tagDoc, enc, 0)
	st := p.stripe(enc)
	cur, cached := st.versions[string(enc)]
	if !cached {
		if cur, err = p.storedVersion(key); err != nil {
			return err
		}
	}
	if cur != expect {
		return ErrVersion
	}
	b := p.db.NewBatch()
	next := change(b, key)
	if err := p.commit(b); err != nil {
		delete(st.versions, string(enc))
		return err
	}
	if st.versions == nil || len(st.versions) >= maxOwnersPerStripe {
		st.versions = make(map[string]int64)
	}
	st.versions[string(enc)] = next
	return nil
}

func logKey(enc []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(tableKey(tagLog, enc, 8), seq)
}

// Append implements Store.
func (p *Pebble) Append(ctx context.Context, k Key, epoch uint64, data ...[]byte) (uint64, error) {
	if _, err := encodeKey(k); err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, fmt.Errorf("%w: nothing to append", ErrInvalidArgument)
	}
	var first uint64
	err := p.fencedWrite(ctx, k, epoch, func(enc []byte, next uint64) error {
		b := p.db.NewBatch()
		for i, d := range data {
			b.Set(logKey(enc, next+uint64(i)), d, nil)
		}
		b.Set(tableKey(tagOwner, enc, 0), ownerValue(epoch, next+uint64(len(data))), nil)
		if err := p.commit(b); err != nil {
			p.forgetOwner(enc)
			return err
		}
		p.cacheOwner(enc, epoch, next+uint64(len(data)))
		first = next
		return nil
	})
	if err != nil {
		return 0, err
	}
	return first, nil
}

// ReadLog implements Store.
func (p *Pebble) ReadLog(ctx context.Context, k Key, from uint64, limit int) ([]Entry, error) {
	enc, err := encodeKey(k)
	if err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	defer p.mu.RUnlock()
	upper := append(tableKey(tagLog, enc, 9), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	it, err := p.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: logKey(enc, from), UpperBound: upper})
	if err != nil {
		return nil, unavailable(err)
	}
	var out []Entry
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		key := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, unavailable(err)
		}
		out = append(out, Entry{Seq: binary.BigEndian.Uint64(key[len(key)-8:]), Data: append([]byte(nil), v...)})
	}
	if err := it.Close(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// Trim implements Store.
func (p *Pebble) Trim(ctx context.Context, k Key, epoch uint64, before uint64) error {
	return p.fencedWrite(ctx, k, epoch, func(enc []byte, _ uint64) error {
		if before <= 1 {
			return nil
		}
		b := p.db.NewBatch()
		b.DeleteRange(tableKey(tagLog, enc, 0), logKey(enc, before), nil)
		return p.commit(b)
	})
}

func indexKey(enc []byte, member string) []byte {
	return append(tableKey(tagIndex, enc, len(member)), member...)
}

// IndexPut implements Store.
func (p *Pebble) IndexPut(ctx context.Context, k Key, epoch uint64, member string, value []byte) error {
	return p.indexWrite(ctx, k, epoch, member, value, false)
}

// IndexDelete implements Store.
func (p *Pebble) IndexDelete(ctx context.Context, k Key, epoch uint64, member string) error {
	return p.indexWrite(ctx, k, epoch, member, nil, true)
}

func (p *Pebble) indexWrite(ctx context.Context, k Key, epoch uint64, member string, value []byte, del bool) error {
	if _, err := encodeKey(k); err != nil {
		return err
	}
	if err := checkMember(member); err != nil {
		return err
	}
	return p.fencedWrite(ctx, k, epoch, func(enc []byte, _ uint64) error {
		b := p.db.NewBatch()
		if del {
			b.Delete(indexKey(enc, member), nil)
		} else {
			b.Set(indexKey(enc, member), value, nil)
		}
		return p.commit(b)
	})
}

// IndexRange implements Store.
func (p *Pebble) IndexRange(ctx context.Context, k Key, after string, limit int) ([]IndexItem, error) {
	enc, err := encodeKey(k)
	if err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if err := p.begin(ctx); err != nil {
		return nil, err
	}
	defer p.mu.RUnlock()
	prefix := tableKey(tagIndex, enc, 0)
	lower := prefix
	if after != "" {
		lower = append(indexKey(enc, after), 0) // the smallest member > after
	}
	it, err := p.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: prefixSuccessor(prefix)})
	if err != nil {
		return nil, unavailable(err)
	}
	var out []IndexItem
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, unavailable(err)
		}
		out = append(out, IndexItem{Member: string(it.Key()[len(prefix):]), Value: append([]byte(nil), v...)})
	}
	if err := it.Close(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// prefixSuccessor returns the smallest key greater than every key with the
// given prefix, or nil when there is none.
func prefixSuccessor(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			s := append([]byte(nil), prefix[:i+1]...)
			s[i]++
			return s
		}
	}
	return nil
}

// Ping implements Store: the embedded store is reachable while open.
func (p *Pebble) Ping(ctx context.Context) error {
	if err := p.begin(ctx); err != nil {
		return err
	}
	p.mu.RUnlock()
	return nil
}

// Close implements Store. It waits for operations in flight.
func (p *Pebble) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.db.Close(); err != nil {
		return fmt.Errorf("store: close pebble: %w", err)
	}
	p.log.Info("store closed")
	return nil
}

// pebbleLogger routes Pebble's logs to slog.
type pebbleLogger struct{ l *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.l.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf must not return (Pebble's contract): it logs and panics.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.l.Error(msg)
	panic("store: pebble fatal: " + msg)
}

// Interface guards
var (
	_ Store         = (*Pebble)(nil)
	_ pebble.Logger = pebbleLogger{}
)
