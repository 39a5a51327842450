// Replay tries a scaling policy on a recorded day of load before it is
// trusted with money: it runs the real farm controller (package farm) over
// farmhand's fake cloud on a fake clock, feeding it a load trace, and
// prints the capacity it would have run, the scaling actions and the
// server-hours they cost. A day takes about a second.
//
//	go run ./examples/replay [-trace load.csv] [policy flags]
//
// The trace is a CSV file of "time,load" lines (see scaling.ReadTrace):
// the role's total load, such as the sum of its servers' 1-minute load
// averages, at RFC 3339 times or second offsets. Without -trace the sample
// day next to this program is used (a quiet night, a morning ramp, a lunch
// bump, an evening drop). A line with an empty load ("3600,") is a gap in
// the recording: until the next datapoint the role's metric source fails,
// as a real one would while the servers cannot be measured, so the policy
// does not scale in during it (scale-out still needs data too).
//
// At each tick the trace's load is shared evenly by the role's running
// servers (fake.Provider.SetLoad); the farm reconciles (launching servers,
// which boot for -boot, and terminating the ones a scale-in chose) and
// evaluates the policy, as farm.Run would. The policy is a threshold on
// the average load1 per server, set by the flags. The same policy is also
// replayed by scaling.Simulate, the pure model without a cloud, for
// comparison.
//
// Server-hours count every server the cloud had launched and not yet
// terminated, booting ones included: what a cloud bills.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scaling"
)

//go:embed sample-trace.csv
var sampleTrace []byte

// config is what the flags set.
type config struct {
	trace                    string // path; empty means the sample
	min, max                 int
	up, down                 float64
	upBy, downBy             string
	datapoints               int
	interval                 time.Duration
	cooldownUp, cooldownDown time.Duration
	warmUp, boot, tick       time.Duration
	hourly                   bool
	price                    float64
}

// defaults is the policy of the flags' defaults: the one package
// scaling's Simulate example replays.
func defaults() config {
	return config{
		min: 2, max: 12, up: 2.0, upBy: "50%", down: 0.8, downBy: "1", datapoints: 2,
		interval: time.Minute, cooldownUp: 3 * time.Minute, cooldownDown: 10 * time.Minute,
		warmUp: 3 * time.Minute, boot: 2 * time.Minute, tick: 30 * time.Second, hourly: true, price: 0.10,
	}
}

