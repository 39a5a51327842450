package scripting_test

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
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/internal/netguard"
	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/scripting"
)

func TestMain(m *testing.M) {
	code := netguard.Guarded(m).Run()
	stopSharedSSHD()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// dialCounter counts the TCP connections an Executor opens, by address.
type dialCounter struct {
	mu    sync.Mutex
	addrs map[string]int
}

func (d *dialCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	if d.addrs == nil {
		d.addrs = map[string]int{}
	}
	d.addrs[addr]++
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *dialCounter) count() (n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.addrs {
		n += c
	}
	return n
}

// newExecutor returns an Executor for s with s's host keys pinned.
func newExecutor(t *testing.T, s *sshdtest.Server, modify func(*scripting.ExecutorOptions)) *scripting.Executor {
	t.Helper()
	hk, err := scripting.NewHostKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	hk.Pin(s.Addr, s.HostKeys...)
	opts := scripting.ExecutorOptions{Signers: []ssh.Signer{s.ClientSigner}, HostKeys: hk, DialTimeout: 10 * time.Second}
	if modify != nil {
		modify(&opts)
	}
	e, err := scripting.NewExecutor(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func target(s *sshdtest.Server) scripting.Target {
	return scripting.Target{Addr: s.Addr, User: s.User, ServerID: "i-1", Farm: "shop", Role: "app64"}
}

func script(body string) scripting.Job {
	return scripting.Job{Script: scripting.Script{Name: "test", Version: 1, Body: body}, Timeout: 30 * time.Second}
}

func mustOK(t *testing.T, r scripting.Result) {
	t.Helper()
	if !r.OK() {
		t.Fatalf("result %s: exit %d signal %q err %v\nstdout: %s\nstderr: %s", r.Status(), r.ExitCode, r.Signal, r.Err, r.Stdout, r.Stderr)
	}
}

func TestVariablesReachTheScriptByTemplateAndEnvironment(t *testing.T) {
	s := sshdtest.Start(t, nil)
	e := newExecutor(t, s, nil)
	tg := target(s)
	tg.Vars = scripting.Vars{"role_name": "app64", "motto": `it's "quoted" $HOME` + "\nline 2"}
	job := script(`echo "I am a %role_name%"
echo "env: $FARM_ROLE_NAME"
printf '\%s|' "$FARM_MOTTO"
echo "percent: 100\%"`)
	r := e.Run(context.Background(), tg, job)
	mustOK(t, r)
	want := "I am a app64\nenv: app64\nit's \"quoted\" $HOME\nline 2|percent: 100%\n"
	if r.Stdout != want {
		t.Errorf("stdout = %q, want %q", r.Stdout, want)
	}
	if r.KeyExchange == "" {
		t.Error("KeyExchange is empty")
	}
}

func TestExitStatus(t *testing.T) {
	s := sshdtest.Start(t, nil)
	e := newExecutor(t, s, nil)
	cases := []struct {
		name   string
		body   string
		code   int
		signal string
		status scripting.Status
		stdout string
	}{
		{"a script that succeeds", "true", 0, "", scripting.StatusOK, ""},
		{"a script that exits 3", "echo before; exit 3; echo after", 3, "", scripting.StatusFailed, "before\n"},
		{"the last command's status is the script's", "false", 1, "", scripting.StatusFailed, ""},
		{"a script killed by a signal", "kill -KILL $$", -1, "KILL", scripting.StatusFailed, ""},
		{"a command reading stdin does not eat the script", "cat; echo after", 0, "", scripting.StatusOK, "after\n"},
		{"an empty script succeeds", "", 0, "", scripting.StatusOK, ""},
		{"a syntax error anywhere runs nothing", "echo first\nif then fi", 2, "", scripting.StatusFailed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.Run(context.Background(), target(s), script(c.body))
			if r.ExitCode != c.code || r.Signal != c.signal || r.Status() != c.status || r.Stdout != c.stdout {
				t.Errorf("exit %d signal %q status %s stdout %q (err %v, stderr %q); want exit %d signal %q status %s stdout %q",
					r.ExitCode, r.Signal, r.Status(), r.Stdout, r.Err, r.Stderr, c.code, c.signal, c.status, c.stdout)
			}
		})
	}
}

// alive asks the server, in a new session, whether a process is running: a
// zombie (killed, not yet reaped by an init that reaps slowly) is not.
func alive(t *testing.T, e *scripting.Executor, s *sshdtest.Server, pid int) bool {
	t.Helper()
	r := e.Run(context.Background(), target(s), script(fmt.Sprintf("s=$(cut -d' ' -f3 /proc/%d/stat 2>/dev/null); if [ -n \"$s\" ] && [ \"$s\" != Z ]; then echo alive; else echo gone; fi", pid)))
	mustOK(t, r)
	return strings.TrimSpace(r.Stdout) == "alive"
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return pid
}

func TestTimeoutStopsTheRemoteProcess(t *testing.T) {
	s := sshdtest.Start(t, nil)
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) { o.KillGrace = 500 * time.Millisecond })
	cases := []struct {
		name   string
		prefix string
		cancel bool
	}{
		{"a script that stops on SIGTERM", "", false},
		{"a script that ignores SIGTERM is killed", "trap '' TERM", false},
		{"cancelling the context stops it too", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			shellPID, childPID := filepath.Join(dir, "shell.pid"), filepath.Join(dir, "child.pid")
			job := script(fmt.Sprintf("%s\necho $$ > %s\nsleep 300 &\necho $! > %s\nwait", c.prefix, shellPID, childPID))
			job.Timeout = time.Second
			ctx := context.Background()
			if c.cancel {
				job.Timeout = time.Minute
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Second)
				defer cancel()
			}
			start := time.Now()
			r := e.Run(ctx, target(s), job)
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("Run took %v after a 1 s limit", took)
			}
			if c.cancel {
				if !errors.Is(r.Err, context.DeadlineExceeded) || r.TimedOut {
					t.Errorf("Err = %v, TimedOut = %v; want the context's error and no timeout", r.Err, r.TimedOut)
				}
			} else if !r.TimedOut || !errors.Is(r.Err, scripting.ErrTimeout) || r.Status() != scripting.StatusTimedOut {
				t.Errorf("TimedOut = %v, Err = %v, Status = %s; want a timeout", r.TimedOut, r.Err, r.Status())
			}
			for _, f := range []string{shellPID, childPID} {
				pid := readPID(t, f)
				if alive(t, e, s, pid) {
					t.Errorf("process %d (%s) is still running after the timeout", pid, filepath.Base(f))
					_ = exec.Command("kill", "-9", strconv.Itoa(pid)).Run()
				}
			}
		})
	}
}

