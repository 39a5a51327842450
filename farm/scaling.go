package farm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/farmhand/farmhand/scaling"
)

// ScalingHistoryLimit is how many records [Farm.ScalingHistory] keeps per
// role; older ones are dropped.
const ScalingHistoryLimit = 200

// ScalingOrigin says what changed a role's count or bounds.
type ScalingOrigin string

const (
	// OriginPolicy: an evaluation of the role's scaling policy.
	OriginPolicy ScalingOrigin = "policy"
	// OriginAPI: a call of the HTTP API ([Farm.APITarget]).
	OriginAPI ScalingOrigin = "api"
	// OriginProgram: [Farm.SetDesired] or [Farm.SetBounds].
	OriginProgram ScalingOrigin = "program"
)

// ScalingRecord is one change of a role's desired count or bounds.
type ScalingRecord struct {
	// Time is when it happened, on the farm's clock.
	Time time.Time
	// Role names the role.
	Role string
	// From and To are the desired count before and after; equal when only
	// the bounds changed.
	From, To int
	// Min and Max are the bounds in force afterwards.
	Min, Max int
	// Origin says what made the change.
	Origin ScalingOrigin
	// Reason explains it, such as "load1 avg 3.40 > 2.00 for 3
	// datapoints: +2 (4 → 6)".
	Reason string
	// Checks holds each check's vote, for a change made by the policy.
	Checks []scaling.CheckResult
}

// farmScaling is the farm's scaling state.
type farmScaling struct {
	evalMu ctxLock // one EvaluateScaling at a time; held across the sources' calls
	roles  map[string]*roleScaling
	order  []string      // roles with a policy, in spec order
	wake   chan struct{} // the scaling loop looks again

	// Guarded by Farm.mu:
	history   map[string][]ScalingRecord
	reconcile bool // a count changed outside an evaluation: reconcile soon
}

// roleScaling is one role's policy and its evaluation state.
type roleScaling struct {
	ev       *scaling.Evaluator
	sources  []scaling.Source
	interval time.Duration
	hasAPI   bool
	// Guarded by Farm.mu:
	next time.Time // the next evaluation is due
	last *scaling.Decision
}

// initScaling builds the scaling state of the roles with a policy. Called
// by New.
func (f *Farm) initScaling() []error {
	sc := &farmScaling{
		roles:   map[string]*roleScaling{},
		wake:    make(chan struct{}, 1),
		history: map[string][]ScalingRecord{},
	}
	f.scaling = sc
	var errs []error
	for i, r := range f.spec.Roles {
		errs = append(errs, f.checkLoadBalancer(i, r)...)
		if r.Scaling == nil {
			continue
		}
		p, err := r.Scaling.Policy(r.Min, r.Max, f.spec.TimeZone)
		if err != nil {
			errs = append(errs, &FieldError{Path: fmt.Sprintf("roles[%d].scaling", i), Role: r.Name, Msg: err.Error()})
			continue
		}
		ev, err := scaling.NewEvaluator(p)
		if err != nil {
			errs = append(errs, &FieldError{Path: fmt.Sprintf("roles[%d].scaling", i), Role: r.Name, Msg: err.Error()})
			continue
		}
		rsc := &roleScaling{
			ev:       ev,
			sources:  slices.Clone(f.opts.MetricSources[r.Name]),
			interval: p.EvaluationInterval,
			hasAPI:   r.Scaling.API != nil,
		}
		if rsc.interval == 0 {
			rsc.interval = scaling.DefaultEvaluationInterval
		}
		for _, c := range r.Scaling.Checks {
			if _, ok := c.(*scaling.APICapacity); ok {
				rsc.hasAPI = true
			}
		}
		if err := f.completeSources(i, r.Name, p, rsc); err != nil {
			errs = append(errs, err)
			continue
		}
		sc.roles[r.Name] = rsc
		sc.order = append(sc.order, r.Name)
	}
	for _, role := range sortedKeys(f.opts.MetricSources) {
		if r, ok := f.spec.Role(role); !ok || r.Scaling == nil {
			errs = append(errs, fmt.Errorf("farm: Options.MetricSources[%q]: the farm has no role %q with a scaling policy", role, role))
		}
	}
	return errs
}

