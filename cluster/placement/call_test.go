package placement

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// TestCallLocal checks the future-free local request path: a grain answers a
// Call and a future alike, a Call to a stopped grain is answered from the
// dead-letter event (not left to time out), and a grain that never answers
// times out.
func TestCallLocal(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	sub := sys.EventStream.Subscribe(func(e any) {
		if d, ok := e.(*actor.DeadLetterEvent); ok {
			deadLetter(d)
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	grain := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := Message(ctx.Message()).(*pb.RecordRead); ok {
			Reply(ctx, &pb.RecordReadReply{Exists: true, Data: []byte(m.Name)})
		}
	}))
	for i, name := range []string{"a", "b", "c"} { // pooled Calls are reused
		r, err := callLocal(sys, grain, &pb.RecordRead{Name: name}, 5*time.Second)
		if rr, ok := r.(*pb.RecordReadReply); err != nil || !ok || string(rr.Data) != name {
			t.Fatalf("call %d: %v %v", i, r, err)
		}
	}
	if r, err := sys.Root.RequestFuture(grain, &pb.RecordRead{Name: "f"}, 5*time.Second).Result(); err != nil || string(r.(*pb.RecordReadReply).Data) != "f" {
		t.Fatalf("future: %v %v", r, err)
	}
	if err := sys.Root.StopFuture(grain).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := callLocal(sys, grain, &pb.RecordRead{Name: "x"}, 5*time.Second); Reason(err) != pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION {
		t.Fatalf("call to a stopped grain: %v, want STALE_ACTIVATION from the dead letter", err)
	}
	mute := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	if _, err := callLocal(sys, mute, &pb.RecordRead{Name: "x"}, 50*time.Millisecond); Reason(err) != pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED {
		t.Fatalf("call to a silent grain: %v, want DEADLINE_EXCEEDED", err)
	}
}
