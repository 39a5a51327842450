package sshdtest_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
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

func TestDialReachesTheServerFromAnyLoopbackAddressAndItListensOnLoopbackOnly(t *testing.T) {
	s := sshdtest.Start(t, &sshdtest.Options{ListenAddresses: []string{"127.0.1.7"}})
	for _, addr := range []string{"127.0.1.7:" + strconv.Itoa(s.Port), "127.100.0.9:22"} {
		conn, err := s.Dial(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatalf("Dial %s: %v", addr, err)
		}
		buf := make([]byte, 8)
		_, err = conn.Read(buf)
		conn.Close()
		if err != nil || !bytes.HasPrefix(buf, []byte("SSH-2.0-")) {
			t.Fatalf("banner via %s = %q, %v; want SSH-2.0-", addr, buf, err)
		}
	}
	if _, err := s.Dial(context.Background(), "tcp", "203.0.113.1:22"); err == nil {
		t.Fatal("Dial of a non-loopback address succeeded")
	}
	// sshd itself listens on the listed loopback addresses and nowhere else.
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.1.7", strconv.Itoa(s.Port)))
	if err != nil {
		t.Fatalf("dial 127.0.1.7: %v", err)
	}
	conn.Close()
	if conn, err := net.Dial("tcp", net.JoinHostPort("127.0.1.8", strconv.Itoa(s.Port))); err == nil {
		conn.Close()
		t.Fatal("sshd answers on 127.0.1.8, which it was not told to listen on")
	}
	if cfg := readConfig(t, s); !strings.Contains(cfg, "ListenAddress 127.0.1.7\n") || strings.Contains(cfg, "0.0.0.0") {
		t.Fatalf("config:\n%s", readConfig(t, s))
	}
}

func readConfig(t *testing.T, s *sshdtest.Server) string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "sshd_config"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
