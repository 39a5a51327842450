package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/cluster"
	"github.com/farmhand/farmhand/internal/etcdtest"
)

var etcd etcdtest.Shared

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	code := m.Run()
	if err := etcd.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testTTL is the lease TTL of the tests: short, yet long enough for a
// loaded machine to renew in time.
const testTTL = 3 * time.Second

func newClient(t testing.TB, s *etcdtest.Server) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var runs atomic.Int64

// prefix returns a key prefix of the test's own on the shared server, new
// for every run of the test.
func prefix(t testing.TB) string {
	return fmt.Sprintf("test/%s/%d/", strings.ReplaceAll(t.Name(), "/", "_"), runs.Add(1))
}

// events records a member's events.
type events struct {
	mu  sync.Mutex
	evs []cluster.Event
}

func (e *events) add(ev cluster.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *events) of(typ cluster.EventType) []cluster.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []cluster.Event
	for _, ev := range e.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.evs {
		b.WriteString(ev.String() + "\n")
	}
	return b.String()
}

// waitFor polls cond every 20 ms until it holds or limit passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// owners reads who owns which farm under prefix.
func owners(t testing.TB, cli *clientv3.Client, prefix string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix+"owners/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), prefix+"owners/")] = string(kv.Value)
	}
	return out
}
