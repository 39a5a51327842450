package farm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

func twoRoleSpec() Spec {
	return Spec{
		Name: "shop",
		Roles: []RoleSpec{
			{Name: "db", Image: "img-db", Min: 1, Max: 1},
			{Name: "app", Image: "img-app", Min: 2, Max: 5, DependsOn: []string{"db"}},
		},
	}
}

func TestLaunchBringsRolesUpInDependencyOrder(t *testing.T) {
	r := newRig(t, twoRoleSpec(), nil, fake.Options{})
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if n := len(liveAtCloud(r.cloud, "app")); n != 0 {
		t.Fatalf("app launched %d servers before db was up", n)
	}
	if n := len(liveAtCloud(r.cloud, "db")); n != 1 {
		t.Fatalf("db has %d servers at the cloud, want 1", n)
	}
	st, _ := r.farm.Status().Role("app")
	if st.Note != `waiting for role "db" to be up` {
		t.Fatalf("app note = %q", st.Note)
	}

	r.tick(30 * time.Second) // db boots: Initializing, then Running
	if got := r.running("db"); len(got) != 1 {
		t.Fatalf("db running = %v\n%s", got, serverLines(r.farm.Servers("")))
	}
	r.tick(10 * time.Second) // app launches
	if n := len(liveAtCloud(r.cloud, "app")); n != 2 {
		t.Fatalf("app has %d servers at the cloud, want 2", n)
	}
	r.tick(30 * time.Second)
	if !r.farm.Status().Ready() {
		t.Fatalf("farm not ready:\n%s", r.farm.Status())
	}
	// Two app servers in two different zones, indexes 1 and 2.
	app := r.farm.Servers("app")
	if app[0].Zone == app[1].Zone || app[0].Index != 1 || app[1].Index != 2 {
		t.Fatalf("app servers:\n%s", serverLines(app))
	}
	want := []string{"FarmLaunched", "BeforeInstanceLaunch", "HostInit", "BeforeHostUp", "HostUp",
		"BeforeInstanceLaunch", "BeforeInstanceLaunch"}
	if got := r.rec.types(); !slices.Equal(got[:len(want)], want) {
		t.Fatalf("events = %v", got)
	}
	if n := r.rec.count(HostUp); n != 3 {
		t.Fatalf("HostUp fired %d times, want 3", n)
	}
}

func TestLaunchRejectsZonesTheProviderDoesNotHave(t *testing.T) {
	spec := twoRoleSpec()
	spec.Roles[1].Zones = []string{"fake-1a", "mars-1a"}
	r := newRig(t, spec, nil, fake.Options{})
	err := r.farm.Launch(r.ctx)
	if err == nil || err.Error() != `role "app": zone "mars-1a" is not one of the provider's zones [fake-1a fake-1b fake-1c] (or a logical zone: a, b, c, ... or any)` {
		t.Fatalf("Launch error = %v", err)
	}
	if n := len(r.cloud.Servers()); n != 0 {
		t.Fatalf("%d servers launched despite the error", n)
	}
}

func TestNewRefusesAnInvalidSpecBeforeAnyCall(t *testing.T) {
	cloud := fake.New(fake.Options{})
	spec := twoRoleSpec()
	spec.Roles[1].Min = 9
	_, err := New(spec, cloud, nil)
	if err == nil || err.Error() != `role "app": min 9 > max 5` {
		t.Fatalf("New error = %v", err)
	}
	if n := len(cloud.Calls()); n != 0 {
		t.Fatalf("New made %d provider calls", n)
	}
}

func TestSetDesiredScalesWithinBounds(t *testing.T) {
	spec := Spec{Name: "web", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 4}}}
	r := newRig(t, spec, nil, fake.Options{})
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	if err := r.farm.SetDesired("app", 5); err == nil || err.Error() != `farm: role "app": desired 5 > max 4` {
		t.Fatalf("SetDesired above max: %v", err)
	}
	if err := r.farm.SetDesired("app", 0); err == nil || err.Error() != `farm: role "app": desired 0 < min 1` {
		t.Fatalf("SetDesired below min: %v", err)
	}
	if err := r.farm.SetDesired("nope", 1); err == nil {
		t.Fatal("SetDesired of an unknown role succeeded")
	}
	if err := r.farm.SetDesired("app", 4); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.tick(30 * time.Second)
	if got := r.running("app"); len(got) != 4 {
		t.Fatalf("running = %v after scaling to 4", got)
	}
	// Three zones, four servers: 2/1/1.
	perZone := map[string]int{}
	for _, s := range liveAtCloud(r.cloud, "app") {
		perZone[s.Zone]++
	}
	if len(perZone) != 3 {
		t.Fatalf("servers per zone = %v, want all three zones used", perZone)
	}
	// Scale in to 1: the oldest go first, a zone with two loses one first.
	r.farm.SetProtected(r.farm.Servers("app")[0].ID, true)
	if err := r.farm.SetDesired("app", 1); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.tick(time.Second)
	live := liveAtCloud(r.cloud, "app")
	if len(live) != 1 || live[0].ID != r.farm.Servers("app")[0].ID {
		t.Fatalf("after scale-in, live = %v; the protected server must stay", live)
	}
	if n := r.rec.count(BeforeHostTerminate); n != 3 {
		t.Fatalf("BeforeHostTerminate fired %d times, want 3", n)
	}
	if n := r.rec.count(ScalingDecision); n != 2 {
		t.Fatalf("ScalingDecision fired %d times, want 2", n)
	}
}

