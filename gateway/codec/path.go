package codec

import "github.com/plexushq/plexus/actors/jsonpath"

// validPath reports whether p is a valid record path (deepstream.md §8.1), as the record grain parses it.
func validPath(p string) bool {
	_, err := jsonpath.Parse(p)
	return err == nil
}
