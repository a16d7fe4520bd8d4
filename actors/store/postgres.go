package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Group-commit tuning for Postgres.
const (
	// pgMaxBatch caps how many writes share one transaction.
	pgMaxBatch = 256
	// pgBatchWindow is how long the committer waits for more writes once
	// the previous transaction carried more than one, so that writers woken
	// by the same commit can join the next one. A lone writer never waits.
	pgBatchWindow = 200 * time.Microsecond
	// pgBatchTimeout bounds one transaction when no waiting caller has a
	// deadline.
	pgBatchTimeout = 30 * time.Second
	// pgConnectTimeout bounds dialing a new connection.
	pgConnectTimeout = 5 * time.Second
	// pgMigrationLock is the advisory lock key that serialises migrations
	// of nodes opening the same database at once.
	pgMigrationLock = 0x706c657875730001
)

// pgMigrations are applied in order; index i holds migration i+1. Never edit
// a released migration: append a new one.
var pgMigrations = []string{
	// 1: owners/epochs, documents, logs and indexes. Keys are the bytea
	// encoding of Key (appendKey), members are bytea so that they compare
	// by bytes whatever the collation.
	`CREATE TABLE plexus_owners (
		k        bytea  PRIMARY KEY,
		epoch    bigint NOT NULL,
		next_seq bigint NOT NULL DEFAULT 1
	);
	CREATE TABLE plexus_docs (
		k       bytea  PRIMARY KEY,
		version bigint NOT NULL,
		data    bytea  NOT NULL
	);
	CREATE TABLE plexus_logs (
		k    bytea  NOT NULL,
		seq  bigint NOT NULL,
		data bytea  NOT NULL,
		PRIMARY KEY (k, seq)
	);
	CREATE TABLE plexus_index (
		k      bytea NOT NULL,
		member bytea NOT NULL,
		value  bytea NOT NULL,
		PRIMARY KEY (k, member)
	);`,
}

// Write statements. Each write is one statement that locks the owner row
// (FOR SHARE, or UPDATE for Append) so that a concurrent Acquire on another
// node either waits for this transaction or fences this write, applies its
// change only when the epoch (and version) match, and returns one status row:
// the current epoch and whether the change applied. A failed condition is a
// row, never an error, so it does not abort the shared transaction.
const (
	sqlAcquire = `INSERT INTO plexus_owners AS o (k, epoch, next_seq) VALUES ($1, 1, 1)
ON CONFLICT (k) DO UPDATE SET epoch = o.epoch + 1 RETURNING epoch`

	sqlOwnerCTE = `WITH o AS (SELECT epoch FROM plexus_owners WHERE k = $1 FOR SHARE), `

	sqlInsertDoc = sqlOwnerCTE + `w AS (INSERT INTO plexus_docs (k, version, data)
	SELECT $1, $4, $5 FROM o WHERE o.epoch = $2 AND $3::bigint = 0
	ON CONFLICT (k) DO NOTHING RETURNING 1)
SELECT COALESCE((SELECT epoch FROM o), 0), EXISTS (SELECT FROM w)`

	sqlUpdateDoc = sqlOwnerCTE + `w AS (UPDATE plexus_docs d SET version = $4, data = $5 FROM o
	WHERE d.k = $1 AND d.version = $3 AND o.epoch = $2 RETURNING 1)
SELECT COALESCE((SELECT epoch FROM o), 0), EXISTS (SELECT FROM w)`

	sqlDeleteDoc = sqlOwnerCTE + `w AS (DELETE FROM plexus_docs d USING o
	WHERE d.k = $1 AND d.version = $3 AND o.epoch = $2 RETURNING 1)
SELECT COALESCE((SELECT epoch FROM o), 0), EXISTS (SELECT FROM w)`

	sqlAppend = `WITH o AS (UPDATE plexus_owners SET next_seq = next_seq + cardinality($3::bytea[])
	WHERE k = $1 AND epoch = $2 RETURNING next_seq - cardinality($3::bytea[]) AS first),
w AS (INSERT INTO plexus_logs (k, seq, data)
	SELECT $1, o.first + t.ord - 1, t.d FROM o, unnest($3::bytea[]) WITH ORDINALITY AS t(d, ord))
SELECT (SELECT first FROM o)`

	sqlTrim = sqlOwnerCTE + `w AS (DELETE FROM plexus_logs l USING o
	WHERE l.k = $1 AND l.seq < $3 AND o.epoch = $2)
SELECT COALESCE((SELECT epoch FROM o), 0)`

	sqlIndexPut = sqlOwnerCTE + `w AS (INSERT INTO plexus_index (k, member, value)
	SELECT $1, $3, $4 FROM o WHERE o.epoch = $2
	ON CONFLICT (k, member) DO UPDATE SET value = EXCLUDED.value)
SELECT COALESCE((SELECT epoch FROM o), 0)`

	sqlIndexDelete = sqlOwnerCTE + `w AS (DELETE FROM plexus_index i USING o
	WHERE i.k = $1 AND i.member = $3 AND o.epoch = $2)
SELECT COALESCE((SELECT epoch FROM o), 0)`

	sqlGet        = `SELECT version, data FROM plexus_docs WHERE k = $1`
	sqlReadLog    = `SELECT seq, data FROM plexus_logs WHERE k = $1 AND seq >= $2 ORDER BY seq LIMIT $3`
	sqlIndexRange = `SELECT member, value FROM plexus_index WHERE k = $1 AND member > $2 ORDER BY member LIMIT $3`
)

