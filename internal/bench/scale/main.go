// Command scale measures one controller tick over many farms on the fake
// provider: 10 farms × 100 servers and 100 farms × 100 servers.
//
//	go run ./internal/bench/scale [-ticks 30] [-parallel 0] [-cpuprofile f] [-memprofile f]
//
// One process runs every farm's controller (package farm) over one fake
// cloud (provider/fake) on a fake clock. Each farm has one role of 100
// servers with a scaling policy (a load threshold and a schedule) whose
// metric comes from a scaling.Func, so no SSH is involved. Once every farm
// is up, a tick advances the clock by the evaluation interval and runs, for
// every farm, Reconcile (list the farm's servers at the cloud, fold them
// into the controller's state, plan) and EvaluateScaling (measure and
// decide). The median tick over -ticks ticks, and the heap in use after
// them (runtime.MemStats.HeapInuse after a GC), are printed as
//
//	scale servers=1000 tick_ms=X heap_mb=Y
//	scale servers=10000 tick_ms=X heap_mb=Y
//
// followed by a line comparing the two with the targets: a tick of at most
// 20 ms and a heap of at most 64 MiB at 10,000 servers, and the 10x larger
// set of farms costing at most 12x the time. The exit status is 1 when a
// target is missed.
//
// With -parallel N the farms of a tick are worked by N goroutines, as a
// controller running each farm's loop would; 0 (the default) means one
// goroutine, the figure least disturbed by other work on the machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scaling"
)

const (
	serversPerFarm = 100
	interval       = 10 * time.Second
)

func main() {
	ticks := flag.Int("ticks", 30, "ticks to measure per size (the median is printed)")
	parallel := flag.Int("parallel", 0, "goroutines working the farms of a tick; 0 means one")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the 10,000-server ticks to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile after the 10,000-server ticks to this file")
	flag.Parse()
	if *ticks < 1 {
		fmt.Fprintln(os.Stderr, "scale: -ticks must be at least 1")
		os.Exit(2)
	}
	small, err := measure(10, *ticks, *parallel, "", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	small.print()
	large, err := measure(100, *ticks, *parallel, *cpuProfile, *memProfile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	large.print()
	growth := large.tick.Seconds() / small.tick.Seconds()
	ok := large.tick <= 20*time.Millisecond && large.heapMiB <= 64 && growth <= 12
	verdict := "met"
	if !ok {
		verdict = "MISSED"
	}
	fmt.Printf("# growth=%.1fx (target <= 12x), tick at 10000 <= 20 ms, heap <= 64 MiB: %s; setup %s + %s\n",
		growth, verdict, small.setup.Round(time.Millisecond), large.setup.Round(time.Millisecond))
	if !ok {
		os.Exit(1)
	}
}

type result struct {
	servers int
	tick    time.Duration // median
	heapMiB float64
	setup   time.Duration
}

func (r result) print() {
	fmt.Printf("scale servers=%d tick_ms=%.2f heap_mb=%.1f\n", r.servers, float64(r.tick.Microseconds())/1000, r.heapMiB)
}

// measure builds nFarms farms of serversPerFarm servers, brings them up
// and times ticks.
func measure(nFarms, ticks, parallel int, cpuProfile, memProfile string) (result, error) {
	ctx := context.Background()
	start := time.Now()
	clk := clock.NewFake(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)) // a Monday
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 30 * time.Second})
	defer cloud.Close()

	farms := make([]*farm.Farm, nFarms)
	for i := range farms {
		f, err := farm.New(farmSpec(i), cloud, &farm.Options{
			Clock: clk, TickInterval: interval,
			MetricSources: map[string][]scaling.Source{"app": {loadSource(clk)}},
		})
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		farms[i] = f
		if err := f.Launch(ctx); err != nil {
			return result{}, fmt.Errorf("launch %s: %w", f.Name(), err)
		}
	}
	for round := 0; ; round++ {
		ready := true
		for _, f := range farms {
			if !f.Status().Ready() {
				ready = false
				break
			}
		}
		if ready {
			break
		}
		if round == 20 {
			return result{}, fmt.Errorf("farms not ready after %d rounds:\n%s", round, farms[0].Status())
		}
		clk.Advance(interval)
		for _, f := range farms {
			if err := f.Reconcile(ctx); err != nil {
				return result{}, fmt.Errorf("reconcile %s: %w", f.Name(), err)
			}
		}
		for _, f := range farms {
			if err := f.Settle(ctx); err != nil {
				return result{}, err
			}
		}
	}
	setup := time.Since(start)

	if cpuProfile != "" {
		out, err := os.Create(cpuProfile)
		if err != nil {
			return result{}, err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return result{}, err
		}
		defer pprof.StopCPUProfile()
	}
	durations := make([]time.Duration, 0, ticks)
	for range ticks {
		cloud.ResetCalls() // the fake's call record is the test's, not the controller's
		runtime.GC()
		clk.Advance(interval)
		t0 := time.Now()
		if err := tick(ctx, farms, parallel); err != nil {
			return result{}, err
		}
		durations = append(durations, time.Since(t0))
	}
	for _, f := range farms {
		if !f.Status().Ready() {
			return result{}, fmt.Errorf("farm %s is no longer at its count:\n%s", f.Name(), f.Status())
		}
		if h := f.ScalingHistory("app"); len(h) != 0 {
			return result{}, fmt.Errorf("farm %s scaled during the measurement: %+v", f.Name(), h[0])
		}
	}
	cloud.ResetCalls()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if memProfile != "" {
		out, err := os.Create(memProfile)
		if err != nil {
			return result{}, err
		}
		defer out.Close()
		if err := pprof.WriteHeapProfile(out); err != nil {
			return result{}, err
		}
	}
	slices.Sort(durations)
	return result{
		servers: nFarms * serversPerFarm,
		tick:    durations[len(durations)/2],
		heapMiB: float64(ms.HeapInuse) / (1 << 20),
		setup:   setup,
	}, nil
}

