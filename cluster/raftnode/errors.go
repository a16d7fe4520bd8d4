package raftnode

import (
	"errors"
	"fmt"
)

// Errors of Node operations. Application errors of a command are not among them: they are in fsm.Result.Err().
var (
	// ErrNotLeader means this node is not the leader; the error is a *NotLeaderError naming the leader if known.
	ErrNotLeader = errors.New("raftnode: not the leader")
	// ErrNoLeader means no leader is known yet (election in progress or no quorum). It matches ErrNotLeader too.
	ErrNoLeader = errors.New("raftnode: no leader")
	// ErrLeadershipLost means leadership was lost after the command was sent: its outcome is unknown, so retry
	// with the same request id.
	ErrLeadershipLost = errors.New("raftnode: leadership lost, outcome unknown")
	// ErrTimeout means the command could not be enqueued or committed in time: outcome unknown, retry.
	ErrTimeout = errors.New("raftnode: timed out, outcome unknown")
	// ErrStopped means the node is stopped or not started.
	ErrStopped = errors.New("raftnode: node stopped")
	// ErrExpectMismatch means servers advertise different bootstrap-expect values; refuse to bootstrap.
	ErrExpectMismatch = errors.New("raftnode: mismatched bootstrap expect values")
	// ErrTooManyPeers means more fresh servers than expected are visible; refuse to bootstrap rather than risk
	// two different configurations.
	ErrTooManyPeers = errors.New("raftnode: more servers than bootstrap expect")
	// ErrNotReady means the leader has not yet applied its barrier after winning the election.
	ErrNotReady = errors.New("raftnode: leader not ready for linearizable reads")
)

// NotLeaderError is returned by operations that need the leader. LeaderID and LeaderAddr are empty when no
// leader is known. errors.Is(err, ErrNotLeader) is true; errors.Is(err, ErrNoLeader) is true when unknown.
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return ErrNoLeader.Error()
	}
	return fmt.Sprintf("%v (leader %s at %s)", ErrNotLeader, e.LeaderID, e.LeaderAddr)
}

// Is matches ErrNotLeader, and ErrNoLeader when the leader is unknown.
func (e *NotLeaderError) Is(target error) bool {
	return target == ErrNotLeader || (target == ErrNoLeader && e.LeaderID == "")
}

// Retryable reports whether err leaves a command's outcome unknown or undone so that retrying it with the same
// request id (possibly on another node) is the right reaction.
func Retryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrLeadershipLost) || errors.Is(err, ErrTimeout)
}
