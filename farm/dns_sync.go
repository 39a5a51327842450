package farm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
)

// dnsControl keeps the roles' DNS names true and runs the database and NFS
// failovers. It is the farm's own Hook, added by New when a role declares
// DNS names or a database or NFS behaviour.
type dnsControl struct {
	f       *Farm
	upd     dnsupdate.Updater // nil when no role declares names
	verify  *DNSVerify
	targets []dnsTarget

	syncMu    ctxLock    // one sync at a time; held across the updater's calls
	recMu     sync.Mutex // guards records
	records   map[string]*dnsRecordState
	lastError string

	mu    sync.Mutex // guards roles' fields
	roles map[string]*primaryState

	// runScript runs a role's promote or demote script; nil means
	// Farm.runRoleScript. Tests replace it.
	runScript func(ctx context.Context, serverID, script string, event EventType, params map[string]string) error
	// runPosition runs a role's position script and returns its output;
	// nil means Farm.RunScript. Tests replace it.
	runPosition func(ctx context.Context, serverID, script string, params map[string]string) (string, error)
}

// dnsRecordState is what the farm last wrote for one name.
type dnsRecordState struct {
	target dnsTarget
	// known is set once the farm has written (or deleted) the set; before,
	// the farm does not know what the zone holds.
	known  bool
	values []string // nil when deleted
	at     time.Time
	err    string
	// conflict: a compare-and-swap found another value; someone else
	// moved the name.
	conflict bool
}

// DNSRecord is the state of one of the farm's DNS names, as [Farm.DNSRecords]
// reports it.
type DNSRecord struct {
	// Name is the canonical name (lower case, trailing dot) and Type "A"
	// or "AAAA".
	Name, Type string
	// Role declares the name; Select and Address are its DNSName fields.
	Role, Select, Address string
	// Published is true once the farm has set or deleted the name since it
	// started; Values are what it set then (none after a delete).
	Published bool
	Values    []string
	// UpdatedAt is when the farm last changed it.
	UpdatedAt time.Time
	// Err is the last failed update's error, empty after a success. A
	// compare-and-swap refusal (dnsupdate.ErrPrecondition: someone else
	// changed the name) stays here until the farm's own value is set
	// again.
	Err string
}

// initDNS checks the DNS options and adds the farm's DNS and failover hook
// when a role needs it. New calls it.
func (f *Farm) initDNS() error {
	targets := dnsTargets(f.spec)
	var primaries []RoleSpec
	for _, r := range f.spec.Roles {
		if r.primaryRole() {
			primaries = append(primaries, r)
		}
	}
	if len(targets) > 0 && f.opts.DNS == nil {
		return fmt.Errorf("farm: role %q declares dns name %q but Options.DNS (the updater) is nil", targets[0].role, targets[0].Name)
	}
	if v := f.opts.DNSVerify; v != nil {
		if len(v.Servers) == 0 {
			return errors.New("farm: Options.DNSVerify.Servers is empty")
		}
		if v.Timeout < 0 || v.Interval < 0 {
			return fmt.Errorf("farm: Options.DNSVerify timeout %s or interval %s is negative", v.Timeout, v.Interval)
		}
	}
	if len(targets) == 0 && len(primaries) == 0 {
		return nil
	}
	d := &dnsControl{
		f: f, upd: f.opts.DNS, verify: f.opts.DNSVerify, targets: targets,
		records: map[string]*dnsRecordState{}, roles: map[string]*primaryState{},
	}
	if len(targets) == 0 {
		d.upd = nil
	}
	for _, t := range targets {
		d.records[dnsKey(t.Name, t.Type)] = &dnsRecordState{target: t}
	}
	for _, r := range primaries {
		d.roles[r.Name] = newPrimaryState(r)
	}
	f.dns = d
	f.AddHook(d)
	return nil
}

// dnsEvents are the events after which the DNS names are rebuilt.
func dnsEvent(t EventType) bool {
	switch t {
	case HostUp, HostDown, BeforeHostTerminate, IPAddressChanged, NewDBMaster, NFSServerChanged, FarmTerminated:
		return true
	}
	return false
}

