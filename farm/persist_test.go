package farm

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
	"github.com/farmhand/farmhand/store"
)

// farmStore returns a new in-memory Store for the farm "name": two
// controllers made on it in turn stand for one controller restarted.
func farmStore(t *testing.T, name string) store.Store {
	t.Helper()
	st, err := store.NewMemory().Farm(name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// restart makes a second controller over the rig's cloud and clock with
// opts (its Store the same as the first's): the first one is left as it
// is, as if its process had been killed.
func (r *rig) restart(spec Spec, opts Options) *Farm {
	r.t.Helper()
	if r.clk != nil {
		opts.Clock = r.clk
	}
	opts.TickInterval = 10 * time.Second
	f, err := New(spec, r.cloud, &opts)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { f.Close() })
	return f
}

func (r *rig) tickFarm(f *Farm, d time.Duration) {
	r.t.Helper()
	r.advance(d)
	if err := f.Reconcile(r.ctx); err != nil {
		r.t.Logf("reconcile: %v", err)
	}
	if err := f.Settle(r.ctx); err != nil {
		r.t.Fatal(err)
	}
}

func TestARestartedControllerKeepsTheDesiredCountSetBeforeItDied(t *testing.T) {
	spec := appSpec(1, 5)
	opts := Options{Store: farmStore(t, spec.Name)}
	r := newRig(t, spec, &opts, fake.Options{})
	r.farm.Launch(r.ctx)
	r.farm.SetDesired("app", 4)
	for range 3 {
		r.tick(30 * time.Second)
	}
	if n := len(liveAtCloud(r.cloud, "app")); n != 4 {
		t.Fatalf("%d servers at the cloud, want 4", n)
	}
	// Scale in by hand; the controller dies before it acts on it.
	if err := r.farm.SetDesired("app", 2); err != nil {
		t.Fatal(err)
	}
	second := r.restart(spec, opts)
	if st, _ := second.Status().Role("app"); st.Desired != 2 {
		t.Fatalf("restored desired = %d, want 2", st.Desired)
	}
	second.Launch(r.ctx)
	for range 3 {
		r.tickFarm(second, 30*time.Second)
	}
	if n := len(liveAtCloud(r.cloud, "app")); n != 2 {
		t.Fatalf("%d servers at the cloud after the restart, want the 2 set before it (not the 4 that ran)", n)
	}
	if h := second.ScalingHistory("app"); len(h) != 2 || h[1].To != 2 || h[1].Origin != OriginProgram {
		t.Fatalf("restored history = %+v", h)
	}
}

// stalledLaunches holds every Launch call until its context ends, as a
// cloud API that never answers.
type stalledLaunches struct{ *fake.Provider }

func (s stalledLaunches) Launch(ctx context.Context, spec provider.LaunchSpec) ([]provider.Server, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestALaunchIsWrittenAheadAndRetriedWithItsTokenAfterARestart(t *testing.T) {
	spec := appSpec(3, 3)
	st := farmStore(t, spec.Name)
	r := newRig(t, spec, nil, fake.Options{})
	first, err := New(spec, stalledLaunches{r.cloud}, &Options{Clock: r.clk, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	ctx, cancel := context.WithTimeout(r.ctx, 200*time.Millisecond)
	first.Launch(ctx) // the Launch call never returns; the process dies meanwhile
	cancel()
	saved, err := st.List(r.ctx, keyLaunch)
	if err != nil || len(saved) == 0 {
		t.Fatalf("launch records in the store: %d, %v; want those written before the calls", len(saved), err)
	}
	tokens := map[string]bool{}
	for _, kv := range saved {
		tokens["token="+strings.TrimPrefix(kv.Key, keyLaunch)] = true
	}

	second := r.restart(spec, Options{Store: st})
	if rs, _ := second.Status().Role("app"); rs.Launching != 3 {
		t.Fatalf("the restored controller counts %d servers launching, want 3", rs.Launching)
	}
	r.cloud.ResetCalls()
	second.Launch(r.ctx)
	var calls []string
	for _, c := range r.cloud.Calls() {
		if c.Op == fake.OpLaunch {
			calls = append(calls, c.Args)
			if !tokens[strings.Fields(c.Args)[0]] {
				t.Errorf("launch call %q after the restart carries no saved token", c.Args)
			}
		}
	}
	if len(calls) != len(saved) {
		t.Fatalf("launch calls after the restart: %v, want one per saved launch (%d)", calls, len(saved))
	}
	for range 3 {
		r.tickFarm(second, 30*time.Second)
	}
	if n := len(r.cloud.Servers()); n != 3 {
		t.Fatalf("%d servers at the cloud, want 3", n)
	}
	if left, _ := st.List(r.ctx, keyLaunch); len(left) != 0 {
		t.Fatalf("launch records left once the servers run: %d", len(left))
	}
}

// failingStore fails every write once broken, and the next write of a
// key with the prefix failNext.
type failingStore struct {
	store.Store
	broken   bool
	failNext string
}

func (s *failingStore) Apply(ctx context.Context, ops ...store.Op) error {
	if s.broken {
		return errors.New("disk full")
	}
	for _, op := range ops {
		if s.failNext != "" && strings.HasPrefix(op.Key, s.failNext) {
			s.failNext = ""
			return errors.New("disk full")
		}
	}
	return s.Store.Apply(ctx, ops...)
}

func TestAFarmThatCannotSaveItsStateLaunchesNothing(t *testing.T) {
	spec := appSpec(2, 2)
	st := &failingStore{Store: farmStore(t, spec.Name)}
	r := newRig(t, spec, &Options{Store: st}, fake.Options{})
	st.broken = true
	err := r.farm.Launch(r.ctx)
	if err == nil || !strings.Contains(err.Error(), "saving the farm's state: disk full") {
		t.Fatalf("Launch = %v, want the store's error", err)
	}
	if err := r.farm.Reconcile(r.ctx); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Reconcile = %v, want the store's error", err)
	}
	if n := launchCalls(r.cloud); n != 0 {
		t.Fatalf("%d Launch calls while the state could not be saved", n)
	}
	if err := r.farm.SetDesired("app", 2); err == nil {
		t.Fatal("SetDesired reported no error while the store fails")
	}
	st.broken = false
	r.tick(time.Second)
	r.tick(30 * time.Second)
	if n := len(liveAtCloud(r.cloud, "app")); n != 2 {
		t.Fatalf("%d servers once the store works again, want 2", n)
	}
}

func TestNewRefusesAStoreItCannotUse(t *testing.T) {
	spec := appSpec(1, 2)
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	put := func(kvs ...string) store.Store {
		st := farmStore(t, "x")
		for i := 0; i < len(kvs); i += 2 {
			st.Apply(context.Background(), store.Put(kvs[i], []byte(kvs[i+1])))
		}
		return st
	}
	for _, tc := range []struct {
		name string
		st   store.Store
		want string
	}{
		{"a store of another farm", put("schema", "1", "farm", `{"name":"other"}`), `holds the state of farm "other", not "web"`},
		{"a store of a newer farmhand", put("schema", "2", "farm", `{"name":"web"}`), "records of schema 2, written by a newer farmhand"},
		{"a store of something else", put("config", "x"), `no farm record: it is not a farm's state`},
		{"a damaged record", put("schema", "1", "farm", `{"name":"web"}`, "role/app", "{"), `store key "role/app" holds "{"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(spec, cloud, &Options{Store: tc.st})
			if err == nil {
				f.Close()
				t.Fatal("New accepted the store")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestTheMasterComesBackFromTheStoreEvenWhenDNSSaysOtherwise(t *testing.T) {
	spec := dbSpec(2)
	st := farmStore(t, spec.Name)
	r, mem, _ := failoverRig(t, spec, &Options{Store: st})
	m, _ := master(r.farm, "db")
	var replica Server
	for _, s := range r.farm.Servers("db") {
		if !s.Master {
			replica = s
		}
	}
	// The name was moved by hand (or a write was lost): DNS alone would
	// make the replica master.
	mem.Set(r.ctx, dnsupdate.RecordSet{Name: "db.example.test", Type: "A", TTL: 30 * time.Second, Values: []string{replica.PrivateIP}})

	second := r.restart(spec, Options{Store: st, DNS: mem})
	calls := &scriptCalls{fail: map[string]error{}}
	second.dns.runScript = calls.run
	if err := second.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.SyncDNS(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.farm = second
	r.quiet()
	got, n := master(second, "db")
	if n != 1 || got.ID != m.ID {
		t.Fatalf("after the restart the master is %s (%d masters), want %s:\n%s", got.ID, n, m.ID, serverLines(second.Servers("db")))
	}
	if c := calls.list(); len(c) != 0 {
		t.Fatalf("scripts ran: %v", c)
	}
	if v := lookup(mem, "db.example.test"); !slices.Equal(v, []string{m.PrivateIP}) {
		t.Fatalf("db.example.test = %v, want the master's %s", v, m.PrivateIP)
	}
}

func TestAMasterLostWhileNoControllerRanFailsOverWithThePromoteScript(t *testing.T) {
	spec := dbSpec(2)
	st := farmStore(t, spec.Name)
	r, mem, _ := failoverRig(t, spec, &Options{Store: st})
	m, _ := master(r.farm, "db")
	r.farm.Close() // the controller is gone; then the master dies
	if err := r.cloud.Crash(m.ID); err != nil {
		t.Fatal(err)
	}
	second := r.restart(spec, Options{Store: st, DNS: mem})
	calls := &scriptCalls{fail: map[string]error{}}
	second.dns.runScript = calls.run
	events := recordEvents(second)
	r.farm = second
	second.Launch(r.ctx)
	second.SyncDNS(r.ctx)
	for range 4 {
		r.tick(30 * time.Second)
		r.quiet()
	}
	got, n := master(second, "db")
	if n != 1 || got.ID == m.ID {
		t.Fatalf("master %s (%d masters), want a new one:\n%s", got.ID, n, serverLines(second.Servers("db")))
	}
	want := "promote " + got.ID + " NewDBMaster " + m.ID + "->" + got.ID
	if c := calls.list(); !slices.Contains(c, want) {
		t.Fatalf("scripts %v, want %q: a failover from the saved master, not a first election", c, want)
	}
	if events.count(NewDBMaster) != 1 {
		t.Fatalf("NewDBMaster fired %d times", events.count(NewDBMaster))
	}
	if v := lookup(mem, "db.example.test"); !slices.Equal(v, []string{got.PrivateIP}) {
		t.Fatalf("db.example.test = %v, want %s", v, got.PrivateIP)
	}
	if left, _ := st.List(r.ctx, keyFailover); len(left) != 0 {
		t.Fatalf("failover record left after the failover: %v", left)
	}
}

func TestAFailoverCutShortResumesWithTheSameCandidate(t *testing.T) {
	spec := dbSpec(3)
	st := farmStore(t, spec.Name)
	r, mem, _ := failoverRig(t, spec, &Options{Store: st})
	m, _ := master(r.farm, "db")
	var cand string
	for _, s := range r.farm.Servers("db") {
		if !s.Master && (cand == "" || s.ID > cand) {
			cand = s.ID // not the one chooseMaster would take by age
		}
	}
	// The last controller saved the failover to cand, ran its promote
	// script and died before marking it.
	r.farm.mu.Lock()
	r.farm.saveFailoverLocked("db", &failoverRecord{Old: masterRecord{ID: m.ID, PrivateIP: m.PrivateIP}, Candidate: cand, Reason: "test"})
	r.farm.mu.Unlock()
	if err := r.farm.flush(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.farm.Close()
	r.cloud.Crash(m.ID)
	second := r.restart(spec, Options{Store: st, DNS: mem})
	calls := &scriptCalls{fail: map[string]error{}}
	second.dns.runScript = calls.run
	r.farm = second
	second.Launch(r.ctx)
	second.SyncDNS(r.ctx)
	r.quiet()
	got, n := master(second, "db")
	if n != 1 || got.ID != cand {
		t.Fatalf("master %s (%d masters), want the saved candidate %s", got.ID, n, cand)
	}
	if c := calls.list(); len(c) != 1 || !strings.HasPrefix(c[0], "promote "+cand+" ") {
		t.Fatalf("scripts %v, want the promote script on %s once", c, cand)
	}
}

func TestScalingStateAndAnAPISetCountSurviveARestart(t *testing.T) {
	spec := appSpec(1, 6)
	spec.Roles[0].Scaling = &ScalingSpec{API: &APISpec{}}
	st := farmStore(t, spec.Name)
	r := newRig(t, spec, &Options{Store: st}, fake.Options{})
	r.farm.Launch(r.ctx)
	if err := r.farm.APITarget().SetDesired(r.ctx, "app", 5); err != nil {
		t.Fatal(err)
	}
	// Saved when the API call returns, before any evaluation.
	second := r.restart(spec, Options{Store: st})
	s, _ := second.ScalingState("app")
	if s.API == nil || s.API.Count != 5 {
		t.Fatalf("restored API count = %+v, want 5", s.API)
	}
	if err := second.EvaluateScaling(r.ctx); err != nil {
		t.Fatal(err)
	}
	if rs, _ := second.Status().Role("app"); rs.Desired != 5 {
		t.Fatalf("desired after the evaluation = %d, want the API's 5", rs.Desired)
	}
	d, ok := second.LastScalingDecision("app")
	third := r.restart(spec, Options{Store: st})
	d3, ok3 := third.LastScalingDecision("app")
	if !ok || !ok3 || d3.Reason != d.Reason || d3.To != 5 {
		t.Fatalf("last decision %+v (%v), restored %+v (%v)", d, ok, d3, ok3)
	}
	if h := third.ScalingHistory("app"); len(h) == 0 || h[len(h)-1].To != 5 {
		t.Fatalf("restored history %+v", h)
	}
}

func TestAHostKeyPinTheStoreCannotSaveIsReported(t *testing.T) {
	spec := appSpec(1, 1)
	st := &failingStore{Store: farmStore(t, spec.Name)}
	r := newScriptRig(t, spec, map[string]string{"hello": "echo hello"}, func(o *Options) {
		o.Store = st
	})
	r.upAll()
	fails := subscribeFailures(r.farm)
	st.failNext = keyPin
	if _, err := r.farm.ExecuteScript(r.ctx, scripting.ScriptRef{Name: "hello"}, OnRoles("app"), nil); err != nil {
		t.Fatal(err)
	}
	r.quiet()
	evs := fails.ops(OpStore)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "host key pin") || !strings.Contains(evs[0].Reason, "disk full") {
		t.Fatalf("heard:\n%s", fails)
	}
}

func TestTheScriptingLogAndHostKeyPinsSurviveARestart(t *testing.T) {
	spec := appSpec(2, 2)
	st := farmStore(t, spec.Name)
	var opts Options
	r := newScriptRig(t, spec, map[string]string{"hello": "echo hello from %server_id%"}, func(o *Options) {
		o.Store = st
		o.Scripting.Log = nil // the farm's own log, saved in the Store
		opts = *o
	})
	r.upAll()
	sum, err := r.farm.ExecuteScript(r.ctx, scripting.ScriptRef{Name: "hello"}, OnRoles("app"), nil)
	if err != nil || sum.OK != 2 {
		t.Fatalf("ExecuteScript: %+v, %v", sum, err)
	}
	before, _ := r.farm.ScriptingLog().Query(r.ctx, scripting.LogQuery{})
	if len(before) != 2 {
		t.Fatalf("%d log entries, want 2", len(before))
	}
	pins, _ := st.List(r.ctx, keyPin)
	if len(pins) != 2 {
		t.Fatalf("%d pins saved, want one per server", len(pins))
	}

	second := r.restart(spec, opts)
	after, err := second.ScriptingLog().Query(r.ctx, scripting.LogQuery{})
	if err != nil || len(after) != 2 {
		t.Fatalf("restored log: %d entries, %v", len(after), err)
	}
	for i := range after {
		if after[i].Seq != before[i].Seq || after[i].Stdout != before[i].Stdout || after[i].Server != before[i].Server {
			t.Fatalf("restored entry %+v, was %+v", after[i], before[i])
		}
	}
	for _, kv := range pins {
		addr := strings.TrimPrefix(kv.Key, keyPin)
		if len(second.scripts.hostKeys.Pinned(addr)) == 0 {
			t.Fatalf("no key pinned for %s after the restart", addr)
		}
	}
	// New entries continue the sequence.
	second.Launch(r.ctx)
	if _, err := second.ExecuteScript(r.ctx, scripting.ScriptRef{Name: "hello"}, OnRoles("app"), nil); err != nil {
		t.Fatal(err)
	}
	newest, _ := second.ScriptingLog().Query(r.ctx, scripting.LogQuery{Limit: 1})
	if len(newest) != 1 || newest[0].Seq != before[0].Seq+2 {
		t.Fatalf("newest entry after the restart: %+v, want Seq %d", newest, before[0].Seq+2)
	}
	// A server that leaves takes its pin with it.
	victim := second.Servers("app")[0]
	r.cloud.Terminate(r.ctx, victim.ID)
	r.farm = second
	r.tick(time.Second)
	r.quiet()
	left, _ := st.List(r.ctx, keyPin)
	if len(left) != 1 {
		t.Fatalf("%d pins saved after a server left, want 1", len(left))
	}
}

func TestRecordsOfLaterFeaturesAreKeptAndHandedBack(t *testing.T) {
	spec := appSpec(1, 2)
	st := farmStore(t, spec.Name)
	r := newRig(t, spec, &Options{Store: st}, fake.Options{})
	r.farm.Launch(r.ctx)
	if err := r.farm.saveRecords(r.ctx, store.Put("backup/db/0001", []byte(`{"snapshot":"snap-1"}`))); err != nil {
		t.Fatal(err)
	}
	second := r.restart(spec, Options{Store: st})
	got := second.recordsSaved("backup/")
	if len(got) != 1 || got[0].Key != "backup/db/0001" || string(got[0].Value) != `{"snapshot":"snap-1"}` {
		t.Fatalf("recordsSaved = %v", got)
	}
	if len(second.recordsSaved("role/")) != 0 {
		t.Fatal("recordsSaved hands out the farm's own records")
	}
	second.Launch(r.ctx)
	r.tickFarm(second, 30*time.Second)
	if v, err := st.Get(r.ctx, "backup/db/0001"); err != nil || len(v) == 0 {
		t.Fatalf("the farm dropped a record it does not know: %q, %v", v, err)
	}
}

func TestALaunchIsWrittenAheadEvenAfterAFailedWrite(t *testing.T) {
	spec := appSpec(3, 3)
	st := &failingStore{Store: farmStore(t, spec.Name)}
	r := newRig(t, spec, nil, fake.Options{})
	f, err := New(spec, stalledLaunches{r.cloud}, &Options{Clock: r.clk, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st.failNext = keyLaunch // the first write-ahead fails: nothing is called
	if err := f.Launch(r.ctx); err == nil || launchCalls(r.cloud) != 0 {
		t.Fatalf("Launch = %v with %d launch calls, want the store's error and none", err, launchCalls(r.cloud))
	}
	ctx, cancel := context.WithTimeout(r.ctx, 200*time.Millisecond)
	f.Reconcile(ctx) // the launches are written, then called; the calls never return
	cancel()
	rs, _ := f.Status().Role("app")
	saved, _ := st.List(r.ctx, keyLaunch)
	if rs.Launching == 0 || len(saved) == 0 {
		t.Fatalf("%d servers launching, %d launch records saved: every launch called must be saved first", rs.Launching, len(saved))
	}
	n := 0
	for _, kv := range saved {
		var lr launchRecord
		json.Unmarshal(kv.Value, &lr)
		n += len(lr.Slots)
	}
	if n != rs.Launching {
		t.Fatalf("the saved launches hold %d servers, %d are launching", n, rs.Launching)
	}
}

func TestBoundsSetByTheProgramSurviveARestart(t *testing.T) {
	spec := appSpec(1, 5)
	spec.Roles[0].Scaling = &ScalingSpec{API: &APISpec{}}
	st := farmStore(t, spec.Name)
	r := newRig(t, spec, &Options{Store: st}, fake.Options{})
	r.farm.Launch(r.ctx)
	if err := r.farm.SetBounds("app", 2, 3); err != nil {
		t.Fatal(err)
	}
	second := r.restart(spec, Options{Store: st})
	if app := second.Spec().Roles[0]; app.Min != 2 || app.Max != 3 {
		t.Fatalf("restored bounds %d..%d, want 2..3", app.Min, app.Max)
	}
	if err := second.SetDesired("app", 4); err == nil {
		t.Fatal("SetDesired above the restored max succeeded")
	}
	if err := second.APITarget().SetDesired(r.ctx, "app", 4); err == nil {
		t.Fatal("the API set a count above the restored max")
	}
}
