package scripting

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// The remote side of a job, step by step:
//
//  1. With an upload, an SFTP session creates a fresh directory under
//     RemoteTempDir (mode 0700, or 0711 with RunAs so the other user can
//     reach it) and writes the script and the files into it.
//  2. An exec session runs
//
//     printf 'farmhand-pid %s\n' "$$"; export 'FARM_X=..'; exec sh -s
//
//     (with RunAs: exec sudo -n -u USER env 'FARM_X=..' sh -s, since sudo
//     resets the environment)
//
//     The login shell is the session leader that sshd created, so its PID
//     ($$) is the process group of everything the script starts (unless a
//     command starts its own session, as daemons do). The first stdout line
//     hands it to us; it is not part of the captured output.
//  3. Without an upload the script arrives on stdin wrapped as
//     "{ BODY\n} </dev/null": the shell reads the whole group before running
//     any of it, so a script cut short in transit never half-runs, and a
//     command in it that reads stdin gets end-of-file instead of the rest
//     of the script.
//  4. On timeout or cancellation, a second session on the same connection
//     runs kill -TERM on the process group, waits up to KillGrace, then
//     kill -KILL; the SSH "signal" request is sent too (OpenSSH delivers
//     it to the group).
//  5. The upload directory is removed.

const pidHeader = "farmhand-pid "

// errOpenSession wraps a failure to open a session on a connection that
// was made (a pooled one the server has since dropped, say).
var errOpenSession = errors.New("open session")

const sudoMissing = "farmhand: sudo is not installed on this server"

// scriptFile is the name of the uploaded script in the job directory.
const scriptFile = "farmhand-script"

