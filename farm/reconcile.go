package farm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/internal/retry"
	"github.com/farmhand/farmhand/provider"
)

// callRetry bounds the retries of one provider call within a tick; the
// next tick retries again. Only what the driver did not retry itself is
// retried (see retryable): one loop per call.
var callRetry = retry.Policy{Tries: 3, Initial: 200 * time.Millisecond, Max: 2 * time.Second}

// retryable is the classifier of the farm's provider calls: a retryable
// error the driver did not retry already.
func (f *Farm) retryable(err error) bool { return provider.IsRetryableBy(f.p, err) }

// maxLaunchBackoff caps the pause after launch errors retrying cannot fix.
const maxLaunchBackoff = 5 * time.Minute

// Reconcile runs one tick of the controller: it lists the farm's servers at
// the cloud once, adopts the ones it does not know, notes what changed
// (servers up, gone, stopped, new addresses), decides per role what to
// launch and what to terminate, and does it. Run calls it every
// TickInterval; tests and simulations call it directly. Calls are
// serialised.
//
// The HostInit/BeforeHostUp and BeforeHostTerminate hooks of servers run in
// goroutines Reconcile starts and does not wait for; their context derives
// from ctx. Reconcile returns the listing's error (and then changes
// nothing) or the errors of the actions it took; either way the next tick
// tries again.
func (f *Farm) Reconcile(ctx context.Context) error {
	if err := f.tickMu.lock(ctx); err != nil {
		return err
	}
	defer f.tickMu.unlock()
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return ErrClosed
	}
	zones, err := f.providerZones(ctx)
	if err == nil {
		var cloud []provider.Server
		cloud, err = f.listCloud(ctx)
		if err == nil {
			f.mu.Lock()
			now := f.clk.Now()
			f.accrueCostLocked(now) // see cost.go
			f.observeLocked(cloud, now)
			f.applyRestoredLocked()   // see persist_restore.go
			f.stepRolloutsLocked(now) // see rollout_run.go
			f.scratch.giveList(cloud)
			acts := f.planLocked(ctx, zones, now)
			f.markLocked(keyLaunch, keyLeaving)
			f.notifyLocked()
			f.mu.Unlock()
			// Write-ahead: the launches decided are saved before the
			// cloud is called. A farm that cannot save does not act.
			if err = f.flush(ctx); err == nil {
				err = f.act(ctx, acts)
				f.mu.Lock()
				f.markLocked(keyLaunch, keyLeaving)
				f.mu.Unlock()
				err = errors.Join(err, f.flush(ctx))
			}
		}
	}
	f.mu.Lock()
	f.lastErr = ""
	if err != nil {
		f.lastErr = err.Error()
	}
	f.notifyLocked()
	f.mu.Unlock()
	return err
}

// notLaunchedNote is a role's note while the farm is stopped.
const notLaunchedNote = "the farm is not launched: call Launch to start it"

