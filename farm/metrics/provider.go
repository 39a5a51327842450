package metrics

import (
	"context"
	"time"

	"github.com/farmhand/farmhand/provider"
)

//go:generate go run gen_wrappers.go

// Provider returns p with every cloud call counted and timed by c, by
// operation ("launch", "list", "terminate", ...); an error is counted with
// its provider.Code. The result has exactly p's optional capabilities
// (host keys, console output, snapshots, load balancers, SSH reachability,
// its own retries), so the farm treats it as it would p. Give it to
// farm.New in place of p.
func (c *Collector) Provider(p provider.Provider) provider.Provider {
	return wrap(p, &instrumented{p: p, c: c, name: p.Name()})
}

// instrumented forwards to p, counting and timing each call.
type instrumented struct {
	p    provider.Provider
	c    *Collector
	name string
}

var _ provider.Provider = (*instrumented)(nil)

func (w *instrumented) observe(op string, start time.Time, err error) {
	w.c.providerCall(w.name, op, time.Since(start), err)
}

func (w *instrumented) Name() string  { return w.p.Name() }
func (w *instrumented) As(i any) bool { return w.p.As(i) }

func (w *instrumented) Zones(ctx context.Context) ([]string, error) {
	start := time.Now()
	z, err := w.p.Zones(ctx)
	w.observe("zones", start, err)
	return z, err
}

func (w *instrumented) Launch(ctx context.Context, spec provider.LaunchSpec) ([]provider.Server, error) {
	start := time.Now()
	s, err := w.p.Launch(ctx, spec)
	w.observe("launch", start, err)
	return s, err
}

func (w *instrumented) List(ctx context.Context, opts provider.ListOptions) (provider.Page, error) {
	start := time.Now()
	pg, err := w.p.List(ctx, opts)
	w.observe("list", start, err)
	return pg, err
}

func (w *instrumented) Get(ctx context.Context, id string) (provider.Server, error) {
	start := time.Now()
	s, err := w.p.Get(ctx, id)
	w.observe("get", start, err)
	return s, err
}

func (w *instrumented) Terminate(ctx context.Context, ids ...string) error {
	start := time.Now()
	err := w.p.Terminate(ctx, ids...)
	w.observe("terminate", start, err)
	return err
}

func (w *instrumented) Reboot(ctx context.Context, id string) error {
	start := time.Now()
	err := w.p.Reboot(ctx, id)
	w.observe("reboot", start, err)
	return err
}

// The optional capabilities, called by the generated wrappers.

func (w *instrumented) hostKeys(ctx context.Context, id string) ([]string, error) {
	start := time.Now()
	k, err := w.p.(provider.HostKeyReader).HostKeys(ctx, id)
	w.observe("host_keys", start, err)
	return k, err
}

func (w *instrumented) consoleOutput(ctx context.Context, id string) (string, error) {
	start := time.Now()
	out, err := w.p.(provider.ConsoleReader).ConsoleOutput(ctx, id)
	w.observe("console_output", start, err)
	return out, err
}

func (w *instrumented) volumes(ctx context.Context, id string) ([]provider.Volume, error) {
	start := time.Now()
	v, err := w.p.(provider.Snapshotter).Volumes(ctx, id)
	w.observe("volumes", start, err)
	return v, err
}

func (w *instrumented) createSnapshot(ctx context.Context, volumeID string, tags map[string]string) (provider.Snapshot, error) {
	start := time.Now()
	s, err := w.p.(provider.Snapshotter).CreateSnapshot(ctx, volumeID, tags)
	w.observe("create_snapshot", start, err)
	return s, err
}

func (w *instrumented) listSnapshots(ctx context.Context, tags map[string]string) ([]provider.Snapshot, error) {
	start := time.Now()
	s, err := w.p.(provider.Snapshotter).ListSnapshots(ctx, tags)
	w.observe("list_snapshots", start, err)
	return s, err
}

func (w *instrumented) deleteSnapshot(ctx context.Context, id string) error {
	start := time.Now()
	err := w.p.(provider.Snapshotter).DeleteSnapshot(ctx, id)
	w.observe("delete_snapshot", start, err)
	return err
}

func (w *instrumented) register(ctx context.Context, lb string, ids ...string) error {
	start := time.Now()
	err := w.p.(provider.LoadBalancer).Register(ctx, lb, ids...)
	w.observe("lb_register", start, err)
	return err
}

func (w *instrumented) deregister(ctx context.Context, lb string, ids ...string) error {
	start := time.Now()
	err := w.p.(provider.LoadBalancer).Deregister(ctx, lb, ids...)
	w.observe("lb_deregister", start, err)
	return err
}

func (w *instrumented) hasLoadBalancer(ctx context.Context, lb string) (bool, error) {
	start := time.Now()
	ok, err := w.p.(provider.LoadBalancer).HasLoadBalancer(ctx, lb)
	w.observe("lb_describe", start, err)
	return ok, err
}

// SSH reachability and retry classification are answered locally: not
// cloud calls, not counted.
func (w *instrumented) sshReachable(id string) error {
	return w.p.(provider.SSHReacher).SSHReachable(id)
}
func (w *instrumented) retried(err error) bool { return w.p.(provider.Retrier).Retried(err) }