func (e *Executor) execute(ctx context.Context, c *conn, t Target, job Job, r rendered, res *Result) {
	timeout := job.Timeout
	if timeout <= 0 {
		timeout = e.defaultTimeout
	}
	// The timeout is real time: it bounds I/O with a real server.
	jctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := t.addr()
	shebang := strings.HasPrefix(r.body, "#!")
	upload := job.Upload || len(job.Files) > 0 || shebang || len(r.body) > e.uploadThreshold

	var dir string
	if upload {
		// SFTP calls have no context: closing the connection ends them.
		stop := context.AfterFunc(jctx, func() { _ = c.client.Close() })
		sc, d, err := e.upload(c.client, job, r.body)
		if !stop() {
			res.Err = jobCtxErr(ctx, jctx, addr, timeout, "uploading")
			res.TimedOut = ctx.Err() == nil
			if sc != nil {
				sc.Close()
			}
			return
		}
		if err != nil {
			res.Err = fmt.Errorf("%s: upload over SFTP: %w", addr, err)
			return
		}
		dir = d
		defer func() {
			if err := sc.RemoveAll(dir); err != nil {
				e.logger.Warn("removing the job directory failed", "addr", addr, "dir", dir, "err", err)
			}
			sc.Close()
		}()
	}

	sess, err := c.client.NewSession()
	if err != nil {
		res.Err = fmt.Errorf("%s: %w: %w", addr, errOpenSession, err)
		return
	}
	defer sess.Close()
	stdout := &headerWriter{out: capWriter{max: e.outputCap}, pidKnown: make(chan struct{})}
	stderr := &capWriter{max: e.outputCap}
	sess.Stdout, sess.Stderr = stdout, stderr
	if !upload {
		sess.Stdin = strings.NewReader(wrapBody(r.body))
	}
	cmd := remoteCommand(r.vars, job.RunAs, dir, upload, shebang)
	if err := sess.Start(cmd); err != nil {
		res.Err = fmt.Errorf("%s: start: %w", addr, err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()

	var waitErr error
	select {
	case waitErr = <-done:
		setExit(res, waitErr)
	case <-jctx.Done():
		e.stopRemote(c, sess, stdout, done)
		res.Err = jobCtxErr(ctx, jctx, addr, timeout, "running")
		res.TimedOut = ctx.Err() == nil
	}
	res.Stdout, res.StdoutTruncated = stdout.out.String(), stdout.out.truncated
	res.Stderr, res.StderrTruncated = stderr.String(), stderr.truncated
	if job.RunAs != "" && res.Err == nil {
		res.Err = runAsError(job.RunAs, res)
	}
}

func jobCtxErr(ctx, jctx context.Context, addr string, timeout time.Duration, doing string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: stopped while %s: %w", addr, doing, ctx.Err())
	}
	return fmt.Errorf("%s: %w after %v (while %s); the remote process group was stopped", addr, ErrTimeout, timeout, doing)
}

func setExit(res *Result, err error) {
	var ee *ssh.ExitError
	var me *ssh.ExitMissingError
	switch {
	case err == nil:
		res.ExitCode = 0
	case errors.As(err, &ee):
		if ee.Signal() != "" {
			res.Signal = ee.Signal()
		} else {
			res.ExitCode = ee.ExitStatus()
		}
	case errors.As(err, &me):
		res.Err = fmt.Errorf("%s: the script ended without reporting an exit status (connection lost?)", res.Target.addr())
	default:
		res.Err = fmt.Errorf("%s: %w", res.Target.addr(), err)
	}
}

// runAsError recognises sudo's own failures: missing (our wrapper says so)
// or refusing without a password (-n makes it fail instead of asking).
func runAsError(user string, res *Result) error {
	first, _, _ := strings.Cut(res.Stderr, "\n")
	switch {
	case res.ExitCode == 127 && first == sudoMissing:
		return fmt.Errorf("run as %q: sudo is not installed on %s: %w", user, res.Target.addr(), ErrRunAs)
	case res.ExitCode == 1 && strings.HasPrefix(first, "sudo: "):
		return fmt.Errorf("run as %q on %s: %s: %w", user, res.Target.addr(), first, ErrRunAs)
	}
	return nil
}

// remoteCommand builds the exec request's command (see the steps above).
func remoteCommand(vars Vars, runAs, dir string, upload, shebang bool) string {
	var b strings.Builder
	b.WriteString(`printf '` + pidHeader + `%s\n' "$$"; `)
	if runAs != "" {
		b.WriteString(`command -v sudo >/dev/null 2>&1 || { echo '` + sudoMissing + `' >&2; exit 127; }; `)
	}
	env := vars.Env()
	if dir != "" {
		env = append(env, "FARMHAND_DIR="+dir)
	}
	if runAs == "" && len(env) > 0 {
		// The login shell exports the variables itself: one exec (of env)
		// fewer per job, which is what a large fan-out pays for on the
		// servers.
		b.WriteString("export")
		for _, kv := range env {
			b.WriteString(" " + ShellQuote(kv))
		}
		b.WriteString("; ")
	}
	b.WriteString("exec ")
	if runAs != "" {
		// sudo resets the environment, so the variables go after it.
		b.WriteString("sudo -n -u " + ShellQuote(runAs) + " ")
		if len(env) > 0 {
			b.WriteString("env")
			for _, kv := range env {
				b.WriteString(" " + ShellQuote(kv))
			}
			b.WriteByte(' ')
		}
	}
	switch {
	case !upload:
		b.WriteString("sh -s")
	case shebang:
		b.WriteString(ShellQuote(path.Join(dir, scriptFile)) + " </dev/null")
	default:
		b.WriteString("sh " + ShellQuote(path.Join(dir, scriptFile)) + " </dev/null")
	}
	return b.String()
}

// wrapBody makes the body one brace group with stdin from /dev/null.
func wrapBody(body string) string {
	if strings.TrimSpace(body) == "" {
		body = ":"
	}
	return "{ " + body + "\n} </dev/null\n"
}

// stopRemote stops a running script: SIGTERM to its process group, SIGKILL
// after KillGrace, then closes the session.
func (e *Executor) stopRemote(c *conn, sess *ssh.Session, stdout *headerWriter, done <-chan error) {
	_ = sess.Signal(ssh.SIGTERM)
	pid := 0
	select {
	case <-stdout.pidKnown:
		pid = stdout.pid
	case <-time.After(time.Second):
		// The shell never started; closing the session is enough.
	}
	if pid > 1 {
		steps := int(e.killGrace / (100 * time.Millisecond))
		kill := fmt.Sprintf(`kill -TERM -- -%[1]d 2>/dev/null || kill -TERM %[1]d 2>/dev/null; `+
			`i=0; while [ $i -lt %[2]d ] && kill -0 -- -%[1]d 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; `+
			`kill -KILL -- -%[1]d 2>/dev/null || kill -KILL %[1]d 2>/dev/null; exit 0`, pid, steps)
		if ks, err := c.client.NewSession(); err == nil {
			kdone := make(chan error, 1)
			go func() { kdone <- ks.Run(kill) }()
			select {
			case <-kdone:
			case <-time.After(e.killGrace + 5*time.Second):
				_ = c.client.Close()
				<-kdone
			}
			ks.Close()
		}
	}
	_ = sess.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		// A background process still holds the output open; dropping the
		// connection ends the wait.
		_ = c.client.Close()
		<-done
	}
}