type pgOpKind uint8

const (
	opAcquire pgOpKind = iota
	opPut
	opDelete
	opAppend
	opTrim
	opIndexPut
	opIndexDelete
)

// Life cycle of a pgOp, in pgOp.state.
const (
	opPending   int32 = iota // queued, the caller still waits
	opRunning                // taken by the committer
	opAbandoned              // the caller's ctx ended before the committer took it
)

// pgOp is one write waiting for the committer.
type pgOp struct {
	kind    pgOpKind
	key     []byte
	epoch   int64
	expect  int64
	version int64
	data    []byte   // doc data or index value
	entries [][]byte // Append
	member  []byte   // index member
	before  int64    // Trim
	dl      time.Time

	state atomic.Int32
	done  chan struct{} // closed by the committer once res and err are set
	res   uint64        // Acquire: epoch; Append: first seq
	err   error
}

// Postgres is the shared multi-node Store. Reads go straight to the pool;
// writes are queued to a single committer goroutine that runs every write
// queued at that moment (up to pgMaxBatch) in one transaction and commits
// once, with synchronous_commit=on, before answering any of them.
type Postgres struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	ops       chan *pgOp
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed by the committer when it has exited
	closed    atomic.Bool
	closeOnce sync.Once
}

// OpenPostgres connects to url, applies pending schema migrations and starts
// the committer goroutine, which Close stops. If the database cannot be
// reached the error wraps ErrUnavailable.
func OpenPostgres(ctx context.Context, url string, opts Options) (*Postgres, error) {
	log := opts.logger().With("backend", "postgres")
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse postgres url: %w", err)
	}
	size := opts.PoolSize
	if size <= 0 {
		size = 16
	}
	cfg.MaxConns = int32(size)
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > pgConnectTimeout {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "plexus"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres pool: %w", err)
	}
	if err := migrate(ctx, pool, log); err != nil {
		pool.Close()
		return nil, err
	}
	p := &Postgres{
		pool: pool,
		log:  log,
		ops:  make(chan *pgOp, 4*pgMaxBatch),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go p.commitLoop()
	log.Info("store opened", "host", cfg.ConnConfig.Host, "database", cfg.ConnConfig.Database, "pool_size", size)
	return p, nil
}

// migrate applies the migrations newer than the database's schema version,
// in one transaction under an advisory lock.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return pgError("migrate", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrationLock)); err != nil {
		return pgError("migrate", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS plexus_schema_migrations (
		version    integer     PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return pgError("migrate", err)
	}
	var cur int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM plexus_schema_migrations`).Scan(&cur); err != nil {
		return pgError("migrate", err)
	}
	if cur > len(pgMigrations) {
		return fmt.Errorf("store: postgres schema version %d is newer than this binary's %d", cur, len(pgMigrations))
	}
	for v := cur + 1; v <= len(pgMigrations); v++ {
		if _, err := tx.Exec(ctx, pgMigrations[v-1]); err != nil {
			return pgError(fmt.Sprintf("migration %d", v), err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO plexus_schema_migrations (version) VALUES ($1)`, v); err != nil {
			return pgError(fmt.Sprintf("migration %d", v), err)
		}
		log.Info("store schema migrated", "version", v)
	}
	if err := tx.Commit(ctx); err != nil {
		return pgError("migrate", err)
	}
	return nil
}

