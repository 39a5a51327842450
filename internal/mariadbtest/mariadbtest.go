// Package mariadbtest runs the MariaDB preset's scripts (package
// farm/roles) on this machine, as a fake server's SSH endpoint would: each
// instance lives in its own directory, listens on its own loopback address,
// and runs as root. Tests use it to check the option file with mariadbd
// itself and to start real mariadbd processes, and stop them with Stop.
package mariadbtest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/internal/testproc"
	"github.com/farmhand/farmhand/scripting"
)

// Mariadbd is where Debian's mariadb-server puts the server.
const Mariadbd = "/usr/sbin/mariadbd"

// Require skips the test when mariadbd is not installed, and fails it
// when CI is "true".
func Require(tb testing.TB) {
	tb.Helper()
	testproc.Require(tb, "mariadbtest", Mariadbd, "mariadb-server")
	for _, bin := range []string{"mariadb", "mariadb-admin", "mariadb-install-db", "mariadb-dump"} {
		if _, err := exec.LookPath(bin); err != nil {
			testproc.Require(tb, "mariadbtest", "/nonexistent/"+bin, "mariadb-client")
		}
	}
}

// Addresses returns n loopback addresses for instances of this process,
// 127.77.X.2 onwards with X taken from the process ID, so that two test
// processes running at once do not collide on port 3306.
func Addresses(n int) []string {
	x := os.Getpid()%250 + 1
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("127.77.%d.%d", x, i+2)
	}
	return out
}

// Vars returns the preset's variables for an instance in dir listening on
// bind:port, as root, with small buffers and a semi-sync timeout of
// 1 s, and master as the address the master name resolves to (a file
// in the parent of dir, MasterFile, so that a test can move it).
func Vars(dir, bind string, port int) scripting.Vars {
	v := roles.MariaDBVariables()
	maps.Copy(v, map[string]string{
		"mariadb_master_name":         "db.farm.test",
		"mariadb_port":                strconv.Itoa(port),
		"mariadb_bind_address":        bind,
		"mariadb_dir":                 dir,
		"mariadb_os_user":             "root",
		"mariadb_repl_password":       "replpw",
		"mariadb_app_password":        "apppw",
		"mariadb_semisync_timeout_ms": "1000",
		"mariadb_options":             "innodb-buffer-pool-size=32M\ninnodb-log-file-size=16M",
		"mariadb_install":             "echo 'mariadbd is missing' >&2; exit 1",
		"mariadb_resolve":             "cat " + shellQuote(MasterFile(dir)),
		"mariadb_resolve_tries":       "100",
		"mariadb_backup_dir":          filepath.Join(filepath.Dir(dir), "backups"),
		"internal_ip":                 bind,
		"server_id":                   filepath.Base(dir),
	})
	return v
}

// MasterFile is the file the test Vars' resolve command reads the
// master's address from: "master" next to the instance's directory.
func MasterFile(dir string) string { return filepath.Join(filepath.Dir(dir), "master") }

// Run renders a preset script with vars and runs it with /bin/sh here,
// returning its standard output; the error holds its standard error.
func Run(ctx context.Context, script string, vars scripting.Vars) (string, error) {
	var body string
	for _, s := range roles.MariaDBScripts() {
		if s.Name == script {
			body = s.Body
		}
	}
	if body == "" {
		return "", fmt.Errorf("mariadbtest: no script %q", script)
	}
	text, err := scripting.Render(body, vars)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// SQL runs statements on the instance in dir over its socket, as root,
// and returns the rows (tab-separated, no headers).
func SQL(ctx context.Context, dir, stmts string) (string, error) {
	cmd := exec.CommandContext(ctx, "mariadb", "--no-defaults", "--socket="+filepath.Join(dir, "mysqld.sock"), "-uroot", "-N", "-B", "-e", stmts)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("mariadb: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// SlaveStatus returns the fields of SHOW SLAVE STATUS on the instance in
// dir (empty when it does not replicate).
func SlaveStatus(ctx context.Context, dir string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "mariadb", "--no-defaults", "--socket="+filepath.Join(dir, "mysqld.sock"), "-uroot", "-e", "SHOW SLAVE STATUS\\G")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("mariadb: %w: %s", err, strings.TrimSpace(string(out)))
	}
	st := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.Contains(k, " ") {
			st[k] = strings.TrimSpace(v)
		}
	}
	return st, nil
}

// Pid returns the process ID of the instance in dir, 0 when it is not
// running.
func Pid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "mysqld.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !alive(pid) {
		return 0
	}
	return pid
}

// alive reports whether pid is a running process (not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// Kill sends SIGKILL to the instance in dir, as a crash would.
func Kill(dir string) error {
	pid := Pid(dir)
	if pid == 0 {
		return fmt.Errorf("mariadbtest: no mariadbd running in %s", dir)
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

// Stop ends the instance in dir: SIGTERM, then SIGKILL after 30 s. It
// waits until the process is gone.
func Stop(dir string) {
	pid := Pid(dir)
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(time.Hour)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
