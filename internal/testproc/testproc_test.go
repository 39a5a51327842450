package testproc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/testproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func tempDir() (string, func()) {
	dir, err := os.MkdirTemp("", "testproc-")
	if err != nil {
		panic(err)
	}
	return dir, func() { os.RemoveAll(dir) }
}

func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func notReady(context.Context) error { return errors.New("no answer on the port") }

func TestStartReportsAServerThatExitsBeforeItIsReadyWithItsLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "server.log")
	cmd := exec.Command("/bin/sh", "-c", "echo 'line 3: unknown option'; exit 3")
	_, err := testproc.Start(context.Background(), cmd, log, 10*time.Second, notReady)
	if err == nil || !strings.Contains(err.Error(), "sh exited before it was ready: exit status 3") ||
		!strings.Contains(err.Error(), "log: line 3: unknown option") {
		t.Fatalf("err = %v; want the early exit and the log", err)
	}
}

func TestStartGivesUpAfterTheLimitAndStopsTheServer(t *testing.T) {
	log := filepath.Join(t.TempDir(), "server.log")
	cmd := exec.Command("/bin/sh", "-c", "echo $$; exec sleep 60")
	_, err := testproc.Start(context.Background(), cmd, log, 100*time.Millisecond, notReady)
	if err == nil || !strings.Contains(err.Error(), "sh not ready after 100ms: no answer on the port") {
		t.Fatalf("err = %v; want not ready after the limit, with the last answer", err)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(readLog(log)))
	if perr != nil {
		t.Fatalf("log %q: %v", readLog(log), perr)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after the failed start (kill 0: %v)", pid, err)
	}
}

func TestStartHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cmd := exec.Command("/bin/sh", "-c", "exec sleep 60")
	_, err := testproc.Start(ctx, cmd, filepath.Join(t.TempDir(), "log"), time.Minute, notReady)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want the context's deadline", err)
	}
}

func TestStopKillsAServerThatIgnoresSIGTERMAfterTheGrace(t *testing.T) {
	log := filepath.Join(t.TempDir(), "server.log")
	cmd := exec.Command("/bin/sh", "-c", "trap '' TERM; echo up; exec sleep 60")
	p, err := testproc.Start(context.Background(), cmd, log, 10*time.Second, func(context.Context) error {
		if !strings.Contains(readLog(log), "up") {
			return errors.New("not up")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Stop(200 * time.Millisecond); err != nil {
		t.Fatalf("stop: %v; a killed server is not an error", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("stopped after %v, before the grace of 200ms: SIGTERM was not ignored?", d)
	}
	if err := syscall.Kill(p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop (kill 0: %v)", p.Pid(), err)
	}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("second stop: %v; want nil", err)
	}
}

func TestOnFreePort(t *testing.T) {
	taken := errors.New("address already in use")
	tests := []struct {
		name         string
		configureErr error
		failStarts   int
		wantErr      error
		wantStarts   int
	}{
		{"the first free port is used when the server starts", nil, 0, nil, 1},
		{"a port taken in between leads to the next one", nil, 2, nil, 3},
		{"after five taken ports the last error is returned", nil, 99, taken, testproc.PortAttempts},
		{"a configuration error is final", errors.New("bad config"), 0, errors.New("bad config"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ports []int
			starts := 0
			err := testproc.OnFreePort(func(port int) error {
				ports = append(ports, port)
				return tt.configureErr
			}, func(port int) error {
				if port != ports[len(ports)-1] {
					t.Errorf("start on port %d, configured for %d", port, ports[len(ports)-1])
				}
				starts++
				if starts <= tt.failStarts {
					return taken
				}
				return nil
			})
			if fmt.Sprint(err) != fmt.Sprint(tt.wantErr) || starts != tt.wantStarts {
				t.Errorf("err %v after %d starts; want %v after %d", err, starts, tt.wantErr, tt.wantStarts)
			}
			for _, p := range ports {
				if p <= 0 || p > 65535 {
					t.Errorf("port %d is not a port", p)
				}
			}
		})
	}
}

func TestFreePortIsFreeForTCPAndUDP(t *testing.T) {
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("tcp %s: %v", addr, err)
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("udp %s: %v", addr, err)
	}
	u.Close()
}

func TestCheckReturnsTheCheckersOutput(t *testing.T) {
	if err := testproc.Check(context.Background(), "/bin/sh", "-c", "exit 0"); err != nil {
		t.Errorf("a passing check: %v", err)
	}
	err := testproc.Check(context.Background(), "/bin/sh", "-c", "echo 'sshd_config line 3: Bad option'; exit 255")
	if err == nil || !strings.Contains(err.Error(), "/bin/sh -c echo") || !strings.Contains(err.Error(), "exit status 255: sshd_config line 3: Bad option") {
		t.Errorf("err = %v; want the command, its status and its output", err)
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of
// ending the test; like them, it ends the goroutine of the call (see
// record).
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// record calls fn with a recorder in a goroutine of its own, which Skipf
// and Fatalf end as they end a test's.
func record(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name                string
		binary, ci          string
		wantSkip, wantFatal bool
	}{
		{"an installed binary lets the test run", "/bin/sh", "true", false, false},
		{"a missing binary skips the test", "/nonexistent/named", "", true, false},
		{"a missing binary fails the test when CI=true", "/nonexistent/named", "true", false, true},
		{"only CI=true makes it fail", "/nonexistent/named", "1", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := record(t, func(tb testing.TB) { testproc.Require(tb, "bindtest", tt.binary, "bind9") })
			if (r.skipped != "") != tt.wantSkip || (r.failed != "") != tt.wantFatal {
				t.Fatalf("skipped %q, failed %q; want skip %v, fail %v", r.skipped, r.failed, tt.wantSkip, tt.wantFatal)
			}
			if msg := r.skipped + r.failed; msg != "" && !strings.HasPrefix(msg, "bindtest: /nonexistent/named is not installed (apt-get install bind9)") {
				t.Errorf("message %q; want the caller, the binary and the package", msg)
			}
		})
	}
}

type server struct{ closed int }

func (s *server) Close() error { s.closed++; return nil }

func TestForTestClosesTheServerAtCleanup(t *testing.T) {
	var s *server
	var dir string
	t.Run("test", func(t *testing.T) {
		s = testproc.ForTest(t, "demo", func(ctx context.Context, d string) (*server, error) {
			dir = d
			return &server{}, nil
		})
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("launched in %q: %v; want a temporary directory", dir, err)
		}
		if s.closed != 0 {
			t.Errorf("closed during the test")
		}
	})
	if s.closed != 1 {
		t.Errorf("closed %d times after the test, want once", s.closed)
	}
}

func TestForTestFailsOnALaunchError(t *testing.T) {
	r := record(t, func(tb testing.TB) {
		testproc.ForTest(tb, "demo", func(context.Context, string) (*server, error) { return nil, errors.New("no port") })
		t.Errorf("ForTest returned after a launch error")
	})
	if r.failed != "demo: no port" {
		t.Errorf("failed %q; want %q", r.failed, "demo: no port")
	}
}
