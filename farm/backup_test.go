package farm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

func TestBackupDueWaitsForTheIntervalAndTheWindow(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	night, _ := parseBackupWindow("02:00-04:00")
	late, _ := parseBackupWindow("22:00-01:00")
	anyTime, _ := parseBackupWindow("")
	// 2026-03-02 01:30 UTC is 02:30 in Berlin.
	at := time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)
	tests := []struct {
		name      string
		now       time.Time
		w         backupWindow
		lastStart time.Time
		running   bool
		want      bool
		why       string
	}{
		{"the first backup starts at once inside the window", at, night, time.Time{}, false, true, ""},
		{"the window is read in the farm's time zone", at.Add(-time.Hour), night, time.Time{}, false, false, "outside the backup window"},
		{"the window's end is exclusive", time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC), night, time.Time{}, false, false, "outside"},
		{"a window across midnight includes the small hours", time.Date(2026, 3, 2, 23, 30, 0, 0, time.UTC), late, time.Time{}, false, true, ""},
		{"a window across midnight excludes the afternoon", time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC), late, time.Time{}, false, false, "outside"},
		{"no backup before the interval has passed", at, night, at.Add(-23 * time.Hour), false, false, "interval"},
		{"a backup once the interval has passed", at, night, at.Add(-24 * time.Hour), false, true, ""},
		{"never two backups of a role at once", at, anyTime, time.Time{}, true, false, "running"},
		{"no window means any time", at.Add(11 * time.Hour), anyTime, time.Time{}, false, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := backupDue(tc.now, berlin, tc.w, 24*time.Hour, tc.lastStart, tc.running)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Fatalf("backupDue = %v (%q), want %v (%q)", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestBackupsToDeleteKeepsTheNewestCompleted(t *testing.T) {
	b := func(seq uint64, status string) Backup {
		return Backup{Seq: seq, Status: status, Started: t0.Add(time.Duration(seq) * time.Hour)}
	}
	seqs := func(bs []Backup) []uint64 {
		var out []uint64
		for _, x := range bs {
			out = append(out, x.Seq)
		}
		return out
	}
	tests := []struct {
		name    string
		backups []Backup
		keep    int
		want    []uint64
	}{
		{"fewer than keep deletes nothing", []Backup{b(1, BackupStatusComplete), b(2, BackupStatusComplete)}, 3, nil},
		{"exactly keep deletes nothing", []Backup{b(1, BackupStatusComplete), b(2, BackupStatusComplete)}, 2, nil},
		{"the oldest go first", []Backup{b(3, BackupStatusComplete), b(1, BackupStatusComplete), b(2, BackupStatusComplete)}, 1, []uint64{1, 2}},
		{"failed and running backups do not count", []Backup{b(1, BackupStatusComplete), b(2, BackupStatusFailed), b(3, BackupStatusRunning), b(4, BackupStatusComplete)}, 2, nil},
		{"deleted backups are not deleted again", []Backup{b(1, BackupStatusDeleted), b(2, BackupStatusComplete), b(3, BackupStatusComplete)}, 1, []uint64{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := seqs(backupsToDelete(tc.backups, tc.keep))
			if len(got) != len(tc.want) {
				t.Fatalf("delete %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("delete %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestBackupServerPrefersAReplica(t *testing.T) {
	s := func(id string, master bool, up int, st ServerState) Server {
		return Server{ID: id, Master: master, State: st, UpAt: t0.Add(time.Duration(up) * time.Minute)}
	}
	tests := []struct {
		name    string
		servers []Server
		from    string
		want    string
	}{
		{"a replica is chosen over the master", []Server{s("i-1", true, 1, StateRunning), s("i-2", false, 2, StateRunning)}, BackupFromReplica, "i-2"},
		{"the master serves when no replica is in service", []Server{s("i-1", true, 1, StateRunning), s("i-2", false, 2, StatePending)}, BackupFromReplica, "i-1"},
		{"from master takes the master", []Server{s("i-1", false, 1, StateRunning), s("i-2", true, 2, StateRunning)}, BackupFromMaster, "i-2"},
		{"any takes the server longest in service", []Server{s("i-2", true, 5, StateRunning), s("i-1", false, 1, StateRunning)}, BackupFromAny, "i-1"},
		{"no server in service gives none", []Server{s("i-1", true, 1, StateTerminated)}, BackupFromReplica, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := backupServer(tc.servers, tc.from)
			if got.ID != tc.want || ok != (tc.want != "") {
				t.Fatalf("chose %q (%v), want %q", got.ID, ok, tc.want)
			}
		})
	}
}

func TestBackupSpecValidation(t *testing.T) {
	tests := []struct {
		name string
		b    BackupSpec
		want string
	}{
		{"an interval is required", BackupSpec{Keep: 1}, "backup interval 0s is not positive"},
		{"keep must be at least one", BackupSpec{Interval: time.Hour}, "backup keep 0 is less than 1"},
		{"a window must be two times", BackupSpec{Interval: time.Hour, Keep: 1, Window: "2am"}, `window "2am" is not HH:MM-HH:MM`},
		{"a script method needs a script", BackupSpec{Interval: time.Hour, Keep: 1, Method: BackupScript}, "needs a script"},
		{"an unknown method is refused", BackupSpec{Interval: time.Hour, Keep: 1, Method: "tape"}, `backup method "tape"`},
		{"an unknown source is refused", BackupSpec{Interval: time.Hour, Keep: 1, From: "slave"}, `backup from "slave"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := Spec{Name: "f", Roles: []RoleSpec{{Name: "db", Image: "i", Min: 1, Max: 1, Backup: &tc.b}}}
			err := spec.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

// backupRig is a database role of two with daily snapshot backups between
// 02:00 and 04:00 in Berlin, keeping 7.
func backupRig(t *testing.T, b BackupSpec) *rig {
	t.Helper()
	spec := dbSpec(2)
	spec.TimeZone = "Europe/Berlin"
	spec.Roles = spec.Roles[:1]
	spec.Roles[0].DNS = nil
	spec.Roles[0].Database = &DatabaseSpec{}
	spec.Roles[0].Backup = &b
	r := newRig(t, spec, nil, fake.Options{})
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6 && !r.farm.Status().Ready(); i++ {
		r.tick(30 * time.Second)
	}
	if !r.farm.Status().Ready() {
		t.Fatalf("farm not ready:\n%s", r.farm.Status())
	}
	return r
}

func (r *rig) runBackups() {
	r.t.Helper()
	if err := r.farm.RunBackups(r.ctx); err != nil {
		r.t.Fatalf("RunBackups: %v", err)
	}
	r.settle()
}

func TestSnapshotBackupsOverASimulatedMonthKeepExactlyN(t *testing.T) {
	r := backupRig(t, BackupSpec{Interval: 24 * time.Hour, Window: "02:00-04:00", Keep: 7})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	var master Server
	for _, s := range r.farm.Servers("db") {
		if s.Master {
			master = s
		}
	}
	if master.ID == "" {
		t.Fatal("no master")
	}
	// A month (March 2026, across the change to summer time) in steps of
	// 20 minutes, as the farm's backup loop would look.
	end := t0.AddDate(0, 1, 0)
	for r.clk.Now().Before(end) {
		r.advance(20 * time.Minute)
		r.runBackups()
	}
	recs, err := r.farm.Backups(r.ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	complete, deleted := 0, 0
	days := map[string]bool{}
	for _, b := range recs {
		switch b.Status {
		case BackupStatusComplete:
			complete++
		case BackupStatusDeleted:
			deleted++
		default:
			t.Errorf("backup %d is %s: %s", b.Seq, b.Status, b.Err)
		}
		local := b.Started.In(berlin)
		if h := local.Hour(); h < 2 || h >= 4 {
			t.Errorf("backup %d started at %s Berlin time, outside 02:00-04:00", b.Seq, local.Format("15:04"))
		}
		days[local.Format("2006-01-02")] = true
		if b.Server == master.ID {
			t.Errorf("backup %d was taken on the master %s; a replica was in service", b.Seq, master.ID)
		}
	}
	if complete != 7 || len(recs) != 31 || len(days) != 31 {
		t.Fatalf("%d backups on %d days, %d complete, %d deleted; want 31 daily backups with exactly 7 kept", len(recs), len(days), complete, deleted)
	}
	snaps, err := r.cloud.ListSnapshots(r.ctx, map[string]string{provider.TagFarm: "shop", TagBackupRole: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 7 {
		t.Fatalf("%d snapshots at the cloud, want 7", len(snaps))
	}
	if recs[0].ID != snaps[len(snaps)-1].ID {
		t.Fatalf("the newest record %q is not the newest snapshot %q", recs[0].ID, snaps[len(snaps)-1].ID)
	}
	if n := r.rec.count(BackupComplete); n != 31 {
		t.Fatalf("%d BackupComplete events, want 31", n)
	}
}

func TestAFailedBackupFiresBackupFailedAndAStuckOneIsReported(t *testing.T) {
	r := backupRig(t, BackupSpec{Interval: time.Hour, Keep: 2, Timeout: 5 * time.Hour})
	r.cloud.FailNext(fake.OpCreateSnapshot, 1, provider.Unavailable)
	r.runBackups()
	evs := r.rec.of(BackupFailed)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "failed") || evs[0].Params["backup_method"] != BackupSnapshot {
		t.Fatalf("BackupFailed events = %+v", evs)
	}
	recs, _ := r.farm.Backups(r.ctx, "db")
	if len(recs) != 1 || recs[0].Status != BackupStatusFailed || recs[0].Err == "" {
		t.Fatalf("records = %+v", recs)
	}
	// A snapshot that takes three hours: reported stuck past two.
	r.cloud.SetLatency(fake.OpCreateSnapshot, 3*time.Hour)
	r.advance(time.Hour) // the next backup starts, and waits at the cloud
	waiters := r.clk.Waiters()
	if err := r.farm.RunBackups(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.clk.BlockUntil(waiters + 2) // the backup's deadline and the cloud's latency
	r.advance(2 * time.Hour)
	if err := r.farm.RunBackups(r.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(r.rec.of(BackupFailed)); n != 1 {
		t.Fatalf("stuck reported at two intervals exactly (%d BackupFailed)", n)
	}
	r.advance(time.Minute)
	if err := r.farm.RunBackups(r.ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(r.rec.of(BackupFailed)) == 2 })
	stuck := r.rec.of(BackupFailed)[1]
	if stuck.Params["stuck"] != "true" || !strings.Contains(stuck.Reason, "over twice its interval") {
		t.Fatalf("stuck event = %+v", stuck)
	}
	r.advance(time.Hour) // the snapshot completes
	r.settle()
	recs, _ = r.farm.Backups(r.ctx, "db")
	if recs[0].Status != BackupStatusComplete || !recs[0].Stuck {
		t.Fatalf("the slow backup's record = %+v", recs[0])
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met within 10 s")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
