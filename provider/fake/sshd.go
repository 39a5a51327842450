package fake

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/provider"
)

// SSHOptions turn on an SSH endpoint per fake server.
//
// Each server launched by the fake cloud then listens on 127.0.0.1 at a port
// of its own (Server.SSHAddress), presents its own ed25519 host key (the one
// HostKeys returns), accepts the public keys in AuthorizedKeys and the
// launch spec's SSHPublicKey, and runs "exec" requests as Shell -c COMMAND in
// its sandbox directory Dir/<server ID>. The "sftp" subsystem works in the
// same directory. The endpoint answers only while the server is running:
// connections to a pending, stopped or failed server are closed at once.
//
// Commands get PATH, HOME (the sandbox), USER, LOGNAME, SHELL, LANG=C and
// FARMHAND_SERVER_ID, plus any variable the client sends with an "env"
// request (every name is accepted, unlike OpenSSH's AcceptEnv). "shell"
// runs Shell reading commands from stdin; there are no pseudo-terminals.
// SetLoad writes the load averages to proc/loadavg in the sandbox.
//
// The sandbox is a directory, not a jail: commands run as the user running
// the test, with that user's rights, and SFTP resolves absolute paths on the
// real file system. Run only your own scripts against it.
type SSHOptions struct {
	// AuthorizedKeys may log in to every server.
	AuthorizedKeys []ssh.PublicKey
	// Dir is the sandbox root; each server works in Dir/<server ID>,
	// created at launch. Empty means a temporary directory that Close
	// removes.
	Dir string
	// Shell runs the commands; empty means /bin/sh.
	Shell string
}

var errClosed = errors.New("the fake cloud's SSH endpoints are closed")

// handshakeTimeout bounds the SSH handshake of one connection, so that a
// client that connects and says nothing does not hold a goroutine forever.
const handshakeTimeout = 10 * time.Second

// sshHost owns every endpoint of one fake cloud and their goroutines.
type sshHost struct {
	p       *Provider
	keys    []ssh.PublicKey
	shell   string
	root    string
	tempDir bool
	initErr error

	mu        sync.Mutex
	endpoints map[string]*endpoint
	closed    bool
	wg        sync.WaitGroup // every goroutine started by the endpoints
}

// endpoint is one server's SSH listener.
type endpoint struct {
	host   *sshHost
	id     string
	dir    string
	ln     net.Listener
	addr   string
	config *ssh.ServerConfig

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	stopped bool
}

func newSSHHost(p *Provider, opts SSHOptions) *sshHost {
	h := &sshHost{
		p:         p,
		keys:      opts.AuthorizedKeys,
		shell:     opts.Shell,
		root:      opts.Dir,
		endpoints: map[string]*endpoint{},
	}
	if h.shell == "" {
		h.shell = "/bin/sh"
	}
	if h.root == "" {
		dir, err := os.MkdirTemp("", "farmhand-fake-ssh-")
		h.root, h.tempDir, h.initErr = dir, err == nil, err
	}
	return h
}

// start opens a server's endpoint. extraKeys are authorized_keys lines
// allowed on this server only (the launch spec's key).
func (h *sshHost) start(id string, hostKey ed25519.PrivateKey, extraKeys []string) error {
	if h.initErr != nil {
		return fmt.Errorf("sandbox root: %w", h.initErr)
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return errClosed
	}
	signer, err := ssh.NewSignerFromKey(hostKey)
	if err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	allowed := make([][]byte, 0, len(h.keys)+len(extraKeys))
	for _, k := range h.keys {
		allowed = append(allowed, k.Marshal())
	}
	for _, line := range extraKeys {
		k, err := parseAuthorizedKey(line)
		if err != nil {
			return fmt.Errorf("launch key: %w", err)
		}
		allowed = append(allowed, k.Marshal())
	}
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			m := key.Marshal()
			for _, a := range allowed {
				if bytes.Equal(a, m) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("public key not authorized")
		},
	}
	config.AddHostKey(signer)

	dir := filepath.Join(h.root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ep := &endpoint{host: h, id: id, dir: dir, ln: ln, addr: ln.Addr().String(), config: config, conns: map[net.Conn]struct{}{}}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ln.Close()
		return errClosed
	}
	h.endpoints[id] = ep
	h.wg.Add(1)
	h.mu.Unlock()
	go ep.acceptLoop()
	return nil
}

