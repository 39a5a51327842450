package farm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/farmhand/farmhand/scripting"
)

// ApplyOptions tune [Farm.Apply]. nil means the defaults.
type ApplyOptions struct {
	// BatchSize is how many servers a rollout replaces at once; 0 means
	// BatchPercent, or 1 when that is 0 too.
	BatchSize int
	// BatchPercent is the batch size as a percentage of the role's
	// servers, rounded up.
	BatchPercent int
	// MinHealthy is how many servers a rollout keeps in service while it
	// replaces a batch; 0 means the role's min. A batch launches its new
	// servers before it terminates the old ones, so the role runs up to a
	// batch over its desired count and never has fewer servers in service
	// than before; MinHealthy also holds a batch back while other servers
	// are out of service.
	MinHealthy int
	// BatchTimeout is how long a batch's new servers may take to be in
	// service; 0 means the role's launch timeout plus its init timeout
	// plus 5 health check intervals.
	BatchTimeout time.Duration
	// OnFailure is what a failed batch leads to: RollBack (the default)
	// or Pause.
	OnFailure FailureAction
	// RerunScripts runs a script whose binding's version changed, in its
	// new version, on the role's servers in service (a server launched
	// later runs the new version from its bindings anyway).
	RerunScripts bool
	// NoWait returns once the changes are in force and the rollouts
	// started, without waiting for them; see [Farm.WaitRollouts].
	NoWait bool
}

// Plan returns what applying next to the running farm would do, role by
// role; see [SpecPlan]. It changes nothing. next must be valid and name
// the same farm.
func (f *Farm) Plan(next Spec) (SpecPlan, error) {
	if err := next.Validate(); err != nil {
		return SpecPlan{}, err
	}
	if next.Name != f.spec.Name {
		return SpecPlan{}, fmt.Errorf("farm: Plan: the spec names farm %q, not %q", next.Name, f.spec.Name)
	}
	return planSpec(f.Spec(), f.Servers(""), next), nil
}

// Apply carries a new spec out on the running farm and returns its plan:
// new bounds (SetBounds), new script versions in the bindings (re-run on
// the servers in service with opts.RerunScripts), and a rollout for each
// role whose image or instance type changes.
//
// A rollout replaces the role's servers in batches: each batch launches
// its new servers first and terminates the old ones only when every new
// one ran its HostInit and BeforeHostUp hooks (HostUp fired) and passed
// the role's health checks. A new server that fails, or a batch not ready
// within opts.BatchTimeout, fails the batch: its new servers are
// terminated, and the rollout rolls back (replaces the new build's
// servers with the old build, in batches) or pauses (opts.OnFailure).
// Every step fires an event (RolloutStarted ... RolloutFinished or
// RollbackFinished). The rollouts run inside Reconcile, so something must
// drive the farm (Run); with Options.Store their progress is saved, and a
// controller restarted on the store resumes them.
//
// Apply refuses, changing nothing, a plan with changes a running farm
// does not take (SpecPlan.Unsupported), a script version not in the
// library, and a new image or type for a role whose rollout is under way
// to another build. It waits for the rollouts it started unless
// opts.NoWait, and returns an error wrapping [ErrRolloutFailed] when one
// rolled back or paused.
func (f *Farm) Apply(ctx context.Context, next Spec, opts *ApplyOptions) (SpecPlan, error) {
	if err := ctx.Err(); err != nil {
		return SpecPlan{}, err
	}
	var o ApplyOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case o.BatchSize < 0 || o.BatchPercent < 0 || o.BatchPercent > 100:
		return SpecPlan{}, fmt.Errorf("farm: Apply: batch size %d or percent %d out of range", o.BatchSize, o.BatchPercent)
	case o.MinHealthy < 0:
		return SpecPlan{}, fmt.Errorf("farm: Apply: min healthy %d is negative", o.MinHealthy)
	case o.OnFailure != "" && o.OnFailure != RollBack && o.OnFailure != Pause:
		return SpecPlan{}, fmt.Errorf("farm: Apply: on failure %q is not %q or %q", o.OnFailure, RollBack, Pause)
	}
	plan, err := f.Plan(next)
	if err != nil {
		return plan, err
	}
	if u := plan.Unsupported(); len(u) > 0 {
		return plan, fmt.Errorf("farm: Apply: a running farm does not take these changes (start a new farm for them): %s", strings.Join(u, "; "))
	}
	if err := f.checkScriptVersions(plan, next); err != nil {
		return plan, err
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return plan, ErrClosed
	}
	for _, c := range plan.Roles {
		if c.Image == nil && c.InstanceType == nil {
			continue
		}
		nr, _ := next.Role(c.Role)
		if ro := f.rollouts[c.Role]; ro != nil && ro.Phase.Active() && ro.To != (Build{nr.Image, nr.InstanceType}) {
			f.mu.Unlock()
			return plan, fmt.Errorf("farm: Apply: role %q: a rollout to %s is under way", c.Role, ro.To)
		}
		if d := f.roles[c.Role].desired; o.MinHealthy > d {
			f.mu.Unlock()
			return plan, fmt.Errorf("farm: Apply: role %q: min healthy %d > the role's %d servers: no batch could finish", c.Role, o.MinHealthy, d)
		}
	}
	f.mu.Unlock()

	var errs []error
	for _, c := range plan.Roles {
		if c.Min != nil || c.Max != nil {
			nr, _ := next.Role(c.Role)
			if err := f.setBounds(c.Role, nr.Min, nr.Max); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return plan, errors.Join(errs...)
	}
	started := f.startRollouts(plan, next, o)
	f.setBindings(plan, next)
	if err := f.flush(ctx); err != nil {
		return plan, err
	}
	if o.RerunScripts {
		errs = append(errs, f.rerunScripts(ctx, plan, next)...)
	}
	if !o.NoWait && len(started) > 0 {
		errs = append(errs, f.waitRollouts(ctx, started))
	}
	return plan, errors.Join(errs...)
}

