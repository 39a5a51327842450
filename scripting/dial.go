package scripting

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Target is one server to run a script on.
type Target struct {
	// Addr is "host:port"; a bare host means port 22.
	Addr string
	// User is the login user.
	User string
	// ServerID identifies the server to a [HostKeySource] and in the
	// scripting log.
	ServerID string
	// Farm and Role label the scripting log.
	Farm, Role string
	// Vars are this server's template variables (see [Context.Vars]);
	// they override Job.Vars.
	Vars Vars
	// Jump is the bastion to reach Addr through, or nil. Its Vars, Farm,
	// Role and Jump are ignored. Its host key is checked like any other.
	Jump *Target
}

func (t Target) addr() string {
	if _, _, err := net.SplitHostPort(t.Addr); err != nil {
		return net.JoinHostPort(t.Addr, "22")
	}
	return t.Addr
}

// Connection errors, matched with errors.Is.
var (
	// ErrUnreachable: the TCP connection or SSH handshake failed or did
	// not finish within DialTimeout.
	ErrUnreachable = errors.New("scripting: server unreachable")
	// ErrAuth: the server refused every client key.
	ErrAuth = errors.New("scripting: SSH authentication failed")
)

// conn is one SSH connection to a target, with its keepalive.
type conn struct {
	client *ssh.Client
	kex    string
	ka     *keepalive
	// hostKey is the key the server presented (a Pool reuses the
	// connection only while the host keys still trust it).
	hostKey ssh.PublicKey
}

func (c *conn) close() {
	if c.ka != nil {
		c.ka.stop()
	}
	_ = c.client.Close()
	if c.ka != nil {
		c.ka.wait()
	}
}

// dialScope caches the bastion connections of one Run or RunMany, so that
// every target behind a bastion is reached through one connection to it.
type dialScope struct {
	e        *Executor
	mu       sync.Mutex
	bastions map[string]*bastion
}

type bastion struct {
	ready chan struct{}
	c     *conn
	err   error
}

func (e *Executor) newScope() *dialScope {
	return &dialScope{e: e, bastions: map[string]*bastion{}}
}

// close closes the bastion connections. Every target connection through
// them must be closed first.
func (s *dialScope) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bastions {
		<-b.ready
		if b.c != nil {
			b.c.close()
		}
	}
	s.bastions = nil
}

func (s *dialScope) bastion(ctx context.Context, jump Target) (*conn, error) {
	key := jump.User + "@" + jump.addr()
	s.mu.Lock()
	b, ok := s.bastions[key]
	if !ok {
		b = &bastion{ready: make(chan struct{})}
		s.bastions[key] = b
	}
	s.mu.Unlock()
	if !ok {
		jump.Jump = nil
		b.c, b.err = s.connect(ctx, jump)
		if b.err != nil {
			b.err = fmt.Errorf("bastion %s: %w", jump.addr(), b.err)
		}
		close(b.ready)
	}
	select {
	case <-b.ready:
		return b.c, b.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// connect dials t (through its bastion, if any) and completes the SSH
// handshake within DialTimeout.
func (s *dialScope) connect(ctx context.Context, t Target) (*conn, error) {
	e := s.e
	addr := t.addr()
	hc, err := e.hostKeys.forTarget(ctx, addr, t.ServerID)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, e.dialTimeout)
	defer cancel()
	var raw net.Conn
	if t.Jump != nil {
		b, err := s.bastion(ctx, *t.Jump)
		if err != nil {
			return nil, err
		}
		raw, err = b.client.DialContext(dctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s via bastion %s: %w: %w", addr, t.Jump.addr(), ErrUnreachable, err)
		}
	} else {
		raw, err = e.dial(dctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", addr, ErrUnreachable, err)
		}
	}
	var presented ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: t.User,
		Auth: e.auth,
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			presented = key
			return hc.callback(host, remote, key)
		},
		HostKeyAlgorithms: hc.algorithms,
	}
	c, err := handshake(dctx, raw, addr, cfg)
	if err != nil {
		return nil, err
	}
	c.hostKey = presented
	return e.startKeepalive(c), nil
}

