package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// admin calls the admin API: plexus admin [--addr] [--token] cluster.
func admin(args []string) int {
	fs := flag.NewFlagSet("plexus admin", flag.ContinueOnError)
	addr := fs.String("addr", envOr("PLEXUS_ADDR", "http://127.0.0.1:8080"), "node base URL (env PLEXUS_ADDR)")
	token := fs.String("token", os.Getenv("PLEXUS_ADMIN_TOKEN"), "admin token (env PLEXUS_ADMIN_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(os.Stderr, "usage: plexus admin [--addr URL] [--token T] cluster")
		return 2
	}
	var method, path string
	switch rest[0] {
	case "cluster":
		method, path = http.MethodGet, "/admin/v1/cluster"
	default:
		fmt.Fprintf(os.Stderr, "plexus admin: unknown command %q\n", rest[0])
		return 2
	}
	return call(*addr, *token, method, path, nil)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func call(base, token, method, path string, body []byte) int {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequest(method, strings.TrimRight(base, "/")+path, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "plexus admin:", err)
		return 1
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plexus admin:", err)
		return 1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") == nil {
		b = out.Bytes()
	}
	fmt.Println(string(b))
	if resp.StatusCode >= 300 {
		return 1
	}
	return 0
}