func main() {
	c := defaults()
	flag.StringVar(&c.trace, "trace", c.trace, "CSV load trace (time,load); empty means the sample day")
	flag.IntVar(&c.min, "min", c.min, "the role's minimum number of servers")
	flag.IntVar(&c.max, "max", c.max, "the role's maximum number of servers")
	flag.Float64Var(&c.up, "up", c.up, "scale out while the average load1 per server is above this")
	flag.StringVar(&c.upBy, "up-by", c.upBy, "servers to add: a count, or a percentage of the role")
	flag.Float64Var(&c.down, "down", c.down, "scale in while the average load1 per server is below this")
	flag.StringVar(&c.downBy, "down-by", c.downBy, "servers to remove: a count, or a percentage of the role")
	flag.IntVar(&c.datapoints, "datapoints", c.datapoints, "consecutive evaluations a threshold must be crossed")
	flag.DurationVar(&c.interval, "interval", c.interval, "evaluation interval")
	flag.DurationVar(&c.cooldownUp, "cooldown-up", c.cooldownUp, "no scale-out this long after a scale-out")
	flag.DurationVar(&c.cooldownDown, "cooldown-down", c.cooldownDown, "no scale-in this long after any action")
	flag.DurationVar(&c.warmUp, "warm-up", c.warmUp, "a new server is not measured this long after it enters service")
	flag.DurationVar(&c.boot, "boot", c.boot, "how long a launched server takes to boot")
	flag.DurationVar(&c.tick, "tick", c.tick, "time between two reconciliations")
	flag.BoolVar(&c.hourly, "hourly", c.hourly, "print the capacity at every hour")
	flag.Float64Var(&c.price, "price", c.price, "price of one server-hour (the role's price_per_hour), for the cost line")
	flag.Parse()
	if err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

// spec returns the role's scaling section.
func (c config) spec() *farm.ScalingSpec {
	return &farm.ScalingSpec{
		EvaluationInterval: c.interval,
		CooldownUp:         c.cooldownUp,
		CooldownDown:       c.cooldownDown,
		WarmUp:             c.warmUp,
		Thresholds: []farm.ThresholdSpec{{
			Metric:  scaling.MetricLoad1,
			UpAbove: &c.up, UpBy: farm.Step(c.upBy),
			DownBelow: &c.down, DownBy: farm.Step(c.downBy),
			Datapoints: c.datapoints,
		}},
	}
}

// step is the farm at one tick.
type step struct {
	at              time.Time
	load            float64
	gap             bool // no datapoint: the metric failed
	desired         int
	running, billed int
	cost            float64 // the farm's cost so far (farm.Farm.Cost)
}

// action is one scaling decision.
type action struct {
	at       time.Time
	from, to int
	load     float64
	gap      bool
	reason   string
}

// loadText prints a load, or "missing" in a gap of the trace.
func loadText(load float64, gap bool) string {
	if gap {
		return "missing"
	}
	return fmt.Sprintf("%.2f", load)
}

func run(w io.Writer, c config) error {
	if c.tick <= 0 {
		return fmt.Errorf("-tick %s is not positive", c.tick)
	}
	if c.boot < 0 {
		return fmt.Errorf("-boot %s is negative", c.boot)
	}
	data, name := sampleTrace, "the sample day"
	if c.trace != "" {
		var err error
		if data, err = os.ReadFile(c.trace); err != nil {
			return err
		}
		name = c.trace
	}
	trace, err := scaling.ReadTrace(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	role := farm.RoleSpec{Name: "app", Image: "img-app", Min: c.min, Max: c.max, Scaling: c.spec(), PricePerHour: c.price}
	spec := farm.Spec{Name: "replay", Roles: []farm.RoleSpec{role}}
	if err := spec.Validate(); err != nil {
		return err
	}
	policy, err := role.Scaling.Policy(c.min, c.max, "")
	if err != nil {
		return err
	}

	start := trace.Start
	if start.IsZero() {
		start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) // a Monday
	}
	duration := trace.Duration()
	gaps := 0
	for _, p := range trace.Points {
		if p.Missing {
			gaps++
		}
	}
	fmt.Fprintf(w, "replaying %s: %d points over %s", name, len(trace.Points), duration)
	if gaps > 0 {
		fmt.Fprintf(w, ", %d missing (no scale-in while the metric is missing)", gaps)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "policy: app %d..%d servers; load1 avg > %.2f for %d: +%s, < %.2f for %d: -%s; every %s, cooldowns %s up %s down, warm-up %s; boot %s\n",
		c.min, c.max, c.up, max(c.datapoints, 1), c.upBy, c.down, max(c.datapoints, 1), c.downBy,
		c.interval, c.cooldownUp, c.cooldownDown, c.warmUp, c.boot)

	wall := time.Now()
	steps, actions, err := replay(c, spec, trace, start, duration)
	if err != nil {
		return err
	}
	elapsed := time.Since(wall)

	fmt.Fprintln(w, "actions:")
	for _, a := range actions {
		fmt.Fprintf(w, "  %s %2d → %-2d load %6s  %s\n", a.at.Format("2006-01-02 15:04"), a.from, a.to, loadText(a.load, a.gap), a.reason)
	}
	if c.hourly {
		fmt.Fprintln(w, "capacity by hour (desired, running, billed):")
		last := time.Time{}
		for _, s := range steps {
			if h := s.at.Truncate(time.Hour); !h.Equal(last) {
				last = h
				fmt.Fprintf(w, "  %s %3d %3d %3d %-14s load %6s\n", s.at.Format("15:04"), s.desired, s.running, s.billed,
					strings.Repeat("█", min(s.billed, 14)), loadText(s.load, s.gap))
			}
		}
	}
	ups, downs, peak, low := 0, 0, steps[0].billed, steps[0].billed
	for _, a := range actions {
		if a.to > a.from {
			ups++
		} else {
			downs++
		}
	}
	hours := 0.0
	for i, s := range steps {
		end := start.Add(duration)
		if i+1 < len(steps) {
			end = steps[i+1].at
		}
		hours += float64(s.billed) * end.Sub(s.at).Hours()
		peak, low = max(peak, s.billed), min(low, s.billed)
	}
	fmt.Fprintf(w, "farm on the fake cloud: actions=%d up=%d down=%d server-hours=%.1f peak=%d low=%d\n",
		len(actions), ups, downs, hours, peak, low)
	if len(steps) > 0 {
		// The farm's own accounting, from its servers' lifetimes: from the
		// first tick of the trace to the last.
		fmt.Fprintf(w, "cost at %.2f per server-hour (farm.Cost): %.2f over the trace, %.2f/h at the end\n",
			c.price, steps[len(steps)-1].cost-steps[0].cost, float64(steps[len(steps)-1].billed)*c.price)
	}
	sim, err := scaling.Simulate(policy, trace, &scaling.SimOptions{BootDelay: c.boot, Start: start})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "pure model (scaling.Simulate): actions=%d up=%d down=%d server-hours=%.1f peak=%d low=%d\n",
		sim.Actions(), sim.Ups, sim.Downs, sim.ServerHours, sim.Peak, sim.Low)
	fmt.Fprintf(w, "replayed %s in %s of wall time (%.0fx real time), %d ticks\n",
		duration, elapsed.Round(time.Millisecond), duration.Seconds()/elapsed.Seconds(), len(steps))
	return nil
}