func TestTerminateRemovesEveryServerAndFiresFarmTerminated(t *testing.T) {
	r := newRig(t, twoRoleSpec(), nil, fake.Options{})
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	r.tick(10 * time.Second)
	r.tick(30 * time.Second)
	r.farm.SetProtected(r.farm.Servers("app")[0].ID, true)

	done := make(chan error)
	go func() { done <- r.farm.Terminate(r.ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			r.settle()
			for _, s := range r.cloud.Servers() {
				if !s.State.Gone() {
					t.Fatalf("server %s is %s after Terminate", s.ID, s.State)
				}
			}
			if n := r.rec.count(FarmTerminated); n != 1 {
				t.Fatalf("FarmTerminated fired %d times", n)
			}
			if n := r.rec.count(HostDown); n != 3 {
				t.Fatalf("HostDown fired %d times, want 3", n)
			}
			if st := r.farm.Status(); !st.Terminating || st.Launched {
				t.Fatalf("status after Terminate: %+v", st)
			}
			return
		case <-time.After(time.Millisecond):
			r.clk.Advance(time.Second)
		}
	}
}

func TestCustomEventsReachSubscribersAndHooks(t *testing.T) {
	var got []Event
	hook := HookFunc(func(_ context.Context, ev Event) error {
		if ev.Type == "DeployRequested" {
			got = append(got, ev)
		}
		return nil
	})
	spec := twoRoleSpec()
	spec.Events = []string{"DeployRequested"}
	r := newRig(t, spec, &Options{Hooks: []Hook{hook}}, fake.Options{})
	if err := r.farm.FireEvent(r.ctx, "DeployRequested", map[string]string{"version": "1.2"}); err != nil {
		t.Fatal(err)
	}
	if err := r.farm.FireEvent(r.ctx, "HostUp", nil); err == nil {
		t.Fatal("FireEvent accepted a built-in event name")
	}
	if err := r.farm.FireEvent(r.ctx, "bad name", nil); err == nil {
		t.Fatal("FireEvent accepted a name with a space")
	}
	if err := r.farm.FireEvent(r.ctx, "DeployRequestd", nil); err == nil || !strings.Contains(err.Error(), `did you mean "DeployRequested"?`) {
		t.Fatalf("FireEvent of an undeclared event: %v", err)
	}
	r.settle()
	if len(got) != 1 || got[0].Params["version"] != "1.2" || got[0].Farm != "shop" {
		t.Fatalf("hook got %+v", got)
	}
	if evs := r.rec.of("DeployRequested"); len(evs) != 1 || evs[0].Seq != 1 {
		t.Fatalf("subscriber got %+v", evs)
	}
}

func TestServerAccessorsAndSetters(t *testing.T) {
	r := newRig(t, twoRoleSpec(), nil, fake.Options{})
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	db := r.farm.Servers("db")[0]
	if err := r.farm.SetMaster(db.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := r.farm.SetServerVars(db.ID, map[string]string{"replica_of": "none"}); err != nil {
		t.Fatal(err)
	}
	got, ok := r.farm.Server(db.ID)
	if !ok || !got.Master || got.Vars["replica_of"] != "none" || got.PrivateIP == "" || got.Index != 1 {
		t.Fatalf("Server(%s) = %+v, %v", db.ID, got, ok)
	}
	if err := r.farm.SetProtected("i-nope", true); !errors.Is(err, provider.NotFound) {
		t.Fatalf("SetProtected of an unknown server: %v", err)
	}
	if r.farm.As(new(int)) {
		t.Fatal("As reported true for the fake")
	}
}

func TestServersOfUnknownRolesAreLeftAloneUntilTerminate(t *testing.T) {
	r := newRig(t, appSpec(1, 1), nil, fake.Options{})
	ghost, err := r.cloud.Launch(r.ctx, provider.LaunchSpec{
		Token: "by-hand", Count: 1, Image: "img",
		Tags: map[string]string{provider.TagFarm: "web", provider.TagRole: "retired"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	st := r.farm.Status()
	if len(st.Orphans) != 1 || st.Orphans[0] != ghost[0].ID {
		t.Fatalf("orphans = %v", st.Orphans)
	}
	if s, _ := r.cloud.Get(r.ctx, ghost[0].ID); s.State.Gone() {
		t.Fatal("the farm terminated a server of a role it does not know")
	}
	done := make(chan error)
	go func() { done <- r.farm.Terminate(r.ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := r.cloud.Get(r.ctx, ghost[0].ID); !s.State.Gone() {
				t.Fatal("Terminate left the orphan running")
			}
			return
		case <-time.After(time.Millisecond):
			r.clk.Advance(time.Second)
		}
	}
}
