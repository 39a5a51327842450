package farm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

func appSpec(min, max int) Spec {
	return Spec{Name: "web", Roles: []RoleSpec{{Name: "app", Image: "img", Min: min, Max: max}}}
}

// upRig returns a rig whose app role has n Running servers.
func upRig(t *testing.T, spec Spec, opts *Options, cloudOpts fake.Options) *rig {
	t.Helper()
	r := newRig(t, spec, opts, cloudOpts)
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.settle()
	r.tick(30 * time.Second)
	if !r.farm.Status().Ready() {
		t.Fatalf("farm not ready after launch:\n%s", r.farm.Status())
	}
	return r
}

func TestSelfHealingFromCloudReportedFailures(t *testing.T) {
	tests := []struct {
		name       string
		break_     func(cloud *fake.Provider, id string) error
		wantReason string
		// sameIndex: the replacement can take the index at once because the
		// broken server is gone; a stopped one holds its index until it is.
		sameIndex bool
	}{
		{"a crashed server is replaced", (*fake.Provider).Crash, "cloud reports the server terminated", true},
		{"a stopped server is terminated and replaced", (*fake.Provider).Stop, "cloud reports the server stopped", false},
		{"a failed server is terminated and replaced", (*fake.Provider).Fail, "cloud reports the server failed", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := upRig(t, appSpec(2, 3), nil, fake.Options{})
			victim := r.farm.Servers("app")[0]
			if err := tt.break_(r.cloud, victim.ID); err != nil {
				t.Fatal(err)
			}
			r.tick(10 * time.Second)
			down := r.rec.of(HostDown)
			if len(down) != 1 || down[0].Server.ID != victim.ID || down[0].Reason != tt.wantReason {
				t.Fatalf("HostDown events = %+v, want one for %s with reason %q", down, victim.ID, tt.wantReason)
			}
			if n := len(liveAtCloud(r.cloud, "app")); n != 2 {
				t.Fatalf("%d live app servers at the cloud right after the failure, want 2 (the broken one terminated, one new)", n)
			}
			r.tick(30 * time.Second)
			if got := r.running("app"); len(got) != 2 {
				t.Fatalf("running = %v, want 2:\n%s", got, serverLines(r.farm.Servers("app")))
			}
			for _, s := range liveAtCloud(r.cloud, "app") {
				if s.ID == victim.ID {
					t.Fatalf("the broken server %s is still live at the cloud (%s)", s.ID, s.State)
				}
			}
			var replacement Server
			for _, s := range r.farm.Servers("app") {
				if s.State == StateRunning && s.LaunchedAt.After(victim.LaunchedAt) {
					replacement = s
				}
			}
			if replacement.ID == "" {
				t.Fatalf("no replacement:\n%s", serverLines(r.farm.Servers("app")))
			}
			if tt.sameIndex && replacement.Index != victim.Index || !tt.sameIndex && replacement.Index == victim.Index {
				t.Fatalf("replacement index %d, victim's %d, want same=%v:\n%s", replacement.Index, victim.Index, tt.sameIndex, serverLines(r.farm.Servers("app")))
			}
			// A relaunch of an index is its next attempt, with a new token.
			if tt.sameIndex && (replacement.Tags[TagAttempt] != "2" || replacement.Tags[provider.TagToken] == victim.Tags[provider.TagToken]) {
				t.Fatalf("replacement attempt %q token %q, victim token %q", replacement.Tags[TagAttempt],
					replacement.Tags[provider.TagToken], victim.Tags[provider.TagToken])
			}
			if got, _ := r.farm.Server(victim.ID); got.State != StateTerminated {
				t.Fatalf("the broken server is %s in the farm, want Terminated", got.State)
			}
		})
	}
}