// providerZones returns the provider's zones, asking once.
func (f *Farm) providerZones(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	zones := f.zones
	f.mu.Unlock()
	if zones != nil {
		return zones, nil
	}
	err := f.providerCall(ctx, func(ctx context.Context) error {
		var err error
		zones, err = f.p.Zones(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("farm: list zones: %w", err)
	}
	if zones == nil {
		zones = []string{}
	}
	f.mu.Lock()
	f.zones = zones
	f.mu.Unlock()
	return zones, nil
}

// listCloud lists every server with the farm's tag, retrying each page.
func (f *Farm) listCloud(ctx context.Context) ([]provider.Server, error) {
	opts := provider.ListOptions{Tags: map[string]string{provider.TagFarm: f.spec.Name}}
	out := f.scratch.takeList() // under tickMu
	for pages := 0; ; pages++ {
		var page provider.Page
		err := f.providerCall(ctx, func(ctx context.Context) error {
			var err error
			page, err = f.p.List(ctx, opts)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("farm: list servers: %w", err)
		}
		out = append(out, page.Servers...)
		if page.NextPageToken == "" {
			break
		}
		if pages > 100000 {
			return nil, errors.New("farm: list servers: the provider keeps returning pages")
		}
		opts.PageToken = page.NextPageToken
	}
	// By ID; of a server listed twice, the later page's view wins.
	byID := func(a, b provider.Server) int { return strings.Compare(a.ID, b.ID) }
	if !slices.IsSortedFunc(out, byID) {
		slices.SortStableFunc(out, byID)
	}
	n := 0
	for i := range out {
		if i+1 < len(out) && out[i+1].ID == out[i].ID {
			continue
		}
		out[n] = out[i]
		n++
	}
	return out[:n], nil
}

// observeLocked folds one listing of the cloud into the records.
func (f *Farm) observeLocked(cloud []provider.Server, now time.Time) {
	// Servers of one launch by token, for adopting a server the farm does
	// not know yet; not built when there is none.
	var byToken map[string][]provider.Server
	for _, cs := range cloud {
		if f.records[cs.ID] == nil && !cs.State.Gone() {
			byToken = map[string][]provider.Server{}
			break
		}
	}
	own := map[string]bool{} // tokens of launches this controller made
	f.cloudLive = 0
	clear(f.orphans)
	for _, cs := range cloud {
		if !cs.State.Gone() {
			f.cloudLive++
		}
		rs := f.roles[cs.Tags[provider.TagRole]]
		if rs == nil {
			if !cs.State.Gone() {
				f.orphans[cs.ID] = true
			}
			continue
		}
		tok := cs.Tags[provider.TagToken]
		if tok != "" {
			if byToken != nil {
				byToken[tok] = append(byToken[tok], cs)
			}
			if rs.inflightFor(tok) != nil {
				own[tok] = true
			}
		}
		if f.records[cs.ID] != nil {
			continue // its attempt and slots were read when it was first seen
		}
		attempt, _ := strconv.Atoi(cs.Tags[TagAttempt])
		for _, i := range parseIndexes(cs.Tags[provider.TagSlot]) {
			rs.attempts[i] = max(rs.attempts[i], attempt)
		}
	}
	seen := f.scratch.seenSet() // under tickMu
	for _, cs := range cloud {
		rs := f.roles[cs.Tags[provider.TagRole]]
		if rs == nil {
			continue
		}
		seen[cs.ID] = true
		r := f.records[cs.ID]
		if r == nil {
			if cs.State.Gone() {
				continue
			}
			r = f.adoptLocked(cs, rs, byToken, !own[cs.Tags[provider.TagToken]], now)
		}
		f.updateLocked(r, cs, now)
	}
	// A launch whose servers the listing shows stays inflight for the
	// indexes none of them holds yet: listings may show a launch's
	// servers one by one, and launching those indexes again would
	// duplicate them. Retrying with the same token, or the launch timeout,
	// settles the rest.
	for _, name := range f.order {
		rs := f.roles[name]
		rs.inflight = slices.DeleteFunc(rs.inflight, func(in *inflightLaunch) bool { return len(in.indexes) == 0 })
	}
	var unseen []string
	for id, r := range f.records {
		switch {
		case !seen[id]:
			unseen = append(unseen, id)
		case r.srv.State == StateTerminated && now.Sub(r.goneAt) > terminatedRetention:
			delete(f.records, id)
		}
	}
	slices.Sort(unseen) // in order: they fire events
	for _, id := range unseen {
		r := f.records[id]
		switch {
		case r.srv.State == StateTerminated:
			delete(f.records, id) // the cloud has forgotten it
		case !r.seen:
			// Launched by this controller, not listed yet: listings may lag.
			if now.Sub(r.srv.LaunchedAt) > f.roles[r.srv.Role].spec.LaunchTimeout {
				f.goneLocked(r, "the cloud never listed the server", now)
				delete(f.records, id)
			}
		default:
			f.goneLocked(r, "the cloud no longer lists the server", now)
		}
	}
	for _, name := range f.order {
		rs := f.roles[name]
		live, running := 0, 0
		for _, r := range f.records {
			if r.srv.Role == name && r.srv.State.live() && !r.terminating {
				live++
				if r.srv.State == StateRunning {
					running++
				}
			}
		}
		if !rs.observed {
			// A controller that starts over an existing farm keeps what
			// runs instead of shrinking it to the spec's initial count.
			rs.observed = true
			if !rs.desiredByUser && !f.terminating {
				// A rollout's surge is not the role's count.
				rs.desired = min(max(rs.desired, live-f.rolloutSurgeLocked(name), rs.min), rs.max)
				f.markLocked(keyRole + name)
			}
		}
		if running >= rs.desired {
			rs.reached = true
		}
		if running == rs.desired && live == running && len(rs.inflight) == 0 {
			rs.lastErr = "" // at its count again: old launch errors are history
		}
		for z, until := range rs.avoided {
			if !now.Before(until) {
				delete(rs.avoided, z)
			}
		}
	}
}

// inflightFor returns the inflight launch with this token, or nil.
func (rs *roleState) inflightFor(token string) *inflightLaunch {
	for _, in := range rs.inflight {
		if in.spec.Token == token {
			return in
		}
	}
	return nil
}

// takeIndex picks the index of one of the launch's servers, which no
// longer counts as launching: want (the server's place among the launch's
// servers) if the launch still waits for it, else the first index it waits
// for. With none left it returns want.
func (in *inflightLaunch) takeIndex(want int) int {
	if len(in.indexes) == 0 {
		return want
	}
	if !slices.Contains(in.indexes, want) {
		want = in.indexes[0]
	}
	in.indexes = slices.DeleteFunc(slices.Clone(in.indexes), func(i int) bool { return i == want })
	return want
}

func (rs *roleState) removeInflight(in *inflightLaunch) {
	if i := slices.Index(rs.inflight, in); i >= 0 {
		rs.inflight = slices.Delete(rs.inflight, i, i+1)
	}
}

// adoptLocked makes a record for a server the controller did not launch
// (or launched without hearing the answer, when adopted is false).
func (f *Farm) adoptLocked(cs provider.Server, rs *roleState, byToken map[string][]provider.Server, adopted bool, now time.Time) *record {
	indexes := parseIndexes(cs.Tags[provider.TagSlot])
	idx := 0
	tok := cs.Tags[provider.TagToken]
	if tok != "" && len(indexes) > 0 {
		idx = assignIndexes(byToken[tok], indexes)[cs.ID]
	}
	if in := rs.inflightFor(tok); in != nil && tok != "" {
		// This controller's launch: the server fills one of the indexes
		// it still waits for, whichever of its servers the listing shows.
		idx = in.takeIndex(idx)
	}
	if idx == 0 || f.indexUsedLocked(rs.spec.Name, idx) {
		idx = f.freeIndexLocked(rs)
	}
	r := &record{
		srv: Server{
			ID: cs.ID, Role: rs.spec.Name, Index: idx, State: StatePending,
			LaunchedAt: cs.LaunchedAt, Adopted: adopted,
		},
		token:   cs.Tags[provider.TagToken],
		indexes: indexes,
	}
	if r.srv.LaunchedAt.IsZero() {
		r.srv.LaunchedAt = now
	}
	if adopted && cs.State == provider.StateRunning {
		// Its initialisation is the business of the controller that
		// launched it; take it as in service.
		r.srv.State = StateRunning
		r.srv.UpAt = now
		r.scheduleChecks(len(rs.checks), now)
	}
	f.records[cs.ID] = r
	if r.srv.State == StateRunning {
		f.registerAdoptedLocked(r)
	}
	f.log.Info("farm: adopted server", "role", rs.spec.Name, "server", cs.ID, "index", idx, "cloud_state", string(cs.State))
	return r
}

func (f *Farm) indexUsedLocked(role string, idx int) bool {
	for _, r := range f.records {
		if r.srv.Role == role && r.srv.Index == idx && r.srv.State != StateTerminated {
			return true
		}
	}
	for _, in := range f.roles[role].inflight {
		if slices.Contains(in.indexes, idx) {
			return true
		}
	}
	return false
}

func (f *Farm) freeIndexLocked(rs *roleState) int {
	for i := 1; ; i++ {
		if !f.indexUsedLocked(rs.spec.Name, i) {
			return i
		}
	}
}

// updateLocked applies what the cloud reports about a known server.
func (f *Farm) updateLocked(r *record, cs provider.Server, now time.Time) {
	old := r.srv
	r.seen = true
	r.srv.CloudState = cs.State
	r.srv.Zone, r.srv.Image, r.srv.InstanceType = cs.Zone, cs.Image, cs.InstanceType
	if !maps.Equal(r.srv.Tags, cs.Tags) {
		r.srv.Tags = maps.Clone(cs.Tags)
	}
	if !cs.LaunchedAt.IsZero() {
		r.srv.LaunchedAt = cs.LaunchedAt
	}
	if !cs.State.Gone() {
		r.srv.PrivateIP, r.srv.PublicIP, r.srv.SSHAddress = cs.PrivateIP, cs.PublicIP, cs.SSHAddress
		changed := old.PrivateIP != "" && cs.PrivateIP != "" && old.PrivateIP != cs.PrivateIP ||
			old.PublicIP != "" && cs.PublicIP != "" && old.PublicIP != cs.PublicIP
		if changed && (old.State == StateInitializing || old.State == StateRunning) {
			f.emitLocked(f.serverEventLocked(IPAddressChanged, r, "the cloud reports new addresses", map[string]string{
				"old_internal_ip": old.PrivateIP, "internal_ip": cs.PrivateIP,
				"old_external_ip": old.PublicIP, "external_ip": cs.PublicIP,
			}))
		}
	}
	switch cs.State {
	case provider.StateTerminating, provider.StateTerminated:
		if r.srv.State != StateTerminated {
			f.goneLocked(r, "cloud reports the server "+string(cs.State), now)
		}
	case provider.StateStopping, provider.StateStopped, provider.StateFailed:
		if r.srv.State.live() {
			f.failLocked(r, "cloud reports the server "+string(cs.State), true)
		}
	case provider.StateRunning:
		if r.srv.State == StatePending && !r.terminating {
			r.srv.State = StateInitializing
		}
	}
}

// failLocked marks a server Failed. hostDown fires HostDown now, for a
// server that stopped while it was live.
func (f *Farm) failLocked(r *record, reason string, hostDown bool) {
	if r.cancel != nil {
		r.cancel()
	}
	wasLive := r.srv.State.live()
	r.srv.State = StateFailed
	r.srv.Reason = reason
	f.log.Warn("farm: server failed", "role", r.srv.Role, "server", r.srv.ID, "reason", reason)
	if hostDown && wasLive && !r.downFired {
		r.downFired = true
		f.emitLocked(f.serverEventLocked(HostDown, r, reason, nil))
	}
}

// goneLocked marks a server Terminated and fires HostDown once.
func (f *Farm) goneLocked(r *record, reason string, now time.Time) {
	if r.cancel != nil {
		r.cancel()
	}
	if !r.terminating || r.srv.Reason == "" {
		r.srv.Reason = reason
	}
	r.srv.State = StateTerminated // its last known addresses stay, for HostDown
	r.goneAt = now
	f.log.Info("farm: server gone", "role", r.srv.Role, "server", r.srv.ID, "reason", r.srv.Reason)
	if !r.downFired {
		r.downFired = true
		f.emitLocked(f.serverEventLocked(HostDown, r, r.srv.Reason, nil))
	}
}

// actions are the provider calls one tick makes.
type actions struct {
	terminate []string
	launches  []*launchJob
	reboots   []string
}

type launchJob struct {
	role     string
	inflight *inflightLaunch
	servers  []provider.Server
	err      error
}

// planLocked decides every role's actions and updates the records for
// them; the provider calls are left to act.
func (f *Farm) planLocked(ctx context.Context, zones []string, now time.Time) actions {
	var acts actions
	queued := map[string]bool{}
	queueTerminate := func(id string) {
		if !queued[id] {
			queued[id] = true
			acts.terminate = append(acts.terminate, id)
		}
	}
	ids := sortedKeys(f.records) // planning changes no record's presence
	byRole := map[string][]*record{}
	for _, id := range ids {
		r := f.records[id]
		byRole[r.srv.Role] = append(byRole[r.srv.Role], r)
	}
	stopped := !f.launched && !f.terminating
	for _, name := range f.order {
		rs := f.roles[name]
		if stopped {
			// Until Launch, the farm watches and changes nothing: no
			// launch, no replacement, no scale-in.
			rs.note = notLaunchedNote
			continue
		}
		in := roleInput{
			spec: rs.spec, desired: rs.desired + f.rolloutSurgeLocked(name), zones: rs.spec.Zones, avoided: map[string]bool{},
			inflightZones: map[string]int{}, backoffUntil: rs.backoffUntil,
			maxLaunching: f.opts.MaxParallelLaunches, terminating: f.terminating, now: now,
		}
		rz, err := resolveZones(in.zones, zones)
		switch {
		case err == nil:
			in.zones = rz
		case f.terminating:
			in.zones = zones // only removals are planned
		default:
			rs.note = err.Error() // Launch refuses this; nothing fits
			continue
		}
		for z := range rs.avoided {
			in.avoided[z] = true
		}
		for _, l := range rs.inflight {
			in.inflight = append(in.inflight, l.indexes...)
			in.inflightZones[l.spec.Zone] += len(l.indexes)
		}
		for _, d := range rs.spec.DependsOn {
			if !f.roles[d].reached && in.waitingFor == "" {
				in.waitingFor = d
			}
		}
		in.servers = f.scratch.takePlan() // under tickMu
		for _, r := range byRole[name] {
			in.servers = append(in.servers, planServer{Server: r.srv, replace: r.replace, leaving: r.terminating, kept: r.kept})
		}
		plan := planRole(in)
		f.scratch.givePlan(in.servers)
		rs.note = plan.note
		for _, t := range plan.terminations {
			f.decideTerminationLocked(f.records[t.id], t)
		}
		// Retry the launches of earlier ticks whose outcome is unknown
		// before new ones, with the same token.
		for _, l := range rs.inflight {
			acts.launches = append(acts.launches, &launchJob{role: name, inflight: l})
		}
		for _, l := range plan.launches {
			job := f.newLaunchLocked(rs, l, now)
			acts.launches = append(acts.launches, job)
		}
	}
	if f.terminating {
		for _, id := range sortedKeys(f.orphans) {
			queueTerminate(id)
		}
	}
	for _, id := range ids {
		r := f.records[id]
		switch {
		case r.srv.State == StateTerminated:
		case r.srv.State == StateInitializing && !r.busy && !r.terminating:
			f.startInitLocked(ctx, r)
		case r.terminating && !r.hooksDone && !r.busy:
			f.startTerminateLocked(ctx, r)
		case r.terminating && r.hooksDone && !r.busy:
			queueTerminate(id)
		case r.wantReboot && r.srv.State == StateRunning:
			r.wantReboot = false
			acts.reboots = append(acts.reboots, id)
		}
	}
	return acts
}

// decideTerminationLocked moves a server toward termination.
func (f *Farm) decideTerminationLocked(r *record, t termination) {
	if r == nil || r.terminating {
		return
	}
	r.terminating = true
	switch {
	case t.fail:
		f.failLocked(r, t.reason, r.srv.State == StateRunning || r.srv.State == StateInitializing)
	case r.srv.State != StateFailed:
		r.srv.Reason = t.reason
	}
	if r.srv.State != StateFailed {
		if r.cancel != nil {
			r.cancel() // an initialisation in progress is moot
		}
		r.srv.State = StatePendingTerminate
	}
	r.hooksDone = !t.graceful
	f.log.Info("farm: terminating server", "role", r.srv.Role, "server", r.srv.ID, "reason", t.reason)
}

// newLaunchLocked turns a launch decision into an inflight launch with its
// token, and fires BeforeInstanceLaunch.
func (f *Farm) newLaunchLocked(rs *roleState, l launchPlan, now time.Time) *launchJob {
	attempt := 0
	for _, i := range l.indexes {
		attempt = max(attempt, rs.attempts[i])
	}
	attempt++
	for _, i := range l.indexes {
		rs.attempts[i] = attempt
	}
	spec := f.launchSpecLocked(rs, l.zone, l.indexes, attempt)
	in := &inflightLaunch{spec: spec, slots: slices.Clone(l.indexes), indexes: slices.Clone(l.indexes), since: now}
	rs.inflight = append(rs.inflight, in)
	f.emitLocked(Event{Type: BeforeInstanceLaunch, Role: rs.spec.Name, Reason: "launching servers", Params: map[string]string{
		"zone": l.zone, "count": strconv.Itoa(len(l.indexes)), "indexes": formatIndexes(l.indexes),
	}})
	return &launchJob{role: rs.spec.Name, inflight: in}
}

// launchSpecLocked is the launch of a role's indexes into a zone, with the
// token of the attempt.
func (f *Farm) launchSpecLocked(rs *roleState, zone string, indexes []int, attempt int) provider.LaunchSpec {
	token := launchToken(f.spec.Name, rs.spec.Name, indexes, attempt)
	spec := provider.LaunchSpec{
		Token:        token,
		Count:        len(indexes),
		MinCount:     1,
		Image:        rs.spec.Image,
		InstanceType: rs.spec.InstanceType,
		Zone:         zone,
		Tags:         launchTags(f.spec.Name, rs.spec, indexes, attempt, token),
		SSHPublicKey: f.opts.SSHPublicKey,
	}
	if rs.spec.UserData != "" {
		spec.UserData = []byte(rs.spec.UserData)
	}
	return spec
}

// act makes the provider calls of one tick, at most MaxConcurrentCalls at
// once, and applies their results.
func (f *Farm) act(ctx context.Context, acts actions) error {
	var (
		calls []func() error
		emu   sync.Mutex
		errs  []error
	)
	run := func(fn func() error) { calls = append(calls, fn) }
	// The calls are handed to the workers in order, so that with one
	// worker they are made in the order decided (and a seeded fake cloud
	// hands out the same IDs every run).
	callAll := func() {
		queue := make(chan func() error)
		var wg sync.WaitGroup
		for range min(f.opts.MaxConcurrentCalls, len(calls)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for fn := range queue {
					if err := fn(); err != nil {
						emu.Lock()
						errs = append(errs, err)
						emu.Unlock()
					}
				}
			}()
		}
		for _, fn := range calls {
			queue <- fn
		}
		close(queue)
		wg.Wait()
	}
	if len(acts.terminate) > 0 {
		ids := acts.terminate
		run(func() error {
			err := f.terminateCall(ctx, ids)
			f.mu.Lock()
			defer f.mu.Unlock()
			if err == nil {
				for _, id := range ids {
					if r := f.records[id]; r != nil {
						r.asked = true
					}
				}
			}
			return err
		})
	}
	for _, job := range acts.launches {
		run(func() error {
			job.servers, job.err = f.launchCall(ctx, job.inflight.spec)
			return nil
		})
	}
	for _, id := range acts.reboots {
		run(func() error { return f.reboot(ctx, id) })
	}
	callAll()

	f.mu.Lock()
	now := f.clk.Now()
	for _, job := range acts.launches {
		if err := f.launchResultLocked(job, now); err != nil {
			errs = append(errs, err)
		}
	}
	f.mu.Unlock()
	return errors.Join(errs...)
}

func (f *Farm) terminateCall(ctx context.Context, ids []string) error {
	err := f.providerCall(ctx, func(ctx context.Context) error {
		return f.p.Terminate(ctx, ids...)
	})
	if err != nil {
		return fmt.Errorf("farm: terminate %v: %w", ids, err)
	}
	return nil
}

func (f *Farm) launchCall(ctx context.Context, spec provider.LaunchSpec) ([]provider.Server, error) {
	var out []provider.Server
	err := f.providerCall(ctx, func(ctx context.Context) error {
		var err error
		out, err = f.p.Launch(ctx, spec)
		return err
	})
	return out, err
}

// launchResultLocked applies the outcome of one Launch call.
func (f *Farm) launchResultLocked(job *launchJob, now time.Time) error {
	rs := f.roles[job.role]
	in := job.inflight
	zone := in.spec.Zone
	if job.err == nil {
		rs.removeInflight(in)
		var live []provider.Server
		for _, s := range job.servers {
			if !s.State.Gone() {
				live = append(live, s)
			}
		}
		if len(live) == 0 {
			// The token named an old launch whose servers are gone (a
			// restarted controller reusing an attempt number); the next
			// tick launches with the next attempt.
			f.log.Warn("farm: launch token returned only gone servers", "role", job.role, "token", in.spec.Token)
			return nil
		}
		idx := assignIndexes(job.servers, in.slots)
		sort.Slice(live, func(i, j int) bool { return live[i].ID < live[j].ID })
		for _, s := range live {
			if f.records[s.ID] != nil {
				continue
			}
			i := in.takeIndex(idx[s.ID])
			if i == 0 || f.indexUsedLocked(job.role, i) {
				i = f.freeIndexLocked(rs)
			}
			launched := s.LaunchedAt
			if launched.IsZero() {
				launched = now
			}
			f.records[s.ID] = &record{
				srv: Server{
					ID: s.ID, Role: job.role, Index: i, State: StatePending, CloudState: s.State,
					PrivateIP: s.PrivateIP, PublicIP: s.PublicIP, SSHAddress: s.SSHAddress,
					Zone: s.Zone, Image: s.Image, InstanceType: s.InstanceType,
					LaunchedAt: launched, Tags: s.Clone().Tags,
				},
				token:   in.spec.Token,
				indexes: in.slots,
			}
			f.log.Info("farm: launched server", "role", job.role, "server", s.ID, "index", i, "zone", s.Zone)
		}
		if len(live) < len(in.slots) {
			rs.avoided[zone] = now.Add(f.opts.ZoneCooloff)
			f.log.Warn("farm: zone had room for fewer servers than asked", "role", job.role, "zone", zone,
				"asked", len(in.slots), "got", len(live))
		}
		rs.failures = 0
		return nil
	}
	err := fmt.Errorf("farm: role %q: launch %d in zone %q: %w", job.role, len(in.indexes), zone, job.err)
	rs.lastErr = err.Error()
	switch provider.CodeOf(job.err) {
	case provider.InsufficientCapacity, provider.QuotaExceeded:
		rs.removeInflight(in)
		rs.avoided[zone] = now.Add(f.opts.ZoneCooloff)
		f.log.Warn("farm: zone avoided after a capacity error", "role", job.role, "zone", zone,
			"until", rs.avoided[zone], "err", job.err)
	case provider.InvalidArgument, provider.PermissionDenied, provider.AlreadyExists:
		rs.removeInflight(in)
		rs.failures++
		pause := min(f.opts.TickInterval<<min(rs.failures, 20), maxLaunchBackoff)
		rs.backoffUntil = now.Add(pause)
		f.log.Error("farm: launch failed", "role", job.role, "zone", zone, "pause", pause, "err", job.err)
	default:
		// The call may have launched: keep the inflight launch, to be
		// retried with the same token or found by the next listing.
		if now.Sub(in.since) > rs.spec.LaunchTimeout && !cancelled(job.err) {
			rs.removeInflight(in)
		}
		f.log.Warn("farm: launch outcome unknown, will retry with the same token", "role", job.role,
			"zone", zone, "token", in.spec.Token, "err", job.err)
	}
	return err
}

// cancelled reports whether err comes from the caller's context ending.
func cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (f *Farm) reboot(ctx context.Context, id string) error {
	err := f.providerCall(ctx, func(ctx context.Context) error {
		return f.p.Reboot(ctx, id)
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.records[id]
	if r == nil {
		return nil
	}
	if err != nil {
		r.replace = fmt.Sprintf("reboot after failed health checks failed: %v", err)
		return fmt.Errorf("farm: reboot %s: %w", id, err)
	}
	now := f.clk.Now()
	r.srv.Health.RebootedAt = now
	r.rebootPending = true
	r.rebootedSinceHealthy = true
	for i := range r.srv.Health.Checks {
		r.srv.Health.Checks[i].Failures = 0
		r.srv.Health.Checks[i].Successes = 0
	}
	f.log.Info("farm: rebooted server after failed health checks", "role", r.srv.Role, "server", id)
	return nil
}
