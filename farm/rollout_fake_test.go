package farm

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/scripting"
	"github.com/farmhand/farmhand/store/boltstore"
)

// rolloutScripts are the scripts of the rollout tests, run over SSH on the
// fake cloud's servers (each in its own directory of one sandbox): HostInit
// fails on servers of an image named "broken-*", and on every server of an
// image named "flaky-*" but the first; a server of an image named "sick-*"
// initialises but never passes its health check.
var rolloutScripts = map[string]string{
	"init": `case "%image_id%" in broken-*) echo "the image %image_id% does not boot the app" >&2; exit 1;; esac
case "%image_id%" in flaky-*) if [ -e ../flaky-booted ]; then echo "the image %image_id% boots once" >&2; exit 1; fi; touch ../flaky-booted;; esac
case "%image_id%" in sick-*) ;; *) echo up > healthy;; esac
echo "%image_id%" > image`,
}

// rolloutSpec is a role of 3 servers with a blocking HostInit script and a
// command check on what it wrote.
func rolloutSpec() Spec {
	return Spec{Name: "shop", Roles: []RoleSpec{{
		Name: "app", Image: "v1", Min: 2, Desired: 3, Max: 4,
		Scripts: []ScriptBinding{{Event: HostInit, Script: "init", Blocking: true}},
		HealthChecks: []HealthCheckSpec{{Kind: "command", Command: "test -f healthy",
			Interval: 10 * time.Second, FailureThreshold: 1, RecoveryThreshold: 1}},
	}}}
}

// newRolloutRig starts the farm of rolloutSpec on the fake cloud with SSH
// and a Store (a bbolt file), and returns it with its options (for a
// second controller).
func newRolloutRig(t *testing.T) (*scriptRig, Options) {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "farmhand.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := db.Farm("shop")
	if err != nil {
		t.Fatal(err)
	}
	var opts Options
	r := newScriptRig(t, rolloutSpec(), rolloutScripts, func(o *Options) {
		o.Store = st
		opts = *o
	})
	opts.Clock = r.clk
	opts.TickInterval = 10 * time.Second
	r.upAll()
	r.healthy()
	return r, opts
}

// healthy runs health checks until every Running server of app passed.
func (r *scriptRig) healthy() {
	r.t.Helper()
	for range 5 {
		r.advance(10 * time.Second)
		r.checkHealth()
	}
}

// inService counts app's servers Running and not unhealthy.
func inServiceCount(f *Farm) int {
	n := 0
	for _, s := range f.Servers("app") {
		if inService(s) {
			n++
		}
	}
	return n
}

// driveRollout ticks and checks health until app's rollout is no longer
// under way, failing the test if fewer than floor servers are ever in
// service.
func driveRollout(t *testing.T, r *scriptRig, floor int, maxTicks int) Rollout {
	t.Helper()
	for i := 0; i < maxTicks; i++ {
		ros := r.farm.Rollouts()
		if len(ros) == 1 && !ros[0].Phase.Active() {
			return ros[0]
		}
		r.tick(10 * time.Second)
		if n := inServiceCount(r.farm); n < floor {
			t.Fatalf("tick %d: %d servers in service, below %d:\n%s", i, n, floor, r.farm.Status())
		}
		r.advance(10 * time.Second)
		r.checkHealth()
		if n := inServiceCount(r.farm); n < floor {
			t.Fatalf("tick %d: %d servers in service, below %d:\n%s", i, n, floor, r.farm.Status())
		}
	}
	t.Fatalf("rollout still under way after %d ticks: %v\n%s", maxTicks, r.farm.Rollouts(), r.farm.Status())
	return Rollout{}
}

func images(f *Farm) string {
	var out []string
	for _, s := range f.Servers("app") {
		if s.State.live() {
			out = append(out, s.Image)
		}
	}
	return strings.Join(out, " ")
}

