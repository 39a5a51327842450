// Autoscale shows a role growing under load and shrinking when the load
// falls, on farmhand's fake cloud and a fake clock: no credentials, and a
// quarter of an hour of farm time in well under a second.
//
//	go run ./examples/autoscale
//
// The "app" role runs 2 to 8 servers behind the load balancer "web". Its
// policy adds two servers when the average 1-minute load stays above 2.0
// for two evaluations, and removes one when it stays below 0.5. The program
// puts a total load on the role, shared by its running servers, prints each
// scaling decision with its reason, then drops the load and shows the
// graceful scale-in: the victim runs its BeforeHostTerminate hook, leaves
// the load balancer, and only then is terminated. Last, it mounts the
// scaling HTTP API on a loopback server (the role's policy enables it with
// "api: {}") and sets the desired count with a bearer token, and once
// without (401, nothing changes); the policy applies the count at its next
// evaluation, and a GET reads the role's capacity.
//
// On real servers the load comes from /proc/loadavg over SSH
// (scaling.Proc); here a small metric source reads what the fake cloud
// reports for each server (fake.Provider.SetLoad). A real program calls
// farm.Run instead of stepping the farm by hand as this one does.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scaling"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "autoscale:", err)
		os.Exit(1)
	}
}

// The policy, as it would read in a farm file:
//
//	scaling:
//	  evaluation_interval: 30s
//	  cooldown_up: 1m
//	  cooldown_down: 1m
//	  thresholds:
//	    - {metric: load1, up_above: 2.0, up_by: 2, down_below: 0.5, down_by: 1, datapoints: 2}
//	  api: {}          # the scaling HTTP API may set the count
func appRole() farm.RoleSpec {
	up, down := 2.0, 0.5
	return farm.RoleSpec{
		Name: "app", Image: "img-app", Min: 2, Max: 8,
		LoadBalancer: "web",
		Scaling: &farm.ScalingSpec{
			EvaluationInterval: 30 * time.Second,
			CooldownUp:         time.Minute,
			CooldownDown:       time.Minute,
			Thresholds: []farm.ThresholdSpec{{
				Metric: scaling.MetricLoad1, UpAbove: &up, UpBy: "2", DownBelow: &down, DownBy: "1", Datapoints: 2,
			}},
			API: &farm.APISpec{},
		},
	}
}

// cloudLoad reads the load averages the fake cloud reports for each
// server, as scaling.Proc reads /proc/loadavg on real ones.
type cloudLoad struct {
	cloud *fake.Provider
	clk   clock.Clock
}

func (s cloudLoad) Metrics() []string { return []string{scaling.MetricLoad1} }

func (s cloudLoad) Sample(_ context.Context, t scaling.Target) ([]scaling.Sample, error) {
	out := scaling.Sample{Metric: scaling.MetricLoad1, Time: s.clk.Now(), PerServer: map[string]float64{}, Missing: map[string]error{}}
	for _, srv := range t.Servers {
		l1, _, _, err := s.cloud.Load(srv.ID)
		if err != nil {
			out.Missing[srv.ID] = err
			continue
		}
		out.PerServer[srv.ID] = l1
	}
	return []scaling.Sample{out}, nil
}

// demo is the farm, its cloud and clock, and the lines to print.
type demo struct {
	w     io.Writer
	ctx   context.Context
	clk   *clock.Fake
	start time.Time
	cloud *fake.Provider
	f     *farm.Farm
	total float64 // the load on the role, shared by its running servers

	mu    sync.Mutex
	lines []line
}

// line is something to print, ordered by the event that caused it.
type line struct {
	seq  uint64
	text string
}

func run(w io.Writer) error {
	ctx := context.Background()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 20 * time.Second, LoadBalancers: []string{"web"}})
	defer cloud.Close()
	d := &demo{w: w, ctx: ctx, clk: clk, start: start, cloud: cloud}

	// Hooks run before the farm moves on; this one shows that a server
	// leaving is still in the load balancer while its hook runs.
	drain := farm.HookFunc(func(_ context.Context, ev farm.Event) error {
		if ev.Type == farm.BeforeHostTerminate {
			in := slices.Contains(cloud.Registered("web"), ev.Server.ID)
			d.add(ev.Seq, "BeforeHostTerminate %s: draining (still in load balancer web: %v)", ev.Server.ID, in)
		}
		return nil
	})
	f, err := farm.New(farm.Spec{Name: "shop", Roles: []farm.RoleSpec{appRole()}}, cloud, &farm.Options{
		Clock:         clk,
		TickInterval:  10 * time.Second,
		Hooks:         []farm.Hook{drain},
		MetricSources: map[string][]scaling.Source{"app": {cloudLoad{cloud, clk}}},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	d.f = f
	f.Subscribe(func(ev farm.Event) {
		switch ev.Type {
		case farm.ScalingDecision:
			d.add(ev.Seq, "ScalingDecision %s → %s: %s", ev.Params["from"], ev.Params["to"], ev.Reason)
		case farm.HostUp:
			d.add(ev.Seq, "HostUp %s in %s", ev.Server.ID, ev.Server.Zone)
		case farm.HostDown:
			d.add(ev.Seq, "HostDown %s: %s", ev.Server.ID, ev.Reason)
		}
	})

	fmt.Fprintln(w, "== launch: app runs 2 to 8 servers; +2 when load1 avg > 2.0 twice, -1 when < 0.5 twice")
	if err := f.Launch(ctx); err != nil {
		return err
	}
	if err := d.stepUntil(2*time.Minute, d.ready); err != nil {
		return err
	}
	d.status()

	d.total = 10
	fmt.Fprintf(w, "== load rises: a total load of %.1f on the role\n", d.total)
	if err := d.stepUntil(5*time.Minute, d.settledAt(6)); err != nil {
		return err
	}
	d.status()

	d.total = 1.2
	fmt.Fprintf(w, "== load falls: a total load of %.1f\n", d.total)
	if err := d.stepUntil(10*time.Minute, d.settledAt(2)); err != nil {
		return err
	}
	d.status()

	return d.api()
}

// add queues a line to print.
func (d *demo) add(seq uint64, format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines = append(d.lines, line{seq, fmt.Sprintf(format, args...)})
}

// flush prints the queued lines in the order of their events, then the
// load balancer and termination calls the cloud got, in their order.
func (d *demo) flush() {
	d.mu.Lock()
	lines := d.lines
	d.lines = nil
	d.mu.Unlock()
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].seq < lines[j].seq })
	for _, c := range d.cloud.Calls() {
		switch c.Op {
		case fake.OpDeregister, fake.OpTerminate:
			lines = append(lines, line{text: fmt.Sprintf("cloud: %s %s", c.Op, c.Args)})
		}
	}
	d.cloud.ResetCalls()
	at := d.clk.Now().Sub(d.start)
	for _, l := range lines {
		fmt.Fprintf(d.w, "  +%-6s %s\n", at, l.text)
	}
}

