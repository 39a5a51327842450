// Package lbtest runs the HAProxy preset for real: a farm on the fake cloud
// with SSH, whose app servers run nginx (app preset) bound to loopback
// addresses of their own and whose load balancer runs HAProxy (HAProxy
// preset), while a bounded request loop goes through HAProxy during a
// scale-out, a scale-in and a crash replacement. The tests of farm/roles
// and internal/bench/lb run it.
package lbtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// Programs are the binaries the scenario needs.
var Programs = []string{"haproxy", "nginx", "socat"}

// Missing returns the programs of Programs that are not on the PATH.
func Missing() []string {
	var out []string
	for _, p := range Programs {
		if _, err := exec.LookPath(p); err != nil {
			out = append(out, p)
		}
	}
	return out
}

// Options tune the scenario; zero values mean the defaults.
type Options struct {
	// Dir holds the fake servers' sandboxes; required.
	Dir string
	// Port is the app servers' port and LBPort HAProxy's; defaults 18480
	// and 18481.
	Port, LBPort int
	// Kind is the load balancer: "haproxy" (the default) or "nginx".
	Kind string
	// Workers is the number of request loops; default 2.
	Workers int
	// Log, when set, gets progress lines.
	Log func(format string, args ...any)
}

// Result counts the requests.
type Result struct {
	Requests int64
	// PlannedFailed are the requests that failed while the farm scaled
	// out and in; CrashFailed those that failed around the crash.
	PlannedFailed, CrashFailed int64
	// ScaleEvents counts the changes: scale-out, scale-in, crash
	// replacement.
	ScaleEvents int
	// Errors are a few of the failures, for the report.
	Errors []string
	// LBLog is the end of the load balancer's error log (nginx).
	LBLog string
	// Fallbacks counts HAProxy configuration reloads (0 when the runtime
	// API did everything).
	Fallbacks int
}

