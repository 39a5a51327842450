// Package webfarmtest holds the tests every web farm example passes: a run
// on its test servers with the scripts over a real sshd, the database
// failover, a run without sshd, -serve until an interrupt, bad flags, and
// the exit status the shell sees. An example's own tests add what is its
// cloud's: the message without credentials, and the setup of a real run.
package webfarmtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/internal/netguard"
	"github.com/farmhand/farmhand/internal/sshdtest"
)

// Example describes a web farm example to Test.
type Example struct {
	// Program returns the example's program, new for each run.
	Program func() *webfarm.Program
	// CleanEnv empties the environment of the cloud's settings with
	// t.Setenv, so that a run finds no credentials, and returns the same
	// settings as KEY=VALUE for a child process.
	CleanEnv func(t *testing.T) []string
	// IPPrefix starts the addresses of the test cloud's servers: "127.1.".
	IPPrefix string
	// Output lists what a run on the test servers prints beyond what every
	// example prints.
	Output []string
	// Scripts is how many script runs exit 0 in that run.
	Scripts int
}

// runMainEnv, set to 1, makes RunMain run the example's main.
const runMainEnv = "WEBFARM_EXAMPLE_RUN_MAIN"

// RunMain runs main instead of the tests when Test starts the test binary
// as the program, to see the exit status the shell sees. Call it from
// TestMain.
func RunMain(m *testing.M, main func()) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(netguard.Guarded(m).Run())
}

// Run runs the program with args, as main does but in this process, and
// returns its exit status and output.
func Run(t *testing.T, p *webfarm.Program, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var out, errOut strings.Builder
	start := time.Now()
	code = p.Run(ctx, args, &out, &errOut)
	t.Logf("run %q: exit %d in %v", args, code, time.Since(start).Round(time.Millisecond))
	return code, out.String(), errOut.String()
}

// Test runs the tests every web farm example passes.
func Test(t *testing.T, e Example) {
	t.Run("on the test servers the scripts run over SSH and the farm is terminated", func(t *testing.T) {
		sshdtest.Require(t)
		defer goleak.VerifyNone(t)
		code, out, errOut := Run(t, e.Program(), "-test-servers")
		if code != 0 {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		for _, want := range append([]string{
			"test sshd: OpenSSH on 127.0.0.1:",
			`BeforeHostUp script "mysql-install" v1 on db/`,
			"| would run: apt-get -y install mysql-server",
			"| I am a db at " + e.IPPrefix,
			`HostUp script "apache-install" v1 on app64/`,
			"| would run: apt-get -y install apache2",
			"DNS db.farm.test. A → " + e.IPPrefix,
			"over SSH: /proc/loadavg ",
			"scaling app64 on load1: ",
			"event FarmTerminated",
			"DNS names left in memory: 0",
		}, e.Output...) {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if n := strings.Count(out, "| I am a app64, and I have apache installed now\n"); n != 2 {
			t.Errorf("the apache script reported from %d app servers, want 2", n)
		}
		if n := strings.Count(out, ": exit 0 in "); n != e.Scripts {
			t.Errorf("%d scripts exited 0, want %d", n, e.Scripts)
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
		}
	})

	t.Run("a crashed database master is replaced and the app servers reconnect", func(t *testing.T) {
		sshdtest.Require(t)
		defer goleak.VerifyNone(t)
		code, out, errOut := Run(t, e.Program(), "-test-servers", "-crash-db")
		if code != 0 {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		_, after, ok := strings.Cut(out, "crashing the database master db/")
		if !ok {
			t.Fatalf("no crash in the output:\n%s", out)
		}
		for _, want := range []string{
			"event HostDown",
			"event NewDBMaster",
			`BeforeHostUp script "mysql-install" v1 on db/`,
			"failover of role db: ",
			"DNS db.farm.test. A → " + e.IPPrefix,
		} {
			if !strings.Contains(after, want) {
				t.Errorf("after the crash, the output lacks %q", want)
			}
		}
		if n := strings.Count(after, `NewDBMaster script "db-reconnect" v1 on app64/`); n != 2 {
			t.Errorf("the reconnect script ran on %d app servers, want 2", n)
		}
		// The name moved: it points at the new master, not the old one.
		crashed, _, _ := strings.Cut(after, "\n") // "i-… (127.1.0.2)"
		_, oldIP, _ := strings.Cut(strings.TrimSuffix(crashed, ")"), "(")
		if oldIP == "" || strings.Contains(after, "DNS db.farm.test. A → "+oldIP+" ") {
			t.Errorf("db.farm.test still points at the crashed master %s", oldIP)
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
		}
	})

	t.Run("without sshd the farm runs without scripts", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		code, out, errOut := Run(t, e.Program(), "-test-servers", "-no-sshd")
		if code != 0 {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		for _, want := range []string{"the farm runs without scripts", "event HostUp", "no verdict", "event FarmTerminated"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, " script ") {
			t.Errorf("a script ran without sshd:\n%s", out)
		}
	})

	t.Run("serve runs until interrupted and then terminates the farm", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
		defer cancel()
		interrupt, stop := context.WithCancel(ctx)
		defer stop()
		out := &cancelOn{s: "serving until interrupted", cancel: stop}
		var errOut strings.Builder
		code := e.Program().Run(interrupt, []string{"-test-servers", "-no-sshd", "-serve"}, out, &errOut)
		if code != 0 {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut.String())
		}
		_, after, ok := strings.Cut(out.String(), "serving until interrupted")
		if !ok || !strings.Contains(after, "interrupted: terminating the farm") || !strings.Contains(after, "event FarmTerminated") {
			t.Fatalf("the farm was not terminated after the interrupt:\n%s", out)
		}
	})

	t.Run("bad flags exit two", func(t *testing.T) {
		code, _, errOut := Run(t, e.Program(), "-no-such-flag")
		if code != 2 || !strings.Contains(errOut, "-no-such-flag") {
			t.Fatalf("exit %d, stderr %q; want 2 and the flag named", code, errOut)
		}
	})

	t.Run("the program exits two without a stack trace", func(t *testing.T) {
		// main itself, in a child process (see RunMain), without
		// arguments and credentials.
		env := e.CleanEnv(t)
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), append(env, runMainEnv+"=1")...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("exit: %v, want status 2\nstderr:\n%s", err, stderr.String())
		}
		if s := stderr.String(); strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") || !strings.Contains(s, "cannot start") {
			t.Fatalf("stderr is not the needs message:\n%s", s)
		}
	})
}

// cancelOn is a writer that cancels a context once the output holds a
// string.
type cancelOn struct {
	mu     sync.Mutex
	b      strings.Builder
	s      string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.s) {
		w.cancel()
	}
	return len(p), nil
}

func (w *cancelOn) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