// checkScriptVersions refuses binding versions the library lacks.
func (f *Farm) checkScriptVersions(plan SpecPlan, next Spec) error {
	var errs []error
	for _, c := range plan.Roles {
		for _, s := range c.Scripts {
			e, err := f.scriptEngine()
			if err != nil {
				return fmt.Errorf("farm: Apply: role %q: script bindings change: %w", c.Role, err)
			}
			if _, err := e.lib.Resolve(scripting.ScriptRef{Name: s.Script, Version: s.ToVersion}); err != nil {
				errs = append(errs, fmt.Errorf("farm: Apply: role %q: script %q version %s: %w", c.Role, s.Script, versionName(s.ToVersion), err))
			}
		}
	}
	return errors.Join(errs...)
}

// startRollouts starts (or keeps) a rollout for each role whose build
// changes, and returns their roles.
func (f *Farm) startRollouts(plan SpecPlan, next Spec, o ApplyOptions) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var started []string
	now := f.clk.Now()
	for _, c := range plan.Roles {
		if c.Image == nil && c.InstanceType == nil {
			continue
		}
		nr, _ := next.Role(c.Role)
		rs := f.roles[c.Role]
		to := Build{nr.Image, nr.InstanceType}
		started = append(started, c.Role)
		if ro := f.rollouts[c.Role]; ro != nil && ro.Phase.Active() {
			continue // the same build: it goes on
		}
		live := 0
		for _, r := range f.records {
			if r.srv.Role == c.Role && r.srv.State.live() {
				live++
			}
		}
		ro := &Rollout{
			Role: c.Role, Phase: PhaseRolling, From: Build{rs.spec.Image, rs.spec.InstanceType}, To: to,
			BatchSize: batchSize(o.BatchSize, o.BatchPercent, live), MinHealthy: o.MinHealthy,
			BatchTimeout: o.BatchTimeout, OnFailure: cmpOr(o.OnFailure, RollBack), StartedAt: now,
		}
		if ro.MinHealthy == 0 {
			ro.MinHealthy = rs.min
		}
		if ro.BatchTimeout == 0 {
			ro.BatchTimeout = rs.spec.LaunchTimeout + rs.spec.InitTimeout
			for _, hc := range rs.spec.HealthChecks {
				ro.BatchTimeout += 5 * hc.withDefaults().Interval
			}
		}
		if f.rollouts == nil {
			f.rollouts = map[string]*Rollout{}
		}
		f.rollouts[c.Role] = ro
		f.setRoleBuildLocked(c.Role, to)
		f.markLocked(keyRollout + c.Role)
		f.emitLocked(Event{Type: RolloutStarted, Role: c.Role,
			Reason: fmt.Sprintf("replacing %s of %s with %s, %d at a time, keeping %d in service", nServers(c.Replace), ro.From, to, ro.BatchSize, ro.MinHealthy),
			Params: map[string]string{"from": ro.From.String(), "to": to.String(), "batch": "0", "servers": strconv.Itoa(c.Replace)}})
	}
	f.notifyLocked()
	return started
}

