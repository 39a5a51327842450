// Package etcdtest starts Debian's etcd server (package etcd-server, 3.4)
// for tests and benchmarks: a real single-member cluster on two loopback
// ports, with its data in a temporary directory.
//
// # Starting a server
//
// A test package shares one server between its tests ([Shared], closed in
// TestMain); a test that stops or breaks the server starts its own with
// [Start]. Both skip the test when /usr/bin/etcd is missing, and fail it
// instead when CI=true. Programs such as the HA benchmark call [Launch] and
// [Server.Close] themselves.
//
// The server runs
//
//	etcd --name NAME --data-dir DIR/data --listen-client-urls http://127.0.0.1:PORT ...
//
// with both listeners on 127.0.0.1, and is ready when GET /health answers
// {"health":"true"}. Its log (zap, level warn) goes to a file, readable with
// [Server.Log].
//
// # Breaking it on purpose
//
// A coordination test needs an etcd that goes away: [Server.Kill] ends it
// with SIGKILL (clients see connections refused), [Server.Pause] stops it
// with SIGSTOP (connections are accepted and never answered, the case a
// deadline exists for) and [Server.Resume] lets it go on, and
// [Server.Restart] starts it again on the same ports and data, so that the
// keys written before are still there.
package etcdtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/testproc"
)

// Binary is the etcd the package starts.
const Binary = "/usr/bin/etcd"

// ReadyLimit bounds how long a start waits for the server to be healthy.
const ReadyLimit = 20 * time.Second

// stopGrace is how long Close waits after SIGTERM before it kills etcd.
const stopGrace = 10 * time.Second

// Server is a running (or stopped, or paused) etcd.
type Server struct {
	// Endpoint is the client URL, "http://127.0.0.1:PORT".
	Endpoint string
	// ClientPort and PeerPort are the server's two loopback ports.
	ClientPort, PeerPort int
	// Dir holds the data directory and the log.
	Dir string

	mu      sync.Mutex
	proc    *testproc.Process
	paused  bool
	logPath string
}

// Available reports whether etcd is installed.
func Available() bool { return testproc.Available(Binary) }

// Require skips tb when etcd is not installed, or fails it when CI=true.
func Require(tb testing.TB) {
	tb.Helper()
	testproc.Require(tb, "etcdtest", Binary, "etcd-server")
}

// Start launches a server of its own for one test. It skips the test when
// etcd is not installed, unless CI=true, where it fails it. The server
// stops in t.Cleanup.
func Start(tb testing.TB) *Server {
	tb.Helper()
	Require(tb)
	return testproc.ForTest(tb, "etcdtest", func(ctx context.Context, dir string) (*Server, error) {
		return Launch(ctx, dir)
	})
}

// Endpoints returns the client endpoints, as clientv3.Config wants them.
func (s *Server) Endpoints() []string { return []string{s.Endpoint} }

