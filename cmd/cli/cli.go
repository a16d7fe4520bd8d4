package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/plexushq/plexus/cmd/embed"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// Main runs the command line and returns the exit status.
func Main(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "version":
		fmt.Println("plexus", Version)
		return 0
	case "admin":
		return admin(args[1:])
	case "bench":
		return bench(args[1:])
	case "help", "-h", "--help":
		usage(os.Stdout)
		return 0
	}
	fmt.Fprintf(os.Stderr, "plexus: unknown command %q\n", args[0])
	usage(os.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: plexus <command> [flags]

commands:
  serve     run a node (plexus serve --help lists the flags)
  admin     call the admin API (plexus admin cluster)
  bench     load-test a node (plexus bench records --help lists the flags)
  version   print the version
`)
}

// option is one row of the flag table: a flag, its env var and YAML key.
type option struct {
	name  string
	usage string
	get   func(c *embed.Config) string
	set   func(c *embed.Config, v string) error
	bool  bool
}

// flagValue holds a flag's raw string; boolFlag lets "--x" mean "--x=true".
type flagValue struct {
	v      string
	isBool bool
}

func (f *flagValue) String() string     { return f.v }
func (f *flagValue) Set(v string) error { f.v = v; return nil }
func (f *flagValue) IsBoolFlag() bool   { return f.isBool }

func str(p func(c *embed.Config) *string) (func(*embed.Config) string, func(*embed.Config, string) error) {
	return func(c *embed.Config) string { return *p(c) }, func(c *embed.Config, v string) error { *p(c) = v; return nil }
}

func options() []option {
	o := func(name, usage string, p func(c *embed.Config) *string) option {
		g, s := str(p)
		return option{name: name, usage: usage, get: g, set: s}
	}
	return []option{
		o("http", "client + admin HTTP listener", func(c *embed.Config) *string { return &c.HTTPAddr }),
		o("gossip", "memberlist bind address", func(c *embed.Config) *string { return &c.GossipAddr }),
		o("remote", "protoactor remote (gRPC) bind address", func(c *embed.Config) *string { return &c.RemoteAddr }),
		o("raft", "Raft transport bind address", func(c *embed.Config) *string { return &c.RaftAddr }),
		o("advertise-host", "host other nodes use to reach this one (default: bind host)", func(c *embed.Config) *string { return &c.AdvertiseHost }),
		{"join", "comma-separated gossip addresses of existing nodes",
			func(c *embed.Config) string { return strings.Join(c.Join, ",") },
			func(c *embed.Config, v string) error { c.Join = splitList(v); return nil }, false},
		{"bootstrap-expect", "number of Raft voters to wait for before bootstrapping",
			func(c *embed.Config) string { return strconv.Itoa(c.BootstrapExpect) },
			func(c *embed.Config, v string) error {
				n, err := strconv.Atoi(v)
				c.BootstrapExpect = n
				return err
			}, false},
		o("node-name", "stable node name (also the Raft server id)", func(c *embed.Config) *string { return &c.NodeName }),
		o("data-dir", "Raft log/snapshots, Pebble files, generated credentials", func(c *embed.Config) *string { return &c.DataDir }),
		o("store", "pebble or a postgres:// URL; a multi-node cluster needs Postgres", func(c *embed.Config) *string { return &c.Store }),
		{"allow-local-store", "let a multi-node (throwaway) cluster use the node-local pebble store",
			func(c *embed.Config) string { return strconv.FormatBool(c.AllowLocalStore) },
			func(c *embed.Config, v string) error {
				b, err := strconv.ParseBool(v)
				c.AllowLocalStore = b
				return err
			}, true},
		o("admin-token", "bearer token for /admin/v1/ (default: generated, printed once, saved in the data dir)", func(c *embed.Config) *string { return &c.AdminToken }),
		o("profile", "production or test (fast failure detection)", func(c *embed.Config) *string { return &c.Profile }),
		o("log-level", "debug, info, warn or error", func(c *embed.Config) *string { return &c.LogLevel }),
		o("log-format", "text or json", func(c *embed.Config) *string { return &c.LogFormat }),
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func envName(flagName string) string {
	return "PLEXUS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadConfig applies defaults < file < env < flags.
func loadConfig(args []string, stderr io.Writer) (embed.Config, error) {
	cfg := embed.DefaultConfig()
	opts := options()
	fs := flag.NewFlagSet("plexus serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := map[string]*flagValue{}
	for _, o := range opts {
		v := &flagValue{v: o.get(&cfg), isBool: o.bool}
		vals[o.name] = v
		fs.Var(v, o.name, o.usage+" (env "+envName(o.name)+")")
	}
	configPath := fs.String("config", os.Getenv("PLEXUS_CONFIG"), "YAML config file (keys as the flag names)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	byName := map[string]option{}
	for _, o := range opts {
		byName[o.name] = o
	}
	if *configPath != "" {
		b, err := os.ReadFile(*configPath)
		if err != nil {
			return cfg, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return cfg, fmt.Errorf("config %s: %w", *configPath, err)
		}
		for k, v := range m {
			o, ok := byName[k]
			if !ok {
				return cfg, fmt.Errorf("config %s: unknown key %q", *configPath, k)
			}
			sv := fmt.Sprint(v)
			if l, ok := v.([]any); ok {
				parts := make([]string, len(l))
				for i, e := range l {
					parts[i] = fmt.Sprint(e)
				}
				sv = strings.Join(parts, ",")
			}
			if err := o.set(&cfg, sv); err != nil {
				return cfg, fmt.Errorf("config key %s: %w", k, err)
			}
		}
	}
	for _, o := range opts {
		if v, ok := os.LookupEnv(envName(o.name)); ok {
			if err := o.set(&cfg, v); err != nil {
				return cfg, fmt.Errorf("%s: %w", envName(o.name), err)
			}
		}
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		if o, ok := byName[f.Name]; ok && ferr == nil {
			if err := o.set(&cfg, vals[f.Name].v); err != nil {
				ferr = fmt.Errorf("--%s: %w", f.Name, err)
			}
		}
	})
	if ferr != nil {
		return cfg, ferr
	}
	// Without --join, a bare start is a single node (notes §7 decision).
	return cfg, nil
}

func serve(args []string) int {
	cfg, err := loadConfig(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "plexus:", err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "plexus:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, err := embed.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plexus:", err)
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
	case err := <-node.Err():
		fmt.Fprintln(os.Stderr, "plexus:", err)
		code = 1
		if errors.Is(err, embed.ErrFenced) {
			code = embed.ExitFenced // a supervisor restarts us under a new member id
		}
	}
	// Hard deadline for the whole shutdown.
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hard := time.AfterFunc(25*time.Second, func() {
		fmt.Fprintln(os.Stderr, "plexus: shutdown deadline exceeded")
		os.Exit(1)
	})
	defer hard.Stop()
	if err := node.Stop(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "plexus: stop:", err)
	}
	return code
}
