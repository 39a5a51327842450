package fake_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

// sshCloud is a fake cloud with SSH endpoints and one running server.
type sshCloud struct {
	t      testing.TB
	clk    *clock.Fake
	cloud  *fake.Provider
	dir    string
	signer ssh.Signer
	server provider.Server
}

func newSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newSSHCloud(t testing.TB) *sshCloud {
	t.Helper()
	c := &sshCloud{t: t, clk: clock.NewFake(epoch), dir: t.TempDir(), signer: newSigner(t)}
	c.cloud = fake.New(fake.Options{
		Clock: c.clk,
		SSH:   &fake.SSHOptions{AuthorizedKeys: []ssh.PublicKey{c.signer.PublicKey()}, Dir: c.dir},
	})
	t.Cleanup(func() {
		if err := c.cloud.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c.server = c.launch(provider.LaunchSpec{Token: "t1", Count: 1, Image: "img"})[0]
	c.clk.Advance(fake.DefaultBootTime)
	return c
}

func (c *sshCloud) launch(spec provider.LaunchSpec) []provider.Server {
	c.t.Helper()
	got, err := c.cloud.Launch(context.Background(), spec)
	if err != nil {
		c.t.Fatalf("Launch: %v", err)
	}
	return got
}

// dial connects to a server with its host key pinned from HostKeys, with a
// deadline around the handshake.
func (c *sshCloud) dial(id string, signer ssh.Signer) (*ssh.Client, error) {
	c.t.Helper()
	ctx := context.Background()
	keys, err := c.cloud.HostKeys(ctx, id)
	if err != nil || len(keys) > 1 {
		c.t.Fatalf("HostKeys(%s) = %v, %v; want at most one key", id, keys, err)
	}
	hostKeyCallback := func(string, net.Addr, ssh.PublicKey) error {
		return errors.New("no host key is known yet")
	}
	algorithms := []string{ssh.KeyAlgoED25519}
	if len(keys) == 1 {
		hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(keys[0]))
		if err != nil {
			c.t.Fatalf("host key line %q: %v", keys[0], err)
		}
		hostKeyCallback, algorithms = ssh.FixedHostKey(hostKey), []string{hostKey.Type()}
	}
	srv, err := c.cloud.Get(ctx, id)
	if err != nil {
		c.t.Fatalf("Get: %v", err)
	}
	if srv.SSHAddress == "" {
		return nil, errors.New("server has no SSH address")
	}
	raw, err := net.DialTimeout("tcp", srv.SSHAddress, 2*time.Second)
	if err != nil {
		return nil, err
	}
	_ = raw.SetDeadline(time.Now().Add(2 * time.Second))
	cc, chans, reqs, err := ssh.NewClientConn(raw, srv.SSHAddress, &ssh.ClientConfig{
		User:              "farmhand",
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   hostKeyCallback,
		HostKeyAlgorithms: algorithms,
	})
	if err != nil {
		raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), nil
}

func (c *sshCloud) mustDial() *ssh.Client {
	c.t.Helper()
	client, err := c.dial(c.server.ID, c.signer)
	if err != nil {
		c.t.Fatalf("dial %s: %v", c.server.ID, err)
	}
	c.t.Cleanup(func() { client.Close() })
	return client
}

func TestSSHExec(t *testing.T) {
	c := newSSHCloud(t)
	client := c.mustDial()
	sandbox := filepath.Join(c.dir, c.server.ID)
	for _, tc := range []struct {
		name       string
		command    string
		stdin      string
		wantOut    string
		wantErrOut string
		wantCode   int
	}{
		{name: "stdout is returned and the exit code is 0", command: "echo hello", wantOut: "hello\n"},
		{name: "a nonzero exit code reaches the client", command: "exit 3", wantCode: 3},
		{name: "stderr is kept apart from stdout", command: "echo out; echo err >&2; exit 1", wantOut: "out\n", wantErrOut: "err\n", wantCode: 1},
		{name: "stdin reaches the command", command: "tr a-z A-Z", stdin: "shout\n", wantOut: "SHOUT\n"},
		{name: "the command runs in the server's sandbox", command: "pwd -P", wantOut: sandbox + "\n"},
		{name: "the server ID is in the environment", command: `echo "$FARMHAND_SERVER_ID"`, wantOut: c.server.ID + "\n"},
		{name: "an unknown command exits 127", command: "no-such-command-farmhand", wantCode: 127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess, err := client.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			var out, errOut bytes.Buffer
			sess.Stdout, sess.Stderr = &out, &errOut
			sess.Stdin = strings.NewReader(tc.stdin)
			err = sess.Run(tc.command)
			code := 0
			var ee *ssh.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitStatus()
			} else if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
			if out.String() != tc.wantOut {
				t.Errorf("stdout %q, want %q", out.String(), tc.wantOut)
			}
			if tc.wantErrOut != "" && errOut.String() != tc.wantErrOut {
				t.Errorf("stderr %q, want %q", errOut.String(), tc.wantErrOut)
			}
		})
	}
}

