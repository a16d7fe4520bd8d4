package membership

import (
	"fmt"

	json "github.com/goccy/go-json"
)

// Roles a node can have in memberlist.
const (
	RoleMember = "member" // hosts grains
	RoleClient = "client" // watches membership, never placed on
)

// maxMetaBytes is memberlist's limit on node metadata.
const maxMetaBytes = 512

// Meta is what a node advertises to its peers in memberlist metadata.
type Meta struct {
	ID       string   `json:"id"`              // actor system id = member id
	Host     string   `json:"host"`            // protoactor remote host
	Port     int      `json:"port"`            // protoactor remote port
	Kinds    []string `json:"kinds,omitempty"` // grain kinds hosted
	Role     string   `json:"role"`
	Name     string   `json:"name,omitempty"`       // stable node name (Raft server id)
	RaftAddr string   `json:"raft_addr,omitempty"`  // Raft transport address
	HTTPAddr string   `json:"http,omitempty"`       // gateway address
	Expect   int      `json:"expect,omitempty"`     // --bootstrap-expect
	Raft     bool     `json:"raft_state,omitempty"` // this node's data dir holds Raft state
}

func (m Meta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetaBytes {
		return nil, fmt.Errorf("membership: node meta is %d bytes, limit %d", len(b), maxMetaBytes)
	}
	return b, nil
}

func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("membership: bad node meta: %w", err)
	}
	return m, nil
}
