// Package relay is the node relay: one actor per node that receives each
// grain message once per node and hands it to the node's local sessions, and
// registers this node's interest with the grains its sessions follow
// (re-registering on every topology change, design §3.5). It also holds the
// Interests set grains use to fan out once per interested node.
//
// It must not import gateway/ or cluster/: grains are reached through the
// client.Requester that cmd/embed injects, and sessions through the Sink
// interface.
package relay
