package testproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Available reports whether binary exists.
func Available(binary string) bool {
	_, err := os.Stat(binary)
	return err == nil
}

// Require skips tb when binary is missing, or fails it when the environment
// variable CI is "true", where every test must run. caller names the
// package asking, and pkg the Debian packages that install binary, in the
// message.
func Require(tb testing.TB, caller, binary, pkg string) {
	tb.Helper()
	if Available(binary) {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s: %s is not installed (apt-get install %s); required when CI=true", caller, binary, pkg)
	}
	tb.Skipf("%s: %s is not installed (apt-get install %s); skipping", caller, binary, pkg)
}

// ForTest launches a server for tb in a temporary directory of its own and
// closes it in tb.Cleanup. A launch error fails tb; so does an error from
// Close. caller names the package, in those messages.
func ForTest[S interface{ Close() error }](tb testing.TB, caller string, launch func(ctx context.Context, dir string) (S, error)) S {
	tb.Helper()
	s, err := launch(context.Background(), tb.TempDir())
	if err != nil {
		tb.Fatalf("%s: %v", caller, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("%s: stop: %v", caller, err)
		}
	})
	return s
}

// FreePort returns a port that is free for both TCP and UDP on 127.0.0.1,
// as named needs (sshd uses the TCP half).
func FreePort() (int, error) {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, errors.New("no port free for both TCP and UDP on 127.0.0.1")
}

// PortAttempts is how many free ports OnFreePort tries.
const PortAttempts = 5

// OnFreePort starts a server on a free port. For each port, configure
// writes and checks the configuration for it (an error there is final),
// then start runs the server; an error from start is taken to mean that
// another process took the port in between, and the next port is tried, up
// to PortAttempts in all. It returns start's last error.
func OnFreePort(configure, start func(port int) error) error {
	var lastErr error
	for attempt := 0; attempt < PortAttempts; attempt++ {
		port, err := FreePort()
		if err != nil {
			return err
		}
		if err := configure(port); err != nil {
			return err
		}
		if lastErr = start(port); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

// Check runs a configuration checker such as "sshd -t -f FILE" or
// "named-checkconf -z FILE" and, when it fails, returns an error with the
// command line and what it printed.
func Check(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Process is a server started by Start.
type Process struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error // set before done is closed
}

// ReadyPoll is how often Start asks whether the server is ready.
const ReadyPoll = 20 * time.Millisecond

// failedStartGrace is how long a server that never became ready gets to
// exit on SIGTERM before it is killed.
const failedStartGrace = 5 * time.Second

// Start starts cmd in a process group of its own, with its stdout and
// stderr appended to the file logPath, and waits until ready returns nil,
// asking every ReadyPoll. Handing the child the file itself rather than a
// pipe keeps its log writes out of this process, whose CPU time benchmarks
// measure. When the process exits first, limit passes or ctx ends, Start
// stops it and returns an error with what it logged. cmd must not have
// been started; Start sets its Stdout, Stderr and SysProcAttr.
func Start(ctx context.Context, cmd *exec.Cmd, logPath string, limit time.Duration, ready func(context.Context) error) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(ctx, limit, ready); err != nil {
		_ = p.Stop(failedStartGrace)
		return nil, fmt.Errorf("%w; log: %s", err, p.Log())
	}
	return p, nil
}

func (p *Process) waitReady(ctx context.Context, limit time.Duration, ready func(context.Context) error) error {
	name := filepath.Base(p.cmd.Path)
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v", name, p.waitErr)
		default:
		}
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v", name, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(ReadyPoll):
		}
	}
}

// Pid is the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Log returns what the process has logged so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// Stop sends SIGTERM, kills the process when it has not exited after
// grace, and waits for it. A process that exited, on a signal or with a
// status, is not an error; a second Stop does nothing.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	var exitErr *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &exitErr) {
		return p.waitErr
	}
	return nil
}
