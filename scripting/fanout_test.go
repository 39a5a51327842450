package scripting_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/scripting"
)

// silentListener accepts TCP connections and never says a word, like a
// server whose sshd hangs.
func silentListener(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestHandshakeDeadlineBoundsASilentServer(t *testing.T) {
	s := sshdtest.Start(t, nil)
	addr := silentListener(t)
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) {
		o.DialTimeout = 300 * time.Millisecond
		o.HostKeys.Pin(addr, s.HostKeys...)
	})
	start := time.Now()
	r := e.Run(context.Background(), scripting.Target{Addr: addr, User: s.User}, script("true"))
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Run against a silent server took %v with a 300 ms dial timeout", took)
	}
	if !errors.Is(r.Err, scripting.ErrUnreachable) || !strings.Contains(r.Err.Error(), "handshake") {
		t.Errorf("Err = %v, want ErrUnreachable about the handshake", r.Err)
	}
}

func TestBastion(t *testing.T) {
	s := sshdtest.Start(t, &sshdtest.Options{ListenAddresses: []string{"127.0.1.2"}})
	inner := net.JoinHostPort("127.0.1.2", strconv.Itoa(s.Port))
	var d dialCounter
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) {
		o.Dial = d.dial
		o.HostKeys.Pin(inner, s.HostKeys...)
	})
	jump := &scripting.Target{Addr: s.Addr, User: s.User}
	targets := make([]scripting.Target, 5)
	for i := range targets {
		targets[i] = scripting.Target{Addr: inner, User: s.User, Jump: jump, Vars: scripting.Vars{"n": strconv.Itoa(i)}}
	}
	job := script("echo via bastion %n%")
	sum, err := e.RunMany(context.Background(), targets, job, &scripting.FanOutOptions{OnResult: func(r scripting.Result) {
		if !r.OK() || !strings.HasPrefix(r.Stdout, "via bastion ") {
			t.Errorf("result %s: %v %q", r.Status(), r.Err, r.Stdout)
		}
	}})
	if err != nil || sum.OK != 5 {
		t.Fatalf("summary %v, %v; want 5 ok", sum, err)
	}
	if d.addrs[s.Addr] != 1 || d.addrs[inner] != 0 {
		t.Errorf("direct dials = %v; want one to the bastion and none to the target", d.addrs)
	}

	t.Run("an unreachable bastion is named in the error", func(t *testing.T) {
		tg := scripting.Target{Addr: inner, User: s.User, Jump: &scripting.Target{Addr: closedPort(t), User: s.User}}
		e := newExecutor(t, s, func(o *scripting.ExecutorOptions) {
			o.HostKeys.Pin(tg.Jump.Addr, s.HostKeys...)
			o.HostKeys.Pin(inner, s.HostKeys...)
		})
		r := e.Run(context.Background(), tg, script("true"))
		if !errors.Is(r.Err, scripting.ErrUnreachable) || !strings.Contains(r.Err.Error(), "bastion") {
			t.Errorf("Err = %v, want ErrUnreachable naming the bastion", r.Err)
		}
	})
}

