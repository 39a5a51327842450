package farm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scripting"
	"github.com/farmhand/farmhand/store"
)

// keyBackup prefixes the backup records in the farm's Store: "backup/" +
// role + "/" + the sequence number, zero-padded, holding a Backup as JSON.
const keyBackup = "backup/"

// Snapshot tags the farm puts on the snapshots of its backups.
const (
	TagBackupRole = "farmhand:backup-role"
	TagBackupSeq  = "farmhand:backup-seq"
)

// backupCheckInterval is how often Run looks for due and stuck backups.
const backupCheckInterval = 30 * time.Second

// backupControl runs the farm's backups.
type backupControl struct {
	f   *Farm
	st  store.Store // Options.Store, or an in-memory one
	loc *time.Location

	mu    sync.Mutex
	roles map[string]*roleBackups
}

type roleBackups struct {
	spec    BackupSpec
	window  backupWindow
	running bool
	next    uint64 // the last sequence number used
	loaded  bool
}

// initBackups prepares the backups of the roles that have a Backup
// section.
func (f *Farm) initBackups() []error {
	var roles []RoleSpec
	for _, r := range f.spec.Roles {
		if r.Backup != nil {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		return nil
	}
	loc, err := time.LoadLocation(f.spec.TimeZone)
	if err != nil {
		return []error{&FieldError{Path: "time_zone", Msg: fmt.Sprintf("time zone %q: %v", f.spec.TimeZone, err)}}
	}
	st := f.opts.Store
	if st == nil {
		mem, err := store.NewMemory().Farm(f.spec.Name)
		if err != nil {
			return []error{err}
		}
		st = mem
	}
	bc := &backupControl{f: f, st: st, loc: loc, roles: map[string]*roleBackups{}}
	var errs []error
	for _, r := range roles {
		w, err := parseBackupWindow(r.Backup.Window)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Backup.method() == BackupSnapshot {
			if _, ok := f.p.(provider.Snapshotter); !ok {
				errs = append(errs, &FieldError{Path: "backup.method", Role: r.Name, Msg: "backup method \"snapshot\" needs a provider that can snapshot volumes (provider.Snapshotter)"})
			}
		}
		bc.roles[r.Name] = &roleBackups{spec: *r.Backup, window: w}
	}
	f.backups = bc
	return errs
}

// Backups returns the records of a role's backups, newest first: running,
// complete, failed and deleted ones.
func (f *Farm) Backups(ctx context.Context, role string) ([]Backup, error) {
	if f.backups == nil {
		return nil, nil
	}
	out, err := f.backups.list(ctx, role)
	slices.Reverse(out)
	return out, err
}

// BackupNow backs a role up now, whatever its interval and window, and
// returns the record once the backup has finished. The error is the
// backup's (the record is then "failed"), or says why none started.
func (f *Farm) BackupNow(ctx context.Context, role string) (Backup, error) {
	bc := f.backups
	if bc == nil || bc.roles[role] == nil {
		return Backup{}, fmt.Errorf("farm: role %q has no backup section", role)
	}
	b, err := bc.start(ctx, role)
	if err != nil {
		return Backup{}, err
	}
	return bc.run(ctx, role, b)
}

// RunBackups starts the backups that are due (each in the background,
// bounded by its timeout), reports the stuck ones, and applies retention.
// Run calls it every 30 s; programs that drive the farm themselves (on a
// fake clock) call it instead.
func (f *Farm) RunBackups(ctx context.Context) error {
	bc := f.backups
	if bc == nil {
		return nil
	}
	var errs []error
	now := f.clk.Now()
	for _, role := range sortedKeys(bc.roles) {
		recs, err := bc.list(ctx, role)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		bc.mu.Lock()
		rb := bc.roles[role]
		running := rb.running
		bc.mu.Unlock()
		var last time.Time
		for _, b := range recs {
			if b.Started.After(last) {
				last = b.Started
			}
			if backupStuck(b, now, rb.spec.Interval) {
				b.Stuck = true
				if err := bc.put(ctx, b); err != nil {
					errs = append(errs, err)
				}
				f.backupEvent(BackupFailed, b, map[string]string{"stuck": "true"},
					fmt.Sprintf("backup %d of role %s has run for %s, over twice its interval %s", b.Seq, role, now.Sub(b.Started), rb.spec.Interval))
			}
		}
		if due, _ := backupDue(now, bc.loc, rb.window, rb.spec.Interval, last, running); !due {
			continue
		}
		if _, ok := backupServer(f.Servers(role), cmp.Or(rb.spec.From, BackupFromReplica)); !ok {
			continue // none in service yet: wait rather than fail
		}
		b, err := bc.start(ctx, role)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			bc.finish(role)
			continue
		}
		bctx := f.closeCtx
		f.goLocked(func() {
			if _, err := bc.run(bctx, role, b); err != nil {
				f.log.Warn("farm: backup failed", "role", role, "seq", b.Seq, "err", err)
			}
		})
		f.mu.Unlock()
	}
	return errors.Join(errs...)
}