func TestSSHSFTPUploadIsSeenByCommands(t *testing.T) {
	c := newSSHCloud(t)
	client := c.mustDial()
	sc, err := sftp.NewClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	f, err := sc.Create("script.sh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("echo uploaded\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(c.dir, c.server.ID, "script.sh")); err != nil || string(got) != "echo uploaded\n" {
		t.Fatalf("sandbox file = %q, %v", got, err)
	}
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("sh script.sh")
	if err != nil || string(out) != "uploaded\n" {
		t.Fatalf("running the upload: %q, %v", out, err)
	}
}

// startSleeper runs a command that prints the PID of a background child and
// then waits, and returns the session and that PID.
func startSleeper(t *testing.T, client *ssh.Client) (*ssh.Session, int) {
	t.Helper()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("sleep 60 & echo $!; wait"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("PID line %q: %v", line, err)
	}
	if !alive(pid) {
		t.Fatalf("child %d is not running", pid)
	}
	return sess, pid
}

func alive(pid int) bool {
	// A killed child that its parent has not reaped yet is a zombie; /proc
	// tells the difference.
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat))
	return len(fields) > 2 && fields[2] != "Z"
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs 5 s after its session ended", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSSHClosingTheSessionKillsTheCommandAndItsChildren(t *testing.T) {
	c := newSSHCloud(t)
	client := c.mustDial()
	sess, pid := startSleeper(t, client)
	sess.Close()
	waitDead(t, pid)
}

func TestSSHSignalRequestReachesTheProcessGroup(t *testing.T) {
	c := newSSHCloud(t)
	client := c.mustDial()
	sess, pid := startSleeper(t, client)
	defer sess.Close()
	if err := sess.Signal(ssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := sess.Wait()
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "TERM" {
		t.Fatalf("Wait = %v, want exit by signal TERM", err)
	}
	waitDead(t, pid)
}

func TestSSHDroppedConnectionKillsTheCommand(t *testing.T) {
	c := newSSHCloud(t)
	client := c.mustDial()
	_, pid := startSleeper(t, client)
	if err := c.cloud.Crash(c.server.ID); err != nil {
		t.Fatal(err)
	}
	waitDead(t, pid)
}

func TestSSHAuthentication(t *testing.T) {
	c := newSSHCloud(t)
	if _, err := c.dial(c.server.ID, newSigner(t)); err == nil {
		t.Fatal("a key that is not authorized logged in")
	}

	// The launch spec's key is authorized on the servers of that launch.
	launchKey := newSigner(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(launchKey.PublicKey())))
	other := c.launch(provider.LaunchSpec{Token: "t2", Count: 1, Image: "img", SSHPublicKey: line})[0]
	c.clk.Advance(fake.DefaultBootTime)
	client, err := c.dial(other.ID, launchKey)
	if err != nil {
		t.Fatalf("the launch key did not log in: %v", err)
	}
	client.Close()
	if _, err := c.dial(c.server.ID, launchKey); err == nil {
		t.Fatal("the launch key of one server logged in to another")
	}
}

