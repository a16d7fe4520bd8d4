package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	method, path, body, ok := adminRequest(rest)
	if !ok {
		fmt.Fprint(os.Stderr, adminUsage)
		return 2
	}
	return call(*addr, *token, method, path, body)
}

const adminUsage = `usage: plexus admin [--addr URL] [--token T] <command>

commands:
  cluster                         members, Raft leader and voters, grains per node
  apps list                       all apps with their credentials
  apps create NAME                create an app (prints its credentials)
  apps get ID                     one app
  apps delete ID                  delete an app
  apps disable ID | enable ID     disable or enable an app
  apps rotate ID KIND...          new credentials of the kinds named (key secret subscriber_key publisher_key app_token)
`

// adminRequest maps a command line to an admin API request.
func adminRequest(args []string) (method, path string, body []byte, ok bool) {
	if len(args) == 0 {
		return "", "", nil, false
	}
	jsonBody := func(v any) []byte { b, _ := json.Marshal(v); return b }
	switch {
	case args[0] == "cluster" && len(args) == 1:
		return http.MethodGet, "/admin/v1/cluster", nil, true
	case args[0] != "apps" || len(args) < 2:
		return "", "", nil, false
	}
	id := ""
	if len(args) > 2 {
		id = url.PathEscape(args[2])
	}
	switch {
	case args[1] == "list" && len(args) == 2:
		return http.MethodGet, "/admin/v1/apps?per_page=1000", nil, true
	case args[1] == "create" && len(args) == 3:
		return http.MethodPost, "/admin/v1/apps", jsonBody(map[string]string{"name": args[2]}), true
	case args[1] == "get" && len(args) == 3:
		return http.MethodGet, "/admin/v1/apps/" + id, nil, true
	case args[1] == "delete" && len(args) == 3:
		return http.MethodDelete, "/admin/v1/apps/" + id, nil, true
	case (args[1] == "disable" || args[1] == "enable") && len(args) == 3:
		return http.MethodPatch, "/admin/v1/apps/" + id, jsonBody(map[string]bool{"disabled": args[1] == "disable"}), true
	case args[1] == "rotate" && len(args) >= 4:
		return http.MethodPost, "/admin/v1/apps/" + id + "/rotate", jsonBody(map[string][]string{"kinds": args[3:]}), true
	}
	return "", "", nil, false
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
