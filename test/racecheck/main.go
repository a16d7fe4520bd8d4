// Command racecheck reads the race detector's reports (files written with
// GORACE="log_path=PREFIX exitcode=0") and fails when a racing access is our
// own code: the first stack frame of any access section lies in
// github.com/plexushq/plexus. Reports whose accesses lie wholly in
// dependencies (protoactor-go has known races, notes §5) are listed, not
// failed.
//
// Usage: racecheck PREFIX
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const module = "github.com/plexushq/plexus/"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: racecheck LOG_PATH_PREFIX")
		os.Exit(2)
	}
	files, _ := filepath.Glob(os.Args[1] + "*")
	ours, theirs := 0, 0
	for _, f := range files {
		reports, err := readReports(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "racecheck:", err)
			os.Exit(2)
		}
		for _, r := range reports {
			if ownAccess(r) {
				ours++
				fmt.Printf("DATA RACE in our code (%s):\n%s\n", f, r)
			} else {
				theirs++
				fmt.Printf("known dependency race (%s): %s\n", f, firstFrame(r))
			}
		}
	}
	fmt.Printf("racecheck: %d race report(s) in our code, %d in dependencies only\n", ours, theirs)
	if ours > 0 {
		os.Exit(1)
	}
}

func readReports(path string) ([]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var out []string
	var cur []string
	in := false
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "==================") {
			if in && len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
			}
			cur, in = nil, !in
			continue
		}
		if in {
			cur = append(cur, line)
		}
	}
	return out, sc.Err()
}

// ownAccess reports whether the racing frame of any access section ("Read
// at", "Write at", "Previous write at", ...) is in our module.
func ownAccess(report string) bool {
	lines := strings.Split(report, "\n")
	for i := range lines {
		if fn := accessFrame(lines, i); strings.HasPrefix(fn, module) && !strings.Contains(fn, "/test/") {
			return true
		}
	}
	return false
}

// accessFrame returns the racing frame of the access section whose header is
// lines[i] ("" when lines[i] is no header): the first function that is not
// the runtime's (a map race's top frame is runtime.mapassign, the racing
// code its caller). Frames are function lines, each followed by its file.
func accessFrame(lines []string, i int) string {
	t := strings.TrimSpace(lines[i])
	if !(strings.Contains(t, " at 0x") || strings.HasPrefix(t, "Read at") || strings.HasPrefix(t, "Write at") || strings.HasPrefix(t, "Previous ")) {
		return ""
	}
	for j := i + 1; j < len(lines); j += 2 {
		fn := strings.TrimSpace(lines[j])
		if fn == "" {
			return ""
		}
		if !strings.HasPrefix(fn, "runtime.") && !strings.HasPrefix(fn, "internal/") && !strings.HasPrefix(fn, "sync/atomic.") {
			return fn
		}
	}
	return ""
}

func firstFrame(report string) string {
	lines := strings.Split(report, "\n")
	for i := range lines {
		if fn := accessFrame(lines, i); fn != "" {
			return fn
		}
	}
	return "?"
}
