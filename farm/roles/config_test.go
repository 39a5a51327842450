package roles_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/scripting"
)

// runPresetScript renders one of a preset's scripts with the role's
// variables, the built-ins of a server at ip and extra, and runs it with
// /bin/sh in dir, as the fake cloud's SSH endpoint would.
func runPresetScript(t *testing.T, p roles.Preset, name, dir, ip string, extra map[string]string) (string, error) {
	t.Helper()
	var s *scripting.Script
	for i := range p.Scripts {
		if p.Scripts[i].Name == name {
			s = &p.Scripts[i]
		}
	}
	if s == nil {
		t.Fatalf("preset has no script %q", name)
	}
	vars := scripting.Vars{"internal_ip": ip, "role_name": p.Role.Name, "server_id": "i-000001"}
	maps.Copy(vars, p.Role.Variables)
	maps.Copy(vars, extra)
	body, err := s.Render(vars)
	if err != nil {
		t.Fatalf("render %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", body)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// killPidFile kills the process whose pid a file holds, and its group.
func killPidFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("no pid file: %v", err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// openDir returns a temporary directory other users may enter (nginx's
// and Squid's workers drop root).
func openDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	return dir
}

func rootUser(name string) string {
	if os.Geteuid() == 0 {
		return name
	}
	return ""
}

func TestAppConfigIsAcceptedByNginx(t *testing.T) {
	requirePrograms(t, "nginx")
	for _, upstream := range []string{"", "127.0.0.1:8080"} {
		t.Run("upstream="+upstream, func(t *testing.T) {
			dir := openDir(t)
			p := roles.App(roles.AppOptions{Port: 18500, Upstream: upstream})
			vars := map[string]string{"app_config": "nginx.conf", "app_root": "www", "app_pid": "run/nginx.pid",
				"app_temp_dir": "tmp", "app_log_dir": "log", "app_user": rootUser("root"), "app_start": "true"}
			out, err := runPresetScript(t, p, "app-init", dir, "127.0.3.1", vars)
			if err != nil {
				t.Fatalf("app-init: %v\n%s", err, out)
			}
			if out, err := exec.Command("nginx", "-t", "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
				t.Fatalf("nginx -t: %v\n%s", err, out)
			}
			conf, _ := os.ReadFile(filepath.Join(dir, "nginx.conf"))
			if !strings.Contains(string(conf), "listen 127.0.3.1:18500;") || strings.Contains(string(conf), "proxy_pass") != (upstream != "") {
				t.Fatalf("configuration:\n%s", conf)
			}
		})
	}
	// A bad setting is refused by nginx before anything starts.
	dir := openDir(t)
	p := roles.App(roles.AppOptions{})
	out, err := runPresetScript(t, p, "app-init", dir, "127.0.3.1", map[string]string{"app_config": "nginx.conf", "app_root": "www",
		"app_pid": "run/nginx.pid", "app_temp_dir": "tmp", "app_log_dir": "log", "app_port": "eighty", "app_start": "echo STARTED"})
	if err == nil || strings.Contains(out, "STARTED") || !strings.Contains(out, "eighty") {
		t.Fatalf("app-init with port eighty: %v\n%s", err, out)
	}
}

func TestNginxLBConfigIsAcceptedByNginx(t *testing.T) {
	requirePrograms(t, "nginx")
	dir := openDir(t)
	p, b := roles.NginxLB(roles.NginxLBOptions{Port: 18501, Bind: "127.0.3.2"})
	vars := map[string]string{"nginx_lb_config": "nginx.conf", "nginx_lb_upstream_file": "upstream.conf", "nginx_lb_pid": "run/nginx.pid",
		"nginx_lb_temp_dir": "tmp", "nginx_lb_log_dir": "log", "nginx_lb_user": rootUser("root"), "nginx_lb_start": "true"}
	out, err := runPresetScript(t, p, "nginx-lb-init", dir, "127.0.3.2", vars)
	if err != nil {
		t.Fatalf("nginx-lb-init: %v\n%s", err, out)
	}
	// The upstream the Backends writes passes nginx -t too.
	lines := b.UpstreamLines(nil)
	if err := os.WriteFile(filepath.Join(dir, "upstream.conf"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nginx", "-t", "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t with %q: %v\n%s", lines, err, out)
	}
}

func TestHAProxyConfigIsAcceptedByHAProxy(t *testing.T) {
	requirePrograms(t, "haproxy", "socat")
	dir := t.TempDir()
	p, _ := roles.HAProxy(roles.HAProxyOptions{Port: 18502, Bind: "127.0.3.3"})
	vars := map[string]string{"haproxy_config": "haproxy.cfg", "haproxy_socket": "run/admin.sock", "haproxy_user": "",
		"haproxy_start": `haproxy -D -f "$CONF" -p "$PIDFILE"`}
	out, err := runPresetScript(t, p, "haproxy-init", dir, "127.0.3.3", vars)
	defer killPidFile(t, filepath.Join(dir, "run/haproxy.pid"))
	if err != nil {
		t.Fatalf("haproxy-init: %v\n%s", err, out)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", filepath.Join(dir, "haproxy.cfg")).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	// The runtime API answers, and the backend takes dynamic servers.
	out2, err := exec.Command("sh", "-c", `echo "add server farm/probe 127.0.0.1:9 check" | socat -t 2 - UNIX-CONNECT:`+filepath.Join(dir, "run/admin.sock")).CombinedOutput()
	if err != nil || !strings.Contains(string(out2), "New server registered") {
		t.Fatalf("add server: %v %s", err, out2)
	}
	// A bad setting is refused by haproxy -c before anything starts.
	dir = t.TempDir()
	vars["haproxy_port"] = "eighty"
	vars["haproxy_start"] = "echo STARTED"
	out, err = runPresetScript(t, p, "haproxy-init", dir, "127.0.3.3", vars)
	if err == nil || strings.Contains(out, "STARTED") || !strings.Contains(out, "eighty") {
		t.Fatalf("haproxy-init with port eighty: %v\n%s", err, out)
	}
}

func TestSquidConfigIsAcceptedBySquid(t *testing.T) {
	requirePrograms(t, "squid")
	dir := openDir(t)
	p := roles.Squid(roles.SquidOptions{Port: 18503, CacheMB: 16})
	user := ""
	if os.Geteuid() == 0 {
		user = "proxy"
	}
	vars := map[string]string{"squid_config": "squid.conf", "squid_cache_dir": "cache", "squid_pid": "run/squid.pid",
		"squid_log_dir": "log", "squid_user": user, "squid_start": "true"}
	out, err := runPresetScript(t, p, "squid-init", dir, "127.0.3.4", vars)
	if err != nil {
		t.Fatalf("squid-init: %v\n%s", err, out)
	}
	if out, err := exec.Command("squid", "-k", "parse", "-f", filepath.Join(dir, "squid.conf")).CombinedOutput(); err != nil {
		t.Fatalf("squid -k parse: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", "00")); err != nil {
		t.Fatalf("squid -z made no cache: %v\n%s", err, out)
	}
	dir = openDir(t)
	vars["squid_mem_mb"] = "-5"
	vars["squid_start"] = "echo STARTED"
	out, err = runPresetScript(t, p, "squid-init", dir, "127.0.3.4", vars)
	if err == nil || strings.Contains(out, "STARTED") {
		t.Fatalf("squid-init with cache_mem -5: %v\n%s", err, out)
	}
}

func TestMemcachedStartsAndAnswersStats(t *testing.T) {
	requirePrograms(t, "memcached")
	dir := t.TempDir()
	p := roles.Memcached(roles.MemcachedOptions{Port: 18504, MemoryMB: 16})
	vars := map[string]string{"memcached_config": "memcached.conf", "memcached_pid": "run/memcached.pid",
		"memcached_user": rootUser("root"), "memcached_start": `memcached -d $(grep -v '^#' "$CONF")`}
	out, err := runPresetScript(t, p, "memcached-init", dir, "127.0.3.5", vars)
	defer killPidFile(t, filepath.Join(dir, "run/memcached.pid"))
	if err != nil {
		t.Fatalf("memcached-init: %v\n%s", err, out)
	}
	var conn net.Conn
	for i := 0; i < 100; i++ {
		if conn, err = net.DialTimeout("tcp", "127.0.3.5:18504", time.Second); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("memcached does not listen on 127.0.3.5:18504: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "stats\r\n")
	sc := bufio.NewScanner(conn)
	var limit string
	for sc.Scan() && sc.Text() != "END" {
		if v, ok := strings.CutPrefix(sc.Text(), "STAT limit_maxbytes "); ok {
			limit = v
		}
	}
	if limit != strconv.Itoa(16<<20) {
		t.Fatalf("limit_maxbytes %q, want 16 MiB (memcached_mb)", limit)
	}
}

func TestNFSExportsAreWellFormed(t *testing.T) {
	dir := t.TempDir()
	p := roles.NFS(roles.NFSOptions{Export: "share", Clients: "127.0.0.0/8"})
	vars := map[string]string{"nfs_install": "true", "nfs_exports_file": "exports.d/farmhand.exports", "nfs_start": "true", "nfs_apply": "true"}
	out, err := runPresetScript(t, p, "nfs-server-init", dir, "127.0.3.6", vars)
	if err != nil {
		t.Fatalf("nfs-server-init: %v\n%s", err, out)
	}
	exports, _ := os.ReadFile(filepath.Join(dir, "exports.d/farmhand.exports"))
	want := filepath.Join(dir, "share") + " 127.0.0.0/8(rw,sync,no_subtree_check)\n"
	if string(exports) != want {
		t.Fatalf("exports %q, want %q", exports, want)
	}
	if err := roles.CheckExports(string(exports)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "share")); err != nil || !fi.IsDir() {
		t.Fatalf("export directory: %v", err)
	}

	c := roles.NFSClient(roles.NFSClientOptions{Server: "nfs.shop.example", Mount: "mnt"})
	cvars := map[string]string{"nfs_client_install": "true", "nfs_mount_cmd": `echo "$SERVER:$EXPORT $MNT $OPTS" > mounted`}
	if out, err := runPresetScript(t, c, "nfs-client-mount", dir, "127.0.3.7", cvars); err != nil {
		t.Fatalf("nfs-client-mount: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "mounted"))
	if want := "nfs.shop.example:/srv/shared " + filepath.Join(dir, "mnt") + " hard,timeo=50,retrans=3\n"; string(got) != want {
		t.Fatalf("mount ran %q, want %q", got, want)
	}
	cvars["nfs_name"] = "nfs2.shop.example"
	cvars["nfs_umount_cmd"] = "true"
	if out, err := runPresetScript(t, c, "nfs-client-remount", dir, "127.0.3.7", cvars); err != nil {
		t.Fatalf("nfs-client-remount: %v\n%s", err, out)
	}
	got, _ = os.ReadFile(filepath.Join(dir, "mounted"))
	if !strings.HasPrefix(string(got), "nfs2.shop.example:/srv/shared ") {
		t.Fatalf("remount ran %q", got)
	}
}

func TestCheckExports(t *testing.T) {
	for _, c := range []struct {
		name, text, err string
	}{
		{"a path and a client with options is fine", "/srv/shared 10.0.0.0/8(rw,sync,no_subtree_check)", ""},
		{"several clients and comments are fine", "# c\n/srv/a host1(ro) host2(rw,fsid=1,anonuid=65534)\n", ""},
		{"a client without options is fine", "/srv/a *", ""},
		{"a relative path is refused", "srv/a *(rw)", "not an absolute path"},
		{"a space before the options exports to the world", "/srv/a host1 (rw)", "exports to the world"},
		{"an unknown option is refused", "/srv/a *(rw,fast)", `unknown option "fast"`},
		{"unclosed options are refused", "/srv/a *(rw", "not closed"},
		{"a path alone is refused", "/srv/a", "names no client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := roles.CheckExports(c.text)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("CheckExports(%q) = %v, want %q", c.text, err, c.err)
			}
		})
	}
}
