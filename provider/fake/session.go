package fake

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// session serves one SSH session channel: env, exec, shell, the sftp
// subsystem and signals. Its command runs in a process group of its own, so
// that closing the channel or the connection kills the command and
// everything it started.
type session struct {
	ep   *endpoint
	ch   ssh.Channel
	user string
	env  []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  bool
	started bool
}

// signals maps SSH signal names (RFC 4254 section 6.10) to signals.
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	return "KILL"
}

func (s *session) serve(reqs <-chan *ssh.Request) {
	var work sync.WaitGroup
	for req := range reqs {
		ok := false
		var after func() // runs once the request is answered
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if ssh.Unmarshal(req.Payload, &kv) == nil {
				s.env = append(s.env, kv.Name+"="+kv.Value)
				ok = true
			}
		case "exec":
			var c struct{ Command string }
			if ssh.Unmarshal(req.Payload, &c) == nil && s.claim() {
				after, ok = s.run(&work, "-c", c.Command)
			}
		case "shell":
			if s.claim() {
				after, ok = s.run(&work)
			}
		case "subsystem":
			var sub struct{ Name string }
			if ssh.Unmarshal(req.Payload, &sub) == nil && sub.Name == "sftp" && s.claim() {
				ok = true
				work.Add(1)
				after = func() {
					s.ep.host.goOwned(func() {
						defer work.Done()
						s.serveSFTP()
					})
				}
			}
		case "signal":
			var sig struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &sig) == nil {
				if sg, known := signals[sig.Signal]; known {
					s.kill(sg)
					ok = true
				}
			}
		}
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
		if after != nil {
			after()
		}
	}
	// The client closed the channel or the connection went away: a command
	// still running would be orphaned, so it is killed, with its children.
	s.kill(syscall.SIGKILL)
	work.Wait()
	s.ch.Close()
}

// claim reports whether the session may start its one program.
func (s *session) claim() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return false
	}
	s.started = true
	return true
}

// run starts the shell with args and reports whether it started. The
// returned function, called once the request is answered (the channel must
// not close before that), starts the goroutines that feed stdin and wait for
// the exit status.
func (s *session) run(work *sync.WaitGroup, args ...string) (func(), bool) {
	h := s.ep.host
	cmd := exec.Command(h.shell, args...)
	cmd.Dir = s.ep.dir
	cmd.Env = append([]string{
		"PATH=" + envOr("PATH", "/usr/local/bin:/usr/bin:/bin"),
		"HOME=" + s.ep.dir,
		"USER=" + s.user,
		"LOGNAME=" + s.user,
		"SHELL=" + h.shell,
		"LANG=C",
		"FARMHAND_SERVER_ID=" + s.ep.id,
	}, s.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = s.ch
	cmd.Stderr = s.ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	err = cmd.Start()
	if err == nil {
		s.cmd = cmd
	}
	s.mu.Unlock()
	if err != nil {
		h.p.log.Debug("fake: SSH command did not start", "server", s.ep.id, "err", err)
		return nil, false
	}
	work.Add(2)
	return func() {
		h.goOwned(func() {
			defer work.Done()
			_, _ = io.Copy(stdin, s.ch)
			stdin.Close()
		})
		h.goOwned(func() {
			defer work.Done()
			s.wait(cmd)
		})
	}, true
}

func (s *session) wait(cmd *exec.Cmd) {
	err := cmd.Wait()
	s.mu.Lock()
	s.exited = true
	s.mu.Unlock()

	_ = s.ch.CloseWrite()
	var ee *exec.ExitError
	switch {
	case err == nil:
		_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			_, _ = s.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{Signal: signalName(ws.Signal()), CoreDumped: ws.CoreDump()}))
		} else {
			_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(ee.ExitCode())}))
		}
	default:
		_, _ = s.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{255}))
	}
	s.ch.Close()
}

// kill signals the command's process group, if it is still running.
func (s *session) kill(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.exited {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, sig)
}

func (s *session) serveSFTP() {
	srv, err := sftp.NewServer(s.ch, sftp.WithServerWorkingDirectory(s.ep.dir))
	if err != nil {
		s.ch.Close()
		return
	}
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		s.ep.host.p.log.Debug("fake: SFTP session ended", "server", s.ep.id, "err", err)
	}
	srv.Close()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
