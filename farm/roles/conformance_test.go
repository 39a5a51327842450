package roles_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/backendstest"
	"github.com/farmhand/farmhand/farm/roles"
)

var (
	conformancePort atomic.Int64 // the load balancers' ports, one per case
	backendIP       atomic.Int64 // the servers' addresses, 127.0.5.N
)

func init() {
	conformancePort.Store(18520)
}

// loopbackServer serves h on an address of its own.
func loopbackServer(t *testing.T, h http.Handler) farm.Server {
	t.Helper()
	n := backendIP.Add(1)
	ip := fmt.Sprintf("127.0.%d.%d", 5+n/250, n%250+1)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return farm.Server{ID: fmt.Sprintf("i-%06d", n), Role: "app", State: farm.StateRunning, PrivateIP: ln.Addr().String()}
}

func TestHAProxyBackendsConformance(t *testing.T) {
	requirePrograms(t, "haproxy", "socat")
	backendstest.Run(t, backendstest.Harness{
		New: func(t *testing.T) (farm.Backends, string, string) {
			b, _, url := startHAProxy(t, "roundrobin", int(conformancePort.Add(1)))
			b.Address = func(s farm.Server) string { return s.PrivateIP }
			return b, b.Name(), url
		},
		Server: loopbackServer,
	})
}

func TestNginxBackendsConformance(t *testing.T) {
	requirePrograms(t, "nginx")
	backendstest.Run(t, backendstest.Harness{
		New: func(t *testing.T) (farm.Backends, string, string) {
			port := int(conformancePort.Add(1))
			dir := openDir(t)
			vars := map[string]string{"nginx_lb_config": "nginx.conf", "nginx_lb_upstream_file": "upstream.conf",
				"nginx_lb_pid": "run/nginx.pid", "nginx_lb_temp_dir": "tmp", "nginx_lb_log_dir": "log",
				"nginx_lb_user": rootUser("root"), "nginx_lb_start": `nginx -c "$CONF"`,
				"nginx_lb_reload": `nginx -c "$CONF" -s reload`}
			p, b := roles.NginxLB(roles.NginxLBOptions{Port: port, Bind: "127.0.4.1", Role: farm.RoleSpec{Variables: vars}})
			out, err := runPresetScript(t, p, "nginx-lb-init", dir, "127.0.4.1", nil)
			t.Cleanup(func() { killPidFile(t, filepath.Join(dir, "run/nginx.pid")) })
			if err != nil {
				t.Fatalf("nginx-lb-init: %v\n%s", err, out)
			}
			b.Address = func(s farm.Server) string { return s.PrivateIP }
			b.Bind(&localFarm{dir: dir, role: p.Role.Name})
			time.Sleep(100 * time.Millisecond)
			return b, b.Name(), fmt.Sprintf("http://127.0.4.1:%d", port)
		},
		Server: loopbackServer,
	})
}
