package dnsupdate

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/bindtest"
)

// One named serves every BIND test of the package; tests use distinct
// names so that they do not see each other's records.
var shared struct {
	once sync.Once
	dir  string
	srv  *bindtest.Server
	err  error
}

// bindKeys are the keys the shared server accepts: Keys[0] is the main one.
var bindKeys = []bindtest.Key{
	{Name: "farm-key", Algorithm: "hmac-sha256"},
	{Name: "key-sha512", Algorithm: "hmac-sha512"},
	{Name: "key-sha1", Algorithm: "hmac-sha1"},
	{Name: "key-md5", Algorithm: "hmac-md5"},
}

func bind(t testing.TB) *bindtest.Server {
	t.Helper()
	bindtest.RequireNamed(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "dnsupdate-bind-")
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shared.srv, shared.err = bindtest.Launch(ctx, shared.dir, &bindtest.Options{Keys: bindKeys})
	})
	if shared.err != nil {
		t.Fatalf("start named: %v", shared.err)
	}
	return shared.srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop named:", err)
			code = 1
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// keyOf returns the dnsupdate key for a bindtest key.
func keyOf(k bindtest.Key) *TSIGKey {
	return &TSIGKey{Name: k.Name, Algorithm: k.Algorithm, Secret: k.Secret}
}

// countingDial counts the TCP connections an updater opens: one per
// attempt.
type countingDial struct{ n atomic.Int32 }

func (c *countingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.n.Add(1)
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// logBuffer captures an updater's log at debug level.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// ctxT returns a context that ends with the test or after d.
func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// stubServer is an in-process DNS server on loopback TCP whose answers a
// test scripts.
type stubServer struct {
	Addr string
	srv  *dns.Server
	done chan struct{}
}

// startStub serves handler on a loopback port until the test ends.
// secrets (key name → base64) lets it verify TSIG signed requests; the
// handler reads w.TsigStatus().
func startStub(t *testing.T, secrets map[string]string, handler dns.HandlerFunc) *stubServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stubServer{Addr: l.Addr().String(), done: make(chan struct{})}
	started := make(chan struct{})
	s.srv = &dns.Server{Listener: l, Net: "tcp", Handler: handler, TsigSecret: secrets, NotifyStartedFunc: func() { close(started) },
		// The default refuses UPDATE messages with NOTIMP.
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }}
	go func() {
		defer close(s.done)
		_ = s.srv.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		_ = s.srv.Shutdown()
		<-s.done
	})
	return s
}
