package scripting_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/scripting"
)

// The pool tests share one sshd, started on first use and stopped by
// TestMain.
var shared struct {
	once sync.Once
	srv  *sshdtest.Server
	dir  string
	err  error
}

func sharedSSHD(t *testing.T) *sshdtest.Server {
	t.Helper()
	sshdtest.Require(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "scripting-pool-")
		if shared.err == nil {
			shared.srv, shared.err = sshdtest.Launch(context.Background(), shared.dir, nil)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

func stopSharedSSHD() {
	if shared.srv != nil {
		shared.srv.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// connTracker dials like dialCounter and keeps the connections, so a test
// can break them.
type connTracker struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (c *connTracker) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil {
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
	}
	return conn, err
}

func (c *connTracker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

func (c *connTracker) breakAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
}

func newPool(t *testing.T, s *sshdtest.Server, opts *scripting.PoolOptions) (*scripting.Pool, *scripting.HostKeys, *connTracker) {
	t.Helper()
	ct := &connTracker{}
	var hk *scripting.HostKeys
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) { o.Dial, hk = ct.dial, o.HostKeys })
	p := scripting.NewPool(e, opts)
	t.Cleanup(func() { p.Close() })
	return p, hk, ct
}

func TestPoolReusesOneConnectionPerServer(t *testing.T) {
	s := sharedSSHD(t)
	p, _, ct := newPool(t, s, nil)
	ctx := context.Background()
	for range 3 {
		out, err := p.Output(ctx, target(s), "echo 50%; echo $((6*7))")
		if err != nil || string(out) != "50%\n42\n" {
			t.Fatalf("Output = %q, %v", out, err)
		}
		b, err := p.ReadFile(ctx, target(s), "/proc/loadavg")
		if err != nil || len(strings.Fields(string(b))) != 5 {
			t.Fatalf("ReadFile(/proc/loadavg) = %q, %v", b, err)
		}
	}
	mustOK(t, p.Run(ctx, target(s), script(`echo "I am a $FARM_ROLE_NAME"`)))
	if n := ct.count(); n != 1 {
		t.Errorf("%d connections for 7 reads of one server, want 1", n)
	}
	if st := p.Stats(); st.Dials != 1 || st.Reuses != 6 || st.Open != 1 {
		t.Errorf("Stats = %+v, want 1 dial, 6 reuses, 1 open", st)
	}
}

func TestPoolRunsConcurrentReadsOnOneConnection(t *testing.T) {
	s := sharedSSHD(t)
	p, _, ct := newPool(t, s, &scripting.PoolOptions{SessionsPerConn: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = p.Output(context.Background(), target(s), "sleep 0.05; echo ok")
			} else {
				_, err = p.ReadFile(context.Background(), target(s), "/proc/meminfo")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Concurrent first uses wait for one dial rather than making their own.
	if n := ct.count(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestPoolReconnectsWhenTheConnectionBreaks(t *testing.T) {
	s := sharedSSHD(t)
	p, _, ct := newPool(t, s, nil)
	ctx := context.Background()
	for _, read := range []func() error{
		func() error { _, err := p.Output(ctx, target(s), "true"); return err },
		func() error { _, err := p.ReadFile(ctx, target(s), "/proc/loadavg"); return err },
	} {
		if err := read(); err != nil {
			t.Fatal(err)
		}
		ct.breakAll()
		if err := read(); err != nil {
			t.Fatalf("read after the connection broke: %v", err)
		}
	}
	if n := ct.count(); n != 3 {
		t.Errorf("%d connections, want 3 (the first and one after each break)", n)
	}
}

func TestPoolReusesAConnectionOnlyWhileItsHostKeyIsTrusted(t *testing.T) {
	s := sharedSSHD(t)
	p, hk, ct := newPool(t, s, nil)
	ctx := context.Background()
	if _, err := p.Output(ctx, target(s), "true"); err != nil {
		t.Fatal(err)
	}
	// The server at the address changed: its pin is forgotten and another
	// key pinned. The open connection must not be used, and the new
	// handshake must fail on the key.
	hk.Forget(s.Addr)
	other, err := scripting.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	hk.Pin(s.Addr, other.Signer.PublicKey())
	_, err = p.Output(ctx, target(s), "true")
	if !errors.Is(err, scripting.ErrHostKeyMismatch) {
		t.Fatalf("Output after the pin changed: err = %v, want ErrHostKeyMismatch", err)
	}
	if n := ct.count(); n != 2 {
		t.Errorf("%d connections, want 2 (the old one was not reused)", n)
	}
	hk.Forget(s.Addr)
	hk.Pin(s.Addr, s.HostKeys...)
	if _, err := p.Output(ctx, target(s), "true"); err != nil {
		t.Fatal(err)
	}
}

func TestPoolForgetClosesTheConnectionsToAnAddress(t *testing.T) {
	s := sharedSSHD(t)
	p, _, ct := newPool(t, s, nil)
	ctx := context.Background()
	a, b := target(s), target(s)
	b.ServerID = "i-2"
	for _, tg := range []scripting.Target{a, b} {
		if _, err := p.Output(ctx, tg, "true"); err != nil {
			t.Fatal(err)
		}
	}
	p.Forget("127.0.0.2:22") // another address: nothing happens
	if st := p.Stats(); st.Open != 2 {
		t.Fatalf("Stats after forgetting another address = %+v", st)
	}
	p.Forget(s.Addr)
	if st := p.Stats(); st.Open != 0 || st.Discarded != 2 {
		t.Fatalf("Stats after Forget = %+v, want none open and 2 discarded", st)
	}
	if _, err := p.Output(ctx, a, "true"); err != nil {
		t.Fatal(err)
	}
	if n := ct.count(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

func TestPoolClosesIdleConnections(t *testing.T) {
	s := sharedSSHD(t)
	p, _, ct := newPool(t, s, &scripting.PoolOptions{IdleTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	if _, err := p.ReadFile(ctx, target(s), "/proc/loadavg"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the idle connection is still open: %+v", p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := p.ReadFile(ctx, target(s), "/proc/loadavg"); err != nil {
		t.Fatal(err)
	}
	if n := ct.count(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestPoolCapEvictsTheLeastRecentlyUsedIdleConnection(t *testing.T) {
	s := sharedSSHD(t)
	p, _, _ := newPool(t, s, &scripting.PoolOptions{MaxConns: 1})
	ctx := context.Background()
	a, b := target(s), target(s)
	b.ServerID = "i-2"
	for _, tg := range []scripting.Target{a, b, a} {
		if _, err := p.Output(ctx, tg, "true"); err != nil {
			t.Fatal(err)
		}
		if st := p.Stats(); st.Open != 1 {
			t.Fatalf("Stats = %+v, want 1 open", st)
		}
	}
	if st := p.Stats(); st.Dials != 3 || st.Discarded != 2 {
		t.Errorf("Stats = %+v, want 3 dials and 2 discarded", st)
	}
}

func TestPoolErrorsKeepTheConnectionWhenOnlyTheCommandFailed(t *testing.T) {
	s := sharedSSHD(t)
	p, _, ct := newPool(t, s, nil)
	ctx := context.Background()
	if _, err := p.ReadFile(ctx, target(s), "/nonexistent/file"); err == nil || !strings.Contains(err.Error(), "/nonexistent/file") {
		t.Errorf("ReadFile of a missing file: err = %v", err)
	}
	out, err := p.Output(ctx, target(s), "echo partial; echo broken >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "status 3: broken") || string(out) != "partial\n" {
		t.Errorf("Output of a failing command = %q, %v", out, err)
	}
	r := p.Run(ctx, target(s), scripting.Job{Script: scripting.Script{Name: "slow", Body: "sleep 30"}, Timeout: 200 * time.Millisecond})
	if r.Status() != scripting.StatusTimedOut {
		t.Errorf("slow script: %v %v", r.Status(), r.Err)
	}
	if _, err := p.Output(ctx, target(s), "true"); err != nil {
		t.Fatal(err)
	}
	// The missing file and the failing command kept the connection; the
	// timeout dropped it (its process group was killed from it).
	if n := ct.count(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestPoolRefusesRunsAfterClose(t *testing.T) {
	s := sharedSSHD(t)
	p, _, _ := newPool(t, s, nil)
	if _, err := p.Output(context.Background(), target(s), "true"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := p.ReadFile(context.Background(), target(s), "/proc/loadavg"); !errors.Is(err, scripting.ErrPoolClosed) {
		t.Errorf("ReadFile after Close: err = %v, want ErrPoolClosed", err)
	}
	if st := p.Stats(); st.Open != 0 {
		t.Errorf("Stats after Close = %+v, want none open", st)
	}
}

func TestPoolHonoursCancellation(t *testing.T) {
	s := sharedSSHD(t)
	p, _, _ := newPool(t, s, nil)
	// The connection is made first, so the deadline below falls on the
	// running command and not, on a loaded machine, on the handshake.
	if _, err := p.Output(context.Background(), target(s), "true"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Output(ctx, target(s), "sleep 30")
	if !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "deadline")) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v", d)
	}
}
