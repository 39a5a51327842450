package scripting

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeySource tells a server's host keys as authorized_keys lines, empty
// while they are not known yet. provider.HostKeyReader satisfies it.
type HostKeySource interface {
	HostKeys(ctx context.Context, serverID string) ([]string, error)
}

// Host key errors, matched with errors.Is.
var (
	// ErrHostKeyMismatch: the server presented a key other than the
	// pinned or known one. Possibly an attack; never retried around.
	ErrHostKeyMismatch = errors.New("scripting: host key mismatch")
	// ErrHostKeyUnknown: no key is pinned or known for the host and
	// trust on first use is off.
	ErrHostKeyUnknown = errors.New("scripting: host key unknown")
)

// HostKeyMismatchError tells which key the server presented and which were
// expected, as SHA256 fingerprints.
type HostKeyMismatchError struct {
	Host string
	Got  string
	Want []string
}

// Error names the host, the key it presented and the keys expected.
func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("host %s presented host key %s, but the expected keys are %s: refusing to connect (if the server was replaced, Forget its old key)",
		e.Host, e.Got, strings.Join(e.Want, ", "))
}

// Is reports whether target is ErrHostKeyMismatch.
func (e *HostKeyMismatchError) Is(target error) bool { return target == ErrHostKeyMismatch }

// HostKeysOptions configure a [HostKeys] store. The zero value trusts
// nothing: every host must be pinned.
type HostKeysOptions struct {
	// Source is asked for a target's keys (by Target.ServerID) when none
	// is pinned for its address; the answer is pinned.
	Source HostKeySource
	// KnownHostsFiles are OpenSSH known_hosts files consulted after the
	// pins and the Source.
	KnownHostsFiles []string
	// TrustOnFirstUse accepts and pins the key of a host that nothing
	// else knows. Off by default: a server is then refused until its key
	// is pinned.
	TrustOnFirstUse bool
	Logger          *slog.Logger
}

// HostKeys decides which SSH host keys are trusted. It fails closed: a
// host is trusted only through a pinned key, a key from the Source, a
// known_hosts entry, or (only when enabled) trust on first use; a changed
// key is always refused. It is safe for concurrent use.
type HostKeys struct {
	source     HostKeySource
	knownHosts ssh.HostKeyCallback
	tofu       bool
	logger     *slog.Logger

	mu   sync.Mutex
	pins map[string][]ssh.PublicKey // by knownhosts.Normalize(addr)
}

// NewHostKeys returns a store. opts may be nil.
func NewHostKeys(opts *HostKeysOptions) (*HostKeys, error) {
	if opts == nil {
		opts = &HostKeysOptions{}
	}
	h := &HostKeys{source: opts.Source, tofu: opts.TrustOnFirstUse, logger: orDiscard(opts.Logger), pins: map[string][]ssh.PublicKey{}}
	if len(opts.KnownHostsFiles) > 0 {
		cb, err := knownhosts.New(opts.KnownHostsFiles...)
		if err != nil {
			return nil, fmt.Errorf("known_hosts files %v: %w", opts.KnownHostsFiles, err)
		}
		h.knownHosts = cb
	}
	return h, nil
}

// Pin trusts keys for addr ("host:port", or "host" for port 22), adding
// to keys already pinned.
func (h *HostKeys) Pin(addr string, keys ...ssh.PublicKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := normalize(addr)
	for _, key := range keys {
		if !containsKey(h.pins[k], key) {
			h.pins[k] = append(h.pins[k], key)
		}
	}
}

// PinAuthorizedKeys pins keys given as authorized_keys lines
// ("ssh-ed25519 AAAA... comment"), the form providers report them in.
func (h *HostKeys) PinAuthorizedKeys(addr string, lines ...string) error {
	keys, err := parseKeyLines(lines)
	if err != nil {
		return fmt.Errorf("host %s: %w", addr, err)
	}
	h.Pin(addr, keys...)
	return nil
}

// Forget drops every key pinned for addr. Call it when the server there is
// terminated: clouds reuse addresses, and the next server at the address
// has a new key.
func (h *HostKeys) Forget(addr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.pins, normalize(addr))
}

// Pinned returns the keys pinned for addr.
func (h *HostKeys) Pinned(addr string) []ssh.PublicKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ssh.PublicKey(nil), h.pins[normalize(addr)]...)
}

// hostCheck is what one connection needs: the host key algorithms to offer
// and the callback that checks the key.
type hostCheck struct {
	algorithms []string
	callback   ssh.HostKeyCallback
}