// Run runs the scenario.
func Run(ctx context.Context, o Options) (res Result, err error) {
	if o.Dir == "" {
		return res, errors.New("lbtest: Options.Dir is required")
	}
	port, lbPort := o.Port, o.LBPort
	if port == 0 {
		port = 18480
	}
	if lbPort == 0 {
		lbPort = 18481
	}
	kind := o.Kind
	if kind == "" {
		kind = "haproxy"
	}
	workers := o.Workers
	if workers == 0 {
		workers = 2
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	sandbox := filepath.Join(o.Dir, "servers")
	cloud := fake.New(fake.Options{BootTime: 200 * time.Millisecond, SSH: &fake.SSHOptions{Dir: sandbox}})
	defer cloud.Close()
	defer killAll(sandbox)
	key, err := scripting.GenerateKey("lbtest")
	if err != nil {
		return res, err
	}
	lib := scripting.NewLibrary(nil)

	appUser := "" // nginx's workers run as the user running the test
	if os.Geteuid() == 0 {
		appUser = "root" // not nobody: the sandboxes are private to root
	}
	app := roles.App(roles.AppOptions{
		Port: port,
		Role: farm.RoleSpec{
			Image: "debian-12", Min: 1, Max: 4, Desired: 2,
			TerminateTimeout: 30 * time.Second,
			HealthChecks: []farm.HealthCheckSpec{{Name: "http", Kind: "http", Interval: 500 * time.Millisecond, FailureThreshold: 2,
				URL: "http://%internal_ip%:" + strconv.Itoa(port) + "/health", ExpectStatus: 200}},
			Variables: map[string]string{
				"app_config":   "nginx/nginx.conf",
				"app_root":     "www",
				"app_pid":      "run/nginx.pid",
				"app_temp_dir": "run/tmp",
				"app_log_dir":  "log",
				"app_user":     appUser,
				"app_start":    `nginx -c "$CONF"`,
				"app_reload":   `nginx -c "$CONF" -s reload`,
				"app_stop":     `nginx -c "$CONF" -s quit; i=0; while [ -e "$PIDFILE" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
			},
		},
	})
	lbRole := farm.RoleSpec{Name: "lb", Image: "debian-12", Min: 1, Max: 1,
		HealthChecks: []farm.HealthCheckSpec{{Name: "tcp", Kind: "tcp", Port: lbPort}}}
	var (
		lb        roles.Preset
		backends  farm.Backends
		name      string
		fallbacks = func() int { return 0 }
		bind      func(roles.Farm)
	)
	switch kind {
	case "haproxy":
		lbRole.Variables = map[string]string{
			"haproxy_config": "haproxy/haproxy.cfg",
			"haproxy_socket": "run/admin.sock",
			"haproxy_bind":   "",
			"haproxy_user":   "",
			"haproxy_start":  `haproxy -D -f "$CONF" -p "$PIDFILE"`,
			"haproxy_reload": `haproxy -D -f "$CONF" -p "$PIDFILE" -sf $(cat "$PIDFILE")`,
			"haproxy_stop":   `kill $(cat "$PIDFILE") 2>/dev/null || true`,
		}
		p, b := roles.HAProxy(roles.HAProxyOptions{Port: lbPort, BackendPort: port, DrainTimeout: 10 * time.Second, Role: lbRole})
		lb, backends, name, fallbacks, bind = p, b, b.Name(), b.Fallbacks, b.Bind
	case "nginx":
		lbRole.Variables = map[string]string{
			"nginx_lb_config":        "nginx/nginx.conf",
			"nginx_lb_upstream_file": "nginx/upstream.conf",
			"nginx_lb_pid":           "run/nginx.pid",
			"nginx_lb_temp_dir":      "run/tmp",
			"nginx_lb_log_dir":       "log",
			"nginx_lb_bind":          "",
			"nginx_lb_user":          appUser,
			"nginx_lb_start":         `nginx -c "$CONF"`,
			"nginx_lb_reload":        `nginx -c "$CONF" -s reload`,
			"nginx_lb_stop":          `nginx -c "$CONF" -s quit`,
		}
		p, b := roles.NginxLB(roles.NginxLBOptions{Port: lbPort, BackendPort: port, Role: lbRole})
		lb, backends, name, bind = p, b, b.Name(), b.Bind
	default:
		return res, fmt.Errorf("lbtest: unknown load balancer kind %q", kind)
	}
	spec := farm.Spec{Name: "lbtest"}
	if err := roles.Apply(&spec, lib, lb, app); err != nil {
		return res, err
	}
	f, err := farm.New(spec, cloud, &farm.Options{
		TickInterval:  200 * time.Millisecond,
		Scripting:     &farm.ScriptingOptions{Library: lib, Key: key},
		LoadBalancers: map[string]farm.Backends{name: backends},
	})
	if err != nil {
		return res, err
	}
	defer f.Close()
	bind(f)
	var (
		failMu   sync.Mutex
		failures strings.Builder
	)
	f.Subscribe(func(ev farm.Event) {
		if ev.Type == farm.HostInitFailed {
			failMu.Lock()
			fmt.Fprintf(&failures, "%s: %s\n", ev.Server.ID, ev.Reason)
			failMu.Unlock()
		}
	})

	runCtx, stopRun := context.WithCancel(ctx)
	var runWG sync.WaitGroup
	runWG.Add(1)
	go func() {
		defer runWG.Done()
		_ = f.Run(runCtx)
	}()
	defer func() {
		tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if terr := f.Terminate(tctx); terr != nil && err == nil {
			err = fmt.Errorf("terminate: %w", terr)
		}
		stopRun()
		runWG.Wait()
	}()

	ready := func(what string) error {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := f.WaitReady(wctx); err != nil {
			failMu.Lock()
			defer failMu.Unlock()
			return fmt.Errorf("%s: %w\n%s", what, err, failures.String())
		}
		// The backends follow HostUp asynchronously: wait for them.
		want := len(running(f, "app"))
		for wctx.Err() == nil {
			st := f.BackendsStatus()
			if len(st) == 1 && len(st[0].Servers) == want && st[0].Err == "" && sameSet(st[0].Servers, running(f, "app")) {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return fmt.Errorf("%s: backends %+v, running %v", what, f.BackendsStatus(), running(f, "app"))
	}
	if err := f.Launch(ctx); err != nil {
		return res, err
	}
	if err := ready("launch"); err != nil {
		return res, err
	}
	lbServers := f.Servers("lb")
	if len(lbServers) != 1 {
		return res, fmt.Errorf("%d load balancer servers", len(lbServers))
	}
	lbAddr := lbServers[0].PrivateIP
	logf("farm up: app %v behind %s at %s:%d", running(f, "app"), kind, lbAddr, lbPort)
	// The load balancer has its backends before it enters service: the
	// first request must succeed.
	first := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if err := get(ctx, first, fmt.Sprintf("http://%s:%d/", lbAddr, lbPort)); err != nil {
		return res, fmt.Errorf("first request through the load balancer: %w", err)
	}

	// The request loop.
	var (
		requests, failed atomic.Int64
		errMu            sync.Mutex
		errs             []string
	)
	loopCtx, stopLoop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	url := fmt.Sprintf("http://%s:%d/", lbAddr, lbPort)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{}
			client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
			defer tr.CloseIdleConnections()
			for loopCtx.Err() == nil {
				err := get(loopCtx, client, url)
				if loopCtx.Err() != nil {
					return
				}
				requests.Add(1)
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if len(errs) < 5 {
						errs = append(errs, err.Error())
					}
					errMu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	finish := func() {
		stopLoop()
		wg.Wait()
		res.Requests = requests.Load()
		res.Errors = errs
		res.Fallbacks = fallbacks()
		if b, err := os.ReadFile(filepath.Join(sandbox, lbServers[0].ID, "log", "error.log")); err == nil {
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			res.LBLog = string(b)
		}
	}
	pause := func() { time.Sleep(500 * time.Millisecond) }

	pause()
	for _, step := range []struct {
		what string
		n    int
	}{{"scale-out", 4}, {"scale-in", 1}} {
		if err := f.SetDesired("app", step.n); err != nil {
			finish()
			return res, err
		}
		if err := ready(step.what); err != nil {
			finish()
			return res, err
		}
		res.ScaleEvents++
		logf("%s to %d: app %v, %d requests, %d failed", step.what, step.n, running(f, "app"), requests.Load(), failed.Load())
		pause()
	}
	res.PlannedFailed = failed.Load()

	// A crash: the server's nginx dies with it, and the farm replaces it.
	if err := f.SetDesired("app", 2); err != nil {
		finish()
		return res, err
	}
	if err := ready("back to 2"); err != nil {
		finish()
		return res, err
	}
	res.PlannedFailed = failed.Load()
	victim := running(f, "app")[0]
	killServer(filepath.Join(sandbox, victim))
	if err := cloud.Crash(victim); err != nil {
		finish()
		return res, err
	}
	time.Sleep(time.Second) // the farm sees the crash at its next tick
	if err := ready("crash replacement"); err != nil {
		finish()
		return res, err
	}
	res.ScaleEvents++
	pause()
	finish()
	res.CrashFailed = failed.Load() - res.PlannedFailed
	logf("crash of %s replaced: app %v", victim, running(f, "app"))
	return res, nil
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func running(f *farm.Farm, role string) []string {
	var out []string
	for _, s := range f.Servers(role) {
		if s.State == farm.StateRunning {
			out = append(out, s.ID)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// killServer kills what a fake server runs (its nginx or HAProxy), as a
// crash of the machine would.
func killServer(dir string) {
	for _, pidfile := range []string{"run/nginx.pid", "run/haproxy.pid"} {
		b, err := os.ReadFile(filepath.Join(dir, pidfile))
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(field)
			if err != nil || pid <= 1 {
				continue
			}
			// nginx's and HAProxy's masters lead their own session: the
			// group holds the workers.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// killAll kills what every sandbox still runs.
func killAll(root string) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		killServer(filepath.Join(root, e.Name()))
	}
}
