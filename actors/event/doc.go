// Package event is the event grain: one activation per (app, event name)
// that numbers emits as <epoch>-<seq>, keeps the last emits in memory for SSE
// resume, and fans each emit out once per interested node relay.
//
// The epoch comes from the Store's ownership counter, so ids stay unique when
// the grain moves. It must not import gateway/ or cluster/.
package event
