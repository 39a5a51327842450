package scripting

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Defaults of [PoolOptions].
const (
	DefaultPoolIdleTimeout     = 90 * time.Second
	DefaultPoolMaxConns        = 1024
	DefaultPoolSessionsPerConn = 8
)

// PoolOptions configure a [Pool]. nil means the defaults.
type PoolOptions struct {
	// IdleTimeout closes a connection nothing has used for this long.
	IdleTimeout time.Duration
	// MaxConns caps the connections the pool keeps open. When it is full,
	// the least recently used idle connection is closed to make room; when
	// none is idle, the run gets a connection of its own, closed after it.
	MaxConns int
	// SessionsPerConn caps the sessions open at once on one connection
	// (OpenSSH's MaxSessions defaults to 10); more concurrent runs on one
	// server wait for a free session.
	SessionsPerConn int
}

// PoolStats count what a [Pool] did.
type PoolStats struct {
	// Open is the number of connections the pool holds now.
	Open int
	// Dials counts connections made (handshakes); Reuses counts runs
	// served on a connection that was already open.
	Dials, Reuses int
	// Discarded counts connections dropped because they broke, their
	// host key is no longer trusted, or they idled out or were evicted.
	Discarded int
}

// ErrPoolClosed is returned by a [Pool] after Close.
var ErrPoolClosed = errors.New("scripting: pool is closed")

// Pool runs jobs like [Executor.Run] but keeps one SSH connection per
// server open between runs, so that frequent small reads (load average,
// memory, command checks) cost a session instead of a handshake. A
// connection is reused only for the same user, address and server ID, and
// only while the executor's [HostKeys] still trust the key it presented:
// after [HostKeys.Forget] or a new pin for its address it is closed, not
// reused. A connection that breaks is dropped and the run is retried once
// on a new one when the session could not even be opened. Targets reached
// through a Jump host are not pooled. It is safe for concurrent use; Close
// it when done.
type Pool struct {
	e       *Executor
	idle    time.Duration
	max     int
	perConn int

	mu     sync.Mutex
	conns  map[string]*pooledConn
	closed bool
	stats  PoolStats
}

type pooledConn struct {
	key   string
	addr  string
	ready chan struct{} // closed when the dial finished
	c     *conn
	err   error
	// pinned: the presented key was pinned right after the handshake,
	// so the connection stays usable only while that pin stands.
	pinned bool
	sem    chan struct{}
	// sftp is opened on first ReadFile and kept with the connection;
	// sftpLock (a context-aware mutex: opening it is a network call)
	// guards it and noSFTP.
	sftpLock chan struct{}
	sftp     *sftp.Client
	noSFTP   bool // the server has no SFTP subsystem
	// The fields below are guarded by Pool.mu.
	inUse    int
	lastUsed time.Time
	timer    *time.Timer
	dead     bool
	own      bool // not in the map: closed after its one run
}

// close closes the connection; no run uses it any more.
func (pc *pooledConn) close() {
	pc.sftpLock <- struct{}{}
	if pc.sftp != nil {
		_ = pc.sftp.Close()
	}
	<-pc.sftpLock
	pc.c.close()
}

// NewPool returns a pool running jobs through e. opts may be nil.
func NewPool(e *Executor, opts *PoolOptions) *Pool {
	if opts == nil {
		opts = &PoolOptions{}
	}
	return &Pool{
		e:       e,
		idle:    orDuration(max(opts.IdleTimeout, 0), DefaultPoolIdleTimeout),
		max:     orInt(max(opts.MaxConns, 0), DefaultPoolMaxConns),
		perConn: orInt(max(opts.SessionsPerConn, 0), DefaultPoolSessionsPerConn),
		conns:   map[string]*pooledConn{},
	}
}

// Run renders job's script for t and runs it on a pooled connection to
// t, recording it in the executor's log as [Executor.Run] does.
func (p *Pool) Run(ctx context.Context, t Target, job Job) Result {
	return p.e.finish(ctx, job, p.run(ctx, t, job))
}

// Output runs command (not a template) on t over a pooled connection and
// returns its standard output. The error is nil only when the command
// exited with status 0; otherwise it says why, with the first line of
// stderr. It is not recorded in the executor's log.
func (p *Pool) Output(ctx context.Context, t Target, command string) ([]byte, error) {
	r := p.run(ctx, t, Job{Script: Script{Name: "command", Body: Escape(command)}})
	switch {
	case r.Err != nil:
		return []byte(r.Stdout), r.Err
	case !r.OK():
		first, _, _ := strings.Cut(strings.TrimSpace(r.Stderr), "\n")
		if r.Signal != "" {
			return []byte(r.Stdout), fmt.Errorf("%s: command ended by signal %s: %s", t.addr(), r.Signal, first)
		}
		return []byte(r.Stdout), fmt.Errorf("%s: command exited with status %d: %s", t.addr(), r.ExitCode, first)
	}
	return []byte(r.Stdout), nil
}

