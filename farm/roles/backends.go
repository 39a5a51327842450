package roles

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/farmhand/farmhand/farm"
)

// Farm is what the load balancers' Backends need of a farm: *farm.Farm.
type Farm interface {
	// Exec runs a shell command on a server (the load balancer's) and
	// returns its output.
	Exec(ctx context.Context, serverID, command string) ([]byte, error)
	// Servers returns a role's servers.
	Servers(role string) []farm.Server
	// AddHook adds a lifecycle hook.
	AddHook(h farm.Hook)
}

var _ Farm = (*farm.Farm)(nil)

// lbBase is what the load balancer presets' Backends share: the farm, the
// last servers asked for, and the load balancer servers that take them.
type lbBase struct {
	name, role string
	vars       map[string]string
	kind       string // "HAProxy", "nginx": for errors
	apply      func(ctx context.Context, f Farm, lbID string, servers []farm.Server) error

	// lock serialises SetBackends and the hook, held across the calls to
	// the load balancers; context-aware.
	lock chan struct{}

	mu      sync.Mutex
	f       Farm
	last    []farm.Server
	set     bool            // last holds a SetBackends call's servers
	members map[string]bool // load balancer servers past their BeforeHostUp
}

func newLBBase(kind, name string, role farm.RoleSpec) lbBase {
	return lbBase{kind: kind, name: name, role: role.Name, vars: role.Variables,
		lock: make(chan struct{}, 1), members: map[string]bool{}}
}

// Name is the load balancer's name: the key for farm.Options.LoadBalancers
// and the fronted roles' RoleSpec.LoadBalancer.
func (b *lbBase) Name() string { return b.name }

// Role is the name of the role running the load balancer.
func (b *lbBase) Role() string { return b.role }

// Bind connects the Backends to its farm and adds it as a hook, which
// gives each load balancer server the current backends before it enters
// service. Call it after farm.New, before Launch.
func (b *lbBase) Bind(f Farm) {
	b.mu.Lock()
	b.f = f
	b.mu.Unlock()
	f.AddHook(farm.HookFunc(b.handleEvent))
}

func (b *lbBase) acquire(ctx context.Context) error {
	select {
	case b.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *lbBase) release() { <-b.lock }

// SetBackends makes servers the backends of every load balancer server of
// the role that is in service or about to enter it.
func (b *lbBase) SetBackends(ctx context.Context, lb string, servers []farm.Server) error {
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	b.mu.Lock()
	f := b.f
	b.last, b.set = slices.Clone(servers), true
	members := b.members
	b.mu.Unlock()
	if f == nil {
		return fmt.Errorf("roles: %s %q is not bound to a farm (call Bind after farm.New)", b.kind, b.name)
	}
	var errs []error
	for _, s := range f.Servers(b.role) {
		b.mu.Lock()
		member := members[s.ID]
		b.mu.Unlock()
		if s.State != farm.StateRunning && !(member && s.State == farm.StateInitializing) {
			continue
		}
		if err := b.apply(ctx, f, s.ID, servers); err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", b.kind, s.ID, err))
		}
	}
	return errors.Join(errs...)
}

// handleEvent gives a load balancer server about to enter service the
// current backends (SetBackends may have run while it was initialising),
// and forgets the servers that left.
func (b *lbBase) handleEvent(ctx context.Context, ev farm.Event) error {
	if ev.Role != b.role || ev.Server == nil {
		return nil
	}
	switch ev.Type {
	case farm.HostDown:
		b.mu.Lock()
		delete(b.members, ev.Server.ID)
		b.mu.Unlock()
	case farm.BeforeHostUp:
		if err := b.acquire(ctx); err != nil {
			return err
		}
		defer b.release()
		b.mu.Lock()
		b.members[ev.Server.ID] = true
		f, servers, set := b.f, slices.Clone(b.last), b.set
		b.mu.Unlock()
		if f == nil || !set {
			return nil
		}
		return b.apply(ctx, f, ev.Server.ID, servers)
	}
	return nil
}
