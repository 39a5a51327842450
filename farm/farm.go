package farm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/store"
)

// Options tune a Farm. The zero value (or nil) gives the defaults.
type Options struct {
	// Clock is the farm's time; nil means clock.Real().
	Clock clock.Clock
	// Logger receives the controller's logs; nil discards them.
	Logger *slog.Logger
	// TickInterval is the time between two reconciliations in Run; 0
	// means DefaultTickInterval.
	TickInterval time.Duration
	// MaxParallelLaunches caps how many servers of one role are launching
	// (launched and not yet Running) at once; 0 means no cap.
	MaxParallelLaunches int
	// MaxConcurrentCalls caps the provider calls one tick makes at once
	// (launches in several zones, terminations); 0 means 4.
	MaxConcurrentCalls int
	// HealthConcurrency caps the health checks running at once; 0 means 16.
	HealthConcurrency int
	// StepTimeout bounds each step that waits on the network and has no
	// timeout of its own, so that a stalled cloud API, DNS server or load
	// balancer cannot hold the controller: each try of a provider call,
	// a hook's handling of an event delivered in the background (the
	// hooks of Hooks and AddHook, the farm's DNS sync and load balancer
	// registration). It is measured on the real clock, whatever Clock
	// is. 0 means DefaultStepTimeout.
	StepTimeout time.Duration
	// ZoneCooloff is how long a zone that answered InsufficientCapacity or
	// QuotaExceeded gets no launches; 0 means DefaultZoneCooloff.
	ZoneCooloff time.Duration
	// Hooks receive the farm's lifecycle events; see [Hook]. More can be
	// added with [Farm.AddHook].
	Hooks []Hook
	// CommandRunner runs the "command" health checks; roles with such
	// checks need it. With Scripting set, nil means over SSH.
	CommandRunner CommandRunner
	// Scripting turns on scripts bound to events, [Farm.ExecuteScript],
	// [Farm.Exec] and SSH command checks; nil means no scripts.
	Scripting *ScriptingOptions
	// SSHPublicKey is an authorized_keys line installed on every server
	// launched (provider.LaunchSpec.SSHPublicKey).
	SSHPublicKey string
	// DNS updates the roles' DNS names (RoleSpec.DNS); roles that declare
	// names need it. See dns.go and the package docs.
	DNS dnsupdate.Updater
	// DNSResync is how often Run writes the DNS names again when one of
	// them differs from what the farm wants (a write failed), besides
	// after every event that moves servers; 0 means DefaultDNSResync,
	// negative turns it off.
	DNSResync time.Duration
	// DNSVerify, when set, makes every master move wait until the
	// authoritative servers serve the new address; see [DNSVerify].
	DNSVerify *DNSVerify
	// MetricSources measure the roles that have a scaling policy, by role
	// name. A role whose checks read the load averages or free RAM from no
	// source here gets scaling.Proc, run over SSH with [Farm.Exec] (which
	// needs Scripting).
	MetricSources map[string][]scaling.Source
	// LoadBalancers are load balancers the program drives itself, by the
	// name roles give in RoleSpec.LoadBalancer (a name here is not looked
	// up at the provider); see [Backends].
	LoadBalancers map[string]Backends
	// Store keeps the controller's own state (desired counts and
	// API-set capacity, scaling state and history, database masters and
	// failovers under way, launches written before the cloud is called,
	// servers being scaled in, the scripting log, host-key pins), so that
	// a controller restarted on it loses none of it; see the package
	// docs' "The Store" section. Open it per farm, such as
	// boltstore.Open(path).Farm(spec.Name). nil keeps the state in this
	// process's memory only, as a farm always did: a restarted
	// controller then rebuilds what the cloud's tags tell it.
	Store store.Store
}

// Defaults for zero Options fields.
const (
	DefaultTickInterval = 10 * time.Second
	DefaultZoneCooloff  = 5 * time.Minute
	DefaultStepTimeout  = 2 * time.Minute
	DefaultDNSResync    = time.Minute
)