// backupLoop calls RunBackups until ctx ends.
func (f *Farm) backupLoop(ctx context.Context) {
	if f.backups == nil {
		return
	}
	for {
		if err := f.RunBackups(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("farm: backups", "err", err)
			f.loopFailed(OpBackups, err)
		} else if err == nil {
			f.loopFailed(OpBackups, nil)
		}
		t := f.clk.NewTimer(backupCheckInterval)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// start claims the role's next backup and writes its record as running.
func (bc *backupControl) start(ctx context.Context, role string) (Backup, error) {
	bc.mu.Lock()
	rb := bc.roles[role]
	if rb.running {
		bc.mu.Unlock()
		return Backup{}, fmt.Errorf("farm: a backup of role %q is running", role)
	}
	rb.running = true
	bc.mu.Unlock()
	if err := bc.loadSeq(ctx, role); err != nil {
		bc.finish(role)
		return Backup{}, err
	}
	bc.mu.Lock()
	rb.next++
	b := Backup{Role: role, Seq: rb.next, Method: rb.spec.method(), Started: bc.f.clk.Now(), Status: BackupStatusRunning}
	bc.mu.Unlock()
	if err := bc.put(ctx, b); err != nil {
		bc.finish(role)
		return Backup{}, err
	}
	return b, nil
}

func (bc *backupControl) finish(role string) {
	bc.mu.Lock()
	bc.roles[role].running = false
	bc.mu.Unlock()
}

// loadSeq reads the role's last sequence number from the records once.
func (bc *backupControl) loadSeq(ctx context.Context, role string) error {
	bc.mu.Lock()
	loaded := bc.roles[role].loaded
	bc.mu.Unlock()
	if loaded {
		return nil
	}
	recs, err := bc.list(ctx, role)
	if err != nil {
		return err
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	rb := bc.roles[role]
	for _, b := range recs {
		rb.next = max(rb.next, b.Seq)
	}
	rb.loaded = true
	return nil
}

// run takes backup b, records the outcome, fires its event and applies
// retention.
func (bc *backupControl) run(ctx context.Context, role string, b Backup) (Backup, error) {
	defer bc.finish(role)
	f := bc.f
	bc.mu.Lock()
	spec := bc.roles[role].spec
	bc.mu.Unlock()
	rctx, cancel := withTimeout(ctx, f.clk, spec.timeout())
	err := bc.take(rctx, spec, &b)
	cancel()
	b.Finished = f.clk.Now()
	if err != nil {
		b.Status, b.Err = BackupStatusFailed, err.Error()
	} else {
		b.Status = BackupStatusComplete
	}
	// The record outlives a cancelled run: write it with a fresh bound.
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer pcancel()
	if v, gerr := bc.st.Get(pctx, bc.key(role, b.Seq)); gerr == nil {
		var cur Backup
		if json.Unmarshal(v, &cur) == nil {
			b.Stuck = cur.Stuck // reported meanwhile by RunBackups
		}
	}
	if perr := bc.put(pctx, b); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		f.backupEvent(BackupFailed, b, nil, fmt.Sprintf("backup %d of role %s failed: %v", b.Seq, role, err))
		return b, err
	}
	f.backupEvent(BackupComplete, b, nil, fmt.Sprintf("backup %d of role %s: %s", b.Seq, role, b.ID))
	if rerr := bc.retain(pctx, role, spec); rerr != nil {
		f.log.Warn("farm: backup retention", "role", role, "err", rerr)
		if pctx.Err() == nil {
			f.opFailed(OpBackupRetention, role, nil, rerr, nil)
		}
	}
	return b, nil
}

// take makes the backup: snapshots or the script.
func (bc *backupControl) take(ctx context.Context, spec BackupSpec, b *Backup) error {
	f := bc.f
	from := spec.From
	if from == "" {
		from = BackupFromReplica
	}
	srv, ok := backupServer(f.Servers(b.Role), from)
	if !ok {
		return fmt.Errorf("role %q has no server in service to back up", b.Role)
	}
	b.Server = srv.ID
	if b.Method == BackupScript {
		res, err := f.RunScript(ctx, srv.ID, scripting.ScriptRef{Name: spec.Script, Version: scripting.Latest}, "", nil)
		if err != nil {
			return err
		}
		id := lastLine(res.Stdout)
		if id == "" {
			return fmt.Errorf("backup script %q printed no backup ID", spec.Script)
		}
		b.ID = id
		return nil
	}
	sn := f.p.(provider.Snapshotter)
	vols, err := sn.Volumes(ctx, srv.ID)
	if err != nil {
		return fmt.Errorf("volumes of %s: %w", srv.ID, err)
	}
	if len(vols) == 0 {
		return fmt.Errorf("server %s has no volume to snapshot", srv.ID)
	}
	tags := map[string]string{provider.TagFarm: f.spec.Name, TagBackupRole: b.Role, TagBackupSeq: strconv.FormatUint(b.Seq, 10)}
	for _, v := range vols {
		s, err := sn.CreateSnapshot(ctx, v.ID, tags)
		if err != nil {
			return fmt.Errorf("snapshot of volume %s: %w", v.ID, err)
		}
		b.Snapshots = append(b.Snapshots, s.ID)
	}
	b.ID = strings.Join(b.Snapshots, ",")
	return nil
}

// retain deletes the completed backups beyond the newest Keep.
func (bc *backupControl) retain(ctx context.Context, role string, spec BackupSpec) error {
	f := bc.f
	recs, err := bc.list(ctx, role)
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range backupsToDelete(recs, spec.Keep) {
		if err := bc.remove(ctx, spec, b); err != nil {
			errs = append(errs, fmt.Errorf("backup %d (%s): %w", b.Seq, b.ID, err))
			continue
		}
		b.Status = BackupStatusDeleted
		if err := bc.put(ctx, b); err != nil {
			errs = append(errs, err)
		}
		f.log.Info("farm: old backup deleted", "role", role, "seq", b.Seq, "id", b.ID)
	}
	return errors.Join(errs...)
}

// remove deletes a backup's data.
func (bc *backupControl) remove(ctx context.Context, spec BackupSpec, b Backup) error {
	f := bc.f
	if b.Method == BackupSnapshot {
		sn, ok := f.p.(provider.Snapshotter)
		if !ok {
			return errors.New("the provider cannot delete snapshots")
		}
		for _, id := range b.Snapshots {
			if err := sn.DeleteSnapshot(ctx, id); err != nil {
				return err
			}
		}
		return nil
	}
	if spec.DeleteScript == "" {
		return nil
	}
	srv, ok := backupServer(f.Servers(b.Role), BackupFromAny)
	if !ok {
		return fmt.Errorf("role %q has no server in service to delete the backup on", b.Role)
	}
	_, err := f.RunScript(ctx, srv.ID, scripting.ScriptRef{Name: spec.DeleteScript, Version: scripting.Latest},
		string(BackupComplete), map[string]string{"backup_id": b.ID})
	return err
}

func (bc *backupControl) key(role string, seq uint64) string {
	return fmt.Sprintf("%s%s/%020d", keyBackup, role, seq)
}

func (bc *backupControl) put(ctx context.Context, b Backup) error {
	v, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := bc.st.Apply(ctx, store.Put(bc.key(b.Role, b.Seq), v)); err != nil {
		return fmt.Errorf("farm: backup record: %w", err)
	}
	return nil
}

// list returns the role's backup records, oldest first.
func (bc *backupControl) list(ctx context.Context, role string) ([]Backup, error) {
	kvs, err := bc.st.List(ctx, keyBackup+role+"/")
	if err != nil {
		return nil, fmt.Errorf("farm: backup records: %w", err)
	}
	out := make([]Backup, 0, len(kvs))
	for _, kv := range kvs {
		var b Backup
		if err := json.Unmarshal(kv.Value, &b); err != nil {
			return nil, fmt.Errorf("farm: backup record %s: %w", kv.Key, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// backupEvent fires BackupComplete or BackupFailed about a backup.
func (f *Farm) backupEvent(t EventType, b Backup, extra map[string]string, reason string) {
	params := map[string]string{"backup_id": b.ID, "backup_method": b.Method, "backup_server": b.Server,
		"backup_seq": strconv.FormatUint(b.Seq, 10)}
	for k, v := range extra {
		params[k] = v
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	if r := f.records[b.Server]; r != nil {
		f.emitLocked(f.serverEventLocked(t, r, reason, params))
	} else {
		f.emitLocked(Event{Type: t, Farm: f.spec.Name, Role: b.Role, Time: f.clk.Now(), Reason: reason, Params: params})
	}
	f.notifyLocked()
}

func lastLine(s string) string {
	line := ""
	for l := range strings.Lines(s) {
		if t := strings.TrimSpace(l); t != "" {
			line = t
		}
	}
	return line
}
