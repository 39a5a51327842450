package scripting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/netguard"
)

// Defaults of [ExecutorOptions].
const (
	DefaultDialTimeout     = 15 * time.Second
	DefaultKeepAlive       = 15 * time.Second
	DefaultKeepAliveMax    = 3
	DefaultJobTimeout      = 10 * time.Minute
	DefaultKillGrace       = 2 * time.Second
	DefaultOutputCap       = 32 << 10
	DefaultUploadThreshold = 64 << 10
	DefaultRemoteTempDir   = "/tmp"
	DefaultWidth           = 64
)

// ExecutorOptions configure an [Executor]. Signers and HostKeys are
// required; zero values elsewhere mean the defaults above.
type ExecutorOptions struct {
	// Signers are the client keys offered to servers (see GenerateKey).
	Signers []ssh.Signer
	// HostKeys decides which servers are trusted.
	HostKeys *HostKeys
	// DialTimeout bounds the TCP connect plus SSH handshake of one
	// target (and of a bastion).
	DialTimeout time.Duration
	// KeepAlive is the interval of keepalive@openssh.com requests;
	// negative disables them. KeepAliveMax unanswered requests close the
	// connection.
	KeepAlive    time.Duration
	KeepAliveMax int
	// DefaultTimeout applies to a Job with no Timeout.
	DefaultTimeout time.Duration
	// KillGrace is how long a timed-out script's process group has
	// between SIGTERM and SIGKILL.
	KillGrace time.Duration
	// OutputCap is how many bytes of stdout, and of stderr, are kept per
	// execution; the rest is read and dropped.
	OutputCap int
	// UploadThreshold: a rendered script longer than this is uploaded
	// over SFTP instead of sent on stdin.
	UploadThreshold int
	// RemoteTempDir is where uploads go (in a fresh directory per job).
	RemoteTempDir string
	// Log, when set, receives an entry for every execution.
	Log Log
	// Dial opens TCP connections; nil means a net.Dialer.
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	Clock  clock.Clock
	Logger *slog.Logger
}

// Executor runs scripts on servers over SSH. It is safe for concurrent use
// and holds no connections between calls: each Run or RunMany opens one
// connection per target and closes it before returning.
type Executor struct {
	auth            []ssh.AuthMethod
	hostKeys        *HostKeys
	dialTimeout     time.Duration
	keepAlive       time.Duration
	keepAliveMax    int
	defaultTimeout  time.Duration
	killGrace       time.Duration
	outputCap       int
	uploadThreshold int
	tempDir         string
	log             Log
	dial            func(ctx context.Context, network, addr string) (net.Conn, error)
	clock           clock.Clock
	logger          *slog.Logger
}

// NewExecutor checks opts and returns an Executor.
func NewExecutor(opts ExecutorOptions) (*Executor, error) {
	if len(opts.Signers) == 0 {
		return nil, errors.New("executor options: Signers is empty: at least one client key is required")
	}
	if opts.HostKeys == nil {
		return nil, errors.New("executor options: HostKeys is nil: host keys are always checked")
	}
	for name, v := range map[string]int64{
		"DialTimeout": int64(opts.DialTimeout), "DefaultTimeout": int64(opts.DefaultTimeout),
		"KillGrace": int64(opts.KillGrace), "OutputCap": int64(opts.OutputCap),
		"UploadThreshold": int64(opts.UploadThreshold), "KeepAliveMax": int64(opts.KeepAliveMax),
	} {
		if v < 0 {
			return nil, fmt.Errorf("executor options: %s %d is negative", name, v)
		}
	}
	e := &Executor{
		auth:            []ssh.AuthMethod{ssh.PublicKeys(opts.Signers...)},
		hostKeys:        opts.HostKeys,
		dialTimeout:     orDuration(opts.DialTimeout, DefaultDialTimeout),
		keepAlive:       orDuration(opts.KeepAlive, DefaultKeepAlive),
		keepAliveMax:    orInt(opts.KeepAliveMax, DefaultKeepAliveMax),
		defaultTimeout:  orDuration(opts.DefaultTimeout, DefaultJobTimeout),
		killGrace:       orDuration(opts.KillGrace, DefaultKillGrace),
		outputCap:       orInt(opts.OutputCap, DefaultOutputCap),
		uploadThreshold: orInt(opts.UploadThreshold, DefaultUploadThreshold),
		tempDir:         opts.RemoteTempDir,
		log:             opts.Log,
		dial:            opts.Dial,
		clock:           clock.Or(opts.Clock),
		logger:          orDiscard(opts.Logger),
	}
	if e.tempDir == "" {
		e.tempDir = DefaultRemoteTempDir
	}
	if e.dial == nil {
		var d net.Dialer
		e.dial = d.DialContext
	}
	// Every connection passes the loopback guard tests install, also one
	// through a dialer of Options.Dial.
	dial := e.dial
	e.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := netguard.Check(network, addr); err != nil {
			return nil, err
		}
		return dial(ctx, network, addr)
	}
	return e, nil
}

// Job is a script to run and how.
type Job struct {
	Script Script
	// Vars are variables common to every target; Target.Vars override.
	Vars Vars
	// Event names the triggering event in the scripting log ("" when run
	// on demand).
	Event string
	// Timeout bounds the script's run; when it passes, the script's
	// process group is sent SIGTERM, then SIGKILL after KillGrace. Zero
	// means the Executor's DefaultTimeout.
	Timeout time.Duration
	// RunAs runs the script as this user through "sudo -n -u USER": the
	// login user needs password-less sudo.
	RunAs string
	// Files are uploaded over SFTP into the job's temporary directory,
	// which the script finds in $FARMHAND_DIR; it is removed afterwards.
	Files []File
	// Upload sends the script over SFTP even when it is small.
	Upload bool
}

