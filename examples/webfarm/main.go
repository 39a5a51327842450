// Webfarm assembles the classic web farm from the roles catalog (package
// farm/roles) and runs it on farmhand's fake cloud with live SSH: every
// fake server runs the real programs its scripts start, bound to its own
// loopback address.
//
//	go run ./examples/webfarm
//
// The farm is
//
//   - db: the MariaDB preset, a master and two replicas with GTID and
//     semi-synchronous replication, its master's name db.farm.test in a
//     real BIND, backed up with mariadb-dump on a replica;
//   - app: two nginx app servers (the App preset), whose NewDBMaster
//     script records the new database master;
//   - lb: HAProxy (the HAProxy preset) in front of the app servers, its
//     backends kept equal to them through the runtime API.
//
// It writes rows through the database's name, takes a backup, kills the
// master's mariadbd, and prints the failover (the most advanced replica
// promoted, the old master fenced, the name moved and verified) and the
// rows found on the new master, then terminates the farm. It needs
// mariadb-server, mariadb-client, bind9, bind9-dnsutils, nginx and haproxy
// (Debian's packages), and exits 2 naming what is missing.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/internal/mariadbtest"
	"github.com/farmhand/farmhand/scripting"
)

func main() {
	if missing := missingPrograms(); len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "webfarm: needs %s (apt-get install -y mariadb-server mariadb-client bind9 bind9-dnsutils nginx haproxy)\n", strings.Join(missing, ", "))
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webfarm:", err)
		os.Exit(1)
	}
}

