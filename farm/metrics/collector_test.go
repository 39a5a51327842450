package metrics_test

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/metrics"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a farm on the fake cloud with live SSH, a fake clock, and a
// collector registered in its own registry.
type rig struct {
	t     *testing.T
	ctx   context.Context
	clk   *clock.Fake
	cloud *fake.Provider
	f     *farm.Farm
	c     *metrics.Collector
	reg   *prometheus.Registry

	mu     sync.Mutex
	events []farm.Event
}

func newRig(t *testing.T, spec farm.Spec) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 30 * time.Second, SSH: &fake.SSHOptions{Dir: t.TempDir()}})
	t.Cleanup(func() { cloud.Close() })
	lib := scripting.NewLibrary(nil)
	for name, body := range map[string]string{"hello": "echo hello", "broken": "echo no >&2; exit 3", "promote": "true", "backup": "echo backup-1"} {
		if _, err := lib.Save(scripting.Script{Name: name, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := scripting.GenerateKey("metrics-test")
	if err != nil {
		t.Fatal(err)
	}
	c := metrics.New(nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	f, err := farm.New(spec, c.Provider(cloud), &farm.Options{
		Clock: clk,
		DNS:   c.DNS(dnsupdate.NewMemory(nil)),
		Scripting: &farm.ScriptingOptions{Library: lib, Key: key, OnResult: c.ScriptResult,
			SSH: scripting.ExecutorOptions{DialTimeout: 10 * time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r := &rig{t: t, ctx: ctx, clk: clk, cloud: cloud, f: f, c: c, reg: reg}
	stop, err := c.Watch(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if _, err := c.Watch(f); err == nil {
		t.Fatal("a second Watch of the same farm was accepted")
	}
	cancelSub := f.Subscribe(func(ev farm.Event) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
	})
	t.Cleanup(cancelSub)
	return r
}

// tick advances the clock by d, reconciles and waits for the farm's
// background work.
func (r *rig) tick(d time.Duration) {
	r.t.Helper()
	r.clk.Advance(d)
	_ = r.f.Reconcile(r.ctx) // an injected cloud error shows in the metrics
	if err := r.f.Settle(r.ctx); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) until(what string, cond func() bool) {
	r.t.Helper()
	for range 20 {
		if cond() {
			return
		}
		r.tick(10 * time.Second)
	}
	r.t.Fatalf("never %s:\n%s", what, r.f.Status())
}

func (r *rig) of(typ farm.EventType) []farm.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []farm.Event
	for _, ev := range r.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// sample returns the value of the metric name with the labels (a
// histogram's sample count and sum), failing when there is none.
func (r *rig) sample(name string, labels map[string]string) (value, sum float64) {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				if labelOf(m, k) != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), 0
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), 0
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum()
			}
		}
	}
	r.t.Fatalf("no %s%v", name, labels)
	return 0, 0
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestMetricsAfterKnownActions(t *testing.T) {
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "app", Image: "img", Min: 1, Max: 4, Desired: 2,
		DNS: []farm.DNSName{{Name: "int-app.example.test"}},
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostUp, Script: "hello"},
			{Event: farm.HostUp, Script: "broken"},
		},
	}}}
	r := newRig(t, spec)
	if err := r.f.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.until("ready", func() bool { return r.f.Status().Ready() })
	// A refused listing (not retried) fails one tick.
	r.cloud.FailNext(fake.OpList, 1, provider.PermissionDenied)
	r.tick(time.Second)

	// By hand: up to 3, then down to 2.
	if err := r.f.SetDesired("app", 3); err != nil {
		t.Fatal(err)
	}
	r.until("at 3", func() bool { rs, _ := r.f.Status().Role("app"); return rs.Counts[farm.StateRunning] == 3 })
	if err := r.f.SetDesired("app", 2); err != nil {
		t.Fatal(err)
	}
	r.until("at 2", func() bool { return r.f.Status().Ready() })

	// A crash, healed by a replacement.
	var victim string
	for _, s := range r.f.Servers("app") {
		if s.State == farm.StateRunning {
			victim = s.ID
		}
	}
	if err := r.cloud.Crash(victim); err != nil {
		t.Fatal(err)
	}
	ups := len(r.of(farm.HostUp))
	r.until("healed", func() bool { return len(r.of(farm.HostUp)) > ups && r.f.Status().Ready() })

	// Servers by state, as the farm reports them.
	if v, _ := r.sample("farmhand_servers", map[string]string{"farm": "shop", "role": "app", "state": "Running"}); v != 2 {
		t.Errorf("running servers = %v, want 2", v)
	}
	if v, _ := r.sample("farmhand_role_desired_servers", map[string]string{"role": "app"}); v != 2 {
		t.Errorf("desired = %v, want 2", v)
	}
	// Scaling actions by direction and reason.
	for _, c := range []struct {
		dir  string
		want float64
	}{{"up", 1}, {"down", 1}} {
		if v, _ := r.sample("farmhand_scaling_actions_total", map[string]string{"role": "app", "direction": c.dir, "reason": "program"}); v != c.want {
			t.Errorf("scaling %s = %v, want %v", c.dir, v, c.want)
		}
	}
	// Script runs: every HostUp ran hello and broken once each.
	hostUps := float64(len(r.of(farm.HostUp)))
	if v, _ := r.sample("farmhand_script_runs_total", map[string]string{"script": "hello", "status": "ok"}); v != hostUps {
		t.Errorf("hello ok runs = %v, want %v (HostUp events)", v, hostUps)
	}
	if v, _ := r.sample("farmhand_script_failures_total", map[string]string{"script": "broken"}); v != hostUps {
		t.Errorf("broken failures = %v, want %v", v, hostUps)
	}
	// Cloud calls: the refused listing is an error; launches are timed.
	if v, _ := r.sample("farmhand_provider_errors_total", map[string]string{"provider": "fake", "operation": "list", "code": "permission_denied"}); v != 1 {
		t.Errorf("refused listings = %v, want 1", v)
	}
	launches := 0
	for _, c := range r.cloud.Calls() {
		if c.Op == fake.OpLaunch {
			launches++
		}
	}
	if v, _ := r.sample("farmhand_provider_calls_total", map[string]string{"operation": "launch"}); v != float64(launches) {
		t.Errorf("launch calls = %v, the cloud saw %d", v, launches)
	}
	if n, _ := r.sample("farmhand_provider_call_duration_seconds", map[string]string{"operation": "launch"}); n != float64(launches) {
		t.Errorf("launch latency samples = %v, want %d", n, launches)
	}
	// DNS: the app name was set at least once per membership change, all ok.
	if v, _ := r.sample("farmhand_dns_updates_total", map[string]string{"operation": "set", "result": "ok"}); v < 3 {
		t.Errorf("DNS sets = %v, want at least 3", v)
	}
	// The heal: from the crash's HostDown to the replacement's HostUp, on
	// the farm's clock; the scale-in's HostDown is not a heal.
	var down farm.Event
	for _, ev := range r.of(farm.HostDown) {
		if ev.Server.ID == victim {
			down = ev
		}
	}
	upEvs := r.of(farm.HostUp)
	want := upEvs[len(upEvs)-1].Time.Sub(down.Time).Seconds()
	if want <= 0 {
		t.Fatalf("the replacement came up %v s after the crash", want)
	}
	if n, sum := r.sample("farmhand_heal_duration_seconds", map[string]string{"role": "app"}); n != 1 || math.Abs(sum-want) > 1e-9 {
		t.Errorf("heal samples = %v sum %v s, want 1 of %v s", n, sum, want)
	}
	// Three reads of one server: one handshake, two reuses.
	for range 3 {
		if _, err := r.f.ReadFile(r.ctx, upEvs[len(upEvs)-1].Server.ID, "/proc/loadavg"); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]float64{"farmhand_ssh_connections_open": 1, "farmhand_ssh_pool_dials_total": 1, "farmhand_ssh_pool_reuses_total": 2} {
		if v, _ := r.sample(name, map[string]string{"farm": "shop"}); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	// The text format lints clean.
	if problems, err := testutil.CollectAndLint(r.c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestFailoverDurationIsObserved(t *testing.T) {
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "db", Image: "img-db", Min: 1, Max: 2, Desired: 2,
		Database: &farm.DatabaseSpec{PromoteScript: "promote"},
		DNS:      []farm.DNSName{{Name: "db.example.test", Select: farm.DNSSelectMaster, TTL: 30 * time.Second}},
	}}}
	r := newRig(t, spec)
	if err := r.f.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	var old farm.Server
	r.until("ready with a master", func() bool {
		for _, s := range r.f.Servers("db") {
			if s.Master {
				old = s
			}
		}
		return r.f.Status().Ready() && old.ID != ""
	})
	if err := r.cloud.Crash(old.ID); err != nil {
		t.Fatal(err)
	}
	r.until("failed over", func() bool { return len(r.f.Failovers()) == 1 })
	fo := r.f.Failovers()[0]
	if n, sum := r.sample("farmhand_failover_duration_seconds", map[string]string{"farm": "shop", "role": "db"}); n != 1 || sum != fo.Announced.Sub(fo.Detected).Seconds() {
		t.Errorf("failover samples = %v sum %v, want 1 of %v", n, sum, fo.Announced.Sub(fo.Detected))
	}
	// The master name moved with a compare-and-swap, counted as set_if.
	if v, _ := r.sample("farmhand_dns_updates_total", map[string]string{"operation": "set_if", "result": "ok"}); v < 1 {
		t.Errorf("set_if updates = %v", v)
	}
}