// forTarget decides, before dialing, how the target's host key will be
// checked. It fails when nothing could ever be trusted, so that no
// connection is made in vain.
func (h *HostKeys) forTarget(ctx context.Context, addr, serverID string) (*hostCheck, error) {
	pins := h.Pinned(addr)
	if len(pins) == 0 && h.source != nil && serverID != "" {
		lines, err := h.source.HostKeys(ctx, serverID)
		if err != nil {
			return nil, fmt.Errorf("host keys of server %s: %w", serverID, err)
		}
		if len(lines) > 0 {
			if err := h.PinAuthorizedKeys(addr, lines...); err != nil {
				return nil, fmt.Errorf("host keys of server %s: %w", serverID, err)
			}
			pins = h.Pinned(addr)
		}
	}
	if len(pins) > 0 {
		return &hostCheck{algorithms: algorithmsFor(keyTypes(pins)), callback: h.pinnedCallback(pins)}, nil
	}
	if h.knownHosts != nil {
		if want := h.knownKeys(addr); len(want) > 0 {
			var types []string
			for _, k := range want {
				types = append(types, k.Key.Type())
			}
			return &hostCheck{algorithms: algorithmsFor(types), callback: h.knownHostsCallback()}, nil
		}
	}
	if h.tofu {
		return &hostCheck{callback: h.tofuCallback()}, nil
	}
	return nil, fmt.Errorf("host %s: no pinned or known host key, and trust on first use is off: %w", addr, ErrHostKeyUnknown)
}

func (h *HostKeys) pinnedCallback(pins []ssh.PublicKey) ssh.HostKeyCallback {
	return func(host string, _ net.Addr, key ssh.PublicKey) error {
		if containsKey(pins, key) {
			return nil
		}
		return mismatch(host, key, pins)
	}
}

func (h *HostKeys) knownHostsCallback() ssh.HostKeyCallback {
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := h.knownHosts(host, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) > 0 {
			want := make([]ssh.PublicKey, len(ke.Want))
			for i, k := range ke.Want {
				want[i] = k.Key
			}
			return mismatch(host, key, want)
		}
		if err != nil {
			return fmt.Errorf("host %s: known_hosts: %w", host, err)
		}
		return nil
	}
}

func (h *HostKeys) tofuCallback() ssh.HostKeyCallback {
	return func(host string, _ net.Addr, key ssh.PublicKey) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		k := normalize(host)
		if pins := h.pins[k]; len(pins) > 0 {
			// Another connection pinned a key meanwhile.
			if containsKey(pins, key) {
				return nil
			}
			return mismatch(host, key, pins)
		}
		h.pins[k] = []ssh.PublicKey{key}
		h.logger.Info("trusted host key on first use", "host", host, "key", ssh.FingerprintSHA256(key))
		return nil
	}
}

// knownKeys lists the known_hosts keys for addr by checking a key that is
// certainly not among them: the mismatch error lists the ones that are.
func (h *HostKeys) knownKeys(addr string) []knownhosts.KnownKey {
	err := h.knownHosts(addr, stringAddr(addr), probeKey)
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		return ke.Want
	}
	return nil
}

// probeKey is a public key made once and never trusted anywhere.
var probeKey = func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
}()

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// algorithmsFor maps pinned key types to the host key algorithms to offer,
// so the server presents a key that can match. Without this, Go's default
// order (ECDSA and RSA before ed25519) makes a server with several host
// keys present one that is not pinned: a false mismatch.
func algorithmsFor(types []string) []string {
	var algs []string
	add := func(a ...string) {
		for _, x := range a {
			if !contains(algs, x) {
				algs = append(algs, x)
			}
		}
	}
	for _, t := range types {
		switch t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
		case ssh.CertAlgoRSAv01:
			add(ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01)
		default:
			add(t)
		}
	}
	return algs
}

func keyTypes(keys []ssh.PublicKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Type()
	}
	return out
}

func mismatch(host string, got ssh.PublicKey, want []ssh.PublicKey) error {
	e := &HostKeyMismatchError{Host: host, Got: got.Type() + " " + ssh.FingerprintSHA256(got)}
	for _, w := range want {
		e.Want = append(e.Want, w.Type()+" "+ssh.FingerprintSHA256(w))
	}
	return e
}

func parseKeyLines(lines []string) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(l))
		if err != nil {
			return nil, fmt.Errorf("host key line %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func containsKey(keys []ssh.PublicKey, k ssh.PublicKey) bool {
	b := k.Marshal()
	for _, x := range keys {
		if bytes.Equal(x.Marshal(), b) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normalize turns "host", "host:22" and "host:port" into the known_hosts
// form ("host", "[host]:port").
func normalize(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "22")
	}
	return knownhosts.Normalize(addr)
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