// HandleEvent starts a failover when a master is lost, elects a master
// when a database or NFS role has none, and rebuilds the DNS names.
// For BeforeHostTerminate of a master it waits until another server has
// taken over (bounded by ctx, the role's TerminateTimeout), so that the
// old master serves until then, and drops the leaving server from the
// names before it goes.
func (d *dnsControl) HandleEvent(ctx context.Context, ev Event) error {
	d.mu.Lock()
	ps := d.roles[ev.Role]
	d.mu.Unlock()
	if ps != nil && ev.Server != nil {
		switch ev.Type {
		case HostUp, HostDown, CheckFailed, CheckRecovered, IPAddressChanged, RebootComplete, HostInitFailed:
			d.kick(ps, ev, ev.Server.Master && (ev.Type == HostDown || ev.Type == CheckFailed))
		case BeforeHostTerminate:
			gen := d.kick(ps, ev, ev.Server.Master)
			if ev.Server.Master {
				if err := d.waitWorker(ctx, ps, gen); err != nil {
					return fmt.Errorf("waiting for the failover of role %q: %w", ev.Role, err)
				}
			}
		}
	}
	if d.upd == nil || !dnsEvent(ev.Type) || ctx.Err() != nil {
		return nil
	}
	_, err := d.sync(ctx)
	return err
}

// SyncDNS makes sure every database and NFS role has a master and
// rebuilds every DNS name the roles declare from the farm's state now,
// writing only the names whose values changed (all of them the first
// time), and returns the update errors. The farm does this by itself after
// the events that move servers. A controller that takes over a running
// farm calls SyncDNS once [Farm.Launch] has adopted the servers: a role
// whose servers were adopted has no master marked yet, and it adopts as
// master the server its master name points at (read from an updater that
// can tell, such as dnsupdate.Memory, or from the first server of
// Options.DNSVerify), with no promotion, so that a restart does not fail
// the database over.
func (f *Farm) SyncDNS(ctx context.Context) error {
	if f.dns == nil {
		return nil
	}
	d := f.dns
	d.mu.Lock()
	var roles []*primaryState
	for _, name := range f.order {
		if ps := d.roles[name]; ps != nil {
			roles = append(roles, ps)
		}
	}
	d.mu.Unlock()
	for _, ps := range roles {
		gen := d.kick(ps, Event{}, false)
		if err := d.waitWorker(ctx, ps, gen); err != nil {
			return err
		}
	}
	if d.upd == nil {
		return nil
	}
	_, err := d.sync(ctx)
	if re := (*reportedError)(nil); errors.As(err, &re) {
		return re.err // the caller gets it as it is
	}
	return err
}

// DNSRecords returns the state of the farm's DNS names, in spec order.
func (f *Farm) DNSRecords() []DNSRecord {
	if f.dns == nil {
		return nil
	}
	d := f.dns
	d.recMu.Lock()
	defer d.recMu.Unlock()
	out := make([]DNSRecord, 0, len(d.targets))
	for _, t := range d.targets {
		st := d.records[dnsKey(t.Name, t.Type)]
		out = append(out, DNSRecord{
			Name: t.Name, Type: t.Type, Role: t.role, Select: t.Select, Address: t.Address,
			Published: st.known, Values: slices.Clone(st.values), UpdatedAt: st.at, Err: st.err,
		})
	}
	return out
}

