package raftnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plexushq/plexus/cluster/fsm"
)

// Lease errors reported to the lost-lease callback of RunLeaseRenewer.
var (
	// ErrLeaseExpired means no renewal succeeded within the lease's local validity: self-fence.
	ErrLeaseExpired = errors.New("raftnode: lease expired")
	// ErrLeaseRevoked means the cluster refused the renewal because the member id was revoked: self-fence and
	// rejoin with a new member id.
	ErrLeaseRevoked = fmt.Errorf("raftnode: %w", fsm.ErrLeaseRevoked)
)

// LeaseConfig holds the lease timings (design: renew every 1 s, valid 5 s, counted locally valid for 4 s).
type LeaseConfig struct {
	// RenewInterval is the time between renewals; it also bounds each renewal attempt.
	RenewInterval time.Duration
	// Validity is the lease length committed in each renewal (expires_at = send time + Validity).
	Validity time.Duration
	// Margin is subtracted from Validity for the holder's own view, covering clock-rate drift between nodes.
	Margin time.Duration
}

// DefaultLeaseConfig returns the production lease timings.
func DefaultLeaseConfig() LeaseConfig {
	return LeaseConfig{RenewInterval: time.Second, Validity: 5 * time.Second, Margin: time.Second}
}

// TestLeaseConfig returns the test-profile lease timings.
func TestLeaseConfig() LeaseConfig {
	return LeaseConfig{RenewInterval: 100 * time.Millisecond, Validity: time.Second, Margin: 200 * time.Millisecond}
}

// Validate checks that a renewal fits comfortably inside the locally valid window.
func (c LeaseConfig) Validate() error {
	if c.RenewInterval <= 0 || c.Margin < 0 || c.Validity-c.Margin <= c.RenewInterval {
		return fmt.Errorf("raftnode: invalid lease config %+v: need 0 < renew interval < validity - margin", c)
	}
	return nil
}

// LeaseTracker is the holder's view of its own lease. The lease counts as valid only until the send time of the
// last successful renewal + Validity - Margin, measured on the local monotonic clock: pass time.Now() values
// (never .UTC()/.Round(0) copies, which drop the monotonic reading). A revoked tracker never becomes valid again.
// It is safe for concurrent use; storage writes call Valid before every write.
type LeaseTracker struct {
	cfg LeaseConfig

	mu         sync.Mutex
	validUntil time.Time
	held       bool
	revoked    bool
}

// NewLeaseTracker returns a tracker that is not yet valid.
func NewLeaseTracker(cfg LeaseConfig) *LeaseTracker { return &LeaseTracker{cfg: cfg} }

// Renewed records a successful renewal whose command was sent at sentAt. Older renewals never shorten the lease.
func (t *LeaseTracker) Renewed(sentAt time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.revoked {
		return
	}
	if u := sentAt.Add(t.cfg.Validity - t.cfg.Margin); u.After(t.validUntil) {
		t.validUntil = u
	}
	t.held = true
}

// Revoke marks the lease lost for good.
func (t *LeaseTracker) Revoke() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.revoked = true
}

// Valid reports whether the lease is valid at now.
func (t *LeaseTracker) Valid(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.held && !t.revoked && now.Before(t.validUntil)
}

// ValidUntil returns the local end of validity (zero before the first renewal).
func (t *LeaseTracker) ValidUntil() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.validUntil
}

// state returns whether the lease was ever held and whether it is now lost (expired after being held, or revoked).
func (t *LeaseTracker) lost(now time.Time) (held, lost bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.held, t.revoked || (t.held && !now.Before(t.validUntil))
}

// LeaseApplyFunc commits a command somewhere in the cluster, e.g. a closure over Node.ApplyAnywhere.
type LeaseApplyFunc func(ctx context.Context, cmd fsm.Command) (fsm.Result, error)

// RunLeaseRenewer renews memberID's lease every cfg.RenewInterval (the first renewal at once) until ctx ends, and
// records each success in t. It calls onLost once and returns the reason when the lease is lost: ErrLeaseRevoked
// if the cluster refuses the renewal, ErrLeaseExpired if no renewal succeeded within the local validity. Before
// the first success nothing is lost, it just keeps trying. It returns nil when ctx ends.
func RunLeaseRenewer(ctx context.Context, cfg LeaseConfig, t *LeaseTracker, memberID, serverID string,
	apply LeaseApplyFunc, onLost func(error), logger *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if logger == nil {
		logger = slog.Default()
	}
	lose := func(err error) error {
		t.Revoke()
		logger.Warn("lease lost", "member_id", memberID, "err", err)
		if onLost != nil {
			onLost(err)
		}
		return err
	}
	ticker := time.NewTicker(cfg.RenewInterval)
	defer ticker.Stop()
	for {
		sent := time.Now()
		if _, lost := t.lost(sent); lost {
			return lose(ErrLeaseExpired)
		}
		cmd := fsm.NewRenewLease(memberID, serverID, sent.Add(cfg.Validity), sent)
		actx, cancel := context.WithTimeout(ctx, cfg.RenewInterval)
		res, err := apply(actx, cmd)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			logger.Debug("lease renewal failed", "member_id", memberID, "err", err)
		case errors.Is(res.Err(), fsm.ErrLeaseRevoked):
			return lose(ErrLeaseRevoked)
		case res.Err() != nil:
			logger.Warn("lease renewal refused", "member_id", memberID, "err", res.Err())
		default:
			t.Renewed(sent)
		}
		var expiry <-chan time.Time
		var timer *time.Timer
		if held, _ := t.lost(time.Now()); held {
			timer = time.NewTimer(time.Until(t.ValidUntil()))
			expiry = timer.C
		}
		select {
		case <-ctx.Done():
		case <-ticker.C:
		case <-expiry:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}
