package farm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/farmhand/farmhand/provider"
)

// checkLoadBalancer reports a role that names a load balancer on a
// provider without the LoadBalancer capability.
func (f *Farm) checkLoadBalancer(i int, r RoleSpec) []error {
	if r.LoadBalancer == "" || f.opts.LoadBalancers[r.LoadBalancer] != nil {
		return nil
	}
	if _, ok := f.p.(provider.LoadBalancer); !ok {
		return []error{&FieldError{Path: fmt.Sprintf("roles[%d].load_balancer", i), Role: r.Name,
			Msg: fmt.Sprintf("load_balancer %q: provider %q cannot register servers with a load balancer", r.LoadBalancer, f.p.Name())}}
	}
	return nil
}

// checkCloudLoadBalancers asks the provider whether each cloud load
// balancer the spec names exists (one call per name), and refuses the
// roles whose load balancer it does not have. Launch calls it before
// anything starts; names in Options.LoadBalancers are the program's own
// and are not looked up.
func (f *Farm) checkCloudLoadBalancers(ctx context.Context) error {
	lb, ok := f.p.(provider.LoadBalancer)
	if !ok {
		return nil // New refused any cloud load balancer already
	}
	exists := map[string]bool{}
	var errs []error
	for i, r := range f.spec.Roles {
		if r.LoadBalancer == "" || f.opts.LoadBalancers[r.LoadBalancer] != nil {
			continue
		}
		has, asked := exists[r.LoadBalancer]
		if !asked {
			err := f.providerCall(ctx, func(ctx context.Context) error {
				var err error
				has, err = lb.HasLoadBalancer(ctx, r.LoadBalancer)
				return err
			})
			if err != nil {
				return fmt.Errorf("farm: look up load balancer %q: %w", r.LoadBalancer, err)
			}
			exists[r.LoadBalancer] = has
		}
		if !has {
			errs = append(errs, &FieldError{Path: fmt.Sprintf("roles[%d].load_balancer", i), Role: r.Name,
				Msg: fmt.Sprintf("load_balancer %q: provider %q has no load balancer of that name (create it first, or give the farm one of its own in Options.LoadBalancers)", r.LoadBalancer, f.p.Name())})
		}
	}
	return errors.Join(errs...)
}

// addLoadBalancerHook registers the servers of roles with a LoadBalancer
// as they enter service, and deregisters them before they are
// terminated. Called by New, after the hooks of Options, so that their
// BeforeHostTerminate hooks run while the server still takes traffic.
func (f *Farm) addLoadBalancerHook() {
	lb, ok := f.p.(provider.LoadBalancer)
	if !ok {
		return
	}
	names := map[string]string{}
	for _, r := range f.spec.Roles {
		if r.LoadBalancer != "" && f.opts.LoadBalancers[r.LoadBalancer] == nil {
			names[r.Name] = r.LoadBalancer
		}
	}
	if len(names) == 0 {
		return
	}
	f.lb = &lbHook{f: f, lb: lb, names: names, servers: map[string]*lbServer{}}
	f.AddHook(f.lb)
}

// registerAdoptedLocked registers a server adopted in service with its
// role's load balancer, in the background (bounded by
// Options.StepTimeout): it never fired HostUp with this controller, and
// the controller that registered it may have died before, or the load
// balancer may have dropped it meanwhile. Registering twice is no error.
func (f *Farm) registerAdoptedLocked(r *record) {
	if f.lb == nil || f.lb.names[r.srv.Role] == "" || f.closed {
		return
	}
	srv := r.srv.Clone()
	ctx := f.closeCtx
	f.goLocked(func() {
		err := f.withStepTimeout(ctx, func(ctx context.Context) error {
			return f.lb.HandleEvent(ctx, Event{Type: HostUp, Role: srv.Role, Server: &srv, Reason: "adopted in service"})
		})
		if err != nil && ctx.Err() == nil {
			f.log.Warn("farm: cannot register an adopted server with its load balancer", "role", srv.Role, "server", srv.ID, "err", err)
			f.opFailed(OpLoadBalancer, srv.Role, &srv, err, map[string]string{"load_balancer": f.lb.names[srv.Role]})
		}
	})
}

// lbHook keeps a load balancer's members in step with a role's servers.
type lbHook struct {
	f     *Farm
	lb    provider.LoadBalancer
	names map[string]string // role → load balancer

	mu      sync.Mutex
	servers map[string]*lbServer
}

// lbServer is one server's membership. Its mutex orders the calls for the
// server: HostUp arrives asynchronously and may come after the server was
// chosen for termination.
type lbServer struct {
	mu         sync.Mutex
	registered bool
	leaving    bool
}

func (h *lbHook) server(id string) *lbServer {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.servers[id]
	if s == nil {
		s = &lbServer{}
		h.servers[id] = s
	}
	return s
}

// HandleEvent registers on HostUp, deregisters on BeforeHostTerminate (an
// error is logged by the farm and the server is terminated all the same)
// and, for a server that left without it (crashed, stopped), on HostDown.
func (h *lbHook) HandleEvent(ctx context.Context, ev Event) error {
	name := h.names[ev.Role]
	if name == "" || ev.Server == nil {
		return nil
	}
	id := ev.Server.ID
	switch ev.Type {
	case HostUp:
		s := h.server(id)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.leaving || s.registered {
			return nil
		}
		if err := h.call(ctx, func(ctx context.Context) error { return h.lb.Register(ctx, name, id) }); err != nil {
			return &opError{op: OpLoadBalancer, params: map[string]string{"load_balancer": name, "event": string(ev.Type)},
				err: fmt.Errorf("register %s with load balancer %q: %w", id, name, err)}
		}
		s.registered = true
		h.f.log.Info("farm: registered with load balancer", "role", ev.Role, "server", id, "load_balancer", name)
	case BeforeHostTerminate:
		s := h.server(id)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.leaving = true
		if err := h.call(ctx, func(ctx context.Context) error { return h.lb.Deregister(ctx, name, id) }); err != nil {
			return &opError{op: OpLoadBalancer, params: map[string]string{"load_balancer": name, "event": string(ev.Type)},
				err: fmt.Errorf("deregister %s from load balancer %q: %w", id, name, err)}
		}
		s.registered = false
		h.f.log.Info("farm: deregistered from load balancer", "role", ev.Role, "server", id, "load_balancer", name)
	case HostDown:
		h.mu.Lock()
		s := h.servers[id]
		delete(h.servers, id)
		h.mu.Unlock()
		if s == nil {
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.registered {
			return nil
		}
		s.leaving, s.registered = true, false
		err := h.call(ctx, func(ctx context.Context) error { return h.lb.Deregister(ctx, name, id) })
		if err != nil && provider.CodeOf(err) != provider.NotFound {
			return fmt.Errorf("deregister %s (gone) from load balancer %q: %w", id, name, err)
		}
	}
	return nil
}

func (h *lbHook) call(ctx context.Context, op func(ctx context.Context) error) error {
	return h.f.providerCall(ctx, op)
}
