package pgtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ErrNoBinaries means no PostgreSQL server binaries were found.
var ErrNoBinaries = errors.New("pgtest: no postgresql binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin")

// RequireEnv names the environment variable that, when set to 1, turns a
// missing PostgreSQL into a test failure instead of a skip.
const RequireEnv = "PLEXUS_REQUIRE_POSTGRES"

// Server is one PostgreSQL instance in a directory of its own. Its methods
// are safe for concurrent use.
type Server struct {
	bin  string // directory holding initdb and pg_ctl
	dir  string // instance root: data/, the unix socket, logs
	data string
	as   []string // command prefix to run as the postgres user, or nil

	mu      sync.Mutex
	port    int
	running bool
	started bool // has started at least once on port
}

// FindBinaries returns the directory holding initdb and pg_ctl.
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		d := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		_, e1 := os.Stat(filepath.Join(d, "initdb"))
		_, e2 := os.Stat(filepath.Join(d, "pg_ctl"))
		if e1 == nil && e2 == nil {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// NewServer prepares an instance in dir (created if needed; initdb runs
// unless dir already holds one) on a free loopback port. It does not start
// it. When running as root, dir is handed to the postgres user and every
// ancestor of dir must be searchable by that user.
func NewServer(dir string) (*Server, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if os.Geteuid() == 0 {
		if err := s.runAsPostgres(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(s.data, "PG_VERSION")); err != nil {
		if err := s.run("initdb", "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
			return nil, err
		}
		if err := appendFile(filepath.Join(s.data, "postgresql.conf"), "\ninclude_if_exists = 'plexus.conf'\n"); err != nil {
			return nil, err
		}
	}
	if err := s.pickPort(); err != nil {
		return nil, err
	}
	return s, nil
}

// runAsPostgres hands dir to the postgres user and sets the command prefix.
func (s *Server) runAsPostgres() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("pgtest: running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(s.dir, uid, gid); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if p, err := exec.LookPath("runuser"); err == nil {
		s.as = []string{p, "-u", "postgres", "--"}
	} else if p, err := exec.LookPath("su"); err == nil {
		s.as = []string{p, "postgres", "-s", "/bin/sh", "-c"}
	} else {
		return errors.New("pgtest: running as root needs runuser or su")
	}
	return nil
}

// run runs a PostgreSQL binary (as the postgres user when needed), sending
// its output to a file so that a daemon keeping inherited descriptors can
// never block us.
func (s *Server) run(name string, args ...string) error {
	argv := append([]string{filepath.Join(s.bin, name)}, args...)
	if len(s.as) > 0 {
		if s.as[len(s.as)-1] == "-c" { // su: one shell command line
			argv = append(append([]string(nil), s.as...), shellJoin(argv))
		} else {
			argv = append(append([]string(nil), s.as...), argv...)
		}
	}
	out, err := os.CreateTemp("", "pgtest-out-")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = os.TempDir()
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		return fmt.Errorf("pgtest: %s: %w\n%s", name, err, strings.TrimSpace(string(b)))
	}
	return nil
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// pickPort chooses a free loopback port and writes the instance settings.
// s.mu must be held or s not yet shared.
func (s *Server) pickPort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("pgtest: pick port: %w", err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf(`# written by plexus pgtest
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 200
shared_buffers = 32MB
fsync = on
synchronous_commit = on
logging_collector = off
`, s.port, s.dir)
	path := filepath.Join(s.data, "plexus.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// URL returns the connection URL of the server (user and database
// "postgres", trust authentication).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Dir returns the instance directory.
func (s *Server) Dir() string { return s.dir }

// Start starts the server and waits until it accepts connections. It keeps
// the port across restarts; only a first start that fails moves to another
// free port (the chosen one may have been taken meanwhile). Starting a
// running server is a no-op.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = s.run("pg_ctl", "-D", s.data, "-l", filepath.Join(s.dir, "postgres.log"), "-w", "-t", "60", "start")
		if err == nil {
			s.running, s.started = true, true
			return nil
		}
		if s.started {
			break
		}
		if perr := s.pickPort(); perr != nil {
			return perr
		}
	}
	if b, rerr := os.ReadFile(filepath.Join(s.dir, "postgres.log")); rerr == nil {
		err = fmt.Errorf("%w\nserver log:\n%s", err, tail(string(b), 2000))
	}
	return err
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Stop stops the server at once (pg_ctl stop -m immediate), like a crash:
// the next Start runs crash recovery. Stopping a stopped server is a no-op.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	if err := s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "stop"); err != nil {
		return err
	}
	s.running = false
	return nil
}

// StartProcess prepares (or reuses) an instance in dir and starts it. stop
// stops it with pg_ctl stop -m immediate and leaves dir in place.
func StartProcess(dir string) (url string, stop func() error, err error) {
	s, err := NewServer(dir)
	if err != nil {
		return "", nil, err
	}
	if err := s.Start(); err != nil {
		return "", nil, err
	}
	return s.URL(), s.Stop, nil
}

// StartServer starts a throwaway server for t in a fresh temporary directory
// and registers its stop and removal with t.Cleanup. Without PostgreSQL
// binaries it skips t, or fails it when PLEXUS_REQUIRE_POSTGRES=1.
func StartServer(t testing.TB) *Server {
	t.Helper()
	if _, err := FindBinaries(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%v (%s=1)", err, RequireEnv)
		}
		t.Skipf("%v; install PostgreSQL or set %s=1 to make this a failure", err, RequireEnv)
	}
	// Not t.TempDir: its parents are private to root and the postgres user
	// must reach the directory.
	dir, err := os.MkdirTemp("", "plexus-pgtest-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := NewServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// Start starts a throwaway server for t (see StartServer) and returns its URL.
func Start(t testing.TB) (url string) {
	t.Helper()
	return StartServer(t).URL()
}