func missingPrograms() []string {
	var missing []string
	for _, p := range []string{mariadbtest.Mariadbd, "/usr/sbin/named", "mariadb", "dig", "nginx", "haproxy"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	return missing
}

// The ports of the farm's programs on their servers' addresses.
const (
	appPort = 18580
	lbPort  = 18581
)

func run(ctx context.Context, out io.Writer) error {
	var bind func(roles.Farm)
	var lbBackends *roles.HAProxyBackends
	// The database role, BIND and the fake cloud come from mariadbtest,
	// which points the MariaDB preset's directories into each fake
	// server's sandbox; the app and load balancer roles are added here.
	r, err := mariadbtest.StartFarm(ctx, mariadbtest.FarmOptions{
		Tune: func(spec *farm.Spec, opts *farm.Options) error {
			spec.Name = "webfarm"
			app := appPreset()
			lb, backends := lbPreset()
			lbBackends, bind = backends, backends.Bind
			lib := opts.Scripting.Library
			if err := roles.Apply(spec, lib, app, lb); err != nil {
				return err
			}
			if _, err := lib.Save(scripting.Script{Name: "app-reconnect", Body: reconnectScript}); err != nil {
				return err
			}
			opts.LoadBalancers = map[string]farm.Backends{backends.Name(): backends}
			return nil
		},
		Built: func(f *farm.Farm) { bind(f) },
	})
	if err != nil {
		return err
	}
	defer r.Close()
	f := r.Farm
	fmt.Fprintln(out, "farm up:")
	for _, role := range []string{"db", "app", "lb"} {
		for _, s := range f.Servers(role) {
			what := ""
			if role == "db" {
				what = " replica"
				if s.Master {
					what = " master"
				}
			}
			fmt.Fprintf(out, "  %-4s %s %s%s\n", role, s.ID, s.PrivateIP, what)
		}
	}
	if err := waitBackends(ctx, f, lbBackends); err != nil {
		return err
	}
	lb := f.Servers("lb")[0]
	// HAProxy sends traffic to a server once its first check passed.
	body, err := get(ctx, fmt.Sprintf("http://%s:%d/health", lb.PrivateIP, lbPort))
	for end := time.Now().Add(20 * time.Second); err != nil && time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
		body, err = get(ctx, fmt.Sprintf("http://%s:%d/health", lb.PrivateIP, lbPort))
	}
	if err != nil {
		return fmt.Errorf("request through HAProxy: %w", err)
	}
	fmt.Fprintf(out, "GET http://%s:%d/health through HAProxy: %s\n", lb.PrivateIP, lbPort, strings.TrimSpace(body))

	b, err := backup(ctx, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup %d of db on %s (a replica): %s\n", b.Seq, b.Server, b.ID)

	old, _ := r.Master()
	fmt.Fprintf(out, "writing rows through db.farm.test, then SIGKILL to mariadbd on the master %s\n", old.ID)
	res, err := r.CrashMaster(ctx, 100)
	if err != nil {
		return err
	}
	fo := res.Failover
	fmt.Fprintf(out, "failover: %s\n", fo.Reason)
	fmt.Fprintf(out, "  fenced %s (%s), positions %v, promoted %s (%s), db.farm.test verified at BIND %s after detection\n",
		fo.OldMaster, fo.Fenced, fo.Positions, fo.NewMaster, fo.NewMasterIP, fo.Verified.Sub(fo.Detected).Round(time.Millisecond))
	fmt.Fprintf(out, "  writes: acked=%d lost=%d resumed after %s; writable masters at once: %d; replicas now follow %v\n",
		res.Acked, len(res.Lost), res.WritesResumed.Round(10*time.Millisecond), res.MaxWritable, res.Sources)
	for _, s := range f.Servers("app") {
		got, err := f.Exec(ctx, s.ID, "cat db-master")
		if err == nil {
			fmt.Fprintf(out, "  app %s reconnected to %s\n", s.ID, strings.TrimSpace(string(got)))
		}
	}
	if len(res.Lost) > 0 {
		return fmt.Errorf("acknowledged rows lost: %v", res.Lost)
	}
	tctx, tcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer tcancel()
	if err := f.Terminate(tctx); err != nil {
		return fmt.Errorf("terminate: %w", err)
	}
	fmt.Fprintln(out, "farm terminated")
	return nil
}

// reconnectScript runs on every app server when the database gets a new
// master; a real app would rewrite its configuration and reload.
const reconnectScript = `echo '%new_master_ip%' > db-master`

func appPreset() roles.Preset {
	user := ""
	if os.Geteuid() == 0 {
		user = "root"
	}
	p := roles.App(roles.AppOptions{
		Port: appPort,
		Role: farm.RoleSpec{
			Image: "debian-12", Min: 2, Max: 2, DependsOn: []string{"db"},
			Variables: map[string]string{
				"app_config": "nginx/nginx.conf", "app_root": "www", "app_pid": "run/nginx.pid",
				"app_temp_dir": "run/tmp", "app_log_dir": "log", "app_user": user,
				"app_start":  `nginx -c "$CONF"`,
				"app_reload": `nginx -c "$CONF" -s reload`,
				"app_stop":   `nginx -c "$CONF" -s quit; i=0; while [ -e "$PIDFILE" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
			},
		},
	})
	// Next to the preset's own bindings (a Role.Scripts would replace them).
	p.Role.Scripts = append(p.Role.Scripts, farm.ScriptBinding{Event: farm.NewDBMaster, Script: "app-reconnect"})
	return p
}

func lbPreset() (roles.Preset, *roles.HAProxyBackends) {
	return roles.HAProxy(roles.HAProxyOptions{Port: lbPort, BackendPort: appPort, DrainTimeout: 10 * time.Second,
		Role: farm.RoleSpec{Name: "lb", Image: "debian-12", Min: 1, Max: 1, DependsOn: []string{"app"},
			Variables: map[string]string{
				"haproxy_config": "haproxy/haproxy.cfg", "haproxy_socket": "run/admin.sock",
				"haproxy_bind": "", "haproxy_user": "",
				"haproxy_start":  `haproxy -D -f "$CONF" -p "$PIDFILE"`,
				"haproxy_reload": `haproxy -D -f "$CONF" -p "$PIDFILE" -sf $(cat "$PIDFILE")`,
				"haproxy_stop":   `kill $(cat "$PIDFILE") 2>/dev/null || true`,
			}}})
}

// waitBackends waits until HAProxy's backends are the app servers.
func waitBackends(ctx context.Context, f *farm.Farm, b *roles.HAProxyBackends) error {
	deadline := time.Now().Add(time.Minute)
	for {
		for _, st := range f.BackendsStatus() {
			if st.Name == b.Name() && len(st.Servers) == len(f.Servers("app")) && st.Err == "" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("HAProxy's backends %+v never matched the app servers", f.BackendsStatus())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// backup takes a backup of the db role now (after the farm's own first
// one, when it is running).
func backup(ctx context.Context, f *farm.Farm) (farm.Backup, error) {
	for end := time.Now().Add(time.Minute); ; {
		b, err := f.BackupNow(ctx, "db")
		if err == nil || !strings.Contains(err.Error(), "is running") || time.Now().After(end) {
			return b, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}