// pgError classifies err: connection-level failures wrap ErrUnavailable,
// errors reported by the server for the statement itself do not.
func pgError(what string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),                           // insufficient resources
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // shutdown, cannot connect now
			return unavailable(fmt.Errorf("postgres %s: %w", what, err))
		}
		return fmt.Errorf("store: postgres %s: %w", what, err)
	}
	return unavailable(fmt.Errorf("postgres %s: %w", what, err))
}

// readError classifies an error of a read run with the caller's ctx.
func readError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("store: postgres %s: %w", what, errors.Join(ctx.Err(), err))
	}
	return pgError(what, err)
}

// submit queues op for the committer and waits for its answer or ctx.
func (p *Postgres) submit(ctx context.Context, op *pgOp) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	op.done = make(chan struct{})
	op.dl, _ = ctx.Deadline()
	select {
	case p.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.stop:
		return ErrClosed
	}
	select {
	case <-op.done:
		return op.err
	case <-p.done:
		// The committer answers every op it takes before exiting.
		select {
		case <-op.done:
			return op.err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		if op.state.CompareAndSwap(opPending, opAbandoned) {
			return ctx.Err()
		}
		// Already running: the outcome is unknown to the caller.
		return fmt.Errorf("store: postgres write outcome unknown: %w", ctx.Err())
	}
}