func (h *sshHost) endpoint(id string) *endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.endpoints[id]
}

// address returns the server's "127.0.0.1:port", or "" without endpoint.
func (h *sshHost) address(id string) string {
	if ep := h.endpoint(id); ep != nil && !ep.isStopped() {
		return ep.addr
	}
	return ""
}

// stop closes a server's endpoint for good.
func (h *sshHost) stop(id string) {
	if ep := h.endpoint(id); ep != nil {
		ep.stop()
	}
}

// dropConnections closes a server's open connections; the listener stays.
func (h *sshHost) dropConnections(id string) {
	if ep := h.endpoint(id); ep != nil {
		ep.dropConnections()
	}
}

// writeSandboxFile writes a file below a server's sandbox directory.
func (h *sshHost) writeSandboxFile(id, rel, content string) error {
	ep := h.endpoint(id)
	if ep == nil {
		return nil
	}
	path := filepath.Join(ep.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

// close stops every endpoint and waits for all goroutines and commands.
func (h *sshHost) close() error {
	h.mu.Lock()
	h.closed = true
	eps := make([]*endpoint, 0, len(h.endpoints))
	for _, ep := range h.endpoints {
		eps = append(eps, ep)
	}
	h.mu.Unlock()
	for _, ep := range eps {
		ep.stop()
	}
	h.wg.Wait()
	if h.tempDir {
		return os.RemoveAll(h.root)
	}
	return nil
}

// go runs f as a goroutine owned by the host.
func (h *sshHost) goOwned(f func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
}

func (ep *endpoint) isStopped() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.stopped
}

func (ep *endpoint) stop() {
	ep.mu.Lock()
	ep.stopped = true
	ep.mu.Unlock()
	ep.ln.Close()
	ep.dropConnections()
}

func (ep *endpoint) dropConnections() {
	ep.mu.Lock()
	conns := ep.conns
	ep.conns = map[net.Conn]struct{}{}
	ep.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// track registers a connection so that stop and dropConnections close it.
// It reports false, having closed c, when the endpoint is stopped.
func (ep *endpoint) track(c net.Conn) bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.stopped {
		c.Close()
		return false
	}
	ep.conns[c] = struct{}{}
	return true
}

func (ep *endpoint) untrack(c net.Conn) {
	ep.mu.Lock()
	delete(ep.conns, c)
	ep.mu.Unlock()
	c.Close()
}

func (ep *endpoint) acceptLoop() {
	defer ep.host.wg.Done()
	for {
		c, err := ep.ln.Accept()
		if err != nil {
			return // listener closed
		}
		ready, hung := ep.host.p.sshStatus(ep.id)
		switch {
		case hung:
			// Accept and never answer; stop or dropConnections closes it.
			ep.track(c)
		case !ready:
			c.Close()
		default:
			if ep.track(c) {
				ep.host.goOwned(func() { ep.serveConn(c) })
			}
		}
	}
}

func (ep *endpoint) serveConn(c net.Conn) {
	defer ep.untrack(c)
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(c, ep.config)
	if err != nil {
		ep.host.p.log.Debug("fake: SSH handshake failed", "server", ep.id, "err", err)
		return
	}
	_ = c.SetDeadline(time.Time{})
	defer sc.Close()
	ep.host.goOwned(func() { ssh.DiscardRequests(reqs) })
	var sessions sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		sessions.Add(1)
		ep.host.goOwned(func() {
			defer sessions.Done()
			s := &session{ep: ep, ch: ch, user: sc.User()}
			s.serve(creqs)
		})
	}
	sessions.Wait()
}

// sshStatus tells an endpoint whether its server answers SSH now.
func (p *Provider) sshStatus(id string) (ready, hung bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	srv, ok := p.servers[id]
	if !ok {
		return false, false
	}
	return p.sshReadyLocked(srv), srv.hung && p.stateLocked(srv) == provider.StateRunning
}

func parseAuthorizedKey(line string) (ssh.PublicKey, error) {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	return k, err
}
