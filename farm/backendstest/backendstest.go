// Package backendstest is the conformance suite of farm.Backends: a load
// balancer the program drives, that the farm keeps equal to the servers in
// service. Every implementation's tests run it against the real load
// balancer:
//
//	func TestConformance(t *testing.T) {
//		backendstest.Run(t, backendstest.Harness{New: ..., Server: ...})
//	}
//
// It checks the promises of farm.Backends with real HTTP requests through
// the load balancer: requests reach exactly the servers set; setting the
// same servers again changes nothing and fails no request; a server left
// out is drained (its requests in progress finish before SetBackends
// returns, and it gets no new ones); and no request fails while servers
// come and go.
package backendstest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm"
)

// Harness gives the suite a load balancer.
type Harness struct {
	// New starts a load balancer with no backends and returns its
	// Backends, the name to call SetBackends with, and the URL of its
	// frontend. It stops it with t.Cleanup.
	New func(t *testing.T) (b farm.Backends, lb string, url string)
	// Server starts an HTTP server the load balancer can reach, serving h,
	// and returns it as the farm gives servers to SetBackends (a unique ID,
	// StateRunning, the address the Backends send requests to). It stops
	// it with t.Cleanup.
	Server func(t *testing.T, h http.Handler) farm.Server
}

// SlowPath is the path the suite's servers answer after a second.
const SlowPath = "/slow"

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"requests reach exactly the servers set", testExactSet},
		{"setting the same servers again fails no request", testSameSet},
		{"a server left out finishes its requests in progress before SetBackends returns", testDrain},
		{"no request fails while servers come and go", testChurn},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, h) })
	}
}

// env is one case's load balancer and servers.
type env struct {
	t   *testing.T
	b   farm.Backends
	lb  string
	url string
	h   Harness
}

func newEnv(t *testing.T, h Harness) *env {
	b, lb, url := h.New(t)
	return &env{t: t, b: b, lb: lb, url: url, h: h}
}

// server starts a server that answers with its ID.
func (e *env) server() farm.Server {
	var id atomic.Value
	s := e.h.Server(e.t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == SlowPath {
			time.Sleep(time.Second)
		}
		v, _ := id.Load().(string)
		fmt.Fprint(w, v)
	}))
	id.Store(s.ID)
	return s
}

func (e *env) set(servers ...farm.Server) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.b.SetBackends(ctx, e.lb, servers); err != nil {
		e.t.Fatalf("SetBackends(%v): %v", ids(servers), err)
	}
}

func ids(servers []farm.Server) []string {
	var out []string
	for _, s := range servers {
		out = append(out, s.ID)
	}
	return out
}

var client = &http.Client{Timeout: 10 * time.Second}

// get sends one request through the load balancer and returns the ID of
// the server that answered.
func (e *env) get(path string) (string, error) {
	resp, err := client.Get(e.url + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(b), nil
}

// reached sends n requests and returns who answered; every request must
// succeed.
func (e *env) reached(n int) map[string]int {
	e.t.Helper()
	got := map[string]int{}
	for range n {
		id, err := e.get("/")
		if err != nil {
			e.t.Fatalf("request through the load balancer: %v", err)
		}
		got[id]++
	}
	return got
}

// loop sends requests until stop is called, and returns the failures.
func (e *env) loop() (stop func() (requests, failed int64, errs []string)) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		req, bad atomic.Int64
		mu       sync.Mutex
		msgs     []string
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, err := e.get("/")
				req.Add(1)
				if err != nil {
					bad.Add(1)
					mu.Lock()
					if len(msgs) < 5 {
						msgs = append(msgs, err.Error())
					}
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return func() (int64, int64, []string) {
		cancel()
		wg.Wait()
		return req.Load(), bad.Load(), msgs
	}
}

func testExactSet(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b, c := e.server(), e.server(), e.server()
	e.set(a, b)
	got := e.reached(20)
	if got[a.ID] == 0 || got[b.ID] == 0 || got[c.ID] != 0 || len(got) != 2 {
		t.Fatalf("with %s and %s set, requests reached %v", a.ID, b.ID, got)
	}
	e.set(b, c)
	got = e.reached(20)
	if got[a.ID] != 0 || got[b.ID] == 0 || got[c.ID] == 0 {
		t.Fatalf("with %s and %s set, requests reached %v", b.ID, c.ID, got)
	}
}

func testSameSet(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a := e.server()
	e.set(a)
	stop := e.loop()
	for range 3 {
		e.set(a)
		time.Sleep(100 * time.Millisecond)
	}
	n, failed, errs := stop()
	if n == 0 || failed != 0 {
		t.Fatalf("%d of %d requests failed while the same server was set again: %q", failed, n, errs)
	}
}

func testDrain(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := e.server(), e.server()
	e.set(a)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := e.get(SlowPath)
			if err == nil && id != a.ID {
				err = fmt.Errorf("the slow request reached %s, not %s", id, a.ID)
			}
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond) // the slow requests are in progress on a
	start := time.Now()
	e.set(b)
	took := time.Since(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a request in progress on the server left out: %v", err)
		}
	}
	if took < 500*time.Millisecond {
		t.Fatalf("SetBackends returned after %s, while requests were in progress on the server left out", took)
	}
	if got := e.reached(10); got[a.ID] != 0 {
		t.Fatalf("the server left out still gets requests: %v", got)
	}
}

func testChurn(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b, c := e.server(), e.server(), e.server()
	e.set(a)
	stop := e.loop()
	for _, step := range [][]farm.Server{{a, b}, {b}, {b, c}, {c}, {a, c}} {
		time.Sleep(200 * time.Millisecond)
		e.set(step...)
	}
	time.Sleep(200 * time.Millisecond)
	n, failed, errs := stop()
	if n < 20 || failed != 0 {
		t.Fatalf("%d of %d requests failed while servers came and went: %q", failed, n, strings.Join(errs, "; "))
	}
}
