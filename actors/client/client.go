// Package client holds the typed clients callers (the gateway, other grains)
// use to reach grains, and the grain kind names. It knows message types and
// identities, never where a grain lives: that is the Requester's job
// (cluster/placement, injected by cmd/embed). It must not import gateway/,
// cluster/ or any transport.
package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Grain kinds.
const (
	KindRecord = "record"
	KindEvent  = "event"
)

// Requester delivers a message to a grain and returns its reply; a reply
// carrying a domain error comes back together with a non-nil error.
type Requester interface {
	Request(ctx context.Context, kind, identity string, msg proto.Message) (proto.Message, error)
}

// Identity is the grain identity of a name within an app. App ids never
// contain "/", so the first "/" separates them.
func Identity(app, name string) string { return app + "/" + name }

// SplitIdentity is the inverse of Identity.
func SplitIdentity(identity string) (app, name string) {
	for i := 0; i < len(identity); i++ {
		if identity[i] == '/' {
			return identity[:i], identity[i+1:]
		}
	}
	return "", identity
}

// Client is the typed client over a Requester.
type Client struct{ r Requester }

// New returns a typed client.
func New(r Requester) *Client { return &Client{r: r} }

func call[T proto.Message](ctx context.Context, c *Client, kind, identity string, msg proto.Message) (T, error) {
	var zero T
	reply, err := c.r.Request(ctx, kind, identity, msg)
	if reply == nil {
		if err == nil {
			err = fmt.Errorf("client: empty reply from %s", kind)
		}
		return zero, err
	}
	t, ok := reply.(T)
	if !ok {
		return zero, fmt.Errorf("client: %s answered %T", kind, reply)
	}
	return t, err
}

// RecordWrite writes a record. On a domain failure the reply (with current
// version and data) is returned together with the error.
func (c *Client) RecordWrite(ctx context.Context, m *pb.RecordWrite) (*pb.RecordWriteReply, error) {
	return call[*pb.RecordWriteReply](ctx, c, KindRecord, Identity(m.App, m.Name), m)
}

// RecordRead reads (and with Create, creates) a record.
func (c *Client) RecordRead(ctx context.Context, m *pb.RecordRead) (*pb.RecordReadReply, error) {
	return call[*pb.RecordReadReply](ctx, c, KindRecord, Identity(m.App, m.Name), m)
}

// RecordDelete deletes a record; a missing record is a success.
func (c *Client) RecordDelete(ctx context.Context, m *pb.RecordDelete) (*pb.RecordDeleteReply, error) {
	return call[*pb.RecordDeleteReply](ctx, c, KindRecord, Identity(m.App, m.Name), m)
}

// EventEmit emits an event to every subscriber of its name.
func (c *Client) EventEmit(ctx context.Context, m *pb.EventEmit) (*pb.EventEmitReply, error) {
	return call[*pb.EventEmitReply](ctx, c, KindEvent, Identity(m.App, m.Name), m)
}

// Interest registers or withdraws a relay's interest in a grain.
func (c *Client) Interest(ctx context.Context, m *pb.Interest) (*pb.InterestReply, error) {
	return call[*pb.InterestReply](ctx, c, m.Kind, Identity(m.App, m.Name), m)
}
