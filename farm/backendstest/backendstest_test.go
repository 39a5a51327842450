package backendstest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/backendstest"
)

// proxy is a load balancer in Go: round robin over its backends, counting
// each backend's requests in progress, and a SetBackends that drains (or,
// with a flaw, breaks a promise).
type proxy struct {
	flaw string

	mu       sync.Mutex
	backends []string // URLs
	inflight map[string]*sync.WaitGroup
	cancel   map[string]context.CancelFunc
	next     atomic.Uint64
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if len(p.backends) == 0 {
		p.mu.Unlock()
		http.Error(w, "no backend", http.StatusServiceUnavailable)
		return
	}
	target := p.backends[int(p.next.Add(1))%len(p.backends)]
	wg := p.inflight[target]
	wg.Add(1)
	ctx, cancel := context.WithCancel(r.Context())
	prev := p.cancel[target]
	p.cancel[target] = func() {
		if prev != nil {
			prev()
		}
		cancel()
	}
	p.mu.Unlock()
	defer wg.Done()
	u, _ := url.Parse(target)
	httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r.WithContext(ctx))
}

func (p *proxy) SetBackends(ctx context.Context, lb string, servers []farm.Server) error {
	var want []string
	for _, s := range servers {
		want = append(want, "http://"+s.PrivateIP)
	}
	p.mu.Lock()
	var gone []string
	for _, b := range p.backends {
		keep := false
		for _, w := range want {
			keep = keep || w == b
		}
		if !keep {
			gone = append(gone, b)
		}
	}
	for _, w := range want {
		if p.inflight[w] == nil {
			p.inflight[w] = &sync.WaitGroup{}
		}
	}
	switch p.flaw {
	case "keeps servers left out":
		p.backends = append(p.backends, want...)
		p.mu.Unlock()
		return nil
	case "drops requests while changing":
		p.backends = nil
		p.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		p.mu.Lock()
	}
	p.backends = want
	var waits []*sync.WaitGroup
	for _, g := range gone {
		waits = append(waits, p.inflight[g])
		if p.flaw == "cuts requests in progress" && p.cancel[g] != nil {
			p.cancel[g]()
		}
	}
	p.mu.Unlock()
	if p.flaw == "returns before requests end" {
		return nil
	}
	for _, wg := range waits {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func harness(flaw string) backendstest.Harness {
	var n atomic.Int64
	return backendstest.Harness{
		New: func(t *testing.T) (farm.Backends, string, string) {
			p := &proxy{flaw: flaw, inflight: map[string]*sync.WaitGroup{}, cancel: map[string]context.CancelFunc{}}
			srv := httptest.NewServer(p)
			t.Cleanup(srv.Close)
			return p, "www", srv.URL
		},
		Server: func(t *testing.T, h http.Handler) farm.Server {
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			return farm.Server{ID: fmt.Sprintf("i-%06d", n.Add(1)), State: farm.StateRunning,
				PrivateIP: strings.TrimPrefix(srv.URL, "http://")}
		},
	}
}

func TestTheReferenceProxyPasses(t *testing.T) {
	backendstest.Run(t, harness(""))
}

const brokenEnv = "FARMHAND_BACKENDSTEST_BROKEN"

// TestBrokenChild runs the suite against a broken load balancer; it does
// something only in the child process of TestTheSuiteCatchesBrokenBackends.
func TestBrokenChild(t *testing.T) {
	flaw := os.Getenv(brokenEnv)
	if flaw == "" {
		t.Skip("runs only as a child of TestTheSuiteCatchesBrokenBackends")
	}
	backendstest.Run(t, harness(flaw))
}

func TestTheSuiteCatchesBrokenBackends(t *testing.T) {
	for _, tc := range []struct{ flaw, wantFailed string }{
		{"keeps servers left out", "requests_reach_exactly_the_servers_set"},
		{"returns before requests end", "a_server_left_out_finishes_its_requests_in_progress_before_SetBackends_returns"},
		{"cuts requests in progress", "a_server_left_out_finishes_its_requests_in_progress_before_SetBackends_returns"},
		{"drops requests while changing", "setting_the_same_servers_again_fails_no_request"},
	} {
		t.Run(tc.flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenChild$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tc.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a load balancer that %s:\n%s", tc.flaw, out)
			}
			if want := "--- FAIL: TestBrokenChild/" + tc.wantFailed; !strings.Contains(string(out), want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
		})
	}
}