func TestProviderKeepsTheWrappedCapabilities(t *testing.T) {
	c := metrics.New(nil)
	cloud := fake.New(fake.Options{LoadBalancers: []string{"www"}})
	defer cloud.Close()
	p := c.Provider(cloud)
	for name, ok := range map[string]bool{
		"HostKeyReader": is[provider.HostKeyReader](cloud) == is[provider.HostKeyReader](p),
		"ConsoleReader": is[provider.ConsoleReader](cloud) == is[provider.ConsoleReader](p),
		"Snapshotter":   is[provider.Snapshotter](cloud) == is[provider.Snapshotter](p),
		"LoadBalancer":  is[provider.LoadBalancer](cloud) == is[provider.LoadBalancer](p),
		"SSHReacher":    is[provider.SSHReacher](cloud) == is[provider.SSHReacher](p),
		"Retrier":       is[provider.Retrier](cloud) == is[provider.Retrier](p),
	} {
		if !ok {
			t.Errorf("%s: the wrapper differs from the fake", name)
		}
	}
	// A provider with no capability at all stays without.
	bare := c.Provider(bareProvider{cloud})
	for _, got := range []bool{is[provider.HostKeyReader](bare), is[provider.LoadBalancer](bare), is[provider.Snapshotter](bare)} {
		if got {
			t.Errorf("the wrapper of a bare provider has a capability: %T", bare)
		}
	}
	if err := p.(provider.LoadBalancer).Register(context.Background(), "www"); err != nil {
		t.Fatal(err)
	}
	expected := `
# HELP farmhand_provider_calls_total Cloud provider calls, by provider and operation.
# TYPE farmhand_provider_calls_total counter
farmhand_provider_calls_total{operation="lb_register",provider="fake"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(expected), "farmhand_provider_calls_total"); err != nil {
		t.Error(err)
	}
}

func is[T any](p provider.Provider) bool { _, ok := p.(T); return ok }

// bareProvider hides every optional capability of the one it holds.
type bareProvider struct{ p provider.Provider }

func (b bareProvider) Name() string                                { return b.p.Name() }
func (b bareProvider) Zones(ctx context.Context) ([]string, error) { return b.p.Zones(ctx) }
func (b bareProvider) Launch(ctx context.Context, s provider.LaunchSpec) ([]provider.Server, error) {
	return b.p.Launch(ctx, s)
}
func (b bareProvider) List(ctx context.Context, o provider.ListOptions) (provider.Page, error) {
	return b.p.List(ctx, o)
}
func (b bareProvider) Get(ctx context.Context, id string) (provider.Server, error) {
	return b.p.Get(ctx, id)
}
func (b bareProvider) Terminate(ctx context.Context, ids ...string) error {
	return b.p.Terminate(ctx, ids...)
}
func (b bareProvider) Reboot(ctx context.Context, id string) error { return b.p.Reboot(ctx, id) }
func (b bareProvider) As(i any) bool                               { return false }

func TestPolicyScalingIsCountedByTheDecidingCheck(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 10 * time.Second})
	defer cloud.Close()
	jobs := 50.0
	var mu sync.Mutex
	queue := &scaling.Func{Metric: "jobs", Clock: clk, Fn: func(context.Context, scaling.Target) (float64, error) {
		mu.Lock()
		defer mu.Unlock()
		return jobs, nil
	}}
	up, down := 10.0, 1.0
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "worker", Image: "img", Min: 1, Max: 6,
		Scaling: &farm.ScalingSpec{EvaluationInterval: time.Minute, Thresholds: []farm.ThresholdSpec{
			{Name: "queue", Metric: "jobs", UpAbove: &up, UpBy: "2", DownBelow: &down, DownBy: "1"}}},
	}}}
	c := metrics.New(nil)
	f, err := farm.New(spec, c.Provider(cloud), &farm.Options{Clock: clk,
		MetricSources: map[string][]scaling.Source{"worker": {queue}}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stop, err := c.Watch(f)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	if err := f.Launch(ctx); err != nil {
		t.Fatal(err)
	}
	evaluate := func() {
		t.Helper()
		clk.Advance(5 * time.Minute) // past the cooldowns
		if err := f.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.EvaluateScaling(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.Settle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	evaluate() // 1 → 3
	mu.Lock()
	jobs = 0
	mu.Unlock()
	evaluate() // 3 → 2
	expected := `
# HELP farmhand_scaling_actions_total Changes of a role's desired count, by direction (up, down, bounds) and reason (the scaling checks that decided, or api or program).
# TYPE farmhand_scaling_actions_total counter
farmhand_scaling_actions_total{direction="down",farm="shop",reason="queue",role="worker"} 1
farmhand_scaling_actions_total{direction="up",farm="shop",reason="queue",role="worker"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(expected), "farmhand_scaling_actions_total"); err != nil {
		t.Error(err)
		for _, h := range f.ScalingHistory("worker") {
			t.Logf("history: %+v", h)
		}
	}
}

func TestBackupAgeAndResults(t *testing.T) {
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "db", Image: "img-db", Min: 1, Max: 1,
		Backup: &farm.BackupSpec{Interval: time.Hour, Keep: 2, Script: "backup", From: farm.BackupFromAny},
	}}}
	r := newRig(t, spec)
	if err := r.f.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.until("ready", func() bool { return r.f.Status().Ready() })
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "farmhand_backup_age_seconds" {
			t.Fatalf("a backup age before any backup: %v", mf)
		}
	}
	b, err := r.f.BackupNow(r.ctx, "db")
	if err != nil || b.ID != "backup-1" {
		t.Fatalf("BackupNow = %+v, %v", b, err)
	}
	r.tick(90 * time.Second)
	if v, _ := r.sample("farmhand_backup_age_seconds", map[string]string{"farm": "shop", "role": "db"}); v != r.f.Status().Time.Sub(b.Finished).Seconds() || v < 90 {
		t.Errorf("backup age = %v s, want %v", v, r.f.Status().Time.Sub(b.Finished).Seconds())
	}
	if v, _ := r.sample("farmhand_backups_total", map[string]string{"role": "db", "result": "complete"}); v != 1 {
		t.Errorf("complete backups = %v, want 1", v)
	}
}