// completeSources checks that some source provides every metric the
// policy reads, adding scaling.Proc over SSH ([Farm.Exec]) for the load
// averages and free RAM. Without Options.Scripting, Proc cannot reach the
// servers: the evaluations then lack data (and never scale in), which New
// logs as a warning.
func (f *Farm) completeSources(i int, role string, p scaling.Policy, rsc *roleScaling) error {
	provided := map[string]bool{}
	for _, s := range rsc.sources {
		if s == nil {
			return &FieldError{Path: fmt.Sprintf("roles[%d].scaling", i), Role: role, Msg: "Options.MetricSources holds a nil source"}
		}
		for _, m := range s.Metrics() {
			provided[m] = true
		}
	}
	proc := (&scaling.Proc{}).Metrics()
	addProc := false
	for _, m := range metricsRead(p) {
		if provided[m] {
			continue
		}
		if slices.Contains(proc, m) {
			if !addProc {
				if f.opts.Scripting == nil {
					f.log.Warn("farm: scaling reads load or free RAM over SSH, but Options.Scripting is not set: its evaluations will have no data",
						"role", role, "metric", m)
				}
				rsc.sources = append(rsc.sources, &scaling.Proc{Runner: sshReader{f}, Clock: f.clk})
				addProc = true
			}
			continue
		}
		return &FieldError{Path: fmt.Sprintf("roles[%d].scaling", i), Role: role,
			Msg: fmt.Sprintf("scaling reads metric %q but no source gives it: add one to Options.MetricSources[%q]", m, role)}
	}
	return nil
}

// ExecRunner adapts a function that runs a command on a server and returns
// its output, such as the farm's SSH execution, to scaling.CommandRunner,
// for scaling.Proc.
type ExecRunner func(ctx context.Context, serverID, command string) ([]byte, error)

// Run calls fn.
func (fn ExecRunner) Run(ctx context.Context, serverID, command string) ([]byte, error) {
	return fn(ctx, serverID, command)
}

var _ scaling.CommandRunner = ExecRunner(nil)

// scaleJob is one role's evaluation in EvaluateScaling.
type scaleJob struct {
	role    string
	rsc     *roleScaling
	target  scaling.Target
	metrics map[string]scaling.Sample
}

// EvaluateScaling evaluates the scaling policy of every role whose
// evaluation interval has passed: it measures the role's Running servers
// with the role's metric sources, decides with package scaling, and
// applies the decision to the role's desired count and bounds (a schedule
// window), recording it in [Farm.ScalingHistory] and firing
// ScalingDecision when the desired count changes. The launches and
// terminations follow at the next [Farm.Reconcile]. Run calls it when
// evaluations fall due; tests, replays and benchmarks call it directly.
// Calls are serialised. Nothing is evaluated before Launch or while the
// farm terminates.
func (f *Farm) EvaluateScaling(ctx context.Context) error {
	_, err := f.evaluateScaling(ctx)
	return err
}

// evaluateScaling is EvaluateScaling, also reporting whether a count
// changed.
func (f *Farm) evaluateScaling(ctx context.Context) (bool, error) {
	sc := f.scaling
	if len(sc.order) == 0 {
		return false, nil
	}
	if err := sc.evalMu.lock(ctx); err != nil {
		return false, fmt.Errorf("farm: scaling: waiting for the evaluation in progress: %w", err)
	}
	defer sc.evalMu.unlock()

	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return false, ErrClosed
	}
	if !f.launched || f.terminating {
		f.mu.Unlock()
		return false, nil
	}
	now := f.clk.Now()
	var jobs []*scaleJob
	for _, name := range sc.order {
		rsc := sc.roles[name]
		if now.Before(rsc.next) {
			continue
		}
		rsc.next = now.Add(rsc.interval)
		jobs = append(jobs, &scaleJob{role: name, rsc: rsc, target: scaling.Target{Role: name}})
	}
	if len(jobs) > 0 {
		byRole := make(map[string]*scaleJob, len(jobs))
		for _, j := range jobs {
			byRole[j.role] = j
			j.target.Servers = make([]scaling.Server, 0, f.roles[j.role].desired)
		}
		for _, r := range f.records {
			j := byRole[r.srv.Role]
			if j == nil || r.srv.State != StateRunning || r.terminating {
				continue
			}
			addr := r.srv.PrivateIP
			if addr == "" {
				addr = r.srv.PublicIP
			}
			j.target.Servers = append(j.target.Servers, scaling.Server{ID: r.srv.ID, Address: addr, LaunchedAt: r.srv.UpAt})
		}
	}
	f.mu.Unlock()
	if len(jobs) == 0 {
		return false, nil
	}

	var wg sync.WaitGroup
	for _, j := range jobs {
		if len(j.rsc.sources) == 0 {
			continue
		}
		if len(jobs) == 1 {
			j.metrics = collect(ctx, j.target, j.rsc.sources)
			continue
		}
		wg.Go(func() { j.metrics = collect(ctx, j.target, j.rsc.sources) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return false, err // measurements cut short by the caller say nothing
	}

	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return false, ErrClosed
	}
	if !f.launched || f.terminating {
		f.mu.Unlock()
		return false, nil
	}
	changed := false
	for _, j := range jobs {
		if f.applyScalingLocked(j, now) {
			changed = true
		}
	}
	if changed {
		f.notifyLocked()
	}
	f.mu.Unlock()
	return changed, f.flush(ctx)
}

