package farm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Backends is a load balancer the program drives itself: HAProxy running
// on a role of the farm (package farm/roles drives it through its runtime
// API), nginx, an appliance. A role names it in RoleSpec.LoadBalancer, as
// it would name a cloud's load balancer (provider.LoadBalancer), and the
// farm keeps its backends equal to the servers in service of every role
// that names it.
//
// The farm calls SetBackends with the servers in service (StateRunning) of
// those roles, by role and index:
//
//   - when one of their servers enters service (HostUp), changes address
//     (IPAddressChanged) or leaves without notice (HostDown);
//   - before a server chosen for termination runs its BeforeHostTerminate
//     scripts and hooks, without that server, so that it is drained while
//     it still serves: the server waits until SetBackends returns (bounded
//     by the role's TerminateTimeout);
//   - on [Farm.SyncBackends].
//
// Calls for one load balancer never overlap. Implementations must make the
// backends exactly servers: add the new ones and put them in service,
// drain the ones no longer listed (no new requests; SetBackends returns
// once their requests in progress have ended, or ctx ends) and remove them.
// A call with the set already in place must change nothing. The error is
// reported in [Farm.BackendsStatus] and by OperationFailed (op
// "load_balancer"), and the next call tries again.
// Package farm/backendstest is the conformance suite implementations run
// against their real load balancer.
type Backends interface {
	SetBackends(ctx context.Context, lb string, servers []Server) error
}

// BackendsState is what the farm last asked of one of Options.LoadBalancers,
// as [Farm.BackendsStatus] reports it.
type BackendsState struct {
	// Name is the load balancer's name (RoleSpec.LoadBalancer) and Roles
	// the roles that name it.
	Name  string
	Roles []string
	// Servers are the IDs of the servers of the last successful call.
	Servers []string
	// UpdatedAt is when that call returned, on the farm's clock.
	UpdatedAt time.Time
	// Calls and Failures count the calls so far and the failed ones.
	Calls, Failures int
	// Err is the last call's error, empty after a success.
	Err string
}

// backendsControl keeps each of Options.LoadBalancers in step with the
// servers of the roles that name it.
type backendsControl struct {
	f     *Farm
	byLB  map[string]*backendsLB
	roles map[string]*backendsLB // role → its load balancer
}

type backendsLB struct {
	name  string
	b     Backends
	roles []string
	lock  chan struct{} // held across SetBackends; context-aware

	mu    sync.Mutex
	state BackendsState
}

// addBackendsHook connects the roles whose LoadBalancer is one of
// Options.LoadBalancers. New calls it before the scripts' hook, so that
// on BeforeHostTerminate the server is drained before its scripts stop
// what it serves.
func (f *Farm) addBackendsHook() {
	if len(f.opts.LoadBalancers) == 0 {
		return
	}
	c := &backendsControl{f: f, byLB: map[string]*backendsLB{}, roles: map[string]*backendsLB{}}
	for _, r := range f.spec.Roles {
		b := f.opts.LoadBalancers[r.LoadBalancer]
		if r.LoadBalancer == "" || b == nil {
			continue
		}
		lb := c.byLB[r.LoadBalancer]
		if lb == nil {
			lb = &backendsLB{name: r.LoadBalancer, b: b, lock: make(chan struct{}, 1)}
			lb.state.Name = r.LoadBalancer
			c.byLB[r.LoadBalancer] = lb
		}
		lb.roles = append(lb.roles, r.Name)
		lb.state.Roles = append(lb.state.Roles, r.Name)
		c.roles[r.Name] = lb
	}
	if len(c.byLB) == 0 {
		return
	}
	f.backends = c
	f.AddHook(c)
}

// HandleEvent updates the load balancer of the event's role.
func (c *backendsControl) HandleEvent(ctx context.Context, ev Event) error {
	lb := c.roles[ev.Role]
	if lb == nil || ev.Server == nil {
		return nil
	}
	switch ev.Type {
	case HostUp, IPAddressChanged:
		return c.sync(ctx, lb, "")
	case HostDown, BeforeHostTerminate:
		return c.sync(ctx, lb, ev.Server.ID)
	}
	return nil
}

// sync calls SetBackends with the servers in service of lb's roles now,
// leaving out the server leaving.
func (c *backendsControl) sync(ctx context.Context, lb *backendsLB, leaving string) error {
	select {
	case lb.lock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("load balancer %q: %w", lb.name, ctx.Err())
	}
	defer func() { <-lb.lock }()
	var servers []Server
	for _, role := range lb.roles {
		for _, s := range c.f.inService(role) {
			if s.ID != leaving {
				servers = append(servers, s)
			}
		}
	}
	err := lb.b.SetBackends(ctx, lb.name, servers)
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.state.Calls++
	if err != nil {
		lb.state.Failures++
		lb.state.Err = err.Error()
		return &opError{op: OpLoadBalancer, params: map[string]string{"load_balancer": lb.name},
			err: fmt.Errorf("load balancer %q: %w", lb.name, err)}
	}
	lb.state.Err = ""
	lb.state.UpdatedAt = c.f.clk.Now()
	lb.state.Servers = lb.state.Servers[:0]
	for _, s := range servers {
		lb.state.Servers = append(lb.state.Servers, s.ID)
	}
	return nil
}

// syncAdoptedBackends gives the load balancers the servers a Launch
// adopted in service (a controller taking over a running farm): they never
// fire HostUp here. It runs in the background, bounded by StepTimeout.
func (f *Farm) syncAdoptedBackends() {
	if f.backends == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	adopted := false
	for _, r := range f.records {
		if r.srv.Adopted && r.srv.State == StateRunning && f.backends.roles[r.srv.Role] != nil {
			adopted = true
		}
	}
	if !adopted || f.closed {
		return
	}
	f.goLocked(func() {
		ctx, cancel := withTimeout(f.closeCtx, f.clk, f.opts.StepTimeout)
		defer cancel()
		if err := f.SyncBackends(ctx); err != nil {
			f.log.Warn("farm: load balancer backends of adopted servers", "err", err)
			if f.closeCtx.Err() == nil {
				f.opFailed(OpLoadBalancer, "", nil, err, nil)
			}
		}
	})
}

// SyncBackends sets the backends of every load balancer of
// Options.LoadBalancers to the servers in service now, and returns their
// errors. The farm does this by itself as servers come and go; a controller
// that takes over a running farm calls it once [Farm.Launch] has adopted
// the servers (Launch does it in the background when it adopted servers in
// service), and a program calls it when a load balancer was restarted
// and lost its state.
func (f *Farm) SyncBackends(ctx context.Context) error {
	if f.backends == nil {
		return nil
	}
	var errs []error
	for _, name := range sortedKeys(f.backends.byLB) {
		if err := f.backends.sync(ctx, f.backends.byLB[name], ""); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// BackendsStatus returns the state of each of Options.LoadBalancers that a
// role names, by name.
func (f *Farm) BackendsStatus() []BackendsState {
	if f.backends == nil {
		return nil
	}
	var out []BackendsState
	for _, lb := range f.backends.byLB {
		lb.mu.Lock()
		st := lb.state
		st.Roles = append([]string(nil), st.Roles...)
		st.Servers = append([]string(nil), st.Servers...)
		lb.mu.Unlock()
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
