// Package netguard is the one gate farmhand's own connections pass before
// they are dialled: the script runner's SSH connections, the health
// checks (TCP, SSH banner, HTTP) and the DNS updaters' queries.
//
// In a program the gate is open and costs one atomic load. Tests and
// benchmarks close it to everything but loopback with [LoopbackOnly], so
// that a connection to any other address (a fake server's public address,
// a real cloud's, a resolver's) is refused before a packet leaves and is
// recorded as a violation that fails the run.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

var gate atomic.Pointer[Guard]

// Check returns an error when the installed guard refuses a connection to
// address over network, nil when no guard is installed or it allows it.
// Callers call it before every dial, including dials through a dialer the
// user supplied.
func Check(network, address string) error {
	if g := gate.Load(); g != nil {
		return g.check(network, address)
	}
	return nil
}

// DialContext checks the address and dials it with a zero net.Dialer.
func DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := Check(network, address); err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// Guard records the connections it refused.
type Guard struct {
	prev    *Guard
	mu      sync.Mutex
	refused []string
}

// LoopbackOnly installs a guard that allows connections to 127.0.0.0/8,
// ::1, "localhost" and Unix sockets only, and returns it. Install it once,
// in TestMain (see [Guarded]) or at the start of a benchmark program, and
// look at [Guard.Err] at the end. A test that provokes a violation on
// purpose installs a guard of its own and uninstalls it when done.
func LoopbackOnly() *Guard {
	g := &Guard{prev: gate.Load()}
	gate.Store(g)
	return g
}

// Uninstall puts back the guard that was installed before g.
func (g *Guard) Uninstall() { gate.CompareAndSwap(g, g.prev) }

// TestingM is what *testing.M gives TestMain.
type TestingM interface{ Run() int }

// Guarded returns m with a loopback guard around its Run: the run fails
// (status 1, with the list printed) when any test tried to connect outside
// loopback. Use it in TestMain, also inside goleak.VerifyTestMain:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(netguard.Guarded(m)) }
func Guarded(m TestingM) TestingM { return guarded{m} }

type guarded struct{ m TestingM }

func (g guarded) Run() int {
	guard := LoopbackOnly()
	defer guard.Uninstall()
	code := g.m.Run()
	if err := guard.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Violations returns the refused connections, as "network address", in
// the order they were tried.
func (g *Guard) Violations() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.refused...)
}

// Err returns an error listing the violations, or nil.
func (g *Guard) Err() error {
	v := g.Violations()
	if len(v) == 0 {
		return nil
	}
	return fmt.Errorf("netguard: %d connection(s) to addresses outside loopback were attempted: %s", len(v), strings.Join(v, ", "))
}

func (g *Guard) check(network, address string) error {
	if Loopback(network, address) {
		return nil
	}
	g.mu.Lock()
	g.refused = append(g.refused, network+" "+address)
	g.mu.Unlock()
	return fmt.Errorf("netguard: refused to dial %s %s: only loopback addresses may be dialled here", network, address)
}

// Loopback reports whether a connection to address over network stays on
// the machine: a Unix socket, or a host that is "localhost" or an address
// in 127.0.0.0/8 or ::1. Any other host name is not loopback, since where
// it resolves is not known.
func Loopback(network, address string) bool {
	if strings.HasPrefix(network, "unix") {
		return true
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return err == nil && ip.Unmap().IsLoopback()
}
