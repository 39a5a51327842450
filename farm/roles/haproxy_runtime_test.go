package roles_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
)

// localFarm is a roles.Farm with one load balancer server whose commands
// run locally in a directory, as on a fake server.
type localFarm struct {
	dir  string
	role string
}

func (l *localFarm) Exec(ctx context.Context, id, command string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = l.dir
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return out, fmt.Errorf("%w: %s", err, ee.Stderr)
		}
	}
	return out, err
}

func (l *localFarm) Servers(role string) []farm.Server {
	if role != l.role {
		return nil
	}
	return []farm.Server{{ID: "i-lb", Role: l.role, State: farm.StateRunning, PrivateIP: "127.0.4.1"}}
}

func (l *localFarm) AddHook(farm.Hook) {}

// backend is an HTTP server on its own loopback address; /slow answers
// after a second.
func backend(t *testing.T, ip string) (farm.Server, *httptest.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(time.Second)
		}
		fmt.Fprintln(w, ip)
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return farm.Server{ID: "i-" + strings.ReplaceAll(ip, ".", "-"), Role: "app", State: farm.StateRunning, PrivateIP: ip}, srv
}

// startHAProxy runs the preset's haproxy-init for real in dir.
func startHAProxy(t *testing.T, balance string, port int) (*roles.HAProxyBackends, *localFarm, string) {
	t.Helper()
	dir := t.TempDir()
	lf := &localFarm{dir: dir, role: "lb"}
	p, b := roles.HAProxy(roles.HAProxyOptions{Bind: "127.0.4.1", Port: port, DrainTimeout: 10 * time.Second})
	vars := map[string]string{"haproxy_config": "haproxy.cfg", "haproxy_socket": "run/admin.sock", "haproxy_user": "",
		"haproxy_balance": balance,
		"haproxy_start":   `haproxy -D -f "$CONF" -p "$PIDFILE"`,
		"haproxy_reload":  `haproxy -D -f "$CONF" -p "$PIDFILE" -sf $(cat "$PIDFILE")`}
	out, err := runPresetScript(t, p, "haproxy-init", dir, "127.0.4.1", vars)
	t.Cleanup(func() { killPidFile(t, filepath.Join(dir, "run/haproxy.pid")) })
	if err != nil {
		t.Fatalf("haproxy-init: %v\n%s", err, out)
	}
	// The Backends read the role's variables: the same paths, in dir.
	_, b = roles.HAProxy(roles.HAProxyOptions{Bind: "127.0.4.1", Port: port, BackendPort: 1, DrainTimeout: 10 * time.Second,
		Role: farm.RoleSpec{Variables: vars}})
	b.Address = func(s farm.Server) string { return s.PrivateIP + ":" + portOf(t, s) }
	b.Bind(lf)
	return b, lf, fmt.Sprintf("http://127.0.4.1:%d", port)
}

var ports sync.Map // server ID → port

func portOf(t *testing.T, s farm.Server) string {
	v, ok := ports.Load(s.ID)
	if !ok {
		t.Fatalf("no port for %s", s.ID)
	}
	return v.(string)
}

func register(s farm.Server, srv *httptest.Server) {
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ports.Store(s.ID, port)
}

func getBody(t *testing.T, url string) (string, error) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s", resp.Status)
	}
	return string(b), nil
}

func TestHAProxyBackendsDrainBeforeTheyDelete(t *testing.T) {
	requirePrograms(t, "haproxy", "socat")
	b, _, url := startHAProxy(t, "roundrobin", 18510)
	a, srvA := backend(t, "127.0.4.2")
	c, srvC := backend(t, "127.0.4.3")
	register(a, srvA)
	register(c, srvC)
	ctx := context.Background()
	if err := b.SetBackends(ctx, "www", []farm.Server{a, c}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 20 {
		body, err := getBody(t, url+"/")
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.TrimSpace(body)] = true
	}
	if !seen["127.0.4.2"] || !seen["127.0.4.3"] {
		t.Fatalf("requests reached %v, want both servers", seen)
	}
	// A slow request in progress on A: removing A waits for it, and it
	// succeeds.
	var wg sync.WaitGroup
	var slowErr error
	started := time.Now()
	for i := 0; i < 4; i++ { // round robin: at least one lands on A
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := getBody(t, url+"/slow"); err != nil {
				slowErr = err
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := b.SetBackends(ctx, "www", []farm.Server{c}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(started)
	wg.Wait()
	if slowErr != nil {
		t.Fatalf("a request in progress on the drained server failed: %v", slowErr)
	}
	if took < 900*time.Millisecond {
		t.Fatalf("SetBackends returned after %s, before the slow requests ended", took)
	}
	for range 10 {
		body, err := getBody(t, url+"/")
		if err != nil || strings.TrimSpace(body) != "127.0.4.3" {
			t.Fatalf("after the removal: %q %v", body, err)
		}
	}
	if b.Fallbacks() != 0 {
		t.Fatalf("%d reloads", b.Fallbacks())
	}
	// Setting the same servers again changes nothing.
	if err := b.SetBackends(ctx, "www", []farm.Server{c}); err != nil {
		t.Fatal(err)
	}
}

func TestHAProxyBackendsFallBackToAReload(t *testing.T) {
	requirePrograms(t, "haproxy", "socat")
	// static-rr takes no servers at run time: every change is a reload.
	b, lf, url := startHAProxy(t, "static-rr", 18511)
	a, srvA := backend(t, "127.0.4.4")
	c, srvC := backend(t, "127.0.4.5")
	register(a, srvA)
	register(c, srvC)
	ctx := context.Background()
	if err := b.SetBackends(ctx, "www", []farm.Server{a, c}); err != nil {
		t.Fatal(err)
	}
	if b.Fallbacks() == 0 {
		t.Fatal("no reload: the runtime API cannot add servers to a static-rr backend")
	}
	conf, _ := os.ReadFile(filepath.Join(lf.dir, "haproxy.cfg"))
	if !strings.Contains(string(conf), "server "+a.ID+" ") || !strings.Contains(string(conf), "server "+c.ID+" ") {
		t.Fatalf("configuration:\n%s", conf)
	}
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = getBody(t, url+"/"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("through the reloaded HAProxy: %v", err)
	}
	if err := b.SetBackends(ctx, "www", []farm.Server{c}); err != nil {
		t.Fatal(err)
	}
	conf, _ = os.ReadFile(filepath.Join(lf.dir, "haproxy.cfg"))
	if strings.Contains(string(conf), "server "+a.ID+" ") {
		t.Fatalf("removed server still configured:\n%s", conf)
	}
}
