// Package sshdtest starts Debian's OpenSSH sshd for tests and benchmarks: a
// real server on a loopback port with its own host keys and one authorized
// client key, all generated in a temporary directory.
//
// # Starting a server
//
// Tests call [Start], which skips the test when /usr/sbin/sshd is missing (and
// fails it instead when CI=true) and stops the server in t.Cleanup. Programs
// such as the fan-out benchmark call [Launch] and [Server.Close] themselves.
//
// The server runs "/usr/sbin/sshd -D -e -f CONFIG" (sshd must be started by
// absolute path) after "sshd -t" has checked the configuration, listens on
// 127.0.0.1 and on the loopback addresses of [Options.ListenAddresses]
// only, never on a wildcard address, and is ready when the port answers
// with an SSH banner. The login user is the user running the test.
//
// # Many hosts, one sshd
//
// A test that plays many servers at many loopback addresses (127.1.0.5,
// 127.100.0.7, ...) gives its SSH client [Server.Dial] as dialer: every
// connection to a loopback address on any port reaches this sshd, while
// the client still sees, pins host keys for and logs the address it meant.
// sshd itself accepts at most 16 listen addresses, too few for a fan-out.
//
// # Configuration choices
//
// MaxStartups is 1000:30:2000 because the default (10:30:100) drops many of
// 200 simultaneous connections; MaxSessions is 64; "SetEnv SHLVL=1" keeps
// Debian's bash from sourcing ~/.bashrc for every command, which on these
// machines costs about 0.1 s of CPU per login. The server's log (LogLevel
// VERBOSE) goes to a file, readable with [Server.Log].
package sshdtest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/internal/testproc"
)

// Binary is the sshd the package starts.
const Binary = "/usr/sbin/sshd"

// Options change the server. The zero value (or nil) gives an ed25519 host
// key on 127.0.0.1 and a free port.
type Options struct {
	// ListenAddresses are loopback addresses (127.x.y.z) sshd listens on
	// besides 127.0.0.1, at most 15: for a test in which sshd itself
	// connects to a server address, as a bastion does. A client reaches
	// any address through [Server.Dial] instead.
	ListenAddresses []string
	// HostKeyTypes lists the host keys the server has, from "ed25519",
	// "ecdsa", "rsa". Empty means ed25519 only.
	HostKeyTypes []string
	// ExtraConfig lines are appended to sshd_config.
	ExtraConfig []string
}

// Server is a running sshd.
type Server struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Port is the TCP port sshd listens on.
	Port int
	// Dir holds the configuration, keys and log.
	Dir string
	// User is the login user: the user running the test.
	User string
	// HostKeys are the server's host public keys, in the order of
	// Options.HostKeyTypes.
	HostKeys []ssh.PublicKey
	// ClientSigner is the private key whose public half is in the server's
	// authorized_keys.
	ClientSigner ssh.Signer
	// ClientKeyFile is the same private key in OpenSSH format, for ssh(1).
	ClientKeyFile string

	proc    *testproc.Process
	logPath string
}

// Available reports whether sshd is installed.
func Available() bool { return testproc.Available(Binary) }

// Start launches a server for a test. It skips the test when sshd is not
// installed, unless CI=true, where it fails it. The server stops in
// t.Cleanup.
func Start(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	Require(tb)
	return testproc.ForTest(tb, "sshdtest", func(ctx context.Context, dir string) (*Server, error) {
		return Launch(ctx, dir, opts)
	})
}

// Require skips tb when sshd is not installed, or fails it when CI=true.
func Require(tb testing.TB) {
	tb.Helper()
	testproc.Require(tb, "sshdtest", Binary, "openssh-server")
}