func cmpOr(a, b FailureAction) FailureAction {
	if a == "" {
		return b
	}
	return a
}

// setBindings puts the new versions of changed bindings in force: in the
// farm's spec and in the script engine, for the events that fire from
// now on.
func (f *Farm) setBindings(plan SpecPlan, next Spec) {
	changed := false
	f.mu.Lock()
	for _, c := range plan.Roles {
		if len(c.Scripts) == 0 {
			continue
		}
		nr, _ := next.Role(c.Role)
		changed = true
		f.roles[c.Role].spec.Scripts = cloneBindings(nr.Scripts)
		for i := range f.spec.Roles {
			if f.spec.Roles[i].Name == c.Role {
				f.spec.Roles[i].Scripts = cloneBindings(nr.Scripts)
			}
		}
	}
	f.mu.Unlock()
	e := f.scripts
	if !changed || e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	bs := slices.Clone(e.bindings) // matching holds the old slice
	for i, b := range bs {
		if nr, ok := next.Role(b.role); ok && b.idx < len(nr.Scripts) {
			nb := nr.Scripts[b.idx]
			if nb.Event == b.Event && nb.Script == b.Script {
				bs[i].Version = nb.Version
			}
		}
	}
	e.bindings = bs
}

// rerunScripts runs each binding's new version on its role's servers in
// service.
func (f *Farm) rerunScripts(ctx context.Context, plan SpecPlan, next Spec) []error {
	var errs []error
	for _, c := range plan.Roles {
		for _, s := range c.Scripts {
			ref := scripting.ScriptRef{Name: s.Script, Version: s.ToVersion}
			sum, err := f.ExecuteScript(ctx, ref, OnRoles(c.Role), nil)
			if err != nil {
				errs = append(errs, fmt.Errorf("farm: Apply: re-running %s on role %q: %w", ref, c.Role, err))
				continue
			}
			failed := sum.Targets - sum.OK
			f.mu.Lock()
			f.emitLocked(Event{Type: ScriptsRerun, Role: c.Role,
				Reason: fmt.Sprintf("script %s version %s re-run on %s, %d failed", s.Script, versionName(s.ToVersion), nServers(sum.Targets), failed),
				Params: map[string]string{"script": s.Script, "version": versionName(s.ToVersion), "servers": strconv.Itoa(sum.Targets), "failed": strconv.Itoa(failed)}})
			f.mu.Unlock()
			if failed > 0 {
				errs = append(errs, fmt.Errorf("farm: Apply: script %s failed on %d of %s of role %q", ref, failed, nServers(sum.Targets), c.Role))
			}
		}
	}
	return errs
}

// WaitRollouts waits until no rollout is under way, and returns an error
// wrapping [ErrRolloutFailed] for each role whose last rollout rolled back
// or paused. Something must drive the farm meanwhile (Run).
func (f *Farm) WaitRollouts(ctx context.Context) error {
	f.mu.Lock()
	roles := slices.Sorted(maps.Keys(f.rollouts))
	f.mu.Unlock()
	return f.waitRollouts(ctx, roles)
}

func (f *Farm) waitRollouts(ctx context.Context, roles []string) error {
	for {
		f.mu.Lock()
		active := false
		var errs []error
		for _, role := range roles {
			if ro := f.rollouts[role]; ro != nil && ro.Phase.Active() {
				active = true
			}
			errs = append(errs, f.rolloutErrLocked(role))
		}
		ch, closed := f.changed, f.closed
		f.mu.Unlock()
		switch {
		case !active:
			return errors.Join(errs...)
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
