package farm

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/internal/retry"
)

// Failover is the timeline of one change of a database or NFS role's
// master, as [Farm.Failovers] reports it. Times are on the farm's clock;
// a step not reached is zero.
type Failover struct {
	// Role names the database or NFS role.
	Role string
	// Reason says why the master changed, such as "master i-000001 is
	// Terminated: cloud reports the server terminated".
	Reason string
	// OldMaster and NewMaster are server IDs; the IPs are their private
	// addresses.
	OldMaster, OldMasterIP string
	NewMaster, NewMasterIP string
	// Detected is when the farm noticed the loss (the time of the event
	// that showed it).
	Detected time.Time
	// Promoted is when the promote script had succeeded and the new master
	// was marked.
	Promoted time.Time
	// DNSSet is when the master names held the new address at the updater
	// (zero when the role has none or the update failed).
	DNSSet time.Time
	// Verified is when every authoritative server of Options.DNSVerify
	// served it (zero without DNSVerify, or when the check failed).
	Verified time.Time
	// Announced is when NewDBMaster or NFSServerChanged fired.
	Announced time.Time
	// Fenced says how the old master was fenced before the promotion:
	// "script" (the role's fence script ran), "terminated" (it did not
	// answer and was terminated at the cloud), or empty (no fence script,
	// or the cloud no longer listed it).
	Fenced string
	// Positions are the replication positions the role's position script
	// read from the candidates, by server ID (nil without one).
	Positions map[string]int64
	// Skipped lists the servers whose promotion failed, with the error,
	// as "i-000002: exit status 1", and those whose position was unknown.
	Skipped []string
	// Err is the DNS move's error (a compare-and-swap refusal, an
	// unreachable server, a verification past its deadline), or, with
	// NewMaster empty, why the failover found no master; empty when it
	// went well.
	Err string
}

// Failovers returns the timelines of the master changes so far (the
// newest 100 per role), oldest first. A role's first master is not a
// failover and is not listed. A failover is listed once it is announced,
// or once it found no master (every candidate's promotion failed, the old
// master could not be fenced): then NewMaster is empty, Err says why and
// OperationFailed fired. [Farm.Wait] wakes up then.
func (f *Farm) Failovers() []Failover {
	if f.dns == nil {
		return nil
	}
	d := f.dns
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Failover
	for _, name := range f.order {
		if ps := d.roles[name]; ps != nil {
			for _, fo := range ps.history {
				fo.Skipped = slices.Clone(fo.Skipped)
				fo.Positions = maps.Clone(fo.Positions)
				out = append(out, fo)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Failover) int { return a.Detected.Compare(b.Detected) })
	return out
}

// maxFailoverHistory bounds the timelines kept per role.
const maxFailoverHistory = 100

// primaryState is the failover state of one database or NFS role.
type primaryState struct {
	role string
	spec RoleSpec

	// The worker: one goroutine per role at most, so that the role's
	// failovers are serialised; kicks while it runs make it run again.
	running bool
	again   bool
	gen     uint64 // kicks so far
	doneGen uint64 // the kicks the last finished run covered
	done    chan struct{}

	// lossAt and lossReason describe the earliest loss of the master not
	// yet repaired.
	lossAt     time.Time
	lossReason string
	// prev is the last master seen usable, with its addresses; zero
	// before the role's first master.
	prev Server
	// stale holds former masters still in service, to demote or retire.
	stale   map[string]bool
	history []Failover
}

func newPrimaryState(r RoleSpec) *primaryState {
	return &primaryState{role: r.Name, spec: r, done: make(chan struct{}), stale: map[string]bool{}}
}

// kick asks the role's worker to look at the role again, starting it when
// it is idle, and returns the kick's number for waitWorker. loss marks ev
// as the event that revealed the master's loss.
func (d *dnsControl) kick(ps *primaryState, ev Event, loss bool) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if loss && (ps.lossAt.IsZero() || ev.Time.Before(ps.lossAt)) {
		ps.lossAt = ev.Time
		ps.lossReason = fmt.Sprintf("%s of master %s", ev.Type, serverID(ev.Server))
		if ev.Reason != "" {
			ps.lossReason += ": " + ev.Reason
		}
	}
	ps.gen++
	gen := ps.gen
	if ps.running {
		ps.again = true
		return gen
	}
	f := d.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return gen
	}
	ps.running = true
	ctx := f.closeCtx
	f.goLocked(func() { d.work(ctx, ps) })
	return gen
}

