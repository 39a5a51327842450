package roles_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/internal/mariadbtest"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

func TestMariaDBPresetIsAValidDatabaseRole(t *testing.T) {
	role, scripts, err := roles.MariaDB(roles.MariaDBOptions{Image: "debian-12", MasterName: "db.shop.test", Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	lib := scripting.NewLibrary(nil)
	for _, s := range scripts {
		if _, err := lib.Save(s); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{role}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	key, err := scripting.GenerateKey("t")
	if err != nil {
		t.Fatal(err)
	}
	// farm.New checks every bound script's variables against the role's.
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	f, err := farm.New(spec, cloud, &farm.Options{DNS: dnsupdate.NewMemory(nil), Scripting: &farm.ScriptingOptions{Library: lib, Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if role.Min != 3 || role.Max != 3 || role.Database.PositionScript == "" || role.Database.FenceScript == "" ||
		role.DNS[0].Select != farm.DNSSelectMaster || role.Variables["mariadb_repl_password"] == "" ||
		role.Variables["mariadb_repl_password"] == role.Variables["mariadb_app_password"] {
		t.Fatalf("role = %+v", role)
	}
}

func TestMariaDBPresetRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    roles.MariaDBOptions
		want string
	}{
		{"an image is required", roles.MariaDBOptions{MasterName: "db.x.test"}, "Image is empty"},
		{"a master name is required", roles.MariaDBOptions{Image: "i"}, "MasterName is empty"},
		{"a negative replica count is refused", roles.MariaDBOptions{Image: "i", MasterName: "db", Replicas: -1}, "negative"},
		{"a password that needs quoting is refused", roles.MariaDBOptions{Image: "i", MasterName: "db", AppPassword: "it's"}, "mariadb_app_password"},
		{"a database name with a dash is refused", roles.MariaDBOptions{Image: "i", MasterName: "db",
			Variables: map[string]string{"mariadb_app_database": "my-app"}}, "mariadb_app_database"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := roles.MariaDB(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestMariaDBOptionFileIsAcceptedByMariadbd(t *testing.T) {
	mariadbtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "m1")
	vars := mariadbtest.Vars(dir, "127.0.0.1", 3306)
	out, err := mariadbtest.Run(ctx, roles.MariaDBConfigureScript, vars)
	if err != nil {
		t.Fatal(err)
	}
	cnf := strings.TrimSpace(out)
	help, err := exec.CommandContext(ctx, mariadbtest.Mariadbd, "--defaults-file="+cnf, "--help", "--verbose").CombinedOutput()
	if err != nil {
		t.Fatalf("mariadbd refused %s: %v\n%s", cnf, err, tail(string(help)))
	}
	for _, want := range []string{"rpl-semi-sync-master-wait-point AFTER_SYNC", "gtid-strict-mode TRUE", "log-slave-updates TRUE",
		"read-only TRUE", "bind-address 127.0.0.1", "binlog-format ROW", "rpl-semi-sync-slave-enabled TRUE"} {
		if !containsFields(string(help), want) {
			t.Errorf("mariadbd --help --verbose does not show %q for the generated option file", want)
		}
	}
	// The check fails for an option mariadbd does not know.
	vars["mariadb_options"] = "no-such-option=1"
	if _, err := mariadbtest.Run(ctx, roles.MariaDBConfigureScript, vars); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, mariadbtest.Mariadbd, "--defaults-file="+cnf, "--help", "--verbose").CombinedOutput(); err == nil {
		t.Fatalf("mariadbd accepted an unknown option:\n%s", tail(string(out)))
	}
}

// containsFields reports whether a line of text has the fields of want,
// whatever the spacing.
func containsFields(text, want string) bool {
	w := strings.Join(strings.Fields(want), " ")
	for line := range strings.Lines(text) {
		if strings.Join(strings.Fields(line), " ") == w {
			return true
		}
	}
	return false
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

func TestMariaDBScriptsReplicateSemiSynchronouslyAndRestoreABackup(t *testing.T) {
	mariadbtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := t.TempDir()
	addrs := mariadbtest.Addresses(3)
	var dirs []string
	var vars []scripting.Vars
	for i, a := range addrs {
		dir := filepath.Join(root, "m"+string(rune('1'+i)))
		dirs = append(dirs, dir)
		vars = append(vars, mariadbtest.Vars(dir, a, 3306))
		t.Cleanup(func() { mariadbtest.Stop(dir) })
	}
	if err := os.WriteFile(mariadbtest.MasterFile(dirs[0]), []byte(addrs[0]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := mariadbtest.Run(ctx, roles.MariaDBInstallScript, vars[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []string{"master", "replica of " + addrs[0]} {
		out, err := mariadbtest.Run(ctx, roles.MariaDBSetupScript, vars[i])
		if err != nil || strings.TrimSpace(out) != want {
			t.Fatalf("setup of %s: %q, %v; want %q", addrs[i], out, err, want)
		}
	}
	mustSQL(t, ctx, dirs[0], "CREATE TABLE app.t (n INT PRIMARY KEY); INSERT INTO app.t VALUES (1),(2),(3)")
	waitSQL(t, ctx, dirs[1], "SELECT COUNT(*) FROM app.t", "3")
	status := mustSQL(t, ctx, dirs[0], "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status','Rpl_semi_sync_master_clients')")
	if !containsFields(status, "Rpl_semi_sync_master_clients 1") || !containsFields(status, "Rpl_semi_sync_master_status ON") {
		t.Fatalf("semi-sync on the master:\n%s", status)
	}
	if got := mustSQL(t, ctx, dirs[1], "SELECT @@read_only"); got != "1" {
		t.Fatalf("the replica's read_only = %s", got)
	}
	pos, err := mariadbtest.Run(ctx, roles.MariaDBPositionScript, vars[1])
	if err != nil {
		t.Fatal(err)
	}
	want := mustSQL(t, ctx, dirs[0], "SELECT @@gtid_binlog_pos")
	if n, err := farm.ParsePosition(pos); err != nil || strings.TrimSpace(pos) != want || n == 0 {
		t.Fatalf("replica position %q (%d, %v), want the master's %q", pos, n, err, want)
	}

	// A backup taken on the replica seeds a third server, which then
	// replicates the rows written after the backup.
	path, err := mariadbtest.Run(ctx, roles.MariaDBBackupScript, vars[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(strings.TrimSpace(path)); err != nil {
		t.Fatal(err)
	}
	mustSQL(t, ctx, dirs[0], "INSERT INTO app.t VALUES (4)")
	if _, err := mariadbtest.Run(ctx, roles.MariaDBInstallScript, vars[2]); err != nil {
		t.Fatal(err)
	}
	restored, err := mariadbtest.Run(ctx, roles.MariaDBRestoreScript, vars[2])
	if err != nil || !strings.Contains(restored, "restored") {
		t.Fatalf("restore: %q, %v", restored, err)
	}
	t.Logf("%s", restored)
	if got := mustSQL(t, ctx, dirs[2], "SELECT GROUP_CONCAT(n ORDER BY n) FROM app.t"); got != "1,2,3" {
		t.Fatalf("restored rows = %q, want 1,2,3", got)
	}
	if out, err := mariadbtest.Run(ctx, roles.MariaDBSetupScript, vars[2]); err != nil || strings.TrimSpace(out) != "replica of "+addrs[0] {
		t.Fatalf("setup of the seeded server: %q, %v", out, err)
	}
	waitSQL(t, ctx, dirs[2], "SELECT GROUP_CONCAT(n ORDER BY n) FROM app.t", "1,2,3,4")
}

func init() {
	waitDiag = func(ctx context.Context, dir string) string {
		out, _ := mariadbtest.SQL(ctx, dir, "SHOW SLAVE STATUS\\G")
		return out
	}
}

var waitDiag func(context.Context, string) string

func mustSQL(t *testing.T, ctx context.Context, dir, stmts string) string {
	t.Helper()
	out, err := mariadbtest.SQL(ctx, dir, stmts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func waitSQL(t *testing.T, ctx context.Context, dir, query, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := mariadbtest.SQL(ctx, dir, query)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s = %q (%v), want %q\n%s", query, dir, got, err, want, waitDiag(ctx, dir))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
