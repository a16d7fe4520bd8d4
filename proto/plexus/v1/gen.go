// Package plexusv1 holds the protobuf messages that cross actor and node
// boundaries. It is generated from the .proto files beside it (make proto) and
// holds no hand-written logic.
package plexusv1

//go:generate protoc -I ../.. --go_out=../.. --go_opt=paths=source_relative plexus/v1/errors.proto plexus/v1/cluster.proto plexus/v1/grains.proto