// upload creates the job directory and writes the script and files.
func (e *Executor) upload(client *ssh.Client, job Job, body string) (*sftp.Client, string, error) {
	sc, err := sftp.NewClient(client)
	if err != nil {
		return nil, "", err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	dir := path.Join(e.tempDir, "farmhand-"+hex.EncodeToString(rnd[:]))
	dirMode, fileMode, exeMode := os.FileMode(0o700), os.FileMode(0o600), os.FileMode(0o700)
	if job.RunAs != "" {
		// The other user must read the files; the random directory name
		// (not listable) keeps them from others.
		dirMode, fileMode, exeMode = 0o711, 0o644, 0o755
	}
	if err := sc.Mkdir(dir); err != nil {
		return sc, "", fmt.Errorf("mkdir %s: %w", dir, err)
	}
	if err := sc.Chmod(dir, dirMode); err != nil {
		return sc, dir, fmt.Errorf("chmod %s: %w", dir, err)
	}
	write := func(name string, data []byte, mode os.FileMode) error {
		p := path.Join(dir, name)
		f, err := sc.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", p, err)
		}
		if err := sc.Chmod(p, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
		return nil
	}
	fail := func(err error) (*sftp.Client, string, error) {
		_ = sc.RemoveAll(dir)
		return sc, "", err
	}
	if err := write(scriptFile, []byte(body), exeMode); err != nil {
		return fail(err)
	}
	for _, f := range job.Files {
		mode := f.Mode
		if mode == 0 {
			mode = fileMode
		}
		if err := write(f.Name, f.Data, mode); err != nil {
			return fail(err)
		}
	}
	return sc, dir, nil
}

// checkFiles validates attachment names before anything connects.
func checkFiles(files []File) error {
	seen := map[string]bool{}
	for i, f := range files {
		switch {
		case f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\x00"):
			return fmt.Errorf("file %d name %q: must be a plain file name", i, f.Name)
		case f.Name == scriptFile:
			return fmt.Errorf("file %d name %q: reserved for the script", i, f.Name)
		case seen[f.Name]:
			return fmt.Errorf("file %d name %q: given twice", i, f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// capWriter keeps the first max bytes written and counts the rest.
type capWriter struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	n := len(p)
	if room := w.max - w.buf.Len(); room < len(p) {
		w.truncated = true
		p = p[:max(room, 0)]
	}
	w.buf.Write(p)
	return n, nil
}

func (w *capWriter) String() string { return w.buf.String() }

// headerWriter takes the "farmhand-pid N" line off the front of stdout.
type headerWriter struct {
	out      capWriter
	header   []byte
	done     bool
	pid      int
	pidKnown chan struct{}
	once     sync.Once
}

func (w *headerWriter) Write(p []byte) (int, error) {
	n := len(p)
	if !w.done {
		i := bytes.IndexByte(p, '\n')
		if i < 0 && len(w.header)+len(p) < 64 {
			w.header = append(w.header, p...)
			return n, nil
		}
		rest := []byte(nil)
		if i >= 0 {
			w.header = append(w.header, p[:i]...)
			rest = p[i+1:]
		} else {
			w.header = append(w.header, p...)
		}
		w.done = true
		if pid, err := strconv.Atoi(strings.TrimPrefix(string(w.header), pidHeader)); err == nil && strings.HasPrefix(string(w.header), pidHeader) {
			w.pid = pid
		} else {
			// Not our header (a shell that prints on login?): keep it.
			w.out.Write(w.header)
			if i >= 0 {
				w.out.Write([]byte{'\n'})
			}
		}
		w.once.Do(func() { close(w.pidKnown) })
		p = rest
	}
	w.out.Write(p)
	return n, nil
}

var _ io.Writer = (*headerWriter)(nil)