// work runs ensureMaster until no kick came in meanwhile.
func (d *dnsControl) work(ctx context.Context, ps *primaryState) {
	for {
		d.mu.Lock()
		gen := ps.gen
		ps.again = false
		d.mu.Unlock()

		d.ensureMaster(ctx, ps)

		d.mu.Lock()
		ps.doneGen = gen
		close(ps.done)
		ps.done = make(chan struct{})
		if !ps.again || ctx.Err() != nil {
			ps.running = false
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
	}
}

// waitWorker waits until a run of the worker that started after kick gen
// has finished.
func (d *dnsControl) waitWorker(ctx context.Context, ps *primaryState, gen uint64) error {
	for {
		d.mu.Lock()
		finished := ps.doneGen >= gen || !ps.running
		ch := ps.done
		d.mu.Unlock()
		if finished {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ensureMaster makes sure the role has one usable master: it unmarks a
// lost master, promotes a replica (or the first server in service), moves
// the DNS names, announces the change, and deals with former masters.
func (d *dnsControl) ensureMaster(ctx context.Context, ps *primaryState) {
	f := d.f
	servers := f.Servers(ps.role)
	usable, lost := splitMasters(servers)
	for _, s := range lost {
		// Unmarked before any other server is marked: never two masters.
		if err := f.SetMaster(s.ID, false); err == nil {
			f.log.Warn("farm: master lost", "role", ps.role, "server", s.ID, "reason", masterReason(s))
		}
		d.mu.Lock()
		if ps.lossAt.IsZero() {
			ps.lossAt, ps.lossReason = f.clk.Now(), masterReason(s)
		}
		if s.State == StateRunning {
			ps.stale[s.ID] = true
		}
		d.mu.Unlock()
	}
	if len(usable) > 0 {
		d.keepMaster(ps, usable)
		d.handleStale(ctx, ps)
		return
	}
	f.mu.Lock()
	terminating := f.terminating
	f.mu.Unlock()
	if terminating || ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	prev := ps.prev
	fo := Failover{Role: ps.role, Reason: ps.lossReason, Detected: ps.lossAt,
		OldMaster: prev.ID, OldMasterIP: prev.PrivateIP}
	d.mu.Unlock()
	if fo.Reason == "" && prev.ID != "" {
		fo.Reason = fmt.Sprintf("master %s is gone", prev.ID)
	}
	if d.promote(ctx, ps, prev, &fo) {
		d.handleStale(ctx, ps)
	}
}

// keepMaster notes the role's usable master. There is one; should there be
// more (a program called SetMaster itself), all but the one longest in
// service are unmarked.
func (d *dnsControl) keepMaster(ps *primaryState, usable []Server) {
	keep := usable[0]
	for _, s := range usable[1:] {
		if s.UpAt.Before(keep.UpAt) || s.UpAt.Equal(keep.UpAt) && s.ID < keep.ID {
			keep = s
		}
	}
	for _, s := range usable {
		if s.ID != keep.ID {
			d.f.log.Error("farm: role has two masters; unmarking one", "role", ps.role, "kept", keep.ID, "unmarked", s.ID)
			_ = d.f.SetMaster(s.ID, false)
		}
	}
	d.mu.Lock()
	ps.prev = keep
	ps.lossAt, ps.lossReason = time.Time{}, ""
	d.mu.Unlock()
}

// promote makes a server master: it picks one, runs the promote script
// (for a failover), marks it, moves the DNS names and announces the change.
// It reports whether a master was set.
func (d *dnsControl) promote(ctx context.Context, ps *primaryState, prev Server, fo *Failover) bool {
	f := d.f
	failover := prev.ID != ""
	exclude := map[string]bool{}
	// The candidate of a failover the last controller left unfinished
	// (saved in the Store) goes first; a controller taking over a farm
	// with no saved master adopts the server the DNS names point at.
	adopt := f.preferredMaster(ps.role)
	if adopt == "" && !failover {
		adopt, _ = d.masterFromDNS(ctx, ps.role, f.Servers(ps.role))
	}
	var pos map[string]int64
	if failover {
		// The old master takes no more writes before the positions are
		// read: what they say is then final.
		if err := d.fence(ctx, ps, prev, fo); err != nil {
			f.log.Error("farm: cannot fence the old master; not promoting", "role", ps.role, "server", prev.ID, "err", err)
			d.failed(ps, fo, fmt.Errorf("cannot fence the old master %s: %w", prev.ID, err))
			return false
		}
		var skipped []string
		pos, skipped = d.probePositions(ctx, ps, f.Servers(ps.role), prev)
		fo.Positions = pos
		fo.Skipped = append(fo.Skipped, skipped...)
	}
	for {
		servers := f.Servers(ps.role)
		cand, ok := chooseMaster(servers, prev, exclude, pos)
		if i := slices.IndexFunc(servers, func(s Server) bool { return s.ID == adopt }); i >= 0 && !exclude[adopt] && masterUsable(servers[i]) {
			cand, ok = servers[i], true // the master the DNS names already point at
		}
		if !ok {
			if failover {
				f.log.Warn("farm: no server to promote; waiting for one to enter service", "role", ps.role, "old_master", prev.ID)
				if len(exclude) > 0 {
					d.failed(ps, fo, fmt.Errorf("every candidate's promotion failed (%d tried)", len(exclude)))
				}
			}
			return false
		}
		params := failoverParams(prev, cand)
		if failover {
			// Written ahead: a controller that dies during the promotion
			// resumes it with the same candidate.
			if err := f.saveFailover(ctx, ps.role, prev, cand.ID, fo); err != nil {
				f.log.Error("farm: failover not started: its state cannot be saved", "role", ps.role, "err", err)
				d.failed(ps, fo, fmt.Errorf("failover not started: its state cannot be saved: %w", err))
				return false
			}
		}
		if failover && ps.spec.Database != nil && ps.spec.Database.PromoteScript != "" {
			f.log.Info("farm: promoting replica", "role", ps.role, "server", cand.ID, "old_master", prev.ID)
			sctx, cancel := withTimeout(ctx, f.clk, ps.spec.Database.promoteTimeout())
			err := d.script(sctx, cand.ID, ps.spec.Database.PromoteScript, NewDBMaster, params)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return false
				}
				f.log.Error("farm: promote script failed; trying another server", "role", ps.role, "server", cand.ID, "err", err)
				exclude[cand.ID] = true
				fo.Skipped = append(fo.Skipped, fmt.Sprintf("%s: %v", cand.ID, err))
				continue
			}
		}
		serials := d.readSerials(ctx, ps.role)
		if err := f.setMasterExclusive(ps.role, cand.ID); err != nil {
			f.log.Warn("farm: cannot mark master", "role", ps.role, "server", cand.ID, "err", err)
			exclude[cand.ID] = true
			continue
		}
		if err := f.flush(ctx); err != nil {
			f.log.Error("farm: new master not saved", "role", ps.role, "server", cand.ID, "err", err)
			f.opFailed(OpStore, ps.role, nil, fmt.Errorf("new master %s not saved: %w", cand.ID, err), nil)
		}
		if s, ok := f.Server(cand.ID); ok {
			cand = s
		}
		f.log.Info("farm: new master", "role", ps.role, "server", cand.ID, "ip", cand.PrivateIP, "old_master", prev.ID)
		fo.NewMaster, fo.NewMasterIP = cand.ID, cand.PrivateIP
		fo.Promoted = f.clk.Now()
		d.mu.Lock()
		ps.prev = cand
		ps.lossAt, ps.lossReason = time.Time{}, ""
		d.mu.Unlock()

		verified := d.moveNames(ctx, ps.role, serials, fo)
		if failover {
			params := failoverParams(prev, cand)
			params["dns_verified"] = fmt.Sprint(verified)
			t := NewDBMaster
			if ps.spec.NFS != nil {
				t = NFSServerChanged
				params["nfs_export"] = ps.spec.NFS.Export
				if ts := d.masterTargets(ps.role); len(ts) > 0 {
					params["nfs_name"] = trimDot(ts[0].Name)
				}
			}
			if f.announce(t, cand.ID, fo.Reason, params) {
				fo.Announced = f.clk.Now()
				f.mu.Lock()
				f.saveFailoverLocked(ps.role, nil)
				f.mu.Unlock()
				if err := f.flush(ctx); err != nil {
					f.log.Error("farm: finished failover not saved", "role", ps.role, "err", err)
					f.opFailed(OpStore, ps.role, nil, fmt.Errorf("finished failover not saved: %w", err), nil)
				}
			}
			d.mu.Lock()
			ps.history = append(ps.history, *fo)
			if n := len(ps.history); n > maxFailoverHistory {
				ps.history = slices.Delete(ps.history, 0, n-maxFailoverHistory)
			}
			d.mu.Unlock()
			f.mu.Lock()
			f.notifyLocked() // wakes Wait: Failovers changed
			f.mu.Unlock()
		}
		return true
	}
}

// failed lists a failover that found no master in Failovers, with err in
// its Err, and fires OperationFailed (op "failover"). A failover tried again
// for the same loss replaces its entry and fires nothing new.
func (d *dnsControl) failed(ps *primaryState, fo *Failover, err error) {
	f := d.f
	fo.Err = err.Error()
	d.mu.Lock()
	again := false
	if n := len(ps.history); n > 0 {
		last := &ps.history[n-1]
		if last.NewMaster == "" && last.OldMaster == fo.OldMaster && last.Detected.Equal(fo.Detected) {
			*last, again = *fo, true
		}
	}
	if !again {
		ps.history = append(ps.history, *fo)
		if n := len(ps.history); n > maxFailoverHistory {
			ps.history = slices.Delete(ps.history, 0, n-maxFailoverHistory)
		}
	}
	d.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notifyLocked() // wakes Wait: Failovers changed
	if !again {
		f.opFailedLocked(OpFailover, ps.role, nil, err, map[string]string{"old_master": fo.OldMaster,
			"skipped": strings.Join(fo.Skipped, "; ")})
	}
}

// readSerials reads the zone serial of each master name at the first
// verification server, before the move, so that verification can insist
// on a newer zone. Names whose serial cannot be read get none.
func (d *dnsControl) readSerials(ctx context.Context, role string) map[string]uint32 {
	if d.verify == nil || d.upd == nil {
		return nil
	}
	out := map[string]uint32{}
	for _, t := range d.masterTargets(role) {
		qctx, cancel := withTimeout(ctx, d.f.clk, dnsupdate.DefaultVerifyQuery)
		soa, err := dnsupdate.ReadSOA(qctx, d.verify.Servers[0], t.Name)
		cancel()
		if err == nil {
			out[dnsKey(t.Name, t.Type)] = soa.Serial + 1
		}
	}
	return out
}

// moveNames writes the role's master names (retrying what may succeed
// later, until the verification timeout) and verifies them. It reports
// whether every authoritative server serves the new master.
func (d *dnsControl) moveNames(ctx context.Context, role string, serials map[string]uint32, fo *Failover) bool {
	f := d.f
	targets := d.masterTargets(role)
	if d.upd == nil || len(targets) == 0 {
		return false
	}
	timeout := dnsupdate.DefaultVerifyTimeout
	if d.verify != nil && d.verify.Timeout > 0 {
		timeout = d.verify.Timeout
	}
	mctx, cancel := withTimeout(ctx, f.clk, timeout)
	defer cancel()
	// The updater's own attempts bound one write; the move writes again,
	// while the error may go away, until its deadline.
	policy := retry.Policy{Tries: math.MaxInt32, Initial: dnsupdate.DefaultBackoff, Max: dnsupdate.DefaultMaxBackoff, Jitter: -1}
	err := retry.Do(mctx, f.clk, policy, dnsupdate.Retryable, func(ctx context.Context) error {
		failed, err := d.sync(ctx)
		if failed == nil {
			return err // the sync did not start
		}
		for _, t := range targets {
			if e := failed[dnsKey(t.Name, t.Type)]; e != nil {
				return e
			}
		}
		return nil
	})
	if err != nil {
		fo.Err = err.Error()
		return false
	}
	fo.DNSSet = f.clk.Now()
	if d.verify == nil {
		return false
	}
	want := d.wantValues(role)
	for _, t := range targets {
		key := dnsKey(t.Name, t.Type)
		err := dnsupdate.Verify(mctx, dnsupdate.VerifyOptions{
			Servers: d.verify.Servers, Name: t.Name, Type: t.Type, Want: want[key],
			MinSerial: serials[key], Interval: d.verify.Interval, Clock: f.clk, Logger: f.log,
		})
		if err != nil {
			fo.Err = err.Error()
			f.log.Error("farm: dns move not verified", "role", role, "name", t.Name, "err", err)
			return false
		}
	}
	fo.Verified = f.clk.Now()
	return true
}

// wantValues returns the values the farm last wrote for the role's master
// names.
func (d *dnsControl) wantValues(role string) map[string][]string {
	d.recMu.Lock()
	defer d.recMu.Unlock()
	out := map[string][]string{}
	for _, t := range d.masterTargets(role) {
		k := dnsKey(t.Name, t.Type)
		out[k] = slices.Clone(d.records[k].values)
	}
	return out
}

// handleStale demotes or retires former masters still in service.
func (d *dnsControl) handleStale(ctx context.Context, ps *primaryState) {
	f := d.f
	d.mu.Lock()
	ids := sortedKeys(ps.stale)
	prev := ps.prev
	d.mu.Unlock()
	for _, id := range ids {
		s, ok := f.Server(id)
		done := !ok || !s.State.live() || s.Master
		if !done {
			policy := ps.spec.Database.oldMasterPolicy()
			switch {
			case policy == OldMasterDemote && !masterUsable(s):
				continue // demoted once it is healthy again (CheckRecovered)
			case policy == OldMasterDemote:
				sctx, cancel := withTimeout(ctx, f.clk, ps.spec.Database.promoteTimeout())
				err := d.script(sctx, id, ps.spec.Database.DemoteScript, NewDBMaster, failoverParams(s, prev))
				cancel()
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					f.log.Error("farm: demote script failed; replacing the former master", "role", ps.role, "server", id, "err", err)
					f.retire(id, "former master: demote script failed: "+err.Error())
				} else {
					f.log.Info("farm: former master demoted to replica", "role", ps.role, "server", id)
				}
			default:
				f.retire(id, "former master replaced by "+prev.ID)
			}
		}
		d.mu.Lock()
		delete(ps.stale, id)
		d.mu.Unlock()
	}
}

// script runs a role's promote or demote script on a server.
func (d *dnsControl) script(ctx context.Context, serverID, script string, event EventType, params map[string]string) error {
	if d.runScript != nil {
		return d.runScript(ctx, serverID, script, event, maps.Clone(params))
	}
	return d.f.runRoleScript(ctx, serverID, script, event, params)
}

// setMasterExclusive marks a server master unless another server of its
// role is marked: the farm never has two masters in a role.
func (f *Farm) setMasterExclusive(role, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.records[id]
	switch {
	case r == nil:
		return fmt.Errorf("farm: no server %q", id)
	case r.srv.State != StateRunning || r.terminating:
		return fmt.Errorf("farm: server %s is %s, not in service", id, r.srv.State)
	}
	for _, o := range f.records {
		if o != r && o.srv.Role == role && o.srv.Master {
			return fmt.Errorf("farm: role %q already has master %s", role, o.srv.ID)
		}
	}
	r.srv.Master = true
	f.saveMasterLocked(role, r.srv)
	f.notifyLocked()
	return nil
}

// saveFailover saves a failover under way, before its promote script.
func (f *Farm) saveFailover(ctx context.Context, role string, prev Server, candidate string, fo *Failover) error {
	f.mu.Lock()
	if f.persist == nil {
		f.mu.Unlock()
		return nil
	}
	f.saveFailoverLocked(role, &failoverRecord{
		Old:       masterRecord{ID: prev.ID, PrivateIP: prev.PrivateIP, PublicIP: prev.PublicIP},
		Candidate: candidate, Reason: fo.Reason, Detected: fo.Detected,
	})
	f.mu.Unlock()
	return f.flush(ctx)
}

// retire asks the next reconciliation to replace a server: it is
// terminated gracefully and another launched.
func (f *Farm) retire(id, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.records[id]
	if r == nil || !r.srv.State.live() || r.terminating || r.replace != "" {
		return
	}
	r.replace = reason
	f.log.Warn("farm: replacing server", "role", r.srv.Role, "server", id, "reason", reason)
	f.notifyLocked()
}

// announce fires a failover event about a server; false when the farm is
// closed.
func (f *Farm) announce(t EventType, id, reason string, params map[string]string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.records[id]
	if f.closed || r == nil {
		return false
	}
	f.emitLocked(f.serverEventLocked(t, r, reason, params))
	f.notifyLocked()
	return true
}

func trimDot(name string) string {
	if n := len(name); n > 1 && name[n-1] == '.' {
		return name[:n-1]
	}
	return name
}