// collect is scaling.Collect, without its goroutine for a single source:
// a farm of many roles measured each tick need not pay for one.
func collect(ctx context.Context, t scaling.Target, sources []scaling.Source) map[string]scaling.Sample {
	if len(sources) != 1 {
		return scaling.Collect(ctx, t, sources...)
	}
	src := sources[0]
	names := src.Metrics()
	out := make(map[string]scaling.Sample, len(names))
	samples, err := src.Sample(ctx, t)
	if err != nil {
		for _, m := range names {
			out[m] = scaling.Sample{Metric: m, Err: err}
		}
		return out
	}
	for _, s := range samples {
		if _, dup := out[s.Metric]; !dup {
			out[s.Metric] = s
		}
	}
	for _, m := range names {
		if _, ok := out[m]; !ok {
			out[m] = scaling.Sample{Metric: m, Err: fmt.Errorf("source returned no sample for %s", m)}
		}
	}
	return out
}

// applyScalingLocked decides one role's count and applies it; it reports
// whether the desired count or the bounds changed.
func (f *Farm) applyScalingLocked(j *scaleJob, now time.Time) bool {
	rs := f.roles[j.role]
	d := j.rsc.ev.Evaluate(scaling.Observation{
		Now: now, Current: rs.desired, Servers: j.target.Servers, Metrics: j.metrics,
	})
	if n, why := f.budgetGuardLocked(j.role, d.To, d.Min, OriginPolicy, false); n != d.To {
		d.To, d.Reason = n, why // see cost.go
	}
	j.rsc.last = &d
	f.markLocked(keyScaling + j.role)
	f.log.Debug("farm: scaling evaluated", "role", j.role, "action", d.Action.String(), "from", d.From, "to", d.To, "reason", d.Reason)
	if d.To == rs.desired && d.Min == rs.min && d.Max == rs.max {
		return false
	}
	from := rs.desired
	rs.min, rs.max = d.Min, d.Max
	rs.desired = d.To
	rs.desiredByUser = true
	f.markLocked(keyRole + j.role)
	f.log.Info("farm: scaling decision", "role", j.role, "from", from, "to", d.To, "min", d.Min, "max", d.Max, "reason", d.Reason)
	f.scalingChangedLocked(j.role, from, OriginPolicy, d.Reason, d.Checks)
	return true
}

// scalingChangedLocked records a change of a role's desired count or
// bounds (already made) in the history, and fires ScalingDecision when the
// desired count changed.
func (f *Farm) scalingChangedLocked(role string, from int, origin ScalingOrigin, reason string, checks []scaling.CheckResult) {
	rs := f.roles[role]
	rec := ScalingRecord{
		Time: f.clk.Now(), Role: role, From: from, To: rs.desired, Min: rs.min, Max: rs.max,
		Origin: origin, Reason: reason, Checks: slices.Clone(checks),
	}
	if sc := f.scaling; sc != nil {
		h := append(sc.history[role], rec)
		if len(h) > ScalingHistoryLimit {
			h = slices.Delete(h, 0, len(h)-ScalingHistoryLimit)
		}
		sc.history[role] = h
		f.appendHistoryLocked(rec) // see persist_records.go
		if origin == OriginAPI {
			sc.reconcile = true
			poke(sc.wake)
		}
	}
	if from != rs.desired {
		f.emitLocked(Event{Type: ScalingDecision, Role: role, Reason: reason, Params: map[string]string{
			"from": strconv.Itoa(from), "to": strconv.Itoa(rs.desired), "reason": reason,
			"min": strconv.Itoa(rs.min), "max": strconv.Itoa(rs.max), "origin": string(origin),
		}})
	}
}

