package event

import (
	"google.golang.org/protobuf/proto"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

type pbReply = pb.EventEmitReply

// dedup remembers the replies of the last n idempotency keys (FIFO).
type dedup struct {
	n     int
	order []string
	m     map[string]proto.Message
}

func newDedup(n int) *dedup { return &dedup{n: n, m: make(map[string]proto.Message, n)} }

func (d *dedup) get(k string) (*pbReply, bool) {
	if k == "" {
		return nil, false
	}
	r, ok := d.m[k]
	if !ok {
		return nil, false
	}
	return r.(*pbReply), true
}

func (d *dedup) put(k string, r *pbReply) {
	if k == "" {
		return
	}
	if _, ok := d.m[k]; ok {
		return
	}
	if len(d.order) >= d.n {
		delete(d.m, d.order[0])
		d.order = d.order[1:]
	}
	d.order = append(d.order, k)
	d.m[k] = r
}
