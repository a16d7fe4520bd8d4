package placement

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// ClientConfig tunes the request wrapper (notes §4).
type ClientConfig struct {
	// PerAttempt bounds one send/reply round trip.
	PerAttempt time.Duration
	// DefaultTimeout bounds a whole call (all attempts) when the caller's
	// context has no earlier deadline.
	DefaultTimeout time.Duration
	// BackoffBase and BackoffMax bound the jittered exponential backoff.
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

// DefaultClientConfig returns the production settings.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{PerAttempt: time.Second, DefaultTimeout: 5 * time.Second, BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second}
}

// Client sends requests to grains wherever they live. It is the only way
// callers reach grains (never cluster.Request).
type Client struct {
	l   *Lookup
	cfg ClientConfig
}

// NewClient returns a Client over l.
func NewClient(l *Lookup, cfg ClientConfig) *Client {
	d := DefaultClientConfig()
	if cfg.PerAttempt <= 0 {
		cfg.PerAttempt = d.PerAttempt
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = d.DefaultTimeout
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = d.BackoffBase
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = d.BackoffMax
	}
	return &Client{l: l, cfg: cfg}
}

// idempotent is implemented by every mutating grain message.
type idempotent interface{ GetIdempotencyKey() string }

// withError is implemented by every grain reply.
type withError interface{ GetError() *pb.Error }

// Mutating reports whether msg must carry an idempotency key.
func Mutating(msg proto.Message) bool {
	switch m := msg.(type) {
	case *pb.RecordRead:
		return m.Create
	case idempotent:
		return true
	}
	return false
}

// Request sends msg to the grain (kind, identity) and returns its reply. It
// retries on timeouts, moved or stale activations and members that left,
// until ctx (or the default timeout) ends; a retried mutating message keeps
// its idempotency key, so the grain applies it at most once. A reply whose
// Error is a domain failure is returned as an *Error together with the reply.
func (c *Client) Request(ctx context.Context, kind, identity string, msg proto.Message) (proto.Message, error) {
	if Mutating(msg) {
		if k, ok := msg.(idempotent); !ok || k.GetIdempotencyKey() == "" {
			return nil, ErrMissingIdempotencyKey
		}
	}
	// The whole call's deadline is kept as a time, not a derived context:
	// every wait below is bounded by it (futures by their timeout, sleeps by
	// their timer), and the caller's ctx is still watched for cancellation.
	dl := time.Now().Add(c.cfg.DefaultTimeout)
	if cdl, ok := ctx.Deadline(); ok && cdl.Before(dl) {
		dl = cdl
	}
	var last error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := c.sleep(ctx, dl, attempt); err != nil {
				if last == nil {
					last = err
				}
				return nil, last
			}
		}
		reply, err := c.attempt(ctx, dl, kind, identity, msg)
		if err == nil {
			return reply, nil
		}
		last = err
		if !retryable(Reason(err)) {
			return reply, err
		}
	}
}

func (c *Client) attempt(ctx context.Context, dl time.Time, kind, identity string, msg proto.Message) (proto.Message, error) {
	rt, err := c.l.get(ctx, dl, kind, identity)
	if err != nil {
		return nil, err
	}
	pid := rt.pid
	timeout := min(c.cfg.PerAttempt, time.Until(dl))
	if timeout <= 0 {
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded")
	}
	var res any
	if rt.local {
		// timeout ≤ the call's remaining time, and a local target cannot leave
		res, err = callLocal(rt.cl.ActorSystem, pid, msg, timeout)
	} else {
		f := rt.cl.ActorSystem.Root.RequestFuture(pid, msg, timeout)
		res, err = waitFuture(ctx, f, c.l.goneCh(pid.Address))
	}
	if err != nil {
		c.l.evict(kind, identity, pid)
		return nil, err
	}
	reply, ok := res.(proto.Message)
	if !ok {
		c.l.evict(kind, identity, pid)
		return nil, Errorf(pb.ErrorReason_ERROR_REASON_INTERNAL, "grain answered %T", res)
	}
	if we, ok := reply.(withError); ok {
		if e := we.GetError(); e != nil && e.Reason != pb.ErrorReason_ERROR_REASON_UNSPECIFIED {
			if retryable(e.Reason) {
				c.l.evict(kind, identity, pid)
			}
			return reply, &Error{Reason: e.Reason, Message: e.Message}
		}
	}
	return reply, nil
}

// retryable reasons mean "ask again, probably elsewhere".
func retryable(r pb.ErrorReason) bool {
	switch r {
	case pb.ErrorReason_ERROR_REASON_NOT_OWNER,
		pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION,
		pb.ErrorReason_ERROR_REASON_SHUTTING_DOWN,
		pb.ErrorReason_ERROR_REASON_UNAVAILABLE,
		pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED:
		return true
	}
	return false
}

// sleep waits a jittered exponential backoff: base·2^(n-1), capped, with
// "equal jitter" (half fixed, half random); it fails when the deadline dl
// comes first or ctx ends.
func (c *Client) sleep(ctx context.Context, dl time.Time, attempt int) error {
	d := c.cfg.BackoffBase << min(attempt-1, 16)
	if d > c.cfg.BackoffMax || d <= 0 {
		d = c.cfg.BackoffMax
	}
	d = d/2 + rand.N(d/2+1)
	if time.Until(dl) < d {
		return Errorf(pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "deadline exceeded")
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return Errorf(pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED, "%v", ctx.Err())
	}
}
