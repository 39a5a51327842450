package farm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
)

// backendLog is a Backends that records each call, and what happened
// around it, as lines.
type backendLog struct {
	mu    sync.Mutex
	lines []string
	fail  error
}

func (b *backendLog) SetBackends(ctx context.Context, lb string, servers []Server) error {
	var ids []string
	for _, s := range servers {
		ids = append(ids, s.ID)
	}
	b.add(fmt.Sprintf("set %s %v", lb, ids))
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fail
}

func (b *backendLog) add(line string) {
	b.mu.Lock()
	b.lines = append(b.lines, line)
	b.mu.Unlock()
}

func (b *backendLog) get() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.lines)
}

func backendsRig(t *testing.T, b *backendLog) *rig {
	t.Helper()
	hook := HookFunc(func(ctx context.Context, ev Event) error {
		if ev.Type == BeforeHostTerminate {
			b.add("BeforeHostTerminate " + ev.Server.ID)
		}
		return nil
	})
	spec := Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "app", Image: "img", Min: 1, Max: 4, Desired: 2, LoadBalancer: "www"},
		{Name: "api", Image: "img", Min: 1, Max: 1, LoadBalancer: "www"},
		{Name: "db", Image: "img", Min: 1, Max: 1},
	}}
	// The fake has no load balancer "www": Options.LoadBalancers is
	// enough.
	return newRig(t, spec, &Options{LoadBalancers: map[string]Backends{"www": b}, Hooks: []Hook{hook}}, fake.Options{})
}

func TestBackendsFollowTheServersInService(t *testing.T) {
	b := &backendLog{}
	r := backendsRig(t, b)
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.settle()
	r.tick(time.Minute)
	r.tick(time.Second)
	all := append(r.running("app"), r.running("api")...)
	if len(all) != 3 {
		t.Fatalf("running %v\n%s", all, serverLines(r.farm.Servers("")))
	}
	lines := b.get()
	if want := fmt.Sprintf("set www %v", all); lines[len(lines)-1] != want {
		t.Fatalf("calls %q, last want %q", lines, want)
	}
	for _, l := range lines {
		if strings.Contains(l, r.running("db")[0]) {
			t.Fatalf("the db server, whose role names no load balancer, was a backend: %q", lines)
		}
	}

	// Scale-in: the leaving server is taken out before its
	// BeforeHostTerminate hooks run.
	// Two servers launched in one batch may tie on age, so the victim is
	// the one that left, whichever the termination policy chose.
	apps := r.running("app")
	if err := r.farm.SetDesired("app", 1); err != nil {
		t.Fatal(err)
	}
	before := len(b.get())
	r.tick(time.Second)
	r.tick(time.Second)
	lines = b.get()[before:]
	kept := r.running("app")
	if len(kept) != 1 || !slices.Contains(apps, kept[0]) {
		t.Fatalf("after scale-in to 1 app servers %v (were %v)", kept, apps)
	}
	victim := apps[0]
	if victim == kept[0] {
		victim = apps[1]
	}
	want := []string{fmt.Sprintf("set www %v", []string{kept[0], r.running("api")[0]}), "BeforeHostTerminate " + victim}
	if len(lines) < 2 || !slices.Equal(lines[:2], want) {
		t.Fatalf("scale-in calls %q, want first %q", lines, want)
	}

	// A crash: the server is dropped when the cloud reports it gone.
	crashed := r.running("api")[0]
	if err := r.cloud.Crash(crashed); err != nil {
		t.Fatal(err)
	}
	before = len(b.get())
	r.tick(time.Second)
	lines = b.get()[before:]
	if len(lines) == 0 || strings.Contains(lines[0], crashed) || slices.Contains(lines, "BeforeHostTerminate "+crashed) {
		t.Fatalf("after the crash of %s: %q", crashed, lines)
	}
	st := r.farm.BackendsStatus()
	if len(st) != 1 || st[0].Name != "www" || !slices.Equal(st[0].Roles, []string{"app", "api"}) || st[0].Err != "" || st[0].Calls < 3 {
		t.Fatalf("status %+v", st)
	}
}

func TestBackendsErrorsAreReported(t *testing.T) {
	b := &backendLog{fail: errors.New("stats socket refused")}
	r := backendsRig(t, b)
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Minute)
	r.tick(time.Second)
	err := r.farm.SyncBackends(r.ctx)
	if err == nil || !strings.Contains(err.Error(), `load balancer "www": stats socket refused`) {
		t.Fatalf("SyncBackends: %v", err)
	}
	st := r.farm.BackendsStatus()
	if len(st) != 1 || st[0].Err != "stats socket refused" || st[0].Failures != st[0].Calls || st[0].Calls == 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestBackendsGetTheServersALaunchAdopts(t *testing.T) {
	b := &backendLog{}
	r := backendsRig(t, b)
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Minute)
	r.tick(time.Second)
	want := fmt.Sprintf("set www %v", append(r.running("app"), r.running("api")...))

	// A second controller takes the farm over: it adopts the servers in
	// service, which fire no HostUp, and gives them to its load balancer.
	b2 := &backendLog{}
	f2, err := New(r.farm.Spec(), r.cloud, &Options{Clock: r.clk, LoadBalancers: map[string]Backends{"www": b2}})
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if err := f2.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	if err := f2.Settle(r.ctx); err != nil {
		t.Fatal(err)
	}
	if got := b2.get(); len(got) != 1 || got[0] != want {
		t.Fatalf("the second controller's load balancer got %q, want [%q]", got, want)
	}
}
