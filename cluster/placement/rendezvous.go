package placement

import (
	"hash/fnv"

	"github.com/asynkron/protoactor-go/cluster"
)

// owner picks the member that owns identity among members hosting kind, by
// rendezvous hashing (highest FNV-1a of member address and identity). It
// returns nil when no member hosts kind.
func owner(members []*cluster.Member, kind, identity string) *cluster.Member {
	var best *cluster.Member
	var bestScore uint64
	for _, m := range members {
		if !m.HasKind(kind) {
			continue
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(m.Address()))
		_, _ = h.Write([]byte{0})
		_, _ = h.Write([]byte(identity))
		s := mix64(h.Sum64())
		if best == nil || s > bestScore || (s == bestScore && m.Address() < best.Address()) {
			best, bestScore = m, s
		}
	}
	return best
}

// mix64 is a 64-bit finaliser (the murmur3 fmix64 constants): FNV-1a alone
// barely mixes its last input bytes into the high bits, and member addresses
// on one host differ only in their last bytes.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
