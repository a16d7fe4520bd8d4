package placement

import (
	"errors"
	"fmt"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Error is a failure with a canonical reason, from a grain reply or from the
// wrapper itself.
type Error struct {
	Reason  pb.ErrorReason
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "placement: " + e.Reason.String()
	}
	return fmt.Sprintf("placement: %s: %s", e.Reason, e.Message)
}

// Reason returns the canonical reason of err, INTERNAL for unknown errors and
// UNSPECIFIED for nil.
func Reason(err error) pb.ErrorReason {
	if err == nil {
		return pb.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return pb.ErrorReason_ERROR_REASON_INTERNAL
}

// Errorf builds an *Error.
func Errorf(r pb.ErrorReason, format string, args ...any) error {
	return &Error{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// ErrMissingIdempotencyKey is returned for a mutating message without a key.
var ErrMissingIdempotencyKey = &Error{Reason: pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, Message: "mutating message without idempotency key"}

// GetReason returns the canonical reason (lets callers outside this package
// read it without importing it).
func (e *Error) GetReason() pb.ErrorReason { return e.Reason }
