package roles_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/internal/bindtest"
	"github.com/farmhand/farmhand/internal/mariadbtest"
)

// TestMariaDBFailoverLosesNoAcknowledgedWrite runs the preset on the fake
// cloud: real mariadbd processes on the fake servers' loopback addresses,
// started by the preset's scripts over SSH, and the master's name in a real
// BIND. The master is SIGKILLed while a writer commits through the name.
func TestMariaDBFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	mariadbtest.Require(t)
	bindtest.RequireNamed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	var logger *slog.Logger
	if os.Getenv("MARIADBTEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r, err := mariadbtest.StartFarm(ctx, mariadbtest.FarmOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer func() { t.Logf("failed scripts:\n%s", r.FailedScripts(ctx)) }()
	t.Logf("farm replicating after %s", time.Since(start))
	old, _ := r.Master()
	res, err := r.CrashMaster(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("acked=%d lost=%d resumed=%s failover=%+v", res.Acked, len(res.Lost), res.WritesResumed, res.Failover)
	if len(res.Lost) != 0 {
		t.Errorf("acknowledged rows lost: %v", res.Lost)
	}
	if res.MaxWritable > 1 {
		t.Errorf("%d writable masters at once", res.MaxWritable)
	}
	fo := res.Failover
	// The farm replaces the unhealthy old master meanwhile: its fence
	// script may be cut short, and the farm then terminates it.
	if (fo.Fenced != "script" && fo.Fenced != "terminated") || len(fo.Positions) != 2 {
		t.Errorf("failover = %+v, want the old master fenced and two positions read", fo)
	}
	if best := fo.Positions[fo.NewMaster]; best < fo.Positions[otherReplica(fo.Positions, fo.NewMaster)] {
		t.Errorf("promoted %s at %d, behind another replica: %v", fo.NewMaster, best, fo.Positions)
	}
	if ip, err := r.Resolve(ctx); err != nil || ip != fo.NewMasterIP {
		t.Errorf("%s = %s (%v), want the new master %s", r.Name, ip, err, fo.NewMasterIP)
	}
	if len(res.Sources) != 1 {
		t.Errorf("surviving replicas = %v, want one replicating from %s", res.Sources, fo.NewMasterIP)
	}
	if fo.OldMaster != old.ID {
		t.Errorf("failover of %s, want %s", fo.OldMaster, old.ID)
	}

	// A backup through the farm, taken on a replica, seeds a fresh server
	// that then holds every acknowledged row.
	b, err := r.Farm.BackupNow(ctx, r.Role)
	for end := time.Now().Add(time.Minute); err != nil && strings.Contains(err.Error(), "is running") && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond) // the farm's own first backup
		b, err = r.Farm.BackupNow(ctx, r.Role)
	}
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, r.FailedScripts(ctx))
	}
	if m, _ := r.Master(); b.Server == m.ID || b.Status != farm.BackupStatusComplete || !strings.HasSuffix(b.ID, ".sql.gz") {
		t.Fatalf("backup = %+v, want a dump taken on a replica (master %s)", b, m.ID)
	}
	dir := filepath.Join(t.TempDir(), "fresh")
	vars := mariadbtest.Vars(dir, mariadbtest.Addresses(1)[0], r.Port)
	vars["mariadb_restore_path"] = b.ID
	t.Cleanup(func() { mariadbtest.Stop(dir) })
	if _, err := mariadbtest.Run(ctx, roles.MariaDBInstallScript, vars); err != nil {
		t.Fatal(err)
	}
	if out, err := mariadbtest.Run(ctx, roles.MariaDBRestoreScript, vars); err != nil {
		t.Fatalf("restore: %v %s", err, out)
	}
	out, err := mariadbtest.SQL(ctx, dir, "SELECT n FROM app.t")
	if err != nil {
		t.Fatal(err)
	}
	restored := map[string]bool{}
	for _, f := range strings.Fields(out) {
		restored[f] = true
	}
	for _, n := range res.AckedRows {
		if !restored[strconv.Itoa(n)] {
			t.Fatalf("acknowledged row %d is not in the restored backup (%d rows)", n, len(restored))
		}
	}
	// The farm's own backup loop may have taken one too.
	recs, err := r.Farm.Backups(ctx, r.Role)
	if err != nil || len(recs) == 0 || recs[0].ID != b.ID {
		t.Fatalf("backup records = %+v, %v; want this one newest", recs, err)
	}
	for _, rec := range recs {
		if rec.Status != farm.BackupStatusComplete {
			t.Errorf("backup %d: %s %s", rec.Seq, rec.Status, rec.Err)
		}
	}
}

func otherReplica(pos map[string]int64, not string) string {
	for id := range pos {
		if id != not {
			return id
		}
	}
	return not
}