// ReadFile reads the file at path on t (up to the executor's OutputCap
// bytes) through an SFTP session kept open on the pooled connection, so a
// read starts no process on the server: the cheapest way to sample
// /proc/loadavg or /proc/meminfo. A server without the SFTP subsystem is
// read with cat instead. Nothing is logged.
func (p *Pool) ReadFile(ctx context.Context, t Target, path string) ([]byte, error) {
	if t.Jump == nil {
		for attempt := 0; ; attempt++ {
			pc, reused, err := p.get(ctx, t)
			if err != nil {
				return nil, err
			}
			data, useCat, err := p.readSFTP(ctx, pc, path)
			p.release(pc, err != nil && !isFileError(err))
			if useCat {
				break
			}
			if err != nil && reused && attempt == 0 && !isFileError(err) && ctx.Err() == nil {
				continue // the server dropped an idle connection
			}
			if err != nil {
				return nil, fmt.Errorf("%s: read %s: %w", t.addr(), path, err)
			}
			return data, nil
		}
	}
	return p.Output(ctx, t, "cat "+ShellQuote(path))
}

// readSFTP reads path over pc's SFTP session, opening it first when
// needed; useCat says the server has no SFTP.
func (p *Pool) readSFTP(ctx context.Context, pc *pooledConn, path string) (data []byte, useCat bool, err error) {
	// SFTP calls take no context: closing the connection ends them.
	stop := context.AfterFunc(ctx, func() { _ = pc.c.client.Close() })
	defer func() {
		if !stop() {
			data, err = nil, ctx.Err()
		}
	}()
	select {
	case pc.sftpLock <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if pc.noSFTP {
		<-pc.sftpLock
		return nil, true, nil
	}
	if pc.sftp == nil {
		sc, err := sftp.NewClient(pc.c.client)
		if err != nil {
			var oce *ssh.OpenChannelError
			if errors.As(err, &oce) || strings.Contains(err.Error(), "subsystem request failed") {
				pc.noSFTP = true
				<-pc.sftpLock
				return nil, true, nil
			}
			<-pc.sftpLock
			return nil, false, err
		}
		pc.sftp = sc
	}
	sc := pc.sftp
	<-pc.sftpLock
	f, err := sc.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	buf := make([]byte, min(p.e.outputCap, 32<<10))
	var out []byte
	for len(out) < p.e.outputCap {
		n, err := f.Read(buf[:min(len(buf), p.e.outputCap-len(out))])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, err
		}
	}
	return out, false, nil
}

