package roles

import (
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// The names of the MariaDB preset's scripts in the scripting library.
const (
	MariaDBInstallScript   = "mariadb-install"
	MariaDBConfigureScript = "mariadb-configure"
	MariaDBSetupScript     = "mariadb-setup"
	MariaDBPositionScript  = "mariadb-position"
	MariaDBFenceScript     = "mariadb-fence"
	MariaDBPromoteScript   = "mariadb-promote"
	MariaDBRepointScript   = "mariadb-repoint"
	MariaDBBackupScript    = "mariadb-backup"
	MariaDBRestoreScript   = "mariadb-restore"
	MariaDBDeleteScript    = "mariadb-backup-delete"
)

// MariaDBOptions configure the MariaDB preset. Only Image and MasterName
// are required.
type MariaDBOptions struct {
	// Role names the role; empty means "db".
	Role string
	// Image is the machine image: a vanilla Debian or Ubuntu image, on
	// which the install script installs mariadb-server when mariadbd is
	// missing.
	Image string
	// InstanceType and Zones are the role's (see farm.RoleSpec).
	InstanceType string
	Zones        []string
	// Replicas is the number of replicas next to the master; 0 means 1.
	// Semi-synchronous replication needs at least one for the master's
	// commits to be acknowledged by a replica.
	Replicas int
	// MasterName is the DNS name that always points at the master, such
	// as "db.example.com". Applications connect to it; replicas replicate
	// from the address it resolves to.
	MasterName string
	// MasterTTL is the master name's TTL; 0 means 30 s.
	MasterTTL time.Duration
	// Port is the port mariadbd listens on; 0 means 3306.
	Port int
	// CheckInterval is the interval of the role's TCP health check, which
	// notices a dead master; 0 means 5 s. It fails after two misses.
	CheckInterval time.Duration
	// ReplicationPassword and AppPassword are the passwords of the
	// replication user and of the application user; empty means a random
	// password of 24 letters and digits. Passwords are letters, digits,
	// '_', '.' and '-'.
	ReplicationPassword string
	AppPassword         string
	// Variables override the preset's variables (see MariaDBVariables)
	// and add others.
	Variables map[string]string
	// Backup is the role's backup section; nil means a mariadb-dump
	// taken on a replica every 24 hours, the newest 7 kept
	// (MariaDBBackup).
	Backup *farm.BackupSpec
}

// MariaDBBackup is the preset's default backup: a gzipped mariadb-dump of
// every database, taken on a replica (the master when none is in service)
// every 24 hours at any time of day, the newest 7 kept, older dumps
// deleted by mariadb-backup-delete.
func MariaDBBackup() farm.BackupSpec {
	return farm.BackupSpec{Interval: 24 * time.Hour, Keep: 7, Method: farm.BackupScript,
		Script: MariaDBBackupScript, DeleteScript: MariaDBDeleteScript, From: farm.BackupFromReplica, Timeout: 6 * time.Hour}
}

// MariaDB returns the MariaDB master/replica preset: a database role
// (farm.DatabaseSpec) with its scripts, to be saved in the farm's
// scripting library. Change any field of the returned RoleSpec before use.
//
// What it does, by event:
//
//   - HostInit (blocking): mariadb-install installs mariadb-server and
//     mariadb-client when mariadbd is missing (mariadb_install), writes the
//     option file (mariadb-configure: GTID binary log, log_slave_updates,
//     gtid_strict_mode, read_only, semi-synchronous replication on both
//     sides with rpl_semi_sync_master_wait_point=AFTER_SYNC, bound to
//     %internal_ip%), creates the data directory and starts mariadbd.
//   - HostUp: mariadb-setup waits until the master name resolves; when it
//     resolves to this server, it creates the replication and application
//     users and opens the server for writes; otherwise it replicates from
//     that address with MASTER_USE_GTID=slave_pos.
//   - A failover (farm.DatabaseSpec): mariadb-fence sets read_only and
//     kills mariadbd on the old master; mariadb-position prints each
//     replica's received GTID position (Gtid_IO_Pos) so that the most
//     advanced one is promoted; mariadb-promote stops its IO thread, waits
//     until its relay log is applied (MASTER_GTID_WAIT), resets its
//     replication and turns read_only off.
//   - NewDBMaster: mariadb-repoint points every other replica at the new
//     master once the master name resolves to it.
//
// Backups (farm.BackupSpec, MariaDBBackup by default): mariadb-backup
// writes a gzipped mariadb-dump of all databases, taken in one transaction
// with its GTID position, on a replica, and prints its path (the backup's
// ID); mariadb-backup-delete removes dumps past retention. mariadb-restore
// seeds a server from a dump (the newest, or mariadb_restore_path) without
// binlogging it, and sets its gtid_slave_pos so that mariadb-setup then
// makes it a replica that continues from the dump.
//
// With AFTER_SYNC, a commit is acknowledged to the client only once a
// replica has it in its relay log, so the most advanced replica holds every
// acknowledged write when the master dies. If no replica acknowledges
// within mariadb_semisync_timeout_ms the master falls back to asynchronous
// replication until one does: writes acknowledged in that window can be
// lost by a failover. Raise the timeout to trade availability for that.
func MariaDB(o MariaDBOptions) (farm.RoleSpec, []scripting.Script, error) {
	if o.Image == "" {
		return farm.RoleSpec{}, nil, errors.New("roles: MariaDB: Image is empty")
	}
	if o.MasterName == "" {
		return farm.RoleSpec{}, nil, errors.New("roles: MariaDB: MasterName is empty")
	}
	if o.Replicas < 0 {
		return farm.RoleSpec{}, nil, fmt.Errorf("roles: MariaDB: Replicas %d is negative", o.Replicas)
	}
	if o.Port < 0 || o.Port > 65535 {
		return farm.RoleSpec{}, nil, fmt.Errorf("roles: MariaDB: Port %d is not a TCP port", o.Port)
	}
	role := cmpOr(o.Role, "db")
	replicas := o.Replicas
	if replicas == 0 {
		replicas = 1
	}
	port := o.Port
	if port == 0 {
		port = 3306
	}
	vars := MariaDBVariables()
	vars["mariadb_master_name"] = o.MasterName
	vars["mariadb_port"] = strconv.Itoa(port)
	for k, pw := range map[string]string{"mariadb_repl_password": o.ReplicationPassword, "mariadb_app_password": o.AppPassword} {
		if pw == "" {
			pw = randomPassword()
		}
		vars[k] = pw
	}
	maps.Copy(vars, o.Variables)
	for _, k := range []string{"mariadb_repl_password", "mariadb_app_password", "mariadb_repl_user", "mariadb_app_user", "mariadb_app_database"} {
		re := sqlWordRE
		if k == "mariadb_app_database" {
			re = sqlNameRE
		}
		if !re.MatchString(vars[k]) {
			return farm.RoleSpec{}, nil, fmt.Errorf("roles: MariaDB: %s may hold only letters, digits, '_', '.' and '-'", k)
		}
	}
	interval := o.CheckInterval
	if interval == 0 {
		interval = 5 * time.Second
	}
	ttl := o.MasterTTL
	if ttl == 0 {
		ttl = 30 * time.Second
	}
	backup := MariaDBBackup()
	if o.Backup != nil {
		backup = *o.Backup
	}
	spec := farm.RoleSpec{
		Name:         role,
		Image:        o.Image,
		InstanceType: o.InstanceType,
		Zones:        o.Zones,
		Min:          1 + replicas,
		Max:          1 + replicas,
		Variables:    vars,
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostInit, Script: MariaDBInstallScript, Blocking: true, Timeout: 15 * time.Minute},
			{Event: farm.HostUp, Script: MariaDBSetupScript, Timeout: 5 * time.Minute},
			{Event: farm.NewDBMaster, Script: MariaDBRepointScript, Target: farm.TargetRole, Timeout: 2 * time.Minute},
		},
		HealthChecks: []farm.HealthCheckSpec{{Name: "mariadb", Kind: "tcp", Port: port,
			Interval: interval, Timeout: interval, FailureThreshold: 2}},
		DNS: []farm.DNSName{{Name: o.MasterName, Select: farm.DNSSelectMaster, TTL: ttl}},
		Database: &farm.DatabaseSpec{
			PromoteScript:  MariaDBPromoteScript,
			PositionScript: MariaDBPositionScript,
			FenceScript:    MariaDBFenceScript,
			OldMaster:      farm.OldMasterTerminate,
		},
		Backup: &backup,
	}
	return spec, MariaDBScripts(), nil
}