// Launch starts etcd with its files in dir (which must exist and be
// writable) and waits until it is healthy. Close stops it.
func Launch(ctx context.Context, dir string) (*Server, error) {
	s := &Server{Dir: dir, logPath: filepath.Join(dir, "etcd.log")}
	err := testproc.OnFreePort(func(port int) error {
		peer, err := testproc.FreePort()
		if err != nil {
			return err
		}
		if peer == port {
			return fmt.Errorf("etcdtest: the same free port %d twice", port)
		}
		s.ClientPort, s.PeerPort = port, peer
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		return nil
	}, func(int) error {
		return s.start(ctx)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) command() *exec.Cmd {
	peer := "http://127.0.0.1:" + strconv.Itoa(s.PeerPort)
	return exec.Command(Binary,
		"--name", "t1",
		"--data-dir", filepath.Join(s.Dir, "data"),
		"--listen-client-urls", s.Endpoint,
		"--advertise-client-urls", s.Endpoint,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "t1="+peer,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "etcdtest",
		"--logger", "zap",
		"--log-level", "warn",
	)
}

func (s *Server) start(ctx context.Context) error {
	proc, err := testproc.Start(ctx, s.command(), s.logPath, ReadyLimit, s.healthy)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc, s.paused = proc, false
	s.mu.Unlock()
	return nil
}

// healthy reports whether GET /health says {"health":"true"}.
func (s *Server) healthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Health string `json:"health"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("GET %s/health: %w", s.Endpoint, err)
	}
	if body.Health != "true" {
		return fmt.Errorf("GET %s/health: health %q", s.Endpoint, body.Health)
	}
	return nil
}

// Healthy reports whether the server answers its health check now.
func (s *Server) Healthy(ctx context.Context) error { return s.healthy(ctx) }

// Pid is the server's process ID, 0 when it is not running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// Log returns what etcd has logged so far (every run of it).
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// Kill ends etcd with SIGKILL and waits for it: a crash, with no goodbye
// to clients. Restart brings it back with its data.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	_ = syscall.Kill(-s.proc.Pid(), syscall.SIGKILL)
	err := s.proc.Stop(stopGrace)
	s.proc, s.paused = nil, false
	return err
}

// Pause stops etcd with SIGSTOP: its ports still accept connections, which
// then never get an answer, until Resume.
func (s *Server) Pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return fmt.Errorf("etcdtest: pause: etcd is not running")
	}
	if err := syscall.Kill(-s.proc.Pid(), syscall.SIGSTOP); err != nil {
		return fmt.Errorf("etcdtest: pause: %w", err)
	}
	s.paused = true
	// kill returns once the signal is queued; a thread running on another
	// core can still answer a request until it is stopped. Pause returns
	// when every thread of etcd is stopped.
	deadline := time.Now().Add(5 * time.Second)
	for !allThreadsStopped(s.proc.Pid()) {
		if time.Now().After(deadline) {
			return fmt.Errorf("etcdtest: pause: etcd's threads did not stop within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// allThreadsStopped reports whether every thread of the process is in the
// stopped state ('T' in /proc/PID/task/TID/stat).
func allThreadsStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			return false
		}
		// The state follows the command name, which is in parentheses.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Resume continues a paused etcd with SIGCONT.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resumeLocked()
}

func (s *Server) resumeLocked() error {
	if s.proc == nil || !s.paused {
		return nil
	}
	if err := syscall.Kill(-s.proc.Pid(), syscall.SIGCONT); err != nil {
		return fmt.Errorf("etcdtest: resume: %w", err)
	}
	s.paused = false
	return nil
}

// Restart starts etcd again, after Kill or Close, on the same ports and
// data directory, and waits until it is healthy. A running server is
// stopped first.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Close(); err != nil {
		return err
	}
	return s.start(ctx)
}

// Close stops etcd (SIGTERM, SIGKILL after a grace period; a paused server
// is resumed first) and waits for it to exit. The data directory stays.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	_ = s.resumeLocked()
	err := s.proc.Stop(stopGrace)
	s.proc = nil
	return err
}

// Shared is one server for the tests of a package, started by the first
// test that asks for it. Declare one at package level and close it in
// TestMain:
//
//	var etcd etcdtest.Shared
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		if err := etcd.Close(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			code = 1
//		}
//		os.Exit(code)
//	}
//
// Tests that share it must keep to keys of their own (a prefix per test).
type Shared struct {
	once sync.Once
	dir  string
	srv  *Server
	err  error
}

// Get returns the shared server, starting it on the first call. It skips
// tb when etcd is not installed (fails it when CI=true), and fails tb when
// the server could not start.
func (sh *Shared) Get(tb testing.TB) *Server {
	tb.Helper()
	Require(tb)
	sh.once.Do(func() {
		sh.dir, sh.err = os.MkdirTemp("", "etcdtest-")
		if sh.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*ReadyLimit)
		defer cancel()
		sh.srv, sh.err = Launch(ctx, sh.dir)
	})
	if sh.err != nil {
		tb.Fatalf("etcdtest: start etcd: %v", sh.err)
	}
	return sh.srv
}

// Close stops the shared server, if one was started, and removes its
// directory.
func (sh *Shared) Close() error {
	var err error
	if sh.srv != nil {
		err = sh.srv.Close()
	}
	if sh.dir != "" {
		os.RemoveAll(sh.dir)
	}
	if err != nil {
		return fmt.Errorf("etcdtest: stop etcd: %w", err)
	}
	return nil
}
