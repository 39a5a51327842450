package farm

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// scheduleChecks makes every check of a server that just entered service
// due now.
func (r *record) scheduleChecks(n int, now time.Time) {
	r.nextCheck = make([]time.Time, n)
	for i := range r.nextCheck {
		r.nextCheck[i] = now
	}
	r.srv.Health = Health{Status: HealthUnknown, RebootedAt: r.srv.Health.RebootedAt}
	r.srv.Health.Checks = make([]CheckState, n)
}

// checkJob is one health check of one server.
type checkJob struct {
	r     *record
	i     int
	spec  HealthCheckSpec
	check HealthCheck
	srv   Server
	err   error
}

// CheckHealth runs the health checks that are due, at most
// Options.HealthConcurrency at once, waits for them and applies the
// results: CheckFailed and CheckRecovered events, and per the role's
// HealthAction a replacement or a reboot, which the next Reconcile carries
// out. Run calls it when checks fall due; tests call it directly. Calls are
// serialised.
func (f *Farm) CheckHealth(ctx context.Context) error {
	if err := f.healthMu.lock(ctx); err != nil {
		return err
	}
	defer f.healthMu.unlock()

	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	now := f.clk.Now()
	var jobs []*checkJob
	for _, id := range sortedKeys(f.records) {
		r := f.records[id]
		if !r.checkable() {
			continue
		}
		rs := f.roles[r.srv.Role]
		for i, due := range r.nextCheck {
			if due.After(now) {
				continue
			}
			spec := rs.spec.HealthChecks[i]
			r.nextCheck[i] = now.Add(spec.Interval)
			jobs = append(jobs, &checkJob{r: r, i: i, spec: spec, check: rs.checks[i], srv: r.srv.Clone()})
		}
	}
	f.mu.Unlock()
	if len(jobs) == 0 {
		return nil
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, f.opts.HealthConcurrency)
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cctx, cancel := withTimeout(ctx, f.clk, j.spec.Timeout)
			defer cancel()
			j.err = j.check.Check(cctx, j.srv)
			if timedOut(cctx) {
				j.err = fmt.Errorf("check timed out after %s", j.spec.Timeout)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err // results cut short by the caller say nothing
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	now = f.clk.Now()
	for _, j := range jobs {
		if f.records[j.srv.ID] != j.r || !j.r.checkable() || j.i >= len(j.r.srv.Health.Checks) {
			continue // it left service meanwhile
		}
		f.applyCheckLocked(j, now)
	}
	f.notifyLocked()
	return nil
}

// checkable reports whether the server's health checks run.
func (r *record) checkable() bool {
	return r.srv.State == StateRunning && !r.terminating && len(r.nextCheck) > 0
}

// applyCheckLocked folds one result into the server's health.
func (f *Farm) applyCheckLocked(j *checkJob, now time.Time) {
	r := j.r
	rs := f.roles[r.srv.Role]
	cs := &r.srv.Health.Checks[j.i]
	cs.Name = j.spec.Name
	cs.LastCheck = now
	if j.err == nil {
		cs.Successes++
		cs.Failures = 0
		cs.LastError = ""
		if r.rebootPending {
			r.rebootPending = false
			f.emitLocked(f.serverEventLocked(RebootComplete, r, "a health check passes again after the reboot", nil))
		}
		switch {
		case cs.Status == HealthUnhealthy && cs.Successes >= j.spec.RecoveryThreshold:
			cs.Status = HealthHealthy
			f.emitLocked(f.serverEventLocked(CheckRecovered, r, fmt.Sprintf("check %q passed %d times", cs.Name, cs.Successes),
				map[string]string{"check": cs.Name, "successes": strconv.Itoa(cs.Successes)}))
		case cs.Status == HealthUnknown || cs.Status == "":
			cs.Status = HealthHealthy
		}
	} else {
		cs.Failures++
		cs.Successes = 0
		cs.LastError = j.err.Error()
		if cs.Status == "" {
			cs.Status = HealthUnknown
		}
		if cs.Failures >= j.spec.FailureThreshold {
			switch {
			case cs.Status != HealthUnhealthy:
				cs.Status = HealthUnhealthy
				reason := fmt.Sprintf("check %q failed %d times: %s", cs.Name, cs.Failures, cs.LastError)
				f.emitLocked(f.serverEventLocked(CheckFailed, r, reason, map[string]string{
					"check": cs.Name, "failures": strconv.Itoa(cs.Failures), "error": cs.LastError,
				}))
				f.healthActionLocked(r, rs, reason)
			case r.rebootedSinceHealthy && r.replace == "":
				f.healthActionLocked(r, rs, fmt.Sprintf("check %q still fails after a reboot: %s", cs.Name, cs.LastError))
			}
		}
	}
	status := HealthHealthy
	for _, c := range r.srv.Health.Checks {
		switch c.Status {
		case HealthUnhealthy:
			status = HealthUnhealthy
		case HealthUnknown, "":
			if status == HealthHealthy {
				status = HealthUnknown
			}
		}
	}
	r.srv.Health.Status = status
	if status == HealthHealthy {
		r.rebootedSinceHealthy = false
	}
}

// healthActionLocked carries out the role's HealthAction for a server that
// just became unhealthy.
func (f *Farm) healthActionLocked(r *record, rs *roleState, reason string) {
	switch rs.spec.HealthAction {
	case HealthReport:
		f.log.Warn("farm: server unhealthy (report only)", "role", r.srv.Role, "server", r.srv.ID, "reason", reason)
	case HealthRebootThenReplace:
		if !r.rebootedSinceHealthy {
			r.wantReboot = true
			f.log.Warn("farm: server unhealthy, rebooting it", "role", r.srv.Role, "server", r.srv.ID, "reason", reason)
			return
		}
		fallthrough
	default:
		r.replace = "unhealthy: " + reason
		f.log.Warn("farm: server unhealthy, replacing it", "role", r.srv.Role, "server", r.srv.ID, "reason", reason)
	}
}

// nextCheckLocked returns when the next health check falls due.
func (f *Farm) nextCheckLocked() (time.Time, bool) {
	var next time.Time
	found := false
	for _, r := range f.records {
		if !r.checkable() {
			continue
		}
		for _, t := range r.nextCheck {
			if !found || t.Before(next) {
				next, found = t, true
			}
		}
	}
	return next, found
}

// healthLoop runs CheckHealth whenever checks fall due, until ctx ends.
func (f *Farm) healthLoop(ctx context.Context) {
	for {
		f.mu.Lock()
		next, ok := f.nextCheckLocked()
		f.mu.Unlock()
		wait := f.opts.TickInterval
		if ok {
			wait = max(0, next.Sub(f.clk.Now()))
		}
		t := f.clk.NewTimer(wait)
		select {
		case <-t.C():
			if err := f.CheckHealth(ctx); err != nil && ctx.Err() == nil {
				f.log.Warn("farm: health checks", "err", err)
				f.loopFailed(OpHealthChecks, err)
			} else if err == nil {
				f.loopFailed(OpHealthChecks, nil)
			}
		case <-f.healthWake:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}