func applyImage(t *testing.T, f *Farm, image string, opts *ApplyOptions) SpecPlan {
	t.Helper()
	next := rolloutSpec()
	next.Roles[0].Image = image
	o := *opts
	o.NoWait = true
	plan, err := f.Apply(context.Background(), next, &o)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func TestRolloutReplacesEveryServerInBatches(t *testing.T) {
	r, _ := newRolloutRig(t)
	before := r.running("app")
	plan := applyImage(t, r.farm, "v2", &ApplyOptions{BatchSize: 2, MinHealthy: 3})
	if c, _ := plan.Role("app"); c.Replace != 3 {
		t.Fatalf("plan replaces %d servers, want 3:\n%s", c.Replace, plan)
	}
	ro := driveRollout(t, r, 3, 40)
	if ro.Phase != PhaseDone || ro.Replaced != 3 || ro.Batch != 2 {
		t.Fatalf("rollout %s, want done after 2 batches and 3 replaced", ro)
	}
	r.tick(10 * time.Second) // the last old servers leave
	if got := images(r.farm); got != "v2 v2 v2" {
		t.Errorf("images %q, want three v2", got)
	}
	for _, id := range before {
		if s, ok := r.farm.Server(id); ok && s.State.live() {
			t.Errorf("old server %s still %s", id, s.State)
		}
	}
	// Each new server ran the HostInit script of the new image.
	n := 0
	for _, e := range r.entries(scripting.LogQuery{Event: "HostInit"}) {
		if e.ExitCode == 0 && e.Err == "" {
			n++
		}
	}
	if n < 6 {
		t.Errorf("%d HostInit runs, want 6 (3 servers of each image)", n)
	}
	want := []EventType{RolloutStarted, RolloutBatchStarted, RolloutBatchDone, RolloutBatchStarted, RolloutBatchDone, RolloutFinished}
	if got := rolloutTypes(r.rec); !equalTypes(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if err := r.farm.WaitRollouts(context.Background()); err != nil {
		t.Errorf("WaitRollouts: %v", err)
	}
	// The events print as one readable line each.
	done := r.rec.of(RolloutBatchDone)
	if got := done[0].String(); !strings.HasSuffix(got, " RolloutBatchDone app: batch 1: 2 servers of v2 in service") {
		t.Errorf("RolloutBatchDone prints %q", got)
	}
	if got := r.rec.of(RolloutStarted)[0].String(); !strings.HasSuffix(got, " RolloutStarted app: replacing 3 servers of v1 with v2, 2 at a time, keeping 3 in service") {
		t.Errorf("RolloutStarted prints %q", got)
	}
	if sp := r.farm.Spec(); sp.Roles[0].Image != "v2" {
		t.Errorf("the farm's spec has image %q, want v2", sp.Roles[0].Image)
	}
}

func TestRolloutOfAnImageThatFailsHostInitRollsBack(t *testing.T) {
	r, _ := newRolloutRig(t)
	// The first batch succeeds on a good image, then a bad one follows:
	// v2 is rolled out on 1 server, and broken-v3 fails.
	applyImage(t, r.farm, "broken-v3", &ApplyOptions{BatchSize: 1, MinHealthy: 3})
	ro := driveRollout(t, r, 3, 40)
	if ro.Phase != PhaseRolledBack || !strings.Contains(ro.Reason, "failed") {
		t.Fatalf("rollout %s, want rolled back after a failed server", ro)
	}
	r.tick(10 * time.Second)
	if got := images(r.farm); got != "v1 v1 v1" {
		t.Errorf("images %q, want three v1", got)
	}
	if err := r.farm.WaitRollouts(context.Background()); !errors.Is(err, ErrRolloutFailed) || !strings.Contains(err.Error(), `HostInit hook: script "init"`) {
		t.Errorf("WaitRollouts: %v, want ErrRolloutFailed with the script's error", err)
	}
	fails := r.rec.of(RolloutBatchFailed)
	if len(fails) != 1 || !strings.Contains(fails[0].Reason, "HostInit") && !strings.Contains(fails[0].Reason, "does not boot") {
		t.Errorf("RolloutBatchFailed events %v", fails)
	}
	if r.rec.count(RollbackStarted) != 1 || r.rec.count(RollbackFinished) != 1 {
		t.Errorf("events %v, want one RollbackStarted and one RollbackFinished", rolloutTypes(r.rec))
	}
}

func TestRolloutOfAnImageFailingItsHealthCheckRollsBack(t *testing.T) {
	r, _ := newRolloutRig(t)
	applyImage(t, r.farm, "sick-v2", &ApplyOptions{BatchSize: 1, MinHealthy: 3})
	ro := driveRollout(t, r, 3, 60)
	if ro.Phase != PhaseRolledBack || !strings.Contains(ro.Reason, "health checks") {
		t.Fatalf("rollout %s, want rolled back after a failed health check", ro)
	}
	r.tick(10 * time.Second)
	if got := images(r.farm); got != "v1 v1 v1" {
		t.Errorf("images %q, want three v1", got)
	}
}

func TestRolloutFailingInItsSecondBatchReplacesTheFirstBack(t *testing.T) {
	r, _ := newRolloutRig(t)
	applyImage(t, r.farm, "flaky-v2", &ApplyOptions{BatchSize: 1, MinHealthy: 3})
	ro := driveRollout(t, r, 3, 60)
	if ro.Phase != PhaseRolledBack || ro.Replaced != 1 || !strings.Contains(ro.Reason, "batch 2:") {
		t.Fatalf("rollout %s, want rolled back from batch 2, its one done server replaced back", ro)
	}
	r.tick(10 * time.Second)
	if got := images(r.farm); got != "v1 v1 v1" {
		t.Errorf("images %q, want three v1", got)
	}
	want := []EventType{RolloutStarted, RolloutBatchStarted, RolloutBatchDone, RolloutBatchStarted, RolloutBatchFailed,
		RollbackStarted, RolloutBatchStarted, RolloutBatchDone, RollbackFinished}
	if got := rolloutTypes(r.rec); !equalTypes(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestRolloutOfANewInstanceType(t *testing.T) {
	r, _ := newRolloutRig(t)
	next := rolloutSpec()
	next.Roles[0].InstanceType = "m1.large"
	plan, err := r.farm.Apply(context.Background(), next, &ApplyOptions{BatchPercent: 50, NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "instance type: (default) -> m1.large (replace 3 servers in batches)") {
		t.Errorf("plan:\n%s", plan)
	}
	ro := driveRollout(t, r, 3, 40)
	if ro.Phase != PhaseDone || ro.Batch != 2 || ro.BatchSize != 2 {
		t.Fatalf("rollout %s (batch size %d), want done in 2 batches of 2 (50%% of 3, rounded up)", ro, ro.BatchSize)
	}
	r.tick(10 * time.Second)
	for _, s := range r.farm.Servers("app") {
		if s.State.live() && (s.InstanceType != "m1.large" || s.Image != "v1") {
			t.Errorf("server %s runs %s/%s, want v1/m1.large", s.ID, s.Image, s.InstanceType)
		}
	}
}

func TestRolloutPausesWhenAskedTo(t *testing.T) {
	r, _ := newRolloutRig(t)
	applyImage(t, r.farm, "broken-v2", &ApplyOptions{OnFailure: Pause, MinHealthy: 3})
	ro := driveRollout(t, r, 3, 40)
	if ro.Phase != PhasePaused {
		t.Fatalf("rollout %s, want paused", ro)
	}
	r.tick(10 * time.Second)
	if got := images(r.farm); got != "v1 v1 v1" {
		t.Errorf("images %q, want three v1", got)
	}
	if sp := r.farm.Spec(); sp.Roles[0].Image != "v1" {
		t.Errorf("a paused rollout's role launches %q, want v1", sp.Roles[0].Image)
	}
}

func TestRolloutResumesInASecondController(t *testing.T) {
	r, opts := newRolloutRig(t)
	applyImage(t, r.farm, "v2", &ApplyOptions{BatchSize: 1, MinHealthy: 3})
	// Run until the first batch is done, then stop the controller.
	for i := 0; r.rec.count(RolloutBatchDone) == 0; i++ {
		if i > 20 {
			t.Fatalf("no batch done: %v", r.farm.Rollouts())
		}
		r.tick(10 * time.Second)
		r.advance(10 * time.Second)
		r.checkHealth()
	}
	r.tick(10 * time.Second) // the second batch starts
	mid := r.farm.Rollouts()[0]
	if !mid.Phase.Active() || mid.Batch != 2 {
		t.Fatalf("rollout %s, want batch 2 under way", mid)
	}
	if st := r.farm.Status().String(); !strings.Contains(st, "    rollout: role app: rolling v1 -> v2, batch 2, 1 replaced (batch 2: 0 of 1 new servers ready)") {
		t.Errorf("Status does not show the rollout under way:\n%s", st)
	}
	r.farm.Close()

	// A second controller with the old spec over the same cloud and store.
	f2, err := New(rolloutSpec(), r.cloud, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f2.Close() })
	r.farm, r.rec = f2, recordEvents(f2)
	if got := f2.Rollouts(); len(got) != 1 || got[0].Batch != 2 || got[0].To.Image != "v2" {
		t.Fatalf("restored rollouts %v, want batch 2 to v2", got)
	}
	ro := driveRollout(t, r, 3, 40)
	if ro.Phase != PhaseDone || ro.Replaced != 3 {
		t.Fatalf("rollout %s, want done with 3 replaced", ro)
	}
	r.tick(10 * time.Second)
	if got := images(f2); got != "v2 v2 v2" {
		t.Errorf("images %q, want three v2", got)
	}
	if n := r.rec.count(RolloutBatchStarted); n != 1 {
		t.Errorf("%d batches started by the second controller, want 1 (batch 3)", n)
	}
}

func TestApplyRefusesWhatARunningFarmDoesNotTake(t *testing.T) {
	r, _ := newRolloutRig(t)
	next := rolloutSpec()
	next.Roles[0].Image = "v2"
	next.Roles[0].Zones = []string{"zone-a"}
	_, err := r.farm.Apply(context.Background(), next, nil)
	if err == nil || !strings.Contains(err.Error(), `role "app": zones changes`) {
		t.Fatalf("Apply: %v, want a refusal naming the zones", err)
	}
	if ros := r.farm.Rollouts(); len(ros) != 0 {
		t.Errorf("a refused Apply started %v", ros)
	}
	next = rolloutSpec()
	next.Roles[0].Image = "v2"
	if _, err := r.farm.Apply(context.Background(), next, &ApplyOptions{MinHealthy: 4}); err == nil || !strings.Contains(err.Error(), "min healthy 4 > the role's 3 servers") {
		t.Errorf("Apply: %v, want a refusal of a min healthy over the role's count", err)
	}
	if ros := r.farm.Rollouts(); len(ros) != 0 {
		t.Errorf("a refused Apply started %v", ros)
	}
	next = rolloutSpec()
	next.Roles[0].Scripts[0].Version = 7
	if _, err := r.farm.Apply(context.Background(), next, nil); err == nil || !strings.Contains(err.Error(), `script "init" version 7`) {
		t.Errorf("Apply: %v, want a refusal naming the missing version", err)
	}
}

func TestApplyRerunsANewScriptVersionAndChangesBounds(t *testing.T) {
	r, _ := newRolloutRig(t)
	v2, err := r.lib.Save(scripting.Script{Name: "init", Body: `echo v2 > version; echo up > healthy`})
	if err != nil {
		t.Fatal(err)
	}
	next := rolloutSpec()
	next.Roles[0].Scripts[0].Version = v2.Version
	next.Roles[0].Max = 5
	plan, err := r.farm.Apply(context.Background(), next, &ApplyOptions{RerunScripts: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "script init (HostInit): version latest -> 2 (re-run on 3 servers") {
		t.Errorf("plan:\n%s", plan)
	}
	r.settle()
	evs := r.rec.of(ScriptsRerun)
	if len(evs) != 1 || evs[0].Params["servers"] != "3" || evs[0].Params["failed"] != "0" {
		t.Errorf("ScriptsRerun events %v", evs)
	}
	if sp := r.farm.Spec(); sp.Roles[0].Max != 5 || sp.Roles[0].Scripts[0].Version != 2 {
		t.Errorf("spec after Apply: max %d, script version %d", sp.Roles[0].Max, sp.Roles[0].Scripts[0].Version)
	}
	// A server launched now runs version 2 at HostInit.
	if err := r.farm.SetDesired("app", 4); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		r.tick(30 * time.Second)
	}
	last := r.entries(scripting.LogQuery{Event: "HostInit"})
	if e := last[len(last)-1]; e.Version != 2 {
		t.Errorf("the new server's HostInit ran version %d, want 2", e.Version)
	}
}

func rolloutTypes(rec *recorder) []EventType {
	var out []EventType
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, ev := range rec.events {
		if strings.HasPrefix(string(ev.Type), "Rollout") || strings.HasPrefix(string(ev.Type), "Rollback") {
			out = append(out, ev.Type)
		}
	}
	return out
}

func equalTypes(a, b []EventType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
