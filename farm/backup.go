package farm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BackupSpec backs a role's data up on an interval, within a daily window
// in the farm's time zone (Spec.TimeZone), and keeps the newest Keep
// backups. A backup is either volume snapshots of one server through the
// provider's Snapshotter (EBS, Cinder, the fake cloud), or a script run on
// one server whose last output line names the backup (a file path, an
// object key). Each finished backup fires [BackupComplete] or
// [BackupFailed] with the parameters backup_id, backup_method and
// backup_server; a backup still running past twice its interval fires
// BackupFailed once with stuck "true". [Farm.Backups] lists the records,
// which are kept in Options.Store when the farm has one.
type BackupSpec struct {
	// Interval is the time between the starts of two backups; required.
	Interval time.Duration `yaml:"interval"`
	// Window limits the starts to a daily time range in the farm's time
	// zone, "HH:MM-HH:MM" (such as "01:00-05:00", or "22:00-02:00" across
	// midnight). Empty means any time.
	Window string `yaml:"window,omitempty"`
	// Keep is how many completed backups to keep; older ones are deleted
	// (snapshots at the cloud, script backups with DeleteScript). At
	// least 1.
	Keep int `yaml:"keep"`
	// Method is "snapshot" or "script"; empty means "script" when Script
	// is set, else "snapshot".
	Method string `yaml:"method,omitempty"`
	// Script names the backup script (method "script"). It runs with the
	// event BackupComplete's parameters unset, on the server chosen by
	// From; its last non-empty output line is the backup's ID.
	Script string `yaml:"script,omitempty"`
	// DeleteScript names a script that deletes a script backup; it runs
	// on any server of the role in service with the parameter backup_id.
	// Empty means old script backups are only dropped from the records.
	DeleteScript string `yaml:"delete_script,omitempty"`
	// From chooses the server: "replica" (a database role's replica when
	// one is in service, else its master; the default), "master", or
	// "any" (the server longest in service).
	From string `yaml:"from,omitempty"`
	// Timeout bounds one backup; 0 means three times Interval.
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

// The values of BackupSpec.Method and From.
const (
	BackupSnapshot = "snapshot"
	BackupScript   = "script"

	BackupFromReplica = "replica"
	BackupFromMaster  = "master"
	BackupFromAny     = "any"
)

// Backup is the record of one backup.
type Backup struct {
	// Role names the role backed up.
	Role string `json:"role"`
	// ID names the backup: the snapshot IDs joined by ",", or the backup
	// script's last output line. Empty while it runs, and for a failed
	// backup.
	ID string `json:"id,omitempty"`
	// Method is BackupSnapshot or BackupScript.
	Method string `json:"method"`
	// Server is the ID of the server it was taken on.
	Server string `json:"server"`
	// Seq numbers the role's backups from 1, in the order they started.
	Seq uint64 `json:"seq"`
	// Started and Finished are on the farm's clock; Finished is zero
	// while it runs.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Status is "running", "complete", "failed" or "deleted" (a complete
	// backup removed by retention).
	Status string `json:"status"`
	// Stuck is set when the backup ran past twice the interval.
	Stuck bool `json:"stuck,omitempty"`
	// Err says why a failed backup failed.
	Err string `json:"err,omitempty"`
	// Snapshots are the snapshot IDs of a snapshot backup.
	Snapshots []string `json:"snapshots,omitempty"`
}

// The values of Backup.Status.
const (
	BackupStatusRunning  = "running"
	BackupStatusComplete = "complete"
	BackupStatusFailed   = "failed"
	BackupStatusDeleted  = "deleted"
)

func (b *BackupSpec) method() string {
	switch {
	case b.Method != "":
		return b.Method
	case b.Script != "":
		return BackupScript
	}
	return BackupSnapshot
}

func (b *BackupSpec) timeout() time.Duration {
	if b.Timeout > 0 {
		return b.Timeout
	}
	return 3 * b.Interval
}

// backupWindow is a parsed BackupSpec.Window in minutes after midnight.
type backupWindow struct {
	from, to int
	any      bool
}

func parseBackupWindow(s string) (backupWindow, error) {
	if s == "" {
		return backupWindow{any: true}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return backupWindow{}, fmt.Errorf("window %q is not HH:MM-HH:MM", s)
	}
	from, err1 := parseClock(strings.TrimSpace(a))
	to, err2 := parseClock(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || from == to {
		return backupWindow{}, fmt.Errorf("window %q is not HH:MM-HH:MM with two different times", s)
	}
	return backupWindow{from: from, to: to}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) == 0 || len(h) > 2 || len(m) != 2 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// contains reports whether t (in the window's time zone) falls inside.
func (w backupWindow) contains(t time.Time) bool {
	if w.any {
		return true
	}
	m := t.Hour()*60 + t.Minute()
	if w.from < w.to {
		return m >= w.from && m < w.to
	}
	return m >= w.from || m < w.to // across midnight
}

// backupDue decides whether a role's next backup starts at now: not while
// one runs, not before Interval has passed since the last start, and only
// inside the window (read in loc). It returns the reason it waits.
func backupDue(now time.Time, loc *time.Location, w backupWindow, interval time.Duration, lastStart time.Time, running bool) (bool, string) {
	switch {
	case running:
		return false, "a backup is running"
	case !lastStart.IsZero() && now.Sub(lastStart) < interval:
		return false, fmt.Sprintf("the last backup started %s ago, interval %s", now.Sub(lastStart), interval)
	case !w.contains(now.In(loc)):
		return false, "outside the backup window"
	}
	return true, ""
}

// backupsToDelete returns the completed backups beyond the newest keep,
// oldest first. Running, failed and deleted backups are not counted.
func backupsToDelete(backups []Backup, keep int) []Backup {
	var done []Backup
	for _, b := range backups {
		if b.Status == BackupStatusComplete {
			done = append(done, b)
		}
	}
	slices.SortStableFunc(done, func(a, b Backup) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		return int(a.Seq) - int(b.Seq)
	})
	if len(done) <= keep {
		return nil
	}
	return done[:len(done)-keep]
}

// backupStuck reports whether a running backup has run past twice the
// interval at now and was not reported yet.
func backupStuck(b Backup, now time.Time, interval time.Duration) bool {
	return b.Status == BackupStatusRunning && !b.Stuck && now.Sub(b.Started) > 2*interval
}

// backupServer chooses the server a backup runs on among the role's
// servers: see BackupSpec.From.
func backupServer(servers []Server, from string) (Server, bool) {
	var best Server
	found := false
	score := func(s Server) int {
		switch {
		case from == BackupFromMaster && s.Master, from == BackupFromReplica && !s.Master:
			return 1
		}
		return 0
	}
	for _, s := range servers {
		if !masterUsable(s) {
			continue
		}
		if from == BackupFromMaster && !s.Master && hasMaster(servers) {
			continue
		}
		if !found || score(s) > score(best) || score(s) == score(best) && (s.UpAt.Before(best.UpAt) || s.UpAt.Equal(best.UpAt) && s.ID < best.ID) {
			best, found = s, true
		}
	}
	return best, found
}

func hasMaster(servers []Server) bool {
	return slices.ContainsFunc(servers, func(s Server) bool { return s.Master && masterUsable(s) })
}

// backupSpec validates a role's backup section.
func (v *validator) backupSpec(path, role string, r RoleSpec) {
	b := r.Backup
	if b == nil {
		return
	}
	bp := path + ".backup"
	if b.Interval <= 0 {
		v.add(bp+".interval", role, "backup interval %s is not positive", b.Interval)
	}
	if b.Keep < 1 {
		v.add(bp+".keep", role, "backup keep %d is less than 1", b.Keep)
	}
	if _, err := parseBackupWindow(b.Window); err != nil {
		v.add(bp+".window", role, "backup %v", err)
	}
	switch b.Method {
	case "", BackupSnapshot:
	case BackupScript:
		if b.Script == "" {
			v.add(bp+".script", role, "backup method %q needs a script", b.Method)
		}
	default:
		v.add(bp+".method", role, "backup method %q is not %q or %q", b.Method, BackupSnapshot, BackupScript)
	}
	switch b.From {
	case "", BackupFromReplica, BackupFromMaster, BackupFromAny:
	default:
		v.add(bp+".from", role, "backup from %q is not %q, %q or %q", b.From, BackupFromReplica, BackupFromMaster, BackupFromAny)
	}
	if b.Timeout < 0 {
		v.add(bp+".timeout", role, "backup timeout %s is negative", b.Timeout)
	}
	v.scriptName(bp+".script", role, "script", b.Script)
	v.scriptName(bp+".delete_script", role, "delete_script", b.DeleteScript)
}
