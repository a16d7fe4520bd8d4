// Package embed is the composition root: Start(ctx, Config) wires the store,
// the actor system with our cluster provider and identity lookup, the grain
// kinds, the node relay and the gateway into one running Node, and Stop tears
// them down in the order design notes §8.4 give. Only cmd/ imports it;
// embedtest runs N full nodes of it in one test process.
package embed