// terminatedRetention bounds how long Status keeps showing a terminated
// server the cloud still lists.
const terminatedRetention = 10 * time.Minute

// ErrClosed is returned by the methods of a closed Farm.
var ErrClosed = errors.New("farm: closed")

// Farm runs one farm over one provider: it launches the roles' servers,
// keeps each role at its desired count, replaces servers that die or fail
// their health checks, and reports everything as events. Its methods are
// safe for concurrent use.
type Farm struct {
	spec  Spec
	p     provider.Provider
	clk   clock.Clock
	log   *slog.Logger
	opts  Options
	bus   *bus
	order []string // role names in spec order
	// rollouts are the roles' rollouts (guarded by mu); see rollout_run.go
	rollouts map[string]*Rollout

	closeCtx    context.Context
	closeCancel context.CancelFunc

	tickMu   ctxLock // one Reconcile at a time
	healthMu ctxLock // one CheckHealth at a time
	bg       sync.WaitGroup

	mu          sync.Mutex
	roles       map[string]*roleState
	records     map[string]*record
	zones       []string // the provider's zones, once known
	launched    bool
	terminating bool
	running     bool
	closed      bool
	// loopErrs is the last error each of Run's loops reported, by op
	// (see loopFailed).
	loopErrs   map[string]string
	seq        uint64
	changed    chan struct{} // closed and replaced on every change
	healthWake chan struct{}
	hooks      []Hook
	dns        *dnsControl      // DNS names and failovers; nil when no role needs them
	scripts    *scriptEngine    // nil without Options.Scripting
	backends   *backendsControl // nil without Options.LoadBalancers
	bgCount    int
	cloudLive  int // servers with the farm tag the last listing showed not gone
	lastErr    string
	orphans    map[string]bool
	scaling    *farmScaling   // see scaling.go
	lb         *lbHook        // nil when no role uses a provider load balancer
	scratch    tickScratch    // buffers Reconcile reuses, under tickMu
	persist    *persister     // nil without Options.Store; see persist.go
	backups    *backupControl // nil without backup sections; see backup_run.go

	// failures are the failure events of servers since Launch or since
	// WaitReady last reported them (the last maxFailures).
	failures []Event
	// hostUpPending counts, per server, the HostUp events whose
	// non-blocking scripts have not finished yet.
	hostUpPending map[string]int
	cost          *costLedger // see cost.go
	drill         drillLog    // see drill_run.go
}

// roleState is the controller's state of one role.
type roleState struct {
	spec     RoleSpec // defaults applied
	checks   []HealthCheck
	min, max int
	desired  int
	// desiredByUser is set once SetDesired chose the count; until then
	// the first listing may raise desired to what already runs.
	desiredByUser bool
	observed      bool
	attempts      map[int]int // index → last launch attempt
	inflight      []*inflightLaunch
	avoided       map[string]time.Time // zone → end of its cool-off
	reached       bool                 // all desired servers were up once
	backoffUntil  time.Time
	failures      int // consecutive launch errors retrying cannot fix
	lastErr       string
	note          string
}

// inflightLaunch is a launch whose outcome is not known yet: its call is
// under way or failed in a way that may have launched. Until the servers
// show up or the call fails for sure, it is retried with the same spec and
// token, and its indexes count as servers.
type inflightLaunch struct {
	spec provider.LaunchSpec
	// slots are every index the launch names (its TagSlot), in order.
	slots []int
	// indexes are the slots none of the launch's servers holds yet: a
	// listing may show some of its servers before the others (eventual
	// consistency), and only the missing ones still count as launching.
	indexes []int
	since   time.Time
	calling bool
}

// record is the controller's state of one server.
type record struct {
	srv       Server
	token     string
	indexes   []int // the launch's indexes (from TagSlot)
	seen      bool  // a listing has shown it
	downFired bool
	// terminating is set once the farm decided to terminate it.
	terminating bool
	asked       bool // a Terminate call for it succeeded
	hooksDone   bool // its BeforeHostTerminate hooks ran (or were not due)
	busy        bool // a goroutine runs its init or terminate hooks
	cancel      context.CancelFunc
	kept        bool
	goneAt      time.Time
	replace     string
	wantReboot  bool
	// rebootPending: rebooted, no check passed since (for RebootComplete).
	rebootPending bool
	// rebootedSinceHealthy: a further failure replaces it.
	rebootedSinceHealthy bool
	nextCheck            []time.Time
}