func TestFanOutOverManyLoopbackAddresses(t *testing.T) {
	s := sshdtest.Start(t, nil)
	const reachable = 110
	dialTimeout := 8 * time.Second
	var targets []scripting.Target
	silent := []string{silentListener(t), silentListener(t)}
	dead := closedPort(t)
	// The bad targets come first, so they take slots before the good ones.
	for i, a := range append(silent, dead) {
		targets = append(targets, scripting.Target{Addr: a, User: s.User, ServerID: fmt.Sprint("bad-", i), Vars: scripting.Vars{"role_name": "bad"}})
	}
	for i := 1; i <= reachable; i++ {
		addr := net.JoinHostPort(fmt.Sprintf("127.0.1.%d", i), strconv.Itoa(s.Port))
		targets = append(targets, scripting.Target{Addr: addr, User: s.User, ServerID: fmt.Sprint("i-", i), Vars: scripting.Vars{"role_name": fmt.Sprint("app", i)}})
	}
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) {
		o.DialTimeout = dialTimeout
		// The reachable hosts at 127.0.1.x are all the one sshd.
		o.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "127.0.1.") {
				return s.Dial(ctx, network, addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
		for _, tg := range targets {
			o.HostKeys.Pin(tg.Addr, s.HostKeys...)
		}
	})
	var order []scripting.Result
	sum, err := e.RunMany(context.Background(), targets, script(`echo "I am a %role_name% ($FARM_ROLE_NAME)"`), &scripting.FanOutOptions{
		Width:    32,
		OnResult: func(r scripting.Result) { order = append(order, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Targets != len(targets) || sum.OK != reachable || sum.Errors != 3 || len(order) != len(targets) {
		t.Fatalf("summary = %v with %d results; want %d ok and 3 errors", sum, len(order), reachable)
	}
	firstBad := -1
	for i, r := range order {
		if strings.HasPrefix(r.Target.ServerID, "bad-") {
			if !errors.Is(r.Err, scripting.ErrUnreachable) {
				t.Errorf("%s: Err = %v, want ErrUnreachable", r.Target.Addr, r.Err)
			}
			if firstBad < 0 && r.Target.Addr != dead {
				firstBad = i
			}
			continue
		}
		want := fmt.Sprintf("I am a %s (%s)\n", r.Target.Vars["role_name"], r.Target.Vars["role_name"])
		if r.Stdout != want {
			t.Errorf("%s: stdout %q, want %q", r.Target.Addr, r.Stdout, want)
		}
	}
	// The silent servers hold their slots for the whole dial timeout;
	// every reachable server must have reported before them.
	if firstBad < reachable {
		t.Errorf("the first silent server reported as result %d; want after all %d reachable ones (summary %v)", firstBad, reachable, sum)
	}
}

func TestFanOutRefusesTemplateErrorsBeforeConnecting(t *testing.T) {
	s := sshdtest.Start(t, nil)
	var d dialCounter
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) { o.Dial = d.dial })
	targets := []scripting.Target{
		{Addr: s.Addr, User: s.User, Vars: scripting.Vars{"role_name": "app"}},
		{Addr: s.Addr, User: s.User, Vars: scripting.Vars{}},
	}
	called := 0
	_, err := e.RunMany(context.Background(), targets, script("echo %role_name%"), &scripting.FanOutOptions{OnResult: func(scripting.Result) { called++ }})
	var ue *scripting.UnknownVariablesError
	if !errors.As(err, &ue) || ue.Names[0] != "role_name" || !strings.Contains(err.Error(), `script "test"`) {
		t.Fatalf("err = %v, want an unknown %%role_name%% naming the script", err)
	}
	if called != 0 || d.count() != 0 {
		t.Errorf("%d results and %d dials after a template error; want none", called, d.count())
	}
}

// freezingProxy forwards TCP to addr until frozen, then stops moving bytes
// in either direction while keeping the connections open: a server that
// vanished from the network.
type freezingProxy struct {
	l      net.Listener
	mu     sync.Mutex
	frozen chan struct{}
	closed chan struct{}
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezingProxy(t *testing.T, addr string) *freezingProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{l: l, frozen: make(chan struct{}), closed: make(chan struct{})}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			select {
			case <-p.frozen:
				<-p.closed // never forward again
				return
			default:
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { pipe(up, c) })
			p.wg.Go(func() { pipe(c, up) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		close(p.closed)
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezingProxy) freeze() { close(p.frozen) }

func TestKeepaliveDropsAVanishedServer(t *testing.T) {
	s := sshdtest.Start(t, nil)
	p := newFreezingProxy(t, s.Addr)
	addr := p.l.Addr().String()
	e := newExecutor(t, s, func(o *scripting.ExecutorOptions) {
		o.KeepAlive = 200 * time.Millisecond
		o.KeepAliveMax = 2
		o.HostKeys.Pin(addr, s.HostKeys...)
	})
	job := script("echo started; sleep 5")
	job.Timeout = time.Minute
	go func() {
		time.Sleep(time.Second)
		p.freeze()
	}()
	start := time.Now()
	r := e.Run(context.Background(), scripting.Target{Addr: addr, User: s.User}, job)
	took := time.Since(start)
	if r.Err == nil || r.TimedOut || r.Status() != scripting.StatusError {
		t.Errorf("status %s, Err %v, TimedOut %v; want an error for the lost connection", r.Status(), r.Err, r.TimedOut)
	}
	if took > 4*time.Second {
		t.Errorf("Run took %v; keepalives (200 ms, 2 missed) should drop the connection in about 1.5 s", took)
	}
}