func TestSSHEndpointFollowsTheServerState(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		act    func(c *sshCloud, id string) error
		answer bool
	}{
		{name: "a pending server does not answer", act: func(c *sshCloud, id string) error {
			c.server = c.launch(provider.LaunchSpec{Token: "pending", Count: 1, Image: "img"})[0]
			return nil
		}},
		{name: "a stopped server does not answer", act: func(c *sshCloud, id string) error { return c.cloud.Stop(id) }},
		{name: "a failed server does not answer", act: func(c *sshCloud, id string) error { return c.cloud.Fail(id) }},
		{name: "a stopped and started server answers once booted", answer: true, act: func(c *sshCloud, id string) error {
			if err := c.cloud.Stop(id); err != nil {
				return err
			}
			if err := c.cloud.Start(id); err != nil {
				return err
			}
			c.clk.Advance(fake.DefaultBootTime)
			return nil
		}},
		{name: "a rebooted server answers once booted", answer: true, act: func(c *sshCloud, id string) error {
			if err := c.cloud.Reboot(ctx, id); err != nil {
				return err
			}
			c.clk.Advance(fake.DefaultBootTime)
			return nil
		}},
		{name: "a server whose IP changed still answers", answer: true, act: func(c *sshCloud, id string) error {
			_, _, err := c.cloud.ChangeIP(id)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newSSHCloud(t)
			if err := tc.act(c, c.server.ID); err != nil {
				t.Fatal(err)
			}
			if tc.answer {
				client, err := c.dial(c.server.ID, c.signer)
				if err != nil {
					t.Fatalf("dial failed: %v", err)
				}
				client.Close()
				return
			}
			// The endpoint closes the connection before its banner.
			s, err := c.cloud.Get(ctx, c.server.ID)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.DialTimeout("tcp", s.SSHAddress, time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v", s.SSHAddress, err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := conn.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
				t.Fatalf("read from the endpoint: %d bytes, %v; want EOF at once", n, err)
			}
		})
	}
}

func TestSSHHungServerStallsUntilRebooted(t *testing.T) {
	c := newSSHCloud(t)
	client := c.mustDial()
	if err := c.cloud.Hang(c.server.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := client.NewSession(); err == nil {
		t.Fatal("the connection open before Hang still works")
	}
	if s, _ := c.cloud.Get(context.Background(), c.server.ID); s.State != provider.StateRunning {
		t.Fatalf("a hung server is %q at the cloud, want running", s.State)
	}
	start := time.Now()
	_, err := c.dial(c.server.ID, c.signer)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("dial of a hung server: %v, want a handshake timeout", err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("dial of a hung server failed after %v, before the handshake deadline", time.Since(start))
	}
	if err := c.cloud.Reboot(context.Background(), c.server.ID); err != nil {
		t.Fatal(err)
	}
	c.clk.Advance(fake.DefaultBootTime)
	c.mustDial()
}

func TestSSHTerminatedServerHasNoEndpoint(t *testing.T) {
	c := newSSHCloud(t)
	addr := c.server.SSHAddress
	if addr == "" {
		t.Fatal("Launch returned no SSH address")
	}
	if err := c.cloud.Terminate(context.Background(), c.server.ID); err != nil {
		t.Fatal(err)
	}
	s, err := c.cloud.Get(context.Background(), c.server.ID)
	if err != nil || s.SSHAddress != "" {
		t.Fatalf("terminated server: SSHAddress %q, err %v; want empty", s.SSHAddress, err)
	}
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("the endpoint %s of a terminated server still accepts connections", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial of a terminated server's endpoint: %v, want connection refused", err)
	}
}

func TestSSHLoadIsWrittenToTheSandbox(t *testing.T) {
	c := newSSHCloud(t)
	if err := c.cloud.SetLoad(c.server.ID, 1.5, 0.75, 0.25); err != nil {
		t.Fatal(err)
	}
	sess, err := c.mustDial().NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("cut -d' ' -f1-3 proc/loadavg")
	if err != nil || string(out) != "1.50 0.75 0.25\n" {
		t.Fatalf("loadavg = %q, %v", out, err)
	}
}

func TestSSHCloseStopsEverythingWhileSessionsRun(t *testing.T) {
	c := newSSHCloud(t)
	more := c.launch(provider.LaunchSpec{Token: "more", Count: 3, Image: "img"})
	c.clk.Advance(fake.DefaultBootTime)
	var pids []int
	for _, s := range append(more, c.server) {
		client, err := c.dial(s.ID, c.signer)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		for range 3 {
			_, pid := startSleeper(t, client)
			pids = append(pids, pid)
		}
	}
	// One server goes while its commands run; then the whole cloud closes.
	if err := c.cloud.Terminate(context.Background(), more[0].ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.cloud.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with sessions running", d)
	}
	for _, pid := range pids {
		waitDead(t, pid)
	}
	// Launching after Close gives servers without SSH endpoints.
	s := c.launch(provider.LaunchSpec{Token: "after-close", Count: 1, Image: "img"})[0]
	if s.SSHAddress != "" {
		t.Fatalf("a server launched after Close has SSH address %s", s.SSHAddress)
	}
}
