package farm

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"go.uber.org/goleak"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rig is a farm over a fake cloud on a fake clock, driven tick by tick.
type rig struct {
	t     *testing.T
	clk   *clock.Fake
	cloud *fake.Provider
	farm  *Farm
	rec   *recorder
	ctx   context.Context
}

func newRig(t *testing.T, spec Spec, opts *Options, cloudOpts fake.Options) *rig {
	t.Helper()
	return makeRig(t, spec, opts, cloudOpts, clock.NewFake(t0))
}

// newBubbleRig is a rig for a testing/synctest bubble: the farm and the
// cloud run on the real clock, which the bubble makes virtual, so that the
// back-offs of retried calls pass by themselves.
func newBubbleRig(t *testing.T, spec Spec, opts *Options, cloudOpts fake.Options) *rig {
	t.Helper()
	return makeRig(t, spec, opts, cloudOpts, nil)
}

func makeRig(t *testing.T, spec Spec, opts *Options, cloudOpts fake.Options, clk *clock.Fake) *rig {
	t.Helper()
	return makeRigOver(t, spec, opts, cloudOpts, clk, nil)
}

// makeRigOver is makeRig with the farm on wrap(cloud) when wrap is not nil.
func makeRigOver(t *testing.T, spec Spec, opts *Options, cloudOpts fake.Options, clk *clock.Fake, wrap func(*fake.Provider) provider.Provider) *rig {
	t.Helper()
	if clk != nil {
		// Registered first, so it runs last, after the farm and the cloud
		// are closed. (In a synctest bubble, synctest itself reports
		// goroutines left behind.)
		ignore := goleak.IgnoreCurrent()
		t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
		cloudOpts.Clock = clk
	}
	if cloudOpts.BootTime == 0 {
		cloudOpts.BootTime = 30 * time.Second
	}
	cloud := fake.New(cloudOpts)
	t.Cleanup(func() { cloud.Close() })
	var o Options
	if opts != nil {
		o = *opts
	}
	if clk != nil {
		o.Clock = clk
	}
	if o.TickInterval == 0 {
		o.TickInterval = 10 * time.Second
	}
	var p provider.Provider = cloud
	if wrap != nil {
		p = wrap(cloud)
	}
	f, err := New(spec, p, &o)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, clk: clk, cloud: cloud, farm: f, rec: recordEvents(f), ctx: context.Background()}
	t.Cleanup(func() { f.Close() })
	return r
}

// advance moves the rig's time forward.
func (r *rig) advance(d time.Duration) {
	if r.clk != nil {
		r.clk.Advance(d)
	} else {
		time.Sleep(d)
	}
}

// newFarm returns another controller over the rig's cloud and clock.
func (r *rig) newFarm(spec Spec) *Farm {
	r.t.Helper()
	o := &Options{}
	if r.clk != nil {
		o.Clock = r.clk
	}
	f, err := New(spec, r.cloud, o)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { f.Close() })
	return f
}

// tick advances the clock by d, reconciles and waits for the hooks.
func (r *rig) tick(d time.Duration) {
	r.t.Helper()
	r.advance(d)
	if err := r.farm.Reconcile(r.ctx); err != nil {
		r.t.Logf("reconcile: %v", err)
	}
	r.settle()
}

func (r *rig) settle() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.farm.Settle(ctx); err != nil {
		r.t.Fatalf("settle: %v", err)
	}
}

// checkHealth runs the due checks and waits.
func (r *rig) checkHealth() {
	r.t.Helper()
	if err := r.farm.CheckHealth(r.ctx); err != nil {
		r.t.Fatalf("CheckHealth: %v", err)
	}
	r.settle()
}

// running returns the IDs of a role's Running servers.
func (r *rig) running(role string) []string {
	var ids []string
	for _, s := range r.farm.Servers(role) {
		if s.State == StateRunning {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// liveAtCloud returns the servers of a role the cloud does not report gone.
func liveAtCloud(cloud *fake.Provider, role string) []provider.Server {
	var out []provider.Server
	for _, s := range cloud.Servers() {
		if s.Tags[provider.TagRole] == role && !s.State.Gone() {
			out = append(out, s)
		}
	}
	return out
}

// recorder keeps every event a farm fires.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func recordEvents(f *Farm) *recorder {
	rec := &recorder{}
	f.Subscribe(func(ev Event) {
		rec.mu.Lock()
		rec.events = append(rec.events, ev)
		rec.mu.Unlock()
	})
	return rec
}

// of returns the events of one type, as "Type role/id reason" lines.
func (rec *recorder) of(t EventType) []Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []Event
	for _, ev := range rec.events {
		if ev.Type == t {
			out = append(out, ev)
		}
	}
	return out
}

func (rec *recorder) count(t EventType) int { return len(rec.of(t)) }

// types returns the sequence of event types, for order assertions.
func (rec *recorder) types() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, ev := range rec.events {
		out = append(out, string(ev.Type))
	}
	return out
}

// serverLines describes servers for failure messages.
func serverLines(servers []Server) string {
	var lines []string
	for _, s := range servers {
		lines = append(lines, fmt.Sprintf("%s/%d %s %s cloud=%s zone=%s %s", s.Role, s.Index, s.ID, s.State, s.CloudState, s.Zone, s.Reason))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
