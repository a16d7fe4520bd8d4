package gateway

import "sync"

// usage counts messages per app (design §7 usage counters; deepstream.md
// §11.1: each HTTP command is one message). Node-local.
type usage struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (u *usage) add(app string, n uint64) {
	u.mu.Lock()
	if u.m == nil {
		u.m = map[string]uint64{}
	}
	u.m[app] += n
	u.mu.Unlock()
}

func (u *usage) get(app string) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.m[app]
}
