package netguard_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/internal/netguard"
)

func TestLoopbackTellsWhatStaysOnTheMachine(t *testing.T) {
	cases := []struct {
		name, network, address string
		want                   bool
	}{
		{"127.0.0.1 with a port is loopback", "tcp", "127.0.0.1:22", true},
		{"any 127.x.y.z address is loopback", "tcp", "127.100.3.4:8080", true},
		{"::1 is loopback", "tcp", "[::1]:53", true},
		{"localhost is loopback", "tcp", "localhost:80", true},
		{"a unix socket stays on the machine", "unix", "/tmp/x.sock", true},
		{"a documentation address is not loopback", "tcp", "203.0.113.5:22", false},
		{"a private network address is not loopback", "tcp", "10.0.0.1:22", false},
		{"0.0.0.0 is not loopback", "tcp", "0.0.0.0:22", false},
		{"a host name is not known to be loopback", "tcp", "example.com:443", false},
		{"an IPv4-mapped IPv6 loopback is loopback", "tcp", "[::ffff:127.0.0.1]:22", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := netguard.Loopback(c.network, c.address); got != c.want {
				t.Fatalf("Loopback(%q, %q) = %v, want %v", c.network, c.address, got, c.want)
			}
		})
	}
}

func TestTheGuardRefusesAndRecordsADialOffTheMachine(t *testing.T) {
	if err := netguard.Check("tcp", "203.0.113.1:22"); err != nil {
		t.Fatalf("without a guard: %v", err)
	}
	g := netguard.LoopbackOnly()
	defer g.Uninstall()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := netguard.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("loopback dial refused: %v", err)
	}
	c.Close()
	if _, err := netguard.DialContext(context.Background(), "tcp", "203.0.113.1:22"); err == nil || !strings.Contains(err.Error(), "refused to dial tcp 203.0.113.1:22") {
		t.Fatalf("off-machine dial: %v", err)
	}
	if v := g.Violations(); len(v) != 1 || v[0] != "tcp 203.0.113.1:22" {
		t.Fatalf("violations %q", v)
	}
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "203.0.113.1:22") {
		t.Fatalf("Err() = %v", err)
	}
	g.Uninstall()
	if err := netguard.Check("tcp", "203.0.113.1:22"); err != nil {
		t.Fatalf("after Uninstall: %v", err)
	}
}

type fakeM struct{ run func() }

func (m fakeM) Run() int { m.run(); return 0 }

func TestAGuardedRunFailsWhenATestDialledOffTheMachine(t *testing.T) {
	clean := netguard.Guarded(fakeM{func() { _ = netguard.Check("tcp", "127.0.0.1:1") }}).Run()
	dirty := netguard.Guarded(fakeM{func() { _ = netguard.Check("tcp", "198.51.100.7:443") }}).Run()
	if clean != 0 || dirty != 1 {
		t.Fatalf("status %d for a loopback run, %d for one that dialled outside; want 0 and 1", clean, dirty)
	}
	if err := netguard.Check("tcp", "198.51.100.7:443"); err != nil {
		t.Fatalf("the guard stayed installed: %v", err)
	}
}
