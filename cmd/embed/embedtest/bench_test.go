package embedtest_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexushq/plexus/cmd/embed/embedtest"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// BenchmarkRecordRoundTrip measures one typed-client call to a record grain:
// hop=local when the grain lives on the calling node, hop=remote when it
// lives on the other node (protoactor remote over loopback gRPC). Writes are
// durable (Pebble, fsync'd) before the reply.
func BenchmarkRecordRoundTrip(b *testing.B) {
	c := embedtest.New(b, 2)
	self := c.Nodes[0].Lookup().Self()
	pick := func(local bool) string {
		for i := 0; ; i++ {
			name := fmt.Sprintf("bench-%d", i)
			if (c.Nodes[0].Lookup().Owner("record", "default/"+name) == self) == local {
				return name
			}
		}
	}
	for _, hop := range []string{"local", "remote"} {
		name := pick(hop == "local")
		cl := c.Nodes[0].Client()
		ctx := context.Background()
		b.Run("op=read/hop="+hop, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cl.RecordRead(ctx, &pb.RecordRead{App: "default", Name: name}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("op=write/hop="+hop, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := cl.RecordWrite(ctx, &pb.RecordWrite{IdempotencyKey: hop + strconv.Itoa(i), App: "default", Name: name,
					Transport: pb.Transport_TRANSPORT_HTTP, Version: -1, Data: []byte(`{"n":1}`)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordWriteParallel measures durable writes from many concurrent
// callers to distinct records on one node (no HTTP): the group-commit path.
func BenchmarkRecordWriteParallel(b *testing.B) {
	c := embedtest.New(b, 1)
	cl := c.Nodes[0].Client()
	app := c.App()
	var seq atomic.Int64
	b.SetParallelism(128)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb_ *testing.PB) {
		for pb_.Next() {
			i := seq.Add(1)
			if _, err := cl.RecordWrite(context.Background(), &pb.RecordWrite{IdempotencyKey: strconv.FormatInt(i, 10), App: app, Name: "par-" + strconv.FormatInt(i%4096, 10),
				Transport: pb.Transport_TRANSPORT_HTTP, Version: -1, Data: []byte(`{"n":1}`)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}
