// Package cli owns the command line: subcommands, flags derived from one
// table (each also an env var PLEXUS_<FLAG> and a YAML key in --config, with
// precedence defaults < file < env < flags), and signals. The node itself is
// built by cmd/embed.
package cli