// New returns a Farm for spec over p. It validates spec and returns every
// problem, before anything is launched; it makes no provider call. Call
// [Farm.Launch] and [Farm.Run] to start it, and [Farm.Close] when done.
//
// For a spec read with [LoadFile] or [ParseYAML], every *FieldError
// carries the file and the line of its field.
func New(spec Spec, p provider.Provider, opts *Options) (*Farm, error) {
	f, err := newFarm(spec, p, opts)
	if err != nil {
		return nil, spec.locate(err)
	}
	return f, nil
}

func newFarm(spec Spec, p provider.Provider, opts *Options) (*Farm, error) {
	if p == nil {
		return nil, errors.New("farm: provider is nil")
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TickInterval <= 0 {
		o.TickInterval = DefaultTickInterval
	}
	if o.MaxConcurrentCalls <= 0 {
		o.MaxConcurrentCalls = 4
	}
	if o.HealthConcurrency <= 0 {
		o.HealthConcurrency = 16
	}
	if o.ZoneCooloff <= 0 {
		o.ZoneCooloff = DefaultZoneCooloff
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = DefaultStepTimeout
	}
	if o.DNSResync == 0 {
		o.DNSResync = DefaultDNSResync
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("farm", spec.Name)
	scripts, err := newScriptEngine(spec, p, &o, log) // see scripts_engine.go
	if err != nil {
		return nil, err
	}
	f := &Farm{
		spec:       spec.Clone(),
		p:          p,
		clk:        clock.Or(o.Clock),
		log:        log,
		opts:       o,
		bus:        newBus(log),
		roles:      map[string]*roleState{},
		records:    map[string]*record{},
		changed:    make(chan struct{}),
		healthWake: make(chan struct{}, 1),
		orphans:    map[string]bool{},
	}
	var errs []error
	for _, r := range spec.Roles {
		rs := r.withDefaults()
		st := &roleState{
			spec: rs, min: rs.Min, max: rs.Max, desired: rs.initialDesired(),
			attempts: map[int]int{}, avoided: map[string]time.Time{},
		}
		for _, c := range rs.HealthChecks {
			hc, err := buildCheck(c, p, &o)
			if err != nil {
				errs = append(errs, fmt.Errorf("role %q: %w", r.Name, err))
				continue
			}
			st.checks = append(st.checks, hc)
		}
		f.roles[r.Name] = st
		f.order = append(f.order, r.Name)
	}
	errs = append(errs, f.initScaling()...)
	errs = append(errs, f.initBackups()...)
	errs = append(errs, f.initCost()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	f.closeCtx, f.closeCancel = context.WithCancel(context.Background())
	f.addBackendsHook() // before the scripts' hook: drain, then stop
	if o.Store != nil {
		f.persist = newPersister(o.Store)
	}
	if scripts != nil {
		scripts.start(f)
	}
	if err := f.initDNS(); err != nil { // see dns_sync.go
		f.closeCancel()
		return nil, err
	}
	for _, h := range o.Hooks {
		f.AddHook(h)
	}
	f.addLoadBalancerHook()
	if f.persist != nil {
		if err := f.restore(); err != nil { // see persist_restore.go
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// Name returns the farm's name.
func (f *Farm) Name() string { return f.spec.Name }

// Spec returns a copy of the farm's spec, with the bounds set at run time
// by [Farm.SetBounds].
func (f *Farm) Spec() Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.spec.Clone()
	for i := range s.Roles {
		rs := f.roles[s.Roles[i].Name]
		s.Roles[i].Min, s.Roles[i].Max = rs.min, rs.max
	}
	return s
}

// Provider returns the provider the farm runs on.
func (f *Farm) Provider() provider.Provider { return f.p }

// As hands out the provider's underlying client; see provider.Provider.As.
func (f *Farm) As(i any) bool { return f.p.As(i) }

// AddHook adds a hook; see [Hook]. Hooks added while servers are being
// initialised see the blocking events of servers that start later.
func (f *Farm) AddHook(h Hook) {
	if h == nil {
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.hooks = append(f.hooks, h)
	f.mu.Unlock()
	ctx := f.closeCtx
	f.bus.subscribe(func(ev Event) {
		if ev.Type.Blocking() {
			return // delivered synchronously by the lifecycle
		}
		err := f.withStepTimeout(ctx, func(ctx context.Context) error { return h.HandleEvent(ctx, ev) })
		if err != nil {
			f.log.Warn("farm: hook failed", "event", string(ev.Type), "role", ev.Role, "err", err)
			var done *reportedError
			if ev.Type != OperationFailed && !errors.As(err, &done) && ctx.Err() == nil {
				f.opFailed(OpHook, ev.Role, ev.Server, err, map[string]string{"event": string(ev.Type)})
			}
		}
	})
}

// Subscribe calls fn for every event the farm fires from now on, in order,
// from a goroutine of its own. The farm never waits for fn: events wait in
// an unbounded queue per subscriber, so a slow fn delays only itself (and
// holds memory; the farm logs a warning as the queue grows past 1000
// events). cancel stops the delivery and drops what is still queued; it
// does not wait for a call of fn in progress, so fn may call it. [Farm.Close]
// delivers what is queued and then ends every subscription.
func (f *Farm) Subscribe(fn func(Event)) (cancel func()) {
	return f.bus.subscribe(fn)
}

// SubscribeFailures is [Farm.Subscribe] for the events that report a
// failure ([EventType.Failure]): a server whose initialisation failed, a
// script that did not exit 0, a health check past its threshold, a
// failed backup, something the farm did in the background (a hook, a DNS
// write, a failover: OperationFailed). A program that only wants to hear when something goes
// wrong subscribes here:
//
//	f.SubscribeFailures(func(ev farm.Event) { log.Println(ev) })
func (f *Farm) SubscribeFailures(fn func(Event)) (cancel func()) {
	return f.bus.subscribe(func(ev Event) {
		if ev.Type.Failure() {
			fn(ev)
		}
	})
}

// FireEvent fires a custom event with parameters, for subscribers and
// hooks (scripts bound to it). name must be one of the spec's declared
// Events; a misspelt one is refused, naming the event it probably means.
func (f *Farm) FireEvent(ctx context.Context, name string, params map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case !varNameRE.MatchString(name):
		return fmt.Errorf("farm: event name %q is not a letter or '_' followed by letters, digits and '_'", name)
	case EventType(name).Builtin():
		return fmt.Errorf("farm: event name %q is a built-in event", name)
	case !slices.Contains(f.spec.Events, name):
		return fmt.Errorf("farm: %s", unknownEventMsg(name, f.spec.Events))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	f.emitLocked(Event{Type: EventType(name), Params: maps.Clone(params), Reason: "custom event"})
	return nil
}

// emitLocked stamps and publishes an event. Called with f.mu held, so that
// events are published in the order of the changes they report.
func (f *Farm) emitLocked(ev Event) Event {
	f.seq++
	ev.Seq = f.seq
	ev.Farm = f.spec.Name
	if ev.Time.IsZero() {
		ev.Time = f.clk.Now()
	}
	f.log.Debug("farm: event", "event", string(ev.Type), "role", ev.Role, "server", serverID(ev.Server), "reason", ev.Reason)
	if ev.Type.Failure() && ev.Type != OperationFailed && f.launched && !f.terminating {
		if len(f.failures) == maxFailures {
			f.failures = slices.Delete(f.failures, 0, 1)
		}
		f.failures = append(f.failures, ev.Clone())
		f.notifyLocked()
	}
	if ev.Type == HostUp && ev.Server != nil && f.scripts != nil && len(f.scripts.matching(ev, false)) > 0 {
		if f.hostUpPending == nil {
			f.hostUpPending = map[string]int{}
		}
		f.hostUpPending[ev.Server.ID]++
	}
	f.bus.publish(ev)
	return ev
}

// maxFailures caps the failures kept for WaitReady.
const maxFailures = 100

// hostUpDone notes that the scripts of a HostUp event have finished.
func (f *Farm) hostUpDone(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hostUpPending[id] <= 1 {
		delete(f.hostUpPending, id)
	} else {
		f.hostUpPending[id]--
	}
	f.notifyLocked()
}

// serverEventLocked builds an event about a server.
func (f *Farm) serverEventLocked(t EventType, r *record, reason string, params map[string]string) Event {
	s := r.srv.Clone()
	return Event{Type: t, Role: s.Role, Server: &s, Reason: reason, Params: params}
}

func serverID(s *Server) string {
	if s == nil {
		return ""
	}
	return s.ID
}

// notifyLocked wakes Wait and WaitReady.
func (f *Farm) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// SetDesired sets a role's desired count. n must lie within the role's
// bounds; the next reconciliation launches or removes servers to match.
// This is what scaling drives.
//
// With Options.Store, the count is saved before SetDesired returns; an
// error then says it is in force but not saved.
func (f *Farm) SetDesired(role string, n int) error {
	if err := f.setDesired(role, n, "set through the API"); err != nil {
		return err
	}
	return f.flushSoon()
}

func (f *Farm) setDesired(role string, n int, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	rs, ok := f.roles[role]
	switch {
	case !ok:
		return fmt.Errorf("farm: no role %q", role)
	case f.terminating:
		return fmt.Errorf("farm: role %q: the farm is terminating", role)
	case n < rs.min:
		return fmt.Errorf("farm: role %q: desired %d < min %d", role, n, rs.min)
	case n > rs.max:
		return fmt.Errorf("farm: role %q: desired %d > max %d", role, n, rs.max)
	}
	if m, why := f.budgetGuardLocked(role, n, rs.min, OriginProgram, true); m != n {
		return fmt.Errorf("farm: role %q: desired %d: %s", role, n, why) // see cost.go
	}
	rs.desiredByUser = true
	f.markLocked(keyRole + role)
	if rs.desired == n {
		return nil
	}
	from := rs.desired
	rs.desired = n
	f.scalingChangedLocked(role, from, OriginProgram, reason, nil)
	f.notifyLocked()
	return nil
}

// SetBounds changes a role's min and max at run time (a schedule window);
// the desired count is moved into the new bounds. With Options.Store, the
// bounds are saved before SetBounds returns.
func (f *Farm) SetBounds(role string, minCount, maxCount int) error {
	if err := f.setBounds(role, minCount, maxCount); err != nil {
		return err
	}
	return f.flushSoon()
}

func (f *Farm) setBounds(role string, minCount, maxCount int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	rs, ok := f.roles[role]
	switch {
	case !ok:
		return fmt.Errorf("farm: no role %q", role)
	case minCount < 0:
		return fmt.Errorf("farm: role %q: min %d < 0", role, minCount)
	case maxCount < 1:
		return fmt.Errorf("farm: role %q: max %d < 1", role, maxCount)
	case minCount > maxCount:
		return fmt.Errorf("farm: role %q: min %d > max %d", role, minCount, maxCount)
	}
	if err := f.setScalingBaseLocked(role, minCount, maxCount); err != nil {
		return err
	}
	rs.min, rs.max = minCount, maxCount
	f.markLocked(keyRole+role, keyScaling+role)
	from := rs.desired
	if d := min(max(rs.desired, minCount), maxCount); d != rs.desired && !f.terminating {
		rs.desired = d
	}
	f.scalingChangedLocked(role, from, OriginProgram, fmt.Sprintf("bounds set to %d..%d", minCount, maxCount), nil)
	f.notifyLocked()
	return nil
}

// SetProtected protects a server from being chosen when its role shrinks
// (it still is replaced when it fails).
func (f *Farm) SetProtected(id string, protected bool) error {
	return f.updateServer(id, func(s *Server) { s.Protected = protected })
}

// SetMaster marks a server as its role's database master, which protects
// it like SetProtected. The database failover calls it.
func (f *Farm) SetMaster(id string, master bool) error {
	err := f.updateServer(id, func(s *Server) {
		s.Master = master
		if master {
			f.saveMasterLocked(s.Role, *s)
		}
	})
	if err != nil || !master {
		return err
	}
	return f.flushSoon()
}

// SetServerVars sets server-level script variables (merged over the
// existing ones; an empty value deletes a variable).
func (f *Farm) SetServerVars(id string, vars map[string]string) error {
	for k := range vars {
		if !varNameRE.MatchString(k) {
			return fmt.Errorf("farm: variable name %q is not a letter or '_' followed by letters, digits and '_'", k)
		}
	}
	return f.updateServer(id, func(s *Server) {
		if s.Vars == nil {
			s.Vars = map[string]string{}
		}
		for k, v := range vars {
			if v == "" {
				delete(s.Vars, k)
			} else {
				s.Vars[k] = v
			}
		}
	})
}

func (f *Farm) updateServer(id string, change func(*Server)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[id]
	if !ok {
		return fmt.Errorf("farm: no server %q: %w", id, provider.NotFound)
	}
	change(&r.srv)
	f.notifyLocked()
	return nil
}

// Server returns a snapshot of one server, and false when the farm does
// not know it.
func (f *Farm) Server(id string) (Server, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[id]
	if !ok {
		return Server{}, false
	}
	return r.srv.Clone(), true
}

// Servers returns snapshots of a role's servers (every role's when role is
// empty), by role and index, terminated ones included while the cloud
// still lists them.
func (f *Farm) Servers(role string) []Server {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Server
	for _, r := range f.records {
		if role == "" || r.srv.Role == role {
			out = append(out, r.srv.Clone())
		}
	}
	sortServers(out)
	return out
}

// Close ends the farm object: it stops background work (hooks in progress
// see their context end), delivers the events still queued to subscribers
// and hooks, and waits for their goroutines. It does not terminate any
// server; call [Farm.Terminate] first for that. Call Close after Run has
// returned. A subscriber that never returns blocks Close.
func (f *Farm) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	f.closeCancel()
	f.bg.Wait()
	if f.scripts != nil {
		_ = f.scripts.pool.Close()
	}
	f.bus.close()
	return nil
}

// Settle waits until the work Reconcile started in the background (the
// HostInit, BeforeHostUp and BeforeHostTerminate hooks, and the choice of
// a database or NFS role's master) has finished, and every event fired so
// far has reached the subscribers and hooks. Tests and
// examples use it to observe a quiet farm.
func (f *Farm) Settle(ctx context.Context) error {
	for {
		for {
			f.mu.Lock()
			n, ch := f.bgCount, f.changed
			f.mu.Unlock()
			if n == 0 {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err := f.bus.flush(ctx); err != nil {
			return err
		}
		// A hook that got an event may have started background work
		// (the failover worker choosing a role's first master): wait
		// for it too.
		f.mu.Lock()
		n := f.bgCount
		f.mu.Unlock()
		if n == 0 {
			return nil
		}
	}
}

// goLocked runs fn in a goroutine the farm owns: Run and Close wait for it,
// Settle too.
func (f *Farm) goLocked(fn func()) {
	f.bgCount++
	f.bg.Add(1)
	go func() {
		defer f.bg.Done()
		defer func() {
			f.mu.Lock()
			f.bgCount--
			f.notifyLocked()
			f.mu.Unlock()
		}()
		fn()
	}()
}

// Wait returns when cond holds for the farm's status, or with ctx's error.
// cond is evaluated at once and after every change.
func (f *Farm) Wait(ctx context.Context, cond func(Status) bool) error {
	for {
		f.mu.Lock()
		st := f.statusLocked()
		ch := f.changed
		f.mu.Unlock()
		if cond(st) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hooksLocked returns the hooks to call for a blocking event.
func (f *Farm) hooksLocked() []Hook { return slices.Clone(f.hooks) }
