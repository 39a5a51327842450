package farm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// TestDrillKillsHalfARoleAndReportsTheHealing runs a drill on the fake
// cloud with live SSH: the victims' replacements run the role's scripts
// over SSH, and the one that fails on new servers is in the report.
func TestDrillKillsHalfARoleAndReportsTheHealing(t *testing.T) {
	noLeaks(t)
	lib := scripting.NewLibrary(nil)
	// The check fails on any server but the first three: on replacements.
	body := "case $FARM_SERVER_ID in i-00000[123]) echo first ;; *) echo new server; exit 3 ;; esac"
	if _, err := lib.Save(scripting.Script{Name: "check", Body: body}); err != nil {
		t.Fatal(err)
	}
	key, err := scripting.GenerateKey("drill-test")
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 4, Desired: 3,
		Scripts: []ScriptBinding{{Event: HostUp, Script: "check"}}}}}
	st := farmStore(t, spec.Name)
	cloud := fake.New(fake.Options{BootTime: 50 * time.Millisecond, SSH: &fake.SSHOptions{Dir: t.TempDir()}})
	f, err := New(spec, cloud, &Options{TickInterval: 100 * time.Millisecond, Store: st,
		Scripting: &ScriptingOptions{Library: lib, Key: key, SSH: scripting.ExecutorOptions{DialTimeout: 10 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	done := make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		<-done
		f.Close()
		cloud.Close()
	})
	go func() { done <- f.Run(ctx) }()
	if err := f.Launch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Settle(ctx); err != nil {
		t.Fatal(err)
	}

	half := DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.5, MaxVictims: 2, Timeout: time.Minute}
	// Safe by design: the dry run, the blast radius, the minimum.
	plan, err := f.PlanDrill(half)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.String(); !strings.Contains(got, "kill 2 server(s) (blast radius 2)") || !strings.Contains(got, "kill app/i-000001") {
		t.Fatalf("plan:\n%s", got)
	}
	if _, err := f.PlanDrill(DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.5}); err == nil || !strings.Contains(err.Error(), "blast radius of 1") {
		t.Fatalf("a drill past the blast radius: %v", err)
	}
	if _, err := f.PlanDrill(DrillSpec{Kind: DrillServers, Role: "app", Fraction: 1, MaxVictims: 3}); err == nil || !strings.Contains(err.Error(), "below its minimum of 1") {
		t.Fatalf("a drill below the minimum: %v", err)
	}
	for _, s := range f.Servers("app") {
		if len(f.Servers("app")) != 3 || s.State != StateRunning {
			t.Fatalf("the dry runs changed the farm:\n%s", serverLines(f.Servers("app")))
		}
	}

	rep, err := f.Drill(ctx, half)
	if err != nil {
		t.Fatalf("Drill: %v\n%s", err, rep)
	}
	t.Logf("report:\n%s", rep)
	if len(rep.Killed) != 2 || rep.Killed[0].Index != 1 || rep.Killed[1].Index != 2 {
		t.Fatalf("killed %v, want the servers of indexes 1 and 2", rep.Killed)
	}
	if len(rep.Replacements) != 2 {
		t.Fatalf("replacements %v, want 2", rep.Replacements)
	}
	if rep.Detect <= 0 || rep.Heal < rep.Detect {
		t.Fatalf("detected in %s, healed in %s", rep.Detect, rep.Heal)
	}
	if len(rep.FailedScripts) != 2 || !strings.Contains(rep.FailedScripts[0], `ScriptFailed script "check" on app/i-00000`) {
		t.Fatalf("failed scripts %q, want the check on both replacements", rep.FailedScripts)
	}
	if r, _ := f.Status().Role("app"); r.Counts[StateRunning] != 3 {
		t.Fatalf("running %d after the drill, want 3", r.Counts[StateRunning])
	}
	// The report is kept in the Store and by the farm.
	kvs, err := st.List(ctx, keyDrill)
	if err != nil || len(kvs) != 1 || !strings.Contains(string(kvs[0].Value), `"i-000001"`) {
		t.Fatalf("stored drill reports %v, %v", kvs, err)
	}
	reps, err := f.Drills(ctx)
	if err != nil || len(reps) != 1 || reps[0].Seq != 1 {
		t.Fatalf("Drills = %+v, %v", reps, err)
	}
	other := fake.New(fake.Options{})
	defer other.Close()
	bare := spec
	bare.Roles = []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 4, Desired: 3}}
	second, err := New(bare, other, &Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	reps, err = second.Drills(ctx)
	if err != nil || len(reps) != 1 || len(reps[0].Killed) != 2 {
		t.Fatalf("a restarted controller's Drills = %+v, %v", reps, err)
	}
}

func TestZoneDrillKillsEveryServerInTheZone(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 6, Desired: 4}}}
	f, _, err := readyFarm(t, spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inZone := map[string]bool{}
	for _, s := range f.Servers("app") {
		if s.Zone == "fake-1a" {
			inZone[s.ID] = true
		}
	}
	if len(inZone) < 2 {
		t.Fatalf("%d servers in fake-1a, want 2 or more:\n%s", len(inZone), serverLines(f.Servers("app")))
	}
	zone := DrillSpec{Kind: DrillZone, Zone: "fake-1a", MaxVictims: len(inZone), Timeout: 45 * time.Second}
	rep, err := f.Drill(ctx, zone)
	if err != nil {
		t.Fatalf("Drill: %v\n%s", err, rep)
	}
	if len(rep.Killed) != len(inZone) {
		t.Fatalf("killed %v, want every server of fake-1a (%v)", rep.Killed, inZone)
	}
	for _, k := range rep.Killed {
		if !inZone[k.ID] {
			t.Fatalf("killed %s, not in fake-1a", k)
		}
	}
	if len(rep.Replacements) != len(inZone) || rep.Detect <= 0 {
		t.Fatalf("report:\n%s", rep)
	}
	// A second drill numbers its report after the first.
	if rep2, err := f.Drill(ctx, DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.25, Timeout: 45 * time.Second}); err != nil || rep2.Seq != 2 {
		t.Fatalf("second drill #%d: %v", rep2.Seq, err)
	}
}
