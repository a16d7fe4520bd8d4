package gateway

import (
	"testing"

	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// Every ErrorReason has an HTTP status in the one table.
func TestGatewayEveryReasonHasStatus(t *testing.T) {
	for v, name := range pb.ErrorReason_name {
		st, ok := reasonStatus[pb.ErrorReason(v)]
		if !ok || st < 400 || st > 599 {
			t.Errorf("%s: status %d (mapped: %v)", name, st, ok)
		}
	}
}

func TestGatewayOpenAuth(t *testing.T) {
	for in, want := range map[string]bool{`{}`: true, `{"username":"alice"}`: true, `{"username":5}`: false, `{"username":null}`: false, `{"x":1}`: true} {
		if got := openAuthAccepts([]byte(in)); got != want {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
}