func TestOutputIsCapped(t *testing.T) {
	s := sshdtest.Start(t, nil)
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) { o.OutputCap = 1000 })
	r := e.Run(context.Background(), target(s), script("head -c 300000 /dev/zero | tr '\\0' a; echo small >&2"))
	mustOK(t, r)
	if len(r.Stdout) != 1000 || !r.StdoutTruncated || strings.Trim(r.Stdout, "a") != "" {
		t.Errorf("stdout has %d bytes, truncated %v; want the first 1000 and truncated", len(r.Stdout), r.StdoutTruncated)
	}
	if r.Stderr != "small\n" || r.StderrTruncated {
		t.Errorf("stderr = %q truncated %v; want it whole", r.Stderr, r.StderrTruncated)
	}
}

func TestUploads(t *testing.T) {
	s := sshdtest.Start(t, nil)
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) { o.UploadThreshold = 100 })
	cases := []struct {
		name  string
		job   scripting.Job
		want  string
		check func(t *testing.T, r scripting.Result)
	}{
		{
			name: "attached files are in FARMHAND_DIR and removed afterwards",
			job: func() scripting.Job {
				j := script(`cat "$FARMHAND_DIR/site.conf"; echo "$FARMHAND_DIR"`)
				j.Files = []scripting.File{{Name: "site.conf", Data: []byte("listen 80\n")}}
				return j
			}(),
			want: "listen 80\n",
			check: func(t *testing.T, r scripting.Result) {
				dir := strings.TrimSpace(strings.TrimPrefix(r.Stdout, "listen 80\n"))
				if !strings.HasPrefix(dir, "/tmp/farmhand-") {
					t.Fatalf("FARMHAND_DIR = %q", dir)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("job directory %s still exists (stat: %v)", dir, err)
				}
			},
		},
		{
			name: "a script with #! runs under its interpreter",
			job:  script("#!/bin/bash\necho \"bash ${BASH_VERSINFO[0]:+yes} %role_name%\""),
			want: "bash yes app64\n",
		},
		{
			name: "a script over the upload threshold runs from a file",
			job:  script("echo \"$0\" | grep -q farmhand-script && echo from-file # " + strings.Repeat("x", 200)),
			want: "from-file\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := target(s)
			tg.Vars = scripting.Vars{"role_name": "app64"}
			r := e.Run(context.Background(), tg, c.job)
			mustOK(t, r)
			if !strings.HasPrefix(r.Stdout, c.want) {
				t.Errorf("stdout = %q, want it to start with %q", r.Stdout, c.want)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

func TestRunAs(t *testing.T) {
	s := sshdtest.Start(t, nil)
	e := newExecutor(t, s, nil)
	job := script("id -un")
	job.RunAs = "nobody"
	r := e.Run(context.Background(), target(s), job)
	if _, err := exec.LookPath("sudo"); err != nil {
		if !errors.Is(r.Err, scripting.ErrRunAs) || !strings.Contains(r.Err.Error(), "sudo is not installed") {
			t.Fatalf("without sudo installed: Err = %v, want ErrRunAs saying sudo is not installed", r.Err)
		}
		if r.Status() != scripting.StatusFailed {
			t.Errorf("Status = %s, want failed", r.Status())
		}
		return
	}
	mustOK(t, r)
	if strings.TrimSpace(r.Stdout) != "nobody" {
		t.Errorf("id -un = %q, want nobody", r.Stdout)
	}
}

func TestScriptingLogRecordsEachExecution(t *testing.T) {
	s := sshdtest.Start(t, nil)
	log := scripting.NewMemoryLog(0)
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) { o.Log = log })
	job := script("echo hi; exit 4")
	job.Event = "HostUp"
	job.Script = scripting.Script{Name: "Tell me your name", Version: 2, Body: job.Script.Body}
	e.Run(context.Background(), target(s), job)
	got, err := log.Query(context.Background(), scripting.LogQuery{Farm: "shop", Event: "HostUp", FailuresOnly: true})
	if err != nil || len(got) != 1 {
		t.Fatalf("Query = %d entries, %v; want 1", len(got), err)
	}
	g := got[0]
	if g.Server != "i-1" || g.Role != "app64" || g.Script != "Tell me your name" || g.Version != 2 || g.ExitCode != 4 || g.Stdout != "hi\n" || g.Started.IsZero() || g.Finished.Before(g.Started) {
		t.Errorf("entry = %+v", g)
	}
}

func TestRunAsTimeoutStopsTheScript(t *testing.T) {
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("sudo is not installed here; TestRunAs checks the error instead")
	}
	s := sshdtest.Start(t, nil)
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) { o.KillGrace = 500 * time.Millisecond })
	// nobody cannot write to the test's directories: the PID comes on stdout.
	job := script("[ \"$(id -un)\" = nobody ] || exit 9\nsleep 300 &\necho $!\nwait")
	job.RunAs = "nobody"
	job.Timeout = time.Second
	r := e.Run(context.Background(), target(s), job)
	if !r.TimedOut {
		t.Fatalf("status %s exit %d err %v stderr %q; want a timeout", r.Status(), r.ExitCode, r.Err, r.Stderr)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil {
		t.Fatalf("stdout %q: want the PID of the background sleep", r.Stdout)
	}
	if alive(t, e, s, pid) {
		t.Errorf("process %d run through sudo is still running after the timeout", pid)
		_ = exec.Command("kill", "-9", strconv.Itoa(pid)).Run()
	}
}