// File is an attachment uploaded before the script runs.
type File struct {
	Name string // a plain file name, no slashes
	Data []byte
	Mode os.FileMode // 0 means 0600 (0644 with RunAs)
}

// Status classifies a [Result].
type Status int

const (
	// StatusOK: the script exited with status 0.
	StatusOK Status = iota
	// StatusFailed: the script ran and exited non-zero or by a signal, or
	// sudo refused to run it.
	StatusFailed
	// StatusTimedOut: the script ran past its timeout and was stopped.
	StatusTimedOut
	// StatusError: the script did not run: bad template, unreachable
	// server, refused host key, failed login or upload, cancelled.
	StatusError
)

// String is "ok", "failed", "timedout" or "error".
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusFailed:
		return "failed"
	case StatusTimedOut:
		return "timedout"
	case StatusError:
		return "error"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Result is the outcome of a script on one target.
type Result struct {
	Target   Target    // where it ran
	Script   string    // the script's name
	Version  int       // the script's version
	Started  time.Time // when the run began
	Finished time.Time // when its result was known
	// ExitCode is the exit status, or -1 when the script did not exit
	// normally.
	ExitCode int
	// Signal names the signal that ended the script ("TERM"), if any.
	Signal          string
	TimedOut        bool   // the job's timeout passed and the script was stopped
	Stdout          string // capped at the executor's output cap
	Stderr          string // capped likewise
	StdoutTruncated bool   // Stdout was cut at the cap
	StderrTruncated bool   // Stderr was cut at the cap
	// KeyExchange is the negotiated SSH key exchange algorithm.
	KeyExchange string
	// Err is set when the script did not run to a normal exit: the
	// template, the connection, the host key, sudo, a timeout
	// ([ErrTimeout]) or cancellation. A non-zero exit status alone is not
	// an error.
	Err error
}

// ErrTimeout is wrapped by Result.Err when a script ran past its timeout.
var ErrTimeout = errors.New("scripting: script timed out")

// ErrRunAs is wrapped by Result.Err when sudo is missing or refuses.
var ErrRunAs = errors.New("scripting: cannot run as the requested user")

// Status classifies the result.
func (r Result) Status() Status {
	switch {
	case r.TimedOut:
		return StatusTimedOut
	case errors.Is(r.Err, ErrRunAs):
		return StatusFailed
	case r.Err != nil:
		return StatusError
	case r.ExitCode != 0:
		return StatusFailed
	}
	return StatusOK
}

// OK reports whether the script exited with status 0.
func (r Result) OK() bool { return r.Status() == StatusOK }

// Duration is how long the execution took, connection included.
func (r Result) Duration() time.Duration { return r.Finished.Sub(r.Started) }

// LogEntry turns the result into a scripting log entry for event.
func (r Result) LogEntry(event string) LogEntry {
	e := LogEntry{
		Farm: r.Target.Farm, Role: r.Target.Role, Server: r.Target.ServerID, Addr: r.Target.Addr,
		Event: event, Script: r.Script, Version: r.Version, Started: r.Started, Finished: r.Finished,
		ExitCode: r.ExitCode, TimedOut: r.TimedOut, Stdout: r.Stdout, Stderr: r.Stderr,
		StdoutTruncated: r.StdoutTruncated, StderrTruncated: r.StderrTruncated,
	}
	if r.Err != nil {
		e.Err = r.Err.Error()
	}
	return e
}

// Run renders job's script with the target's variables and runs it on the
// target. It always returns a Result; Result.Err says what went wrong. A
// template error is found before any connection is made.
func (e *Executor) Run(ctx context.Context, t Target, job Job) Result {
	body, err := renderFor(job, t)
	if err != nil {
		return e.finish(ctx, job, e.failed(t, job, err))
	}
	scope := e.newScope()
	defer scope.close()
	return e.finish(ctx, job, e.runRendered(ctx, scope, t, job, body))
}

// renderFor renders the job's script for one target.
func renderFor(job Job, t Target) (rendered, error) {
	if err := checkFiles(job.Files); err != nil {
		return rendered{}, fmt.Errorf("script %q: %w", job.Script.Name, err)
	}
	vars := Merge(job.Vars, t.Vars)
	if err := vars.Validate(); err != nil {
		return rendered{}, fmt.Errorf("script %q on %s: %w", job.Script.Name, t.Addr, err)
	}
	body, err := job.Script.Render(vars)
	if err != nil {
		return rendered{}, err
	}
	return rendered{body: body, vars: vars}, nil
}

type rendered struct {
	body string
	vars Vars
}

func (e *Executor) failed(t Target, job Job, err error) Result {
	now := e.clock.Now()
	return Result{Target: t, Script: job.Script.Name, Version: job.Script.Version, Started: now, Finished: now, ExitCode: -1, Err: err}
}

// finish records the result in the log.
func (e *Executor) finish(ctx context.Context, job Job, r Result) Result {
	if e.log != nil {
		if err := e.log.Append(context.WithoutCancel(ctx), r.LogEntry(job.Event)); err != nil {
			e.logger.Warn("scripting log append failed", "server", r.Target.ServerID, "addr", r.Target.Addr, "err", err)
		}
	}
	return r
}

func (e *Executor) runRendered(ctx context.Context, scope *dialScope, t Target, job Job, r rendered) Result {
	res := Result{Target: t, Script: job.Script.Name, Version: job.Script.Version, Started: e.clock.Now(), ExitCode: -1}
	c, err := scope.connect(ctx, t)
	if err != nil {
		res.Err, res.Finished = err, e.clock.Now()
		return res
	}
	res.KeyExchange = c.kex
	e.execute(ctx, c, t, job, r, &res)
	c.close()
	res.Finished = e.clock.Now()
	return res
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}