// handshake runs the SSH handshake on raw, bounded by ctx's deadline:
// ClientConfig.Timeout bounds only the TCP connect, and a listener that
// accepts and never speaks would otherwise hold the dial forever.
func handshake(ctx context.Context, raw net.Conn, addr string, cfg *ssh.ClientConfig) (*conn, error) {
	deadline, _ := ctx.Deadline()
	// A TCP connection takes a deadline; a channel through a bastion
	// does not, so the context closes it instead.
	hasDeadline := raw.SetDeadline(deadline) == nil
	var timedOut bool
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timedOut = true
		mu.Unlock()
		if hasDeadline {
			_ = raw.SetDeadline(time.Unix(1, 0))
		} else {
			_ = raw.Close()
		}
	})
	c, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	stop()
	if err != nil {
		_ = raw.Close()
		mu.Lock()
		late := timedOut
		mu.Unlock()
		var ne net.Error
		switch {
		case errors.Is(err, ErrHostKeyMismatch), errors.Is(err, ErrHostKeyUnknown):
			return nil, err
		case late || errors.As(err, &ne) && ne.Timeout():
			if ctx.Err() == context.Canceled {
				return nil, fmt.Errorf("%s: SSH handshake: %w", addr, context.Canceled)
			}
			return nil, fmt.Errorf("%s: SSH handshake not finished in time: %w", addr, ErrUnreachable)
		case isAuthError(err):
			return nil, fmt.Errorf("%s: user %q: %w: %v", addr, cfg.User, ErrAuth, err)
		default:
			return nil, fmt.Errorf("%s: SSH handshake: %w: %w", addr, ErrUnreachable, err)
		}
	}
	if hasDeadline {
		_ = raw.SetDeadline(time.Time{})
	}
	kex := ""
	if am, ok := c.(ssh.AlgorithmsConnMetadata); ok {
		kex = am.Algorithms().KeyExchange
	}
	return &conn{client: ssh.NewClient(c, chans, reqs), kex: kex}, nil
}

func isAuthError(err error) bool {
	var se *ssh.ServerAuthError
	if errors.As(err, &se) {
		return true
	}
	// x/crypto reports exhausted methods as a plain error.
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

// keepalive sends keepalive@openssh.com requests on an idle schedule and
// closes the connection when MaxMissed of them go unanswered, so a script
// on a server that vanished fails instead of hanging until its timeout.
type keepalive struct {
	client   *ssh.Client
	interval time.Duration
	max      int

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
	pending bool
	missed  int
	wg      sync.WaitGroup
}

func (e *Executor) startKeepalive(c *conn) *conn {
	if e.keepAlive <= 0 {
		return c
	}
	k := &keepalive{client: c.client, interval: e.keepAlive, max: e.keepAliveMax}
	k.mu.Lock()
	k.timer = time.AfterFunc(k.interval, k.tick)
	k.mu.Unlock()
	c.ka = k
	return c
}

func (k *keepalive) tick() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	if k.pending {
		k.missed++
		if k.missed >= k.max {
			k.stopped = true
			k.mu.Unlock()
			_ = k.client.Close()
			return
		}
		k.timer.Reset(k.interval)
		k.mu.Unlock()
		return
	}
	k.pending = true
	k.timer.Reset(k.interval)
	k.wg.Add(1)
	k.mu.Unlock()
	defer k.wg.Done()
	_, _, err := k.client.SendRequest("keepalive@openssh.com", true, nil)
	k.mu.Lock()
	if err == nil {
		k.pending, k.missed = false, 0
	}
	k.mu.Unlock()
}

func (k *keepalive) stop() {
	k.mu.Lock()
	k.stopped = true
	k.timer.Stop()
	k.mu.Unlock()
}

// wait waits for a request in flight; call it after closing the client.
func (k *keepalive) wait() { k.wg.Wait() }