// commitLoop is the committer goroutine: it owns every transaction that
// writes. It exits when Close closes stop, after answering queued ops with
// ErrClosed.
func (p *Postgres) commitLoop() {
	defer close(p.done)
	batch := make([]*pgOp, 0, pgMaxBatch)
	last := 0
	var timer *time.Timer
	for {
		select {
		case <-p.stop:
			p.drainClosed()
			return
		case op := <-p.ops:
			batch = append(batch, op)
		}
	collect:
		for len(batch) < pgMaxBatch {
			select {
			case op := <-p.ops:
				batch = append(batch, op)
				continue
			default:
			}
			if last <= 1 {
				break
			}
			if timer == nil {
				timer = time.NewTimer(pgBatchWindow)
			} else {
				timer.Reset(pgBatchWindow)
			}
			select {
			case op := <-p.ops:
				batch = append(batch, op)
			case <-timer.C:
				break collect
			case <-p.stop:
				timer.Stop()
				break collect
			}
		}
		if timer != nil {
			timer.Stop()
		}
		last = p.execute(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// drainClosed answers every queued op with ErrClosed.
func (p *Postgres) drainClosed() {
	for {
		select {
		case op := <-p.ops:
			op.err = ErrClosed
			close(op.done)
		default:
			return
		}
	}
}

// execute runs the live ops of batch in one transaction and answers them all.
// It returns how many ops it ran.
func (p *Postgres) execute(batch []*pgOp) int {
	live := batch[:0:0]
	var dl time.Time
	noDeadline := false
	for _, op := range batch {
		if !op.state.CompareAndSwap(opPending, opRunning) {
			continue // the caller gave up before we started
		}
		live = append(live, op)
		if op.dl.IsZero() {
			noDeadline = true
		} else if op.dl.After(dl) {
			dl = op.dl
		}
	}
	if len(live) == 0 {
		return 0
	}
	if noDeadline || time.Until(dl) > pgBatchTimeout {
		dl = time.Now().Add(pgBatchTimeout)
	}
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()

	err := p.runTx(ctx, live)
	if err != nil && len(live) > 1 && !errors.Is(err, ErrUnavailable) {
		// A statement error (a deadlock with another node, an oversized
		// value) aborted the shared transaction: nothing of it applied.
		// Run each op alone so one bad op cannot fail the others.
		p.log.Debug("store group commit failed, retrying ops one by one", "ops", len(live), "err", err)
		for _, op := range live {
			if err := p.runTx(ctx, []*pgOp{op}); err != nil {
				op.res, op.err = 0, err
			}
			close(op.done)
		}
		return len(live)
	}
	for _, op := range live {
		if err != nil {
			op.res, op.err = 0, err
		}
		close(op.done)
	}
	return len(live)
}

// runTx runs ops in one transaction, setting each op's provisional result,
// and commits. The statements go out as one pipelined batch, which Postgres
// runs as one implicit transaction committed at its end: one round trip
// and one commit for the whole group. On error nothing was applied, except
// when the connection failed during the commit itself, whose outcome is
// unknown; connection failures wrap ErrUnavailable.
func (p *Postgres) runTx(ctx context.Context, ops []*pgOp) error {
	b := &pgx.Batch{}
	for _, op := range ops {
		queue(b, op)
	}
	br := p.pool.SendBatch(ctx, b)
	for _, op := range ops {
		if err := scan(br.QueryRow(), op); err != nil {
			br.Close()
			return pgError("write", err)
		}
	}
	if err := br.Close(); err != nil {
		return pgError("commit", err)
	}
	return nil
}

func queue(b *pgx.Batch, op *pgOp) {
	switch op.kind {
	case opAcquire:
		b.Queue(sqlAcquire, op.key)
	case opPut:
		q := sqlUpdateDoc
		if op.expect == 0 {
			q = sqlInsertDoc
		}
		b.Queue(q, op.key, op.epoch, op.expect, op.version, op.data)
	case opDelete:
		b.Queue(sqlDeleteDoc, op.key, op.epoch, op.expect)
	case opAppend:
		b.Queue(sqlAppend, op.key, op.epoch, op.entries)
	case opTrim:
		b.Queue(sqlTrim, op.key, op.epoch, op.before)
	case opIndexPut:
		b.Queue(sqlIndexPut, op.key, op.epoch, op.member, op.data)
	case opIndexDelete:
		b.Queue(sqlIndexDelete, op.key, op.epoch, op.member)
	}
}

// scan reads op's status row into its provisional result. Only a statement
// or connection error is returned; a failed condition sets op.err.
func scan(row pgx.Row, op *pgOp) error {
	op.res, op.err = 0, nil
	switch op.kind {
	case opAcquire:
		var epoch int64
		if err := row.Scan(&epoch); err != nil {
			return err
		}
		op.res = uint64(epoch)
	case opPut, opDelete:
		var epoch int64
		var applied bool
		if err := row.Scan(&epoch, &applied); err != nil {
			return err
		}
		switch {
		case epoch != op.epoch:
			op.err = ErrFenced
		case !applied:
			op.err = ErrVersion
		}
	case opAppend:
		var first *int64
		if err := row.Scan(&first); err != nil {
			return err
		}
		if first == nil {
			op.err = ErrFenced
		} else {
			op.res = uint64(*first)
		}
	default:
		var epoch int64
		if err := row.Scan(&epoch); err != nil {
			return err
		}
		if epoch != op.epoch {
			op.err = ErrFenced
		}
	}
	return nil
}

// Acquire implements Store.
func (p *Postgres) Acquire(ctx context.Context, k Key) (uint64, error) {
	enc, err := encodeKey(k)
	if err != nil {
		return 0, err
	}
	op := &pgOp{kind: opAcquire, key: enc}
	if err := p.submit(ctx, op); err != nil {
		return 0, err
	}
	return op.res, nil
}

// Put implements Store.
func (p *Postgres) Put(ctx context.Context, k Key, epoch uint64, expect int64, doc Doc) error {
	enc, err := encodeKey(k)
	if err != nil {
		return err
	}
	ver, err := newVersion(expect, doc)
	if err != nil {
		return err
	}
	if err := checkEpoch(epoch); err != nil {
		return err
	}
	data := doc.Data
	if data == nil {
		data = []byte{}
	}
	return p.submit(ctx, &pgOp{kind: opPut, key: enc, epoch: int64(epoch), expect: expect, version: ver, data: data})
}

// Delete implements Store.
func (p *Postgres) Delete(ctx context.Context, k Key, epoch uint64, expect int64) error {
	enc, err := encodeKey(k)
	if err != nil {
		return err
	}
	if expect <= 0 {
		return fmt.Errorf("%w: delete needs the current version", ErrInvalidArgument)
	}
	if err := checkEpoch(epoch); err != nil {
		return err
	}
	return p.submit(ctx, &pgOp{kind: opDelete, key: enc, epoch: int64(epoch), expect: expect})
}

// Append implements Store.
func (p *Postgres) Append(ctx context.Context, k Key, epoch uint64, data ...[]byte) (uint64, error) {
	enc, err := encodeKey(k)
	if err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, fmt.Errorf("%w: nothing to append", ErrInvalidArgument)
	}
	if err := checkEpoch(epoch); err != nil {
		return 0, err
	}
	entries := make([][]byte, len(data))
	for i, d := range data {
		if d == nil {
			d = []byte{}
		}
		entries[i] = d
	}
	op := &pgOp{kind: opAppend, key: enc, epoch: int64(epoch), entries: entries}
	if err := p.submit(ctx, op); err != nil {
		return 0, err
	}
	return op.res, nil
}

// Trim implements Store.
func (p *Postgres) Trim(ctx context.Context, k Key, epoch uint64, before uint64) error {
	enc, err := encodeKey(k)
	if err != nil {
		return err
	}
	if err := checkEpoch(epoch); err != nil {
		return err
	}
	if before > 1<<63-1 {
		before = 1<<63 - 1
	}
	return p.submit(ctx, &pgOp{kind: opTrim, key: enc, epoch: int64(epoch), before: int64(before)})
}

// IndexPut implements Store.
func (p *Postgres) IndexPut(ctx context.Context, k Key, epoch uint64, member string, value []byte) error {
	enc, err := encodeKey(k)
	if err != nil {
		return err
	}
	if err := checkMember(member); err != nil {
		return err
	}
	if err := checkEpoch(epoch); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	return p.submit(ctx, &pgOp{kind: opIndexPut, key: enc, epoch: int64(epoch), member: []byte(member), data: value})
}

// IndexDelete implements Store.
func (p *Postgres) IndexDelete(ctx context.Context, k Key, epoch uint64, member string) error {
	enc, err := encodeKey(k)
	if err != nil {
		return err
	}
	if err := checkMember(member); err != nil {
		return err
	}
	if err := checkEpoch(epoch); err != nil {
		return err
	}
	return p.submit(ctx, &pgOp{kind: opIndexDelete, key: enc, epoch: int64(epoch), member: []byte(member)})
}

// Get implements Store.
func (p *Postgres) Get(ctx context.Context, k Key) (Doc, bool, error) {
	enc, err := encodeKey(k)
	if err != nil {
		return Doc{}, false, err
	}
	if p.closed.Load() {
		return Doc{}, false, ErrClosed
	}
	var d Doc
	err = p.pool.QueryRow(ctx, sqlGet, enc).Scan(&d.Version, &d.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return Doc{}, false, nil
	}
	if err != nil {
		return Doc{}, false, readError(ctx, "get", err)
	}
	return d, true, nil
}

// rangeKey checks a range read's arguments and returns the encoded key.
func (p *Postgres) rangeKey(k Key, limit int) ([]byte, error) {
	enc, err := encodeKey(k)
	if err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if p.closed.Load() {
		return nil, ErrClosed
	}
	return enc, nil
}

// ReadLog implements Store.
func (p *Postgres) ReadLog(ctx context.Context, k Key, from uint64, limit int) ([]Entry, error) {
	enc, err := p.rangeKey(k, limit)
	if err != nil {
		return nil, err
	}
	if from > 1<<63-1 {
		return nil, nil
	}
	rows, _ := p.pool.Query(ctx, sqlReadLog, enc, int64(from), limit) // CollectRows reports a query error
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) {
		var seq int64
		var data []byte
		err := r.Scan(&seq, &data)
		return Entry{Seq: uint64(seq), Data: data}, err
	})
	if err != nil {
		return nil, readError(ctx, "read log", err)
	}
	return out, nil
}

// IndexRange implements Store.
func (p *Postgres) IndexRange(ctx context.Context, k Key, after string, limit int) ([]IndexItem, error) {
	enc, err := p.rangeKey(k, limit)
	if err != nil {
		return nil, err
	}
	rows, _ := p.pool.Query(ctx, sqlIndexRange, enc, []byte(after), limit) // CollectRows reports a query error
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (IndexItem, error) {
		var member, value []byte
		err := r.Scan(&member, &value)
		return IndexItem{Member: string(member), Value: value}, err
	})
	if err != nil {
		return nil, readError(ctx, "index range", err)
	}
	return out, nil
}

// Ping implements Store.
func (p *Postgres) Ping(ctx context.Context) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if err := p.pool.Ping(ctx); err != nil {
		return unavailable(fmt.Errorf("postgres ping: %w", err))
	}
	return nil
}

// Close implements Store: it stops accepting writes, lets the transaction in
// flight finish, answers queued writes with ErrClosed, stops the committer
// and closes the pool.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		close(p.stop)
		<-p.done
		p.pool.Close()
		p.log.Info("store closed")
	})
	return nil
}

// Interface guards
var _ Store = (*Postgres)(nil)