// step moves the farm 10 seconds on: it spreads the load over the running
// servers, reconciles, evaluates the scaling policy and waits for the hooks,
// as farm.Run would.
func (d *demo) step() error {
	d.clk.Advance(10 * time.Second)
	var running []string
	for _, s := range d.f.Servers("app") {
		if s.State == farm.StateRunning {
			running = append(running, s.ID)
		}
	}
	for _, id := range running {
		l := d.total / float64(len(running))
		if err := d.cloud.SetLoad(id, l, l, l); err != nil {
			return err
		}
	}
	if err := d.f.Reconcile(d.ctx); err != nil {
		return err
	}
	if err := d.f.EvaluateScaling(d.ctx); err != nil {
		return err
	}
	if err := d.f.Settle(d.ctx); err != nil {
		return err
	}
	d.flush()
	return nil
}

// stepUntil steps until cond holds, for at most limit of farm time.
func (d *demo) stepUntil(limit time.Duration, cond func() bool) error {
	for end := d.clk.Now().Add(limit); d.clk.Now().Before(end); {
		if err := d.step(); err != nil {
			return err
		}
		if cond() {
			return nil
		}
	}
	return fmt.Errorf("the farm did not settle within %s:\n%s", limit, d.f.Status())
}

func (d *demo) ready() bool { return d.f.Status().Ready() }

// settledAt holds once the role is ready at n servers and a further
// evaluation interval changed nothing.
func (d *demo) settledAt(n int) func() bool {
	var since time.Time
	return func() bool {
		st, _ := d.f.Status().Role("app")
		if !st.Ready() || st.Desired != n {
			since = time.Time{}
			return false
		}
		if since.IsZero() {
			since = d.clk.Now()
		}
		return d.clk.Now().Sub(since) >= time.Minute
	}
}

// status prints the role's servers, the load they carry and the load
// balancer's members.
func (d *demo) status() {
	var ids []string
	for _, s := range d.f.Servers("app") {
		if s.State == farm.StateRunning {
			ids = append(ids, s.ID)
		}
	}
	per := 0.0
	if len(ids) > 0 {
		per = d.total / float64(len(ids))
	}
	fmt.Fprintf(d.w, "app: %d running (load1 %.2f each), load balancer web: %s\n",
		len(ids), per, strings.Join(d.cloud.Registered("web"), " "))
}

// api mounts the scaling API over the farm on a loopback server and calls
// it twice.
func (d *demo) api() error {
	const token = "example-token"
	mux := http.NewServeMux()
	mux.Handle("/scaling/", scaling.NewHandler(d.f.APITarget(), scaling.BearerToken(token), nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	fmt.Fprintln(d.w, "== the scaling API, mounted at /scaling/")
	call := func(auth string) error {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/scaling/roles/app/desired", strings.NewReader(`{"desired": 5}`))
		if err != nil {
			return err
		}
		how := "without a token"
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
			how = "with the token"
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		st, _ := d.f.Status().Role("app")
		fmt.Fprintf(d.w, "POST /scaling/roles/app/desired {\"desired\": 5} %s: %s %s; app desired now %d\n",
			how, resp.Status, strings.TrimSpace(string(body)), st.Desired)
		return nil
	}
	if err := call(""); err != nil {
		return err
	}
	if err := call(token); err != nil {
		return err
	}
	// Run evaluates the role at once after an API call; this program
	// steps the farm itself.
	if err := d.f.EvaluateScaling(d.ctx); err != nil {
		return err
	}
	if err := d.f.Settle(d.ctx); err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/scaling/roles/app", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Fprintf(d.w, "GET /scaling/roles/app after the policy's evaluation: %s %s\n", resp.Status, strings.TrimSpace(string(body)))
	d.flush()
	h := d.f.ScalingHistory("app")
	last := h[len(h)-1]
	fmt.Fprintf(d.w, "scaling history: %d changes; the last by %s: %s\n", len(h), last.Origin, last.Reason)
	return nil
}