// replay runs the farm over the trace and returns every tick and action.
func replay(c config, spec farm.Spec, trace *scaling.Trace, start time.Time, duration time.Duration) ([]step, []action, error) {
	ctx := context.Background()
	// The role comes up at its minimum before the trace starts.
	clk := clock.NewFake(start.Add(-time.Hour))
	boot := c.boot
	if boot == 0 {
		boot = -1 // the fake's "running at once"
	}
	cloud := fake.New(fake.Options{Clock: clk, BootTime: boot})
	defer cloud.Close()
	source := &cloudLoad{cloud: cloud, clk: clk}
	f, err := farm.New(spec, cloud, &farm.Options{
		Clock: clk, TickInterval: c.tick,
		MetricSources: map[string][]scaling.Source{"app": {source}},
	})
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()

	var (
		mu      sync.Mutex
		actions []action
		load    float64
		gap     bool
	)
	f.Subscribe(func(ev farm.Event) {
		if ev.Type != farm.ScalingDecision {
			return
		}
		var from, to int
		fmt.Sscan(ev.Params["from"], &from)
		fmt.Sscan(ev.Params["to"], &to)
		mu.Lock()
		actions = append(actions, action{at: ev.Time, from: from, to: to, load: load, gap: gap, reason: ev.Reason})
		mu.Unlock()
	})
	if err := f.Launch(ctx); err != nil {
		return nil, nil, err
	}
	for i := 0; !f.Status().Ready(); i++ {
		if i == 100 {
			return nil, nil, fmt.Errorf("the farm did not come up:\n%s", f.Status())
		}
		clk.Advance(c.tick)
		if err := tickOnce(ctx, f, false); err != nil {
			return nil, nil, err
		}
	}
	if !clk.Now().Before(start) {
		return nil, nil, fmt.Errorf("the farm took over an hour to come up")
	}

	var steps []step
	for now := start; now.Before(start.Add(duration)); now = now.Add(c.tick) {
		clk.Set(now)
		point := trace.PointAt(now.Sub(start))
		mu.Lock()
		load, gap = point.Load, point.Missing
		mu.Unlock()
		source.gap.Store(point.Missing)
		running := runningServers(f)
		for _, id := range running {
			l := load / float64(len(running))
			if err := cloud.SetLoad(id, l, l, l); err != nil {
				return nil, nil, err
			}
		}
		if err := tickOnce(ctx, f, true); err != nil {
			return nil, nil, err
		}
		st, _ := f.Status().Role("app")
		steps = append(steps, step{at: now, load: point.Load, gap: point.Missing, desired: st.Desired, running: len(runningServers(f)), billed: billed(cloud), cost: f.Cost().SoFar})
	}
	mu.Lock()
	defer mu.Unlock()
	return steps, actions, nil
}

// tickOnce does what farm.Run does in one tick: reconcile, and evaluate
// the policy when it is due; then it waits for the hooks and events.
func tickOnce(ctx context.Context, f *farm.Farm, evaluate bool) error {
	if err := f.Reconcile(ctx); err != nil {
		return err
	}
	if evaluate {
		if err := f.EvaluateScaling(ctx); err != nil {
			return err
		}
	}
	return f.Settle(ctx)
}

func runningServers(f *farm.Farm) []string {
	var ids []string
	for _, s := range f.Servers("app") {
		if s.State == farm.StateRunning {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// billed counts the servers the cloud has launched and not terminated.
func billed(cloud *fake.Provider) int {
	n := 0
	for _, s := range cloud.Servers() {
		if !s.State.Gone() && s.State != provider.StateStopped {
			n++
		}
	}
	return n
}

// cloudLoad reads the load averages the fake cloud reports for each
// server, as scaling.Proc reads /proc/loadavg on real ones. In a gap of
// the trace the measurement fails, as it does when servers cannot be
// reached.
type cloudLoad struct {
	cloud *fake.Provider
	clk   clock.Clock
	gap   atomic.Bool
}

// errNoDatapoint is the metric's failure during a gap of the trace.
var errNoDatapoint = errors.New("the trace has no datapoint")

func (s *cloudLoad) Metrics() []string { return []string{scaling.MetricLoad1} }

func (s *cloudLoad) Sample(_ context.Context, t scaling.Target) ([]scaling.Sample, error) {
	if s.gap.Load() {
		return []scaling.Sample{{Metric: scaling.MetricLoad1, Time: s.clk.Now(), Err: errNoDatapoint}}, nil
	}
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
