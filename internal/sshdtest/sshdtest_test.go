package sshdtest_test

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/internal/sshdtest"
)

func TestServerAcceptsItsClientKeyAndRunsACommand(t *testing.T) {
	s := sshdtest.Start(t, &sshdtest.Options{HostKeyTypes: []string{"ed25519", "ecdsa"}})
	cfg := &ssh.ClientConfig{
		User:              s.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(s.ClientSigner)},
		HostKeyCallback:   ssh.FixedHostKey(s.HostKeys[0]),
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
	}
	c, err := ssh.Dial("tcp", s.Addr, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v\nlog:\n%s", s.Addr, err, s.Log())
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("echo hello; echo $SHLVL")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "hello\n1\n" && got != "hello\n2\n" {
		t.Errorf("output = %q, want hello and a shell level", got)
	}
	if !strings.Contains(s.KnownHostsLines(s.Addr), "[127.0.0.1]:") {
		t.Errorf("known_hosts lines %q lack the bracketed address", s.KnownHostsLines(s.Addr))
	}
	if n := strings.Count(s.KnownHostsLines(s.Addr), "\n"); n != 2 {
		t.Errorf("known_hosts has %d lines, want one per host key (2)", n)
	}
}

func TestListenAllReachesFromOtherLoopbackAddresses(t *testing.T) {
	s := sshdtest.Start(t, &sshdtest.Options{ListenAll: true})
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.1.7", strconv.Itoa(s.Port)))
	if err != nil {
		t.Fatalf("dial 127.0.1.7: %v", err)
	}
	defer conn.Close()
	buf := make([]byte, 8)
	if _, err := conn.Read(buf); err != nil || !bytes.HasPrefix(buf, []byte("SSH-2.0-")) {
		t.Fatalf("banner = %q, %v; want SSH-2.0-", buf, err)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
