// Package membership discovers cluster members with hashicorp/memberlist and
// feeds protoactor-go's cluster the complete set of live, placeable members.
//
// It is our ClusterProvider: the member id is the actor system id (fresh per
// process start), node metadata travels as JSON in memberlist meta, nothing is
// published before the node joined its seeds, and the full set is pushed from
// one goroutine on every change and again every second. It must never import
// gateway/, actors/, raft or fasthttp; placement gates such as Raft leases
// arrive as a Filter function from cmd/embed.
package membership
