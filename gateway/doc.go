// Package gateway is the HTTP edge: one fasthttp server that routes every API
// family, the deepstream HTTP batch API, health, readiness, metrics and the
// admin API. It reaches grains only through the Backend interface (the typed
// client in actors/client) and cluster facts only through the Cluster
// interface, both injected by cmd/embed.
//
// It must not import actors/<kind>, cluster/raftnode, memberlist or raft.
// Wire formats live in gateway/codec, which never imports fasthttp.
package gateway