// MariaDBVariables returns the preset's variables with their defaults.
// Every script reads its settings from them; override them in
// MariaDBOptions.Variables, the role's or the farm's variables, or a
// server's.
//
//	mariadb_master_name          the master's DNS name (MariaDBOptions.MasterName)
//	mariadb_port                 3306
//	mariadb_bind_address         "" (the server's %internal_ip%)
//	mariadb_dir                  /var/lib/farmhand-mariadb: my.cnf, data/, the socket, pid file and logs ($HOME expands)
//	mariadb_os_user              mysql: the system user mariadbd runs as (root needs "root")
//	mariadb_server_id            "" (derived from the bind address)
//	mariadb_repl_user            repl
//	mariadb_repl_password        random unless given
//	mariadb_app_user             app
//	mariadb_app_password         random unless given
//	mariadb_app_database         app
//	mariadb_semisync_timeout_ms  10000: how long a commit waits for a replica's acknowledgement
//	mariadb_apply_timeout_s      60: how long promotion waits for the relay log to be applied
//	mariadb_resolve              a command printing the address the master name resolves to ($master_name)
//	mariadb_resolve_tries        600: tries 0.1 s apart before giving up on the name
//	mariadb_options              extra option-file lines ([mariadbd] section)
//	mariadb_install              the install command when mariadbd is missing (apt-get)
//	mariadb_mariadbd, mariadb_install_db, mariadb_admin, mariadb_client, mariadb_dump   the programs
//	mariadb_backup_dir           /var/backups/farmhand-mariadb ($HOME expands)
//	mariadb_restore_path         "" (mariadb-restore takes the newest dump of the backup directory)
func MariaDBVariables() map[string]string {
	return map[string]string{
		"mariadb_master_name":         "",
		"mariadb_port":                "3306",
		"mariadb_bind_address":        "",
		"mariadb_dir":                 "/var/lib/farmhand-mariadb",
		"mariadb_os_user":             "mysql",
		"mariadb_server_id":           "",
		"mariadb_repl_user":           "repl",
		"mariadb_repl_password":       "",
		"mariadb_app_user":            "app",
		"mariadb_app_password":        "",
		"mariadb_app_database":        "app",
		"mariadb_semisync_timeout_ms": "10000",
		"mariadb_apply_timeout_s":     "60",
		"mariadb_resolve":             `getent ahostsv4 "$master_name" | awk 'NR == 1 { print $1 }'`,
		"mariadb_resolve_tries":       "600",
		"mariadb_options":             "innodb-buffer-pool-size=128M",
		"mariadb_install":             "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q mariadb-server mariadb-client && (systemctl disable --now mariadb 2>/dev/null || true)",
		"mariadb_mariadbd":            "/usr/sbin/mariadbd",
		"mariadb_install_db":          "mariadb-install-db",
		"mariadb_admin":               "mariadb-admin",
		"mariadb_client":              "mariadb",
		"mariadb_dump":                "mariadb-dump",
		"mariadb_backup_dir":          "/var/backups/farmhand-mariadb",
		"mariadb_restore_path":        "",
	}
}

