// Command scale measures one controller tick over many farms on the fake
// provider: 10 farms × 100 servers and 100 farms × 100 servers.
//
//	go run ./internal/bench/scale [-ticks 60] [-parallel N] [-cpuprofile f] [-memprofile f]
//
// One process runs every farm's controller (package farm) over one fake
// cloud (provider/fake) on a fake clock. Each farm has one role of 100
// servers with a scaling policy (a load threshold and a weekday schedule)
// whose metric comes from a scaling.Func, so no SSH is involved. Once every
// farm is up, a tick advances the clock by the evaluation interval and
// runs, for every farm, Reconcile (list the farm's servers at the cloud,
// fold them into the controller's state, plan) and EvaluateScaling
// (measure and decide). The two sizes tick in turn, so that whatever else
// the machine does slows both alike. The median tick of each, and the heap
// in use of each alone (runtime.MemStats.HeapInuse after a GC), are
// printed as
//
//	scale servers=1000 tick_ms=X heap_mb=Y
//	scale servers=10000 tick_ms=X heap_mb=Y
//
// followed by a line comparing them with the targets: a tick of at most
// 20 ms and a heap of at most 64 MiB at 10,000 servers, and the 10x larger
// set of farms costing at most 12x the time. The exit status is 1 when a
// target is missed.
//
// The farms of a tick are worked by -parallel goroutines (default
// GOMAXPROCS), as in a controller process where each farm's Run loop is a
// goroutine of its own; -parallel 1 gives the one-goroutine figure, the
// cost of a tick in CPU time.
package main

import (
	"context"
	"errors"
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
	"github.com/farmhand/farmhand/internal/netguard"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scaling"
)

const (
	serversPerFarm = 100
	interval       = 10 * time.Second
)