// ScalingHistory returns the last changes of a role's desired count and
// bounds, oldest first: the scaling policy's decisions, API calls and
// program calls, at most [ScalingHistoryLimit]. An evaluation that changes
// nothing is not recorded.
func (f *Farm) ScalingHistory(role string) []ScalingRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.scaling.history[role]
	out := make([]ScalingRecord, len(h))
	for i, r := range h {
		r.Checks = slices.Clone(r.Checks)
		out[i] = r
	}
	return out
}

// LastScalingDecision returns the last evaluation of a role's scaling
// policy, whether or not it changed anything (its Reason says why the role
// did not grow or shrink: a cooldown, missing metrics, the bounds), and
// false when the role has no policy or was not evaluated yet.
func (f *Farm) LastScalingDecision(role string) (scaling.Decision, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rsc := f.scaling.roles[role]
	if rsc == nil || rsc.last == nil {
		return scaling.Decision{}, false
	}
	d := *rsc.last
	d.Checks = slices.Clone(d.Checks)
	return d, true
}

// ScalingState returns the evaluation state of a role's scaling policy
// (cooldowns, breach streaks, the count set through the API), and false
// when the role has no policy. A controller that restarts may restore it
// with [Farm.SetScalingState].
func (f *Farm) ScalingState(role string) (scaling.State, bool) {
	rsc := f.scaling.roles[role]
	if rsc == nil {
		return scaling.State{}, false
	}
	return rsc.ev.State(), true
}

// SetScalingState replaces the evaluation state of a role's scaling
// policy, as saved by [Farm.ScalingState].
func (f *Farm) SetScalingState(role string, st scaling.State) error {
	rsc := f.scaling.roles[role]
	if rsc == nil {
		return fmt.Errorf("farm: role %q has no scaling policy", role)
	}
	rsc.ev.SetState(st)
	return nil
}

// setScalingBaseLocked makes new bounds set by the program the policy's
// own, so that schedule windows apply over them. It fails, changing
// nothing, when the policy does not fit them (a window's desired count
// outside them).
func (f *Farm) setScalingBaseLocked(role string, minCount, maxCount int) error {
	rsc := f.scaling.roles[role]
	if rsc == nil {
		return nil
	}
	p := rsc.ev.Policy()
	p.Min, p.Max = minCount, maxCount
	if err := rsc.ev.SetPolicy(p); err != nil {
		return fmt.Errorf("farm: role %q: bounds %d..%d: %w", role, minCount, maxCount, err)
	}
	return nil
}

// nextScalingWait returns how long the scaling loop may sleep.
func (f *Farm) nextScalingWait() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.launched || f.terminating {
		return f.opts.TickInterval
	}
	if len(f.scaling.roles) == 0 {
		return f.opts.TickInterval // only woken by API calls
	}
	now := f.clk.Now()
	wait := time.Duration(-1)
	for _, rsc := range f.scaling.roles {
		if d := rsc.next.Sub(now); wait < 0 || d < wait {
			wait = d
		}
	}
	return max(wait, 0)
}

// scalingLoop evaluates the policies as they fall due, and reconciles at
// once after a change, until ctx ends. Run starts it.
func (f *Farm) scalingLoop(ctx context.Context) {
	sc := f.scaling
	if sc == nil {
		return
	}
	for {
		t := f.clk.NewTimer(f.nextScalingWait())
		select {
		case <-t.C():
		case <-sc.wake:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
		changed, err := f.evaluateScaling(ctx)
		if err != nil && ctx.Err() == nil {
			if errors.Is(err, ErrClosed) {
				return
			}
			f.log.Warn("farm: scaling", "err", err)
			f.loopFailed(OpScaling, err)
		} else if err == nil {
			f.loopFailed(OpScaling, nil)
		}
		f.mu.Lock()
		changed = changed || sc.reconcile
		sc.reconcile = false
		f.mu.Unlock()
		if changed && ctx.Err() == nil {
			if err := f.Reconcile(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				f.log.Warn("farm: reconcile after scaling", "err", err)
				f.loopFailed(OpReconcile, err)
			}
		}
	}
}
