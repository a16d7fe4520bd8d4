// Command plexus is the Plexus server, admin client and benchmark tool.
package main

import (
	"os"

	"github.com/plexushq/plexus/cmd/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