func main() {
	ticks := flag.Int("ticks", 60, "ticks to measure per size (the median is printed)")
	parallel := flag.Int("parallel", runtime.GOMAXPROCS(0), "goroutines working the farms of a tick")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the ticks to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile of the 10,000 servers to this file")
	flag.Parse()
	if *ticks < 1 || *parallel < 1 {
		fmt.Fprintln(os.Stderr, "scale: -ticks and -parallel must be at least 1")
		os.Exit(2)
	}
	guard := netguard.LoopbackOnly()
	err := run(*ticks, *parallel, *cpuProfile, *memProfile)
	if err == nil {
		err = guard.Err()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(ticks, parallel int, cpuProfile, memProfile string) error {
	ctx := context.Background()
	small, err := newWorld(ctx, 10)
	if err != nil {
		return err
	}
	defer small.close()
	smallHeap := heapInUse(small, nil)
	large, err := newWorld(ctx, 100)
	if err != nil {
		return err
	}
	defer large.close()

	if cpuProfile != "" {
		out, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for range ticks {
		for _, w := range []*world{small, large} {
			if err := w.tick(ctx, parallel); err != nil {
				return err
			}
		}
	}
	for _, w := range []*world{small, large} {
		if err := w.check(); err != nil {
			return err
		}
	}
	small.close()
	largeHeap := heapInUse(large, func() error {
		if memProfile == "" {
			return nil
		}
		out, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer out.Close()
		return pprof.WriteHeapProfile(out)
	})

	st, lt := small.median(), large.median()
	fmt.Printf("scale servers=%d tick_ms=%.2f heap_mb=%.1f\n", small.servers(), ms(st), smallHeap)
	fmt.Printf("scale servers=%d tick_ms=%.2f heap_mb=%.1f\n", large.servers(), ms(lt), largeHeap)
	growth := lt.Seconds() / st.Seconds()
	ok := lt <= 20*time.Millisecond && largeHeap <= 64 && growth <= 12
	verdict := "met"
	if !ok {
		verdict = "MISSED"
	}
	fmt.Printf("# growth=%.1fx (target <= 12x), tick at %d <= 20 ms, heap <= 64 MiB: %s; allocated per tick %.1f and %.1f MiB; setup %s + %s; %d ticks each, parallel %d\n",
		growth, large.servers(), verdict, small.allocMiB(), large.allocMiB(),
		small.setup.Round(time.Millisecond), large.setup.Round(time.Millisecond), ticks, parallel)
	if !ok {
		return errMissed
	}
	return nil
}

// errMissed is run's error when the figures miss a target.
var errMissed = errors.New("a target is missed")

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// heapInUse returns the heap in use, in MiB, once garbage is collected,
// while w is alive (and then calls fn).
func heapInUse(w *world, fn func() error) float64 {
	w.cloud.ResetCalls() // the fake's call record is the test's, not the controller's
	runtime.GC()
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	if fn != nil {
		if err := fn(); err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
		}
	}
	runtime.KeepAlive(w)
	return float64(st.HeapInuse) / (1 << 20)
}

// world is a fake cloud with its farms, all up.
type world struct {
	n     int // servers
	clk   *clock.Fake
	cloud *fake.Provider
	farms []*farm.Farm
	setup time.Duration
	ticks []time.Duration
	alloc uint64 // bytes allocated by the ticks
}

func (w *world) servers() int { return w.n }

// newWorld builds nFarms farms of serversPerFarm servers on a cloud of
// their own and brings them up.
func newWorld(ctx context.Context, nFarms int) (*world, error) {
	start := time.Now()
	clk := clock.NewFake(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)) // a Monday
	w := &world{n: nFarms * serversPerFarm, clk: clk, cloud: fake.New(fake.Options{Clock: clk, BootTime: 30 * time.Second})}
	for i := range nFarms {
		f, err := farm.New(farmSpec(i), w.cloud, &farm.Options{
			Clock: clk, TickInterval: interval,
			MetricSources: map[string][]scaling.Source{"app": {loadSource(clk)}},
		})
		if err != nil {
			w.close()
			return nil, err
		}
		w.farms = append(w.farms, f)
		if err := f.Launch(ctx); err != nil {
			w.close()
			return nil, fmt.Errorf("launch %s: %w", f.Name(), err)
		}
	}
	for round := 0; !w.ready(); round++ {
		if round == 20 {
			w.close()
			return nil, fmt.Errorf("farms not ready after %d rounds:\n%s", round, w.farms[0].Status())
		}
		clk.Advance(interval)
		for _, f := range w.farms {
			if err := f.Reconcile(ctx); err != nil {
				w.close()
				return nil, fmt.Errorf("reconcile %s: %w", f.Name(), err)
			}
		}
		for _, f := range w.farms {
			if err := f.Settle(ctx); err != nil {
				w.close()
				return nil, err
			}
		}
	}
	w.setup = time.Since(start)
	return w, nil
}

func (w *world) ready() bool {
	for _, f := range w.farms {
		if !f.Status().Ready() {
			return false
		}
	}
	return true
}

func (w *world) close() {
	for _, f := range w.farms {
		f.Close()
	}
	w.farms = nil
	w.cloud.Close()
}

// tick times one controller tick over every farm.
func (w *world) tick(ctx context.Context, parallel int) error {
	w.cloud.ResetCalls()
	w.clk.Advance(interval)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	one := func(f *farm.Farm) error {
		if err := f.Reconcile(ctx); err != nil {
			return fmt.Errorf("reconcile %s: %w", f.Name(), err)
		}
		if err := f.EvaluateScaling(ctx); err != nil {
			return fmt.Errorf("evaluate %s: %w", f.Name(), err)
		}
		return nil
	}
	var err error
	if parallel == 1 {
		for _, f := range w.farms {
			if err = one(f); err != nil {
				break
			}
		}
	} else {
		err = each(w.farms, parallel, one)
	}
	w.ticks = append(w.ticks, time.Since(t0))
	runtime.ReadMemStats(&m1)
	w.alloc += m1.TotalAlloc - m0.TotalAlloc
	return err
}

// each runs fn for every farm on n goroutines.
func each(farms []*farm.Farm, n int, fn func(*farm.Farm) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan *farm.Farm)
	)
	for range n {
		wg.Go(func() {
			for f := range next {
				if err := fn(f); err != nil {
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
	return errors.Join(errs...)
}

// check makes sure the ticks measured a farm at rest: every farm at its
// count, no scaling action.
func (w *world) check() error {
	for _, f := range w.farms {
		if !f.Status().Ready() {
			return fmt.Errorf("farm %s is no longer at its count:\n%s", f.Name(), f.Status())
		}
		if h := f.ScalingHistory("app"); len(h) != 0 {
			return fmt.Errorf("farm %s scaled during the measurement: %+v", f.Name(), h[0])
		}
		if _, ok := f.LastScalingDecision("app"); !ok {
			return fmt.Errorf("farm %s: the policy was never evaluated", f.Name())
		}
	}
	return nil
}

func (w *world) allocMiB() float64 {
	return float64(w.alloc) / float64(len(w.ticks)) / (1 << 20)
}

func (w *world) median() time.Duration {
	s := slices.Clone(w.ticks)
	slices.Sort(s)
	return s[len(s)/2]
}

// farmSpec is farm i: one role of serversPerFarm servers that scales on
// load between 50 and 150, and a weekday schedule that keeps at least 50.
func farmSpec(i int) farm.Spec {
	up, down, floor := 0.8, 0.2, 50
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
					{Name: "weekdays", Days: []string{"mon-fri"}, Start: "07:00", End: "20:00", Min: &floor},
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
			return 0, errors.New("no server in service")
		}
		return 0.5, nil
	}}
}