func TestLaunchTimeoutTerminatesAndRetries(t *testing.T) {
	spec := appSpec(1, 1)
	spec.Roles[0].LaunchTimeout = 5 * time.Minute
	r := newRig(t, spec, nil, fake.Options{BootTime: time.Hour})
	r.farm.Launch(r.ctx)
	first := r.farm.Servers("app")[0]
	r.tick(4 * time.Minute)
	if got, _ := r.farm.Server(first.ID); got.State != StatePending {
		t.Fatalf("before the timeout the server is %s", got.State)
	}
	r.tick(2 * time.Minute)
	got, _ := r.farm.Server(first.ID)
	if !strings.HasPrefix(got.Reason, "launch timeout") {
		t.Fatalf("server after the timeout: %s %q", got.State, got.Reason)
	}
	live := liveAtCloud(r.cloud, "app")
	if len(live) != 1 || live[0].ID == first.ID {
		t.Fatalf("live after the timeout = %v, want one new server", live)
	}
	// The timed-out server holds index 1 until it is gone: the retry
	// takes index 2, with a token of its own.
	if live[0].Tags[provider.TagToken] == first.Tags[provider.TagToken] || live[0].Tags[provider.TagSlot] != "2" {
		t.Fatalf("the retry has token %s, index %s", live[0].Tags[provider.TagToken], live[0].Tags[provider.TagSlot])
	}
	r.tick(time.Second)
	if s, _ := r.farm.Server(first.ID); s.State != StateTerminated {
		t.Fatalf("the timed-out server is %s", s.State)
	}
}

func TestZonesWithoutCapacityAreAvoided(t *testing.T) {
	spec := appSpec(3, 6)
	r := newRig(t, spec, &Options{ZoneCooloff: 5 * time.Minute}, fake.Options{})
	r.cloud.SetZoneCapacity("fake-1a", 0)
	r.farm.Launch(r.ctx) // one launch per zone; fake-1a refuses
	st, _ := r.farm.Status().Role("app")
	if len(st.AvoidedZones) != 1 || st.AvoidedZones[0] != "fake-1a" {
		t.Fatalf("avoided zones = %v", st.AvoidedZones)
	}
	if !strings.Contains(st.LastError, "insufficient capacity") {
		t.Fatalf("role error = %q", st.LastError)
	}
	r.tick(time.Second) // the missing server goes to another zone
	perZone := map[string]int{}
	for _, s := range liveAtCloud(r.cloud, "app") {
		perZone[s.Zone]++
	}
	if perZone["fake-1a"] != 0 || perZone["fake-1b"]+perZone["fake-1c"] != 3 {
		t.Fatalf("servers per zone = %v", perZone)
	}
	// After the cool-off the zone is used again.
	r.cloud.SetZoneCapacity("fake-1a", -1)
	r.tick(6 * time.Minute)
	if err := r.farm.SetDesired("app", 4); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	if n := len(liveAtCloud(r.cloud, "app")); n != 4 {
		t.Fatalf("%d live servers", n)
	}
	for _, s := range liveAtCloud(r.cloud, "app") {
		perZone[s.Zone]++
	}
	if perZone["fake-1a"] != 1 {
		t.Fatalf("the cooled-off zone got no server: %v", perZone)
	}
}

func TestAShortZoneLaunchesWhatFitsAndSpillsOver(t *testing.T) {
	spec := appSpec(3, 3)
	spec.Roles[0].ZoneStrategy = ZoneOrdered
	spec.Roles[0].Zones = []string{"fake-1a", "fake-1b"}
	r := newRig(t, spec, nil, fake.Options{})
	r.cloud.SetZoneCapacity("fake-1a", 1)
	r.farm.Launch(r.ctx)
	r.tick(time.Second)
	perZone := map[string]int{}
	for _, s := range liveAtCloud(r.cloud, "app") {
		perZone[s.Zone]++
	}
	if perZone["fake-1a"] != 1 || perZone["fake-1b"] != 2 {
		t.Fatalf("servers per zone = %v, want 1 in fake-1a and 2 in fake-1b", perZone)
	}
	indexes := map[int]bool{}
	for _, s := range r.farm.Servers("app") {
		if indexes[s.Index] {
			t.Fatalf("index %d used twice:\n%s", s.Index, serverLines(r.farm.Servers("app")))
		}
		indexes[s.Index] = true
	}
}