// sync writes the names whose wanted values differ from what the farm last
// wrote. It returns the error of each name it failed to write, by dnsKey,
// and all of them joined; a nil map when ctx ended while it waited for
// another sync.
func (d *dnsControl) sync(ctx context.Context) (map[string]error, error) {
	if err := d.syncMu.lock(ctx); err != nil {
		return nil, fmt.Errorf("farm: dns sync: waiting for the sync in progress: %w", err)
	}
	defer d.syncMu.unlock()
	f := d.f
	f.mu.Lock()
	terminating := f.terminating
	f.mu.Unlock()
	wants := desiredDNS(d.targets, f.Servers(""), terminating)
	failed := map[string]error{}
	var errs []error
	for _, w := range wants {
		if w.keep {
			continue
		}
		key := dnsKey(w.set.Name, w.set.Type)
		d.recMu.Lock()
		st := d.records[key]
		known, prev := st.known, slices.Clone(st.values)
		d.recMu.Unlock()
		if known && dnsupdate.SameValues(w.set.Type, prev, w.set.Values) {
			continue
		}
		err := d.write(ctx, w, known, prev)
		now := f.clk.Now()
		d.recMu.Lock()
		if err != nil {
			st.err = err.Error()
			st.conflict = errors.Is(err, dnsupdate.ErrPrecondition)
		} else {
			st.known, st.values, st.at, st.err, st.conflict = true, slices.Clone(w.set.Values), now, "", false
		}
		d.recMu.Unlock()
		if err != nil {
			failed[key] = err
			errs = append(errs, fmt.Errorf("farm: role %q: dns name %s %s: %w", w.target.role, w.set.Name, w.set.Type, err))
			if errors.Is(err, dnsupdate.ErrPrecondition) {
				f.log.Error("farm: dns name changed by someone else; not overwriting it",
					"role", w.target.role, "name", w.set.Name, "type", w.set.Type, "expected", prev, "err", err)
			} else {
				f.log.Warn("farm: dns update failed", "role", w.target.role, "name", w.set.Name, "type", w.set.Type, "err", err)
			}
			if ctx.Err() == nil {
				f.opFailed(OpDNS, w.target.role, nil, err, map[string]string{"name": w.set.Name, "type": w.set.Type,
					"conflict": fmt.Sprint(errors.Is(err, dnsupdate.ErrPrecondition))})
			}
			continue
		}
		f.log.Info("farm: dns name updated", "role", w.target.role, "name", w.set.Name, "type", w.set.Type, "values", w.set.Values)
	}
	// Each failed name fired OperationFailed: the hook that called sync
	// does not report the error again.
	return failed, reported(errors.Join(errs...))
}

// write sets or deletes one name. A master name the farm has written
// before is moved with a compare-and-swap on the value it wrote, when the
// updater offers one, so that a controller with a stale view cannot move
// it back.
func (d *dnsControl) write(ctx context.Context, w dnsWant, known bool, prev []string) error {
	if len(w.set.Values) == 0 {
		return d.upd.Delete(ctx, w.set.Name, w.set.Type)
	}
	if sw, ok := d.upd.(dnsupdate.Swapper); ok && known && w.target.Select == DNSSelectMaster {
		return sw.SetIf(ctx, w.set, prev)
	}
	return d.upd.Set(ctx, w.set)
}

// masterTargets returns a role's names of select "master".
func (d *dnsControl) masterTargets(role string) []dnsTarget {
	var out []dnsTarget
	for _, t := range d.targets {
		if t.role == role && t.Select == DNSSelectMaster {
			out = append(out, t)
		}
	}
	return out
}

// dnsResyncLoop writes the DNS names again every Options.DNSResync while
// ctx lasts, so that a name a failed write left stale (its server was
// down, the write timed out) is repaired without waiting for an event that
// moves servers. A sync writes only the names whose wanted values differ
// from what the farm last wrote, so a quiet farm makes no DNS call. Run
// runs it.
func (f *Farm) dnsResyncLoop(ctx context.Context) {
	d := f.dns
	if d == nil || d.upd == nil || f.opts.DNSResync < 0 {
		return
	}
	t := f.clk.NewTicker(f.opts.DNSResync)
	defer t.Stop()
	for {
		select {
		case <-t.C():
		case <-ctx.Done():
			return
		}
		err := f.withStepTimeout(ctx, func(ctx context.Context) error {
			_, err := d.sync(ctx)
			return err
		})
		if err != nil && ctx.Err() == nil {
			f.log.Warn("farm: periodic dns sync", "err", err)
			var done *reportedError
			if !errors.As(err, &done) {
				f.opFailed(OpDNS, "", nil, err, map[string]string{"periodic": "true"})
			}
		}
	}
}