// tick runs one controller tick over every farm.
func tick(ctx context.Context, farms []*farm.Farm, parallel int) error {
	one := func(f *farm.Farm) error {
		if err := f.Reconcile(ctx); err != nil {
			return fmt.Errorf("reconcile %s: %w", f.Name(), err)
		}
		if err := f.EvaluateScaling(ctx); err != nil {
			return fmt.Errorf("evaluate %s: %w", f.Name(), err)
		}
		return nil
	}
	if parallel <= 1 {
		for _, f := range farms {
			if err := one(f); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan *farm.Farm)
	)
	for range parallel {
		wg.Go(func() {
			for f := range next {
				if err := one(f); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, f := range farms {
		next <- f
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// farmSpec is farm i: one role of serversPerFarm servers that scales on
// load between 50 and 150, and a weekday schedule that keeps at least 50.
func farmSpec(i int) farm.Spec {
	up, down := 0.8, 0.2
	return farm.Spec{
		Name: fmt.Sprintf("farm-%03d", i),
		Roles: []farm.RoleSpec{{
			Name: "app", Image: "img-app", Min: 50, Max: 150, Desired: serversPerFarm,
			Scaling: &farm.ScalingSpec{
				EvaluationInterval: interval,
				Thresholds: []farm.ThresholdSpec{{
					Metric: scaling.MetricLoad1, UpAbove: &up, UpBy: "10%", DownBelow: &down, DownBy: "5", Datapoints: 3,
				}},
				Schedule: &farm.ScheduleSpec{TimeZone: "Europe/Berlin", Windows: []farm.WindowSpec{
					{Name: "weekdays", Days: []string{"mon-fri"}, Start: "07:00", End: "20:00", Min: &[]int{50}[0]},
				}},
			},
		}},
	}
}

// loadSource measures a steady load of 0.5 per server, inside the
// threshold's band: the policy holds.
func loadSource(clk clock.Clock) scaling.Source {
	return &scaling.Func{Metric: scaling.MetricLoad1, Clock: clk, Fn: func(_ context.Context, t scaling.Target) (float64, error) {
		if len(t.Servers) == 0 {
			return 0, fmt.Errorf("no server in service")
		}
		return 0.5, nil
	}}
}