// MariaDBScripts returns the preset's scripts (names MariaDB*Script).
func MariaDBScripts() []scripting.Script {
	parts := []struct{ name, body, desc string }{
		{MariaDBInstallScript, mariadbInstall, "installs MariaDB when missing, writes the option file, starts mariadbd"},
		{MariaDBConfigureScript, mariadbConfigure, "writes the option file and prints its path"},
		{MariaDBSetupScript, mariadbSetup, "opens the master for writes, or starts a replica's GTID replication"},
		{MariaDBPositionScript, mariadbPosition, "prints the GTID position the server has received"},
		{MariaDBFenceScript, mariadbFence, "sets read_only and kills mariadbd on a lost master"},
		{MariaDBPromoteScript, mariadbPromote, "applies the relay log, stops replication and opens the server for writes"},
		{MariaDBRepointScript, mariadbRepoint, "points a replica at the new master"},
		{MariaDBBackupScript, mariadbBackup, "dumps every database (gzipped) and prints the file's path"},
		{MariaDBRestoreScript, mariadbRestore, "seeds the server from a dump and sets its replication position"},
		{MariaDBDeleteScript, mariadbDelete, "deletes a dump of the backup directory (backup_id)"},
	}
	out := make([]scripting.Script, len(parts))
	for i, p := range parts {
		out[i] = scripting.Script{Name: p.name, Body: mariadbPrelude + p.body, Description: p.desc}
	}
	return out
}

var (
	sqlWordRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	sqlNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

func randomPassword() string {
	return rand.Text()[:24]
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