// Launch starts sshd with its files in dir (which must exist and be
// writable) and waits until it answers. Close stops it.
func Launch(ctx context.Context, dir string, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	if os.Geteuid() == 0 {
		// sshd refuses to start as root without its privilege
		// separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, fmt.Errorf("mkdir /run/sshd: %w", err)
		}
	}
	if len(opts.ListenAddresses) > 15 {
		return nil, fmt.Errorf("%d listen addresses: sshd takes at most 16 with 127.0.0.1", len(opts.ListenAddresses))
	}
	for _, a := range opts.ListenAddresses {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("listen address %q is not a loopback address", a)
		}
	}
	s := &Server{Dir: dir, User: u.Username, logPath: filepath.Join(dir, "sshd.log")}
	types := opts.HostKeyTypes
	if len(types) == 0 {
		types = []string{"ed25519"}
	}
	var hostKeyFiles []string
	for _, typ := range types {
		pub, path, err := writeKey(dir, "hostkey_"+typ, typ)
		if err != nil {
			return nil, err
		}
		s.HostKeys = append(s.HostKeys, pub)
		hostKeyFiles = append(hostKeyFiles, path)
	}
	clientPub, clientPath, err := writeKey(dir, "client_ed25519", "ed25519")
	if err != nil {
		return nil, err
	}
	s.ClientKeyFile = clientPath
	pemBytes, err := os.ReadFile(clientPath)
	if err != nil {
		return nil, err
	}
	if s.ClientSigner, err = ssh.ParsePrivateKey(pemBytes); err != nil {
		return nil, fmt.Errorf("parse client key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		return nil, err
	}

	cfgPath := filepath.Join(dir, "sshd_config")
	err = testproc.OnFreePort(func(port int) error {
		if err := os.WriteFile(cfgPath, []byte(s.config(port, opts, hostKeyFiles)), 0o600); err != nil {
			return err
		}
		return testproc.Check(ctx, Binary, "-t", "-f", cfgPath)
	}, func(port int) error {
		return s.start(ctx, cfgPath, port)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) config(port int, opts *Options, hostKeyFiles []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Port %d\nListenAddress 127.0.0.1\n", port)
	for _, a := range opts.ListenAddresses {
		fmt.Fprintf(&b, "ListenAddress %s\n", a)
	}
	for _, f := range hostKeyFiles {
		fmt.Fprintf(&b, "HostKey %s\n", f)
	}
	fmt.Fprintf(&b, "PidFile %s\n", filepath.Join(s.Dir, "sshd.pid"))
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", filepath.Join(s.Dir, "authorized_keys"))
	b.WriteString(`StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
MaxStartups 1000:30:2000
MaxSessions 64
SetEnv SHLVL=1
UseDNS no
LogLevel VERBOSE
`)
	for _, l := range opts.ExtraConfig {
		b.WriteString(l + "\n")
	}
	return b.String()
}

func (s *Server) start(ctx context.Context, cfgPath string, port int) error {
	s.Port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	proc, err := testproc.Start(ctx, exec.Command(Binary, "-D", "-e", "-f", cfgPath), s.logPath, 10*time.Second, s.sendsBanner)
	if err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// Dial connects to this sshd in place of address, which must be a loopback
// address (any port): a test's SSH client given Dial reaches one sshd at
// the many addresses of the servers it plays. Other addresses are refused,
// and nothing is dialled for them.
func (s *Server) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("sshdtest: %s is not a loopback address; the test sshd answers only on loopback", address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, s.Addr)
}

// sendsBanner reports whether sshd answers on its port with an SSH banner.
func (s *Server) sendsBanner(ctx context.Context) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("banner from %s: %w", s.Addr, err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("banner from %s: %q, want SSH-2.0-", s.Addr, line)
	}
	return nil
}

// CPU returns the CPU time (user+system) sshd and all its finished
// children (one per connection, and their shells) have used, read from
// /proc. The benchmark uses it to show the server's share of the work.
func (s *Server) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.proc.Pid()))
	if err != nil {
		return 0, err
	}
	// Fields after the ")" that ends the command name: state is field 3;
	// utime, stime, cutime, cstime are fields 14 to 17.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc stat of sshd: %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, fmt.Errorf("parse /proc stat of sshd: %q", b)
	}
	var ticks int64
	for _, x := range f[11:15] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat of sshd: %w", err)
		}
		ticks += n
	}
	// The kernel reports in USER_HZ, 100 on Linux.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Log returns what sshd has logged so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// HostKeyLine returns the first host key in authorized_keys format
// ("ssh-ed25519 AAAA...").
func (s *Server) HostKeyLine() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKeys[0])))
}

// KnownHostsLine returns a known_hosts line for addr ("host:port") with
// every host key of the server.
func (s *Server) KnownHostsLines(addr string) string {
	var b strings.Builder
	host, port, _ := net.SplitHostPort(addr)
	pattern := host
	if port != "22" {
		pattern = "[" + host + "]:" + port
	}
	for _, k := range s.HostKeys {
		fmt.Fprintf(&b, "%s %s", pattern, ssh.MarshalAuthorizedKey(k))
	}
	return b.String()
}

// WriteSSHConfig writes, in dir, a known_hosts file with the server's keys
// for each of addrs (loopback host addresses, the server's port) and an
// ssh_config that sends OpenSSH's ssh (and pdsh -R ssh) for any of them to
// this server with its client key, host keys checked strictly. It returns
// the ssh_config's path, for ssh -F.
func (s *Server) WriteSSHConfig(dir string, addrs []string) (string, error) {
	var known strings.Builder
	for _, a := range addrs {
		known.WriteString(s.KnownHostsLines(net.JoinHostPort(a, strconv.Itoa(s.Port))))
	}
	known.WriteString(s.KnownHostsLines(s.Addr)) // ssh checks the key of HostName
	knownPath := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownPath, []byte(known.String()), 0o600); err != nil {
		return "", err
	}
	cfgPath := filepath.Join(dir, "ssh_config")
	cfg := fmt.Sprintf(`Host *
  HostName 127.0.0.1
  Port %d
  User %s
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
`, s.Port, s.User, s.ClientKeyFile, knownPath)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	return cfgPath, nil
}

// Close stops sshd and waits for it to exit.
func (s *Server) Close() error {
	if s.proc == nil {
		return nil
	}
	return s.proc.Stop(5 * time.Second)
}

// writeKey generates a private key of type typ, writes it in OpenSSH format
// to dir/name and returns its public half.
func writeKey(dir, name, typ string) (ssh.PublicKey, string, error) {
	var priv any
	switch typ {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, "", err
		}
		priv = k
	case "ecdsa":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, "", err
		}
		priv = k
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, "", err
		}
		priv = k
	default:
		return nil, "", fmt.Errorf("host key type %q: want ed25519, ecdsa or rsa", typ)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, "", err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, "", err
	}
	return signer.PublicKey(), path, nil
}