func TestAddressChangesAreReported(t *testing.T) {
	r := upRig(t, appSpec(1, 1), nil, fake.Options{})
	s := r.farm.Servers("app")[0]
	priv, pub, err := r.cloud.ChangeIP(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	r.tick(10 * time.Second)
	evs := r.rec.of(IPAddressChanged)
	if len(evs) != 1 {
		t.Fatalf("IPAddressChanged fired %d times", len(evs))
	}
	p := evs[0].Params
	if p["old_internal_ip"] != s.PrivateIP || p["internal_ip"] != priv || p["external_ip"] != pub || evs[0].Server.PrivateIP != priv {
		t.Fatalf("IPAddressChanged params %v, server %+v", p, evs[0].Server)
	}
}

func TestInitHooksGateServiceAndTheirFailureReplacesTheServer(t *testing.T) {
	failFirst := true
	var calls []string
	hook := HookFunc(func(_ context.Context, ev Event) error {
		if !ev.Type.Blocking() {
			return nil
		}
		calls = append(calls, string(ev.Type)+" "+ev.Server.ID)
		if ev.Type == BeforeHostUp && failFirst {
			failFirst = false
			return errors.New("apache did not start")
		}
		return nil
	})
	r := newRig(t, appSpec(1, 1), &Options{Hooks: []Hook{hook}}, fake.Options{})
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	first := r.farm.Servers("app")[0]
	if first.State != StateFailed || first.Reason != "initialisation failed: BeforeHostUp hook: apache did not start" {
		t.Fatalf("first server: %s %q", first.State, first.Reason)
	}
	if evs := r.rec.of(HostInitFailed); len(evs) != 1 || evs[0].Reason != "BeforeHostUp hook: apache did not start" {
		t.Fatalf("HostInitFailed = %+v", evs)
	}
	if r.rec.count(HostUp) != 0 {
		t.Fatal("HostUp fired for a server whose init failed")
	}
	r.tick(10 * time.Second) // terminate it, launch a replacement
	r.tick(30 * time.Second)
	if got := r.running("app"); len(got) != 1 || got[0] == first.ID {
		t.Fatalf("running = %v", got)
	}
	want := []string{"HostInit " + first.ID, "BeforeHostUp " + first.ID}
	if len(calls) != 4 || calls[0] != want[0] || calls[1] != want[1] {
		t.Fatalf("hook calls = %v", calls)
	}
}

func TestInitTimeoutFailsTheServer(t *testing.T) {
	spec := appSpec(1, 1)
	spec.Roles[0].InitTimeout = time.Minute
	spec.Roles[0].OnInitFailure = InitFailureKeep
	hook := HookFunc(func(ctx context.Context, ev Event) error {
		if ev.Type == HostInit {
			<-ctx.Done() // a script that never ends
			return ctx.Err()
		}
		return nil
	})
	r := newRig(t, spec, &Options{Hooks: []Hook{hook}}, fake.Options{})
	r.farm.Launch(r.ctx)
	r.clk.Advance(30 * time.Second)
	if err := r.farm.Reconcile(r.ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.farm.Servers("app")[0]; s.State != StateInitializing {
		t.Fatalf("server is %s while its hook runs", s.State)
	}
	r.clk.BlockUntil(1)
	r.clk.Advance(time.Minute)
	r.settle()
	s := r.farm.Servers("app")[0]
	if s.State != StateFailed || !strings.HasPrefix(s.Reason, "initialisation failed: init timeout after 1m0s") {
		t.Fatalf("server: %s %q", s.State, s.Reason)
	}
	r.tick(time.Second)
	// Kept for inspection: still live at the cloud, and a replacement runs.
	if n := len(liveAtCloud(r.cloud, "app")); n != 2 {
		t.Fatalf("%d live servers, want the kept one and its replacement", n)
	}
}