// isFileError reports whether err is about the file (missing, not
// readable), not the connection.
func isFileError(err error) bool {
	var se *sftp.StatusError
	return errors.As(err, &se) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

func (p *Pool) run(ctx context.Context, t Target, job Job) Result {
	r, err := renderFor(job, t)
	if err != nil {
		return p.e.failed(t, job, err)
	}
	if t.Jump != nil {
		scope := p.e.newScope()
		defer scope.close()
		return p.e.runRendered(ctx, scope, t, job, r)
	}
	for attempt := 0; ; attempt++ {
		res := Result{Target: t, Script: job.Script.Name, Version: job.Script.Version, Started: p.e.clock.Now(), ExitCode: -1}
		pc, reused, err := p.get(ctx, t)
		if err != nil {
			res.Err, res.Finished = err, p.e.clock.Now()
			return res
		}
		res.KeyExchange = pc.c.kex
		p.e.execute(ctx, pc.c, t, job, r, &res)
		res.Finished = p.e.clock.Now()
		broken := res.Err != nil && !errors.Is(res.Err, ErrRunAs) || res.TimedOut
		p.release(pc, broken)
		if broken && reused && attempt == 0 && errors.Is(res.Err, errOpenSession) && ctx.Err() == nil {
			// The server dropped an idle connection: dial again.
			continue
		}
		return res
	}
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Open = len(p.conns)
	return s
}

// Forget closes the pool's connections to addr ("host:port", or "host"
// for port 22): at once when idle, else when their runs end. Call it when
// the server there leaves, alongside [HostKeys.Forget].
func (p *Pool) Forget(addr string) {
	addr = Target{Addr: addr}.addr()
	p.mu.Lock()
	var idle []*pooledConn
	for key, pc := range p.conns {
		if pc.addr != addr {
			continue
		}
		select {
		case <-pc.ready:
		default:
			continue // still dialing: its trust is checked on first reuse
		}
		pc.dead = true
		p.stats.Discarded++
		delete(p.conns, key)
		if pc.timer != nil {
			pc.timer.Stop()
		}
		if pc.inUse == 0 {
			idle = append(idle, pc)
		}
	}
	p.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// Close closes the idle connections now and the others when their runs
// end. Runs started after Close fail with [ErrPoolClosed].
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var idle []*pooledConn
	for _, pc := range p.conns {
		select {
		case <-pc.ready:
		default:
			// Still dialing: the dialer sees closed and drops it.
			continue
		}
		pc.dead = true
		if pc.timer != nil {
			pc.timer.Stop()
		}
		if pc.inUse == 0 && pc.c != nil {
			idle = append(idle, pc)
		}
	}
	p.conns = map[string]*pooledConn{}
	p.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
	return nil
}

func poolKey(t Target) string { return t.User + "@" + t.addr() + "#" + t.ServerID }

// get returns a connection to t with one session slot taken; reused says
// it was open before.
func (p *Pool) get(ctx context.Context, t Target) (pc *pooledConn, reused bool, err error) {
	key := poolKey(t)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, false, ErrPoolClosed
		}
		pc = p.conns[key]
		if pc == nil {
			return p.dial(ctx, t, key) // unlocks p.mu
		}
		p.mu.Unlock()
		select {
		case <-pc.ready:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		if pc.err != nil {
			if ctx.Err() == nil && errors.Is(pc.err, context.Canceled) {
				continue // the dialer gave up, not us
			}
			return nil, false, pc.err
		}
		if !p.trusted(pc) {
			p.discard(pc)
			continue
		}
		select {
		case pc.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		p.mu.Lock()
		if pc.dead {
			p.mu.Unlock()
			<-pc.sem
			continue
		}
		pc.inUse++
		if pc.timer != nil {
			pc.timer.Stop()
		}
		p.stats.Reuses++
		p.mu.Unlock()
		return pc, true, nil
	}
}

// dial makes a new connection for key; p.mu is held on entry and released.
func (p *Pool) dial(ctx context.Context, t Target, key string) (*pooledConn, bool, error) {
	pc := &pooledConn{key: key, addr: t.addr(), ready: make(chan struct{}), sem: make(chan struct{}, p.perConn),
		sftpLock: make(chan struct{}, 1), inUse: 1}
	pc.sem <- struct{}{}
	if len(p.conns) >= p.max && !p.evictLocked() {
		pc.own = true
	} else {
		p.conns[key] = pc
	}
	p.stats.Dials++
	p.mu.Unlock()

	scope := p.e.newScope()
	c, err := scope.connect(ctx, t)
	scope.close()
	pc.c, pc.err = c, err
	if err == nil {
		pc.pinned = containsKey(p.e.hostKeys.Pinned(pc.addr), c.hostKey)
	}
	p.mu.Lock()
	if err != nil || p.closed {
		pc.dead = true
		if p.conns[key] == pc {
			delete(p.conns, key)
		}
	}
	closed := p.closed
	p.mu.Unlock()
	close(pc.ready)
	if err != nil {
		return nil, false, err
	}
	if closed {
		c.close()
		return nil, false, ErrPoolClosed
	}
	return pc, false, nil
}

// evictLocked closes the least recently used idle connection to make
// room, reporting whether there was one.
func (p *Pool) evictLocked() bool {
	var lru *pooledConn
	for _, pc := range p.conns {
		if pc.inUse == 0 && pc.c != nil && (lru == nil || pc.lastUsed.Before(lru.lastUsed)) {
			lru = pc
		}
	}
	if lru == nil {
		return false
	}
	lru.dead = true
	if lru.timer != nil {
		lru.timer.Stop()
	}
	delete(p.conns, lru.key)
	p.stats.Discarded++
	go lru.close() // the handshake of the new one need not wait for it
	return true
}

// trusted reports whether the host keys still trust the key pc's server
// presented: a connection made under a pin lives only while the pin does,
// and any connection dies when a pin for its address says otherwise.
func (p *Pool) trusted(pc *pooledConn) bool {
	pins := p.e.hostKeys.Pinned(pc.addr)
	if len(pins) == 0 {
		return !pc.pinned
	}
	return containsKey(pins, pc.c.hostKey)
}

// discard drops pc from the pool; it closes when its last run ends.
func (p *Pool) discard(pc *pooledConn) {
	p.mu.Lock()
	closeNow := false
	if !pc.dead {
		pc.dead = true
		p.stats.Discarded++
		if p.conns[pc.key] == pc {
			delete(p.conns, pc.key)
		}
		if pc.timer != nil {
			pc.timer.Stop()
		}
		closeNow = pc.inUse == 0
	}
	p.mu.Unlock()
	if closeNow {
		pc.close()
	}
}

// release returns pc's session slot; a broken connection is dropped.
func (p *Pool) release(pc *pooledConn, broken bool) {
	<-pc.sem
	p.mu.Lock()
	pc.inUse--
	pc.lastUsed = time.Now()
	if broken && !pc.dead {
		pc.dead = true
		p.stats.Discarded++
		if p.conns[pc.key] == pc {
			delete(p.conns, pc.key)
		}
	}
	closeNow := pc.inUse == 0 && (pc.dead || pc.own)
	if pc.inUse == 0 && !closeNow {
		if pc.timer == nil {
			pc.timer = time.AfterFunc(p.idle, func() { p.expire(pc) })
		} else {
			pc.timer.Reset(p.idle)
		}
	}
	p.mu.Unlock()
	if closeNow {
		pc.close()
	}
}

// expire closes pc when it is still idle.
func (p *Pool) expire(pc *pooledConn) {
	p.mu.Lock()
	if pc.inUse > 0 || pc.dead || time.Since(pc.lastUsed) < p.idle {
		p.mu.Unlock()
		return
	}
	pc.dead = true
	p.stats.Discarded++
	if p.conns[pc.key] == pc {
		delete(p.conns, pc.key)
	}
	p.mu.Unlock()
	pc.close()
}
