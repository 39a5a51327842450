package farm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Launch starts the farm: it checks the roles' zones against the
// provider's, fires FarmLaunched and runs a first reconciliation, which
// launches every role that depends on no other (the others follow, tick by
// tick, once the roles they depend on are up). Each role starts at
// max(Min, Desired) servers, or at what already runs when a controller
// takes over an existing farm. Launch does not wait for the servers; run
// [Farm.Run] to keep the farm going and [Farm.WaitReady] to wait.
func (f *Farm) Launch(ctx context.Context) error {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return ErrClosed
	}
	zones, err := f.providerZones(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for i, r := range f.spec.Roles {
		for j, z := range r.Zones {
			if _, err := resolveZones([]string{z}, zones); err != nil {
				errs = append(errs, &FieldError{
					Path: fmt.Sprintf("roles[%d].zones[%d]", i, j), Role: r.Name, Msg: err.Error(),
				})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := f.checkCloudLoadBalancers(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	wasTerminating := f.terminating
	f.launched, f.terminating = true, false
	for _, name := range f.order {
		rs := f.roles[name]
		rs.reached = false
		if wasTerminating {
			rs.desired = min(max(rs.spec.initialDesired(), rs.min), rs.max)
			rs.desiredByUser = false
		}
	}
	f.markLocked(keyFarm)
	for _, name := range f.order {
		f.markLocked(keyRole + name)
	}
	f.emitLocked(Event{Type: FarmLaunched, Reason: "farm launched"})
	f.notifyLocked()
	f.mu.Unlock()
	if err := f.flush(ctx); err != nil {
		return err
	}
	err = f.Reconcile(ctx)
	f.syncAdoptedBackends() // see backends.go
	return err
}

// Terminate stops the farm gracefully: every role's desired count becomes
// 0, servers in service run their BeforeHostTerminate hooks (bounded by the
// role's TerminateTimeout) and are terminated, and Terminate reconciles
// every TickInterval until the cloud reports every server of the farm gone
// (servers of roles the spec does not know included). Then it fires
// FarmTerminated. It returns ctx's error if ctx ends first; calling it
// again continues. Protected servers and masters are terminated too.
func (f *Farm) Terminate(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	f.terminating, f.launched = true, false
	f.markLocked(keyFarm, keyLaunch)
	for _, name := range f.order {
		rs := f.roles[name]
		rs.desired = 0
		rs.inflight = nil // their servers, if any, show up and go
		f.markLocked(keyRole + name)
	}
	f.notifyLocked()
	f.mu.Unlock()
	if err := f.flush(ctx); err != nil {
		return err
	}
	for {
		err := f.Reconcile(ctx)
		if err == nil && f.allGone() {
			break
		}
		if err != nil {
			f.log.Warn("farm: terminating", "err", err)
		}
		t := f.clk.NewTimer(f.opts.TickInterval)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	f.mu.Lock()
	f.emitLocked(Event{Type: FarmTerminated, Reason: "every server is gone"})
	f.notifyLocked()
	f.mu.Unlock()
	return nil
}

// allGone reports whether the last listing showed no live server of the
// farm and nothing is on its way.
func (f *Farm) allGone() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cloudLive > 0 || f.bgCount > 0 {
		return false
	}
	for _, rs := range f.roles {
		if len(rs.inflight) > 0 {
			return false
		}
	}
	for _, r := range f.records {
		if r.srv.State != StateTerminated {
			return false
		}
	}
	return true
}

// Run keeps the farm at its spec until ctx ends: it reconciles at once and
// then every TickInterval, and runs the health checks when they fall due.
// Run starts nothing by itself: until [Farm.Launch] (or after
// [Farm.Terminate] has finished), the farm is stopped, as Status says, and
// each tick only lists the cloud: no server is launched, replaced or
// removed, and each role's note says so. Run and Launch may come in
// either order.
// It returns nil when ctx ends, after every goroutine it started (and the
// hooks its reconciliations started) has ended. Only one Run may be active
// at a time.
func (f *Farm) Run(ctx context.Context) error {
	f.mu.Lock()
	switch {
	case f.closed:
		f.mu.Unlock()
		return ErrClosed
	case f.running:
		f.mu.Unlock()
		return errors.New("farm: Run is already running")
	}
	f.running = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running = false
		f.mu.Unlock()
	}()

	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		f.healthLoop(ctx)
	}()
	scalingDone := make(chan struct{})
	go func() {
		defer close(scalingDone)
		f.scalingLoop(ctx)
	}()
	dnsDone := make(chan struct{})
	go func() {
		defer close(dnsDone)
		f.dnsResyncLoop(ctx)
	}()
	backupDone := make(chan struct{})
	go func() {
		defer close(backupDone)
		f.backupLoop(ctx) // see backup_run.go
	}()
	ticker := f.clk.NewTicker(f.opts.TickInterval)
	defer ticker.Stop()
	for {
		if err := f.Reconcile(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("farm: reconcile", "err", err)
			f.loopFailed(OpReconcile, err)
		} else if err == nil {
			f.loopFailed(OpReconcile, nil)
		}
		select {
		case <-ticker.C():
		case <-ctx.Done():
			<-healthDone
			<-scalingDone
			<-dnsDone
			<-backupDone
			f.waitBackground()
			return nil
		}
	}
}

// waitBackground waits for the farm's background goroutines.
func (f *Farm) waitBackground() {
	for {
		f.mu.Lock()
		n, ch := f.bgCount, f.changed
		f.mu.Unlock()
		if n == 0 {
			return
		}
		<-ch
	}
}

// hookContext derives the context of a server's hooks: it ends with ctx,
// with the farm's Close, or after timeout.
func (f *Farm) hookContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	hctx, cancel := withTimeout(ctx, f.clk, timeout)
	stop := context.AfterFunc(f.closeCtx, cancel)
	return hctx, func() {
		stop()
		cancel()
	}
}

// startInitLocked runs a server's HostInit and BeforeHostUp hooks in a
// goroutine; the server enters service (HostUp) when they succeed.
func (f *Farm) startInitLocked(ctx context.Context, r *record) {
	rs := f.roles[r.srv.Role]
	timeout := rs.spec.InitTimeout
	hctx, cancel := f.hookContext(ctx, timeout)
	r.busy, r.cancel = true, cancel
	hooks := f.hooksLocked()
	f.goLocked(func() {
		defer cancel()
		err := f.runBlocking(hctx, HostInit, r, hooks)
		if err == nil {
			err = f.runBlocking(hctx, BeforeHostUp, r, hooks)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		r.busy, r.cancel = false, nil
		if f.records[r.srv.ID] != r || r.srv.State != StateInitializing || r.terminating {
			return // it moved on meanwhile (gone, stopped, scaled in)
		}
		if err != nil && ctx.Err() != nil || f.closed {
			return // the caller stopped: the next tick starts over
		}
		if err != nil {
			if timedOut(hctx) {
				err = fmt.Errorf("init timeout after %s: %w", timeout, err)
			}
			f.failLocked(r, "initialisation failed: "+err.Error(), false)
			r.kept = rs.spec.OnInitFailure == InitFailureKeep
			f.emitLocked(f.serverEventLocked(HostInitFailed, r, err.Error(), nil))
			f.notifyLocked()
			return
		}
		now := f.clk.Now()
		r.srv.State = StateRunning
		r.srv.UpAt = now
		r.srv.Reason = ""
		r.scheduleChecks(len(rs.checks), now)
		f.log.Info("farm: server up", "role", r.srv.Role, "server", r.srv.ID, "index", r.srv.Index)
		f.emitLocked(f.serverEventLocked(HostUp, r, "initialised", nil))
		f.notifyLocked()
		poke(f.healthWake)
	})
}

// startTerminateLocked runs a server's BeforeHostTerminate hooks in a
// goroutine and then terminates it.
func (f *Farm) startTerminateLocked(ctx context.Context, r *record) {
	rs := f.roles[r.srv.Role]
	hctx, cancel := f.hookContext(ctx, rs.spec.TerminateTimeout)
	r.busy, r.cancel = true, cancel
	hooks := f.hooksLocked()
	f.goLocked(func() {
		defer cancel()
		if err := f.runBlocking(hctx, BeforeHostTerminate, r, hooks); err != nil {
			f.log.Warn("farm: BeforeHostTerminate hook failed; terminating all the same",
				"role", r.srv.Role, "server", r.srv.ID, "err", err)
			if ctx.Err() == nil {
				f.mu.Lock()
				srv := r.srv
				f.mu.Unlock()
				f.opFailed(OpHook, srv.Role, &srv, err, map[string]string{"event": string(BeforeHostTerminate)})
			}
		}
		f.mu.Lock()
		r.busy, r.cancel = false, nil
		if ctx.Err() != nil || f.closed {
			f.mu.Unlock()
			return // the caller stopped: the next tick runs the hooks again
		}
		r.hooksDone = true
		still := f.records[r.srv.ID] == r && r.srv.State != StateTerminated
		f.mu.Unlock()
		if !still {
			return
		}
		err := f.terminateCall(ctx, []string{r.srv.ID})
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			f.log.Warn("farm: terminate failed; the next tick retries", "server", r.srv.ID, "err", err)
			if ctx.Err() == nil {
				f.opFailedLocked(OpTerminate, r.srv.Role, &r.srv, err, nil)
			}
			return
		}
		r.asked = true
	})
}

// runBlocking fires a blocking event and calls every hook with it, in
// order, stopping at the first error.
func (f *Farm) runBlocking(ctx context.Context, t EventType, r *record, hooks []Hook) error {
	f.mu.Lock()
	ev := f.emitLocked(f.serverEventLocked(t, r, "", nil))
	f.mu.Unlock()
	for _, h := range hooks {
		if err := h.HandleEvent(ctx, ev.Clone()); err != nil {
			return fmt.Errorf("%s hook: %w", t, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s hook: %w", t, err)
		}
	}
	return nil
}
