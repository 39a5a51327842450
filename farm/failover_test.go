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

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/provider"
)

func TestChooseMasterPrefersTheOldZoneThenHealthThenAge(t *testing.T) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	replica := func(id, zone string, h HealthStatus, up int) Server {
		return Server{ID: id, Role: "db", State: StateRunning, Zone: zone, Health: Health{Status: h}, UpAt: at(up), LaunchedAt: at(up - 1)}
	}
	old := Server{ID: "i-old", Role: "db", Zone: "z-a", State: StateTerminated, Master: true}
	tests := []struct {
		name    string
		servers []Server
		exclude []string
		want    string
	}{
		{"a replica in the old master's zone goes first",
			[]Server{replica("i-1", "z-b", HealthHealthy, 1), replica("i-2", "z-a", HealthUnknown, 5)}, nil, "i-2"},
		{"a healthy replica goes before one of unknown health",
			[]Server{replica("i-1", "z-b", HealthUnknown, 1), replica("i-2", "z-c", HealthHealthy, 5)}, nil, "i-2"},
		{"the replica longest in service goes first",
			[]Server{replica("i-1", "z-b", HealthHealthy, 7), replica("i-2", "z-b", HealthHealthy, 3)}, nil, "i-2"},
		{"the lower ID breaks a tie",
			[]Server{replica("i-2", "z-b", HealthHealthy, 3), replica("i-1", "z-b", HealthHealthy, 3)}, nil, "i-1"},
		{"an unhealthy replica never qualifies",
			[]Server{replica("i-1", "z-a", HealthUnhealthy, 1), replica("i-2", "z-b", HealthUnknown, 5)}, nil, "i-2"},
		{"servers not in service never qualify",
			[]Server{{ID: "i-1", State: StatePending, Zone: "z-a"}, {ID: "i-2", State: StatePendingTerminate, Zone: "z-a"},
				{ID: "i-3", State: StateInitializing, Zone: "z-a"}, replica("i-4", "z-c", HealthUnknown, 9)}, nil, "i-4"},
		{"a server whose promotion failed is skipped",
			[]Server{replica("i-1", "z-a", HealthHealthy, 1), replica("i-2", "z-b", HealthHealthy, 5)}, []string{"i-1"}, "i-2"},
		{"the old master itself is not chosen",
			[]Server{{ID: "i-old", Role: "db", State: StateRunning, Zone: "z-a"}, replica("i-2", "z-b", HealthUnknown, 5)}, nil, "i-2"},
		{"no usable server gives none",
			[]Server{replica("i-1", "z-a", HealthUnhealthy, 1)}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := map[string]bool{}
			for _, id := range tc.exclude {
				ex[id] = true
			}
			got, ok := chooseMaster(tc.servers, old, ex, nil)
			if tc.want == "" {
				if ok {
					t.Fatalf("chose %s, want none", got.ID)
				}
				return
			}
			if !ok || got.ID != tc.want {
				t.Fatalf("chose %q (%v), want %q", got.ID, ok, tc.want)
			}
		})
	}
}

func TestSplitMastersSeparatesLostFromUsable(t *testing.T) {
	servers := []Server{
		{ID: "i-1", State: StateRunning, Master: true},
		{ID: "i-2", State: StateRunning, Master: true, Health: Health{Status: HealthUnhealthy}},
		{ID: "i-3", State: StatePendingTerminate, Master: true},
		{ID: "i-4", State: StateRunning},
	}
	usable, lost := splitMasters(servers)
	ids := func(ss []Server) (out []string) {
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	if !slices.Equal(ids(usable), []string{"i-1"}) || !slices.Equal(ids(lost), []string{"i-2", "i-3"}) {
		t.Fatalf("usable %v lost %v", ids(usable), ids(lost))
	}
}

// scriptCalls records the promote and demote scripts the failover runs.
type scriptCalls struct {
	mu    sync.Mutex
	calls []string // "script server event old->new"
	fail  map[string]error
}

func (c *scriptCalls) run(ctx context.Context, id, script string, event EventType, params map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf("%s %s %s %s->%s", script, id, event, params["old_master_id"], params["new_master_id"]))
	return c.fail[id]
}

func (c *scriptCalls) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// masterWatch fails the test if a role ever shows two masters, checking
// after every change of the farm.
func masterWatch(t *testing.T, f *Farm, role string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var bad string
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Wait(ctx, func(st Status) bool {
			rs, _ := st.Role(role)
			var masters []string
			for _, s := range rs.Servers {
				if s.Master {
					masters = append(masters, s.ID)
				}
			}
			if len(masters) > 1 && bad == "" {
				bad = fmt.Sprintf("role %q has masters %v at %s", role, masters, st.Time)
			}
			return false
		})
	}()
	return func() {
		cancel()
		<-done
		if bad != "" {
			t.Error(bad)
		}
	}
}

func dbSpec(dbMax int) Spec {
	return Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "db", Image: "img-db", Min: 1, Max: dbMax, Desired: dbMax,
			Database: &DatabaseSpec{PromoteScript: "promote"},
			DNS:      []DNSName{{Name: "db.example.test", Select: DNSSelectMaster, TTL: 30 * time.Second}}},
		{Name: "app", Image: "img-app", Min: 1, Max: 2, DependsOn: []string{"db"},
			DNS: []DNSName{{Name: "int-app.example.test"}}},
	}}
}

// failoverRig launches the farm and waits until it is ready.
func failoverRig(t *testing.T, spec Spec, opts *Options) (*rig, *dnsupdate.Memory, *scriptCalls) {
	t.Helper()
	r, mem := dnsRig(t, spec, opts)
	calls := &scriptCalls{fail: map[string]error{}}
	r.farm.dns.runScript = calls.run
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6 && !r.farm.Status().Ready(); i++ {
		r.tick(30 * time.Second)
		r.quiet()
	}
	if !r.farm.Status().Ready() {
		t.Fatalf("farm not ready:\n%s", r.farm.Status())
	}
	return r, mem, calls
}

func master(f *Farm, role string) (Server, int) {
	var m Server
	n := 0
	for _, s := range f.Servers(role) {
		if s.Master {
			m = s
			n++
		}
	}
	return m, n
}

func TestTheFirstServerUpBecomesMasterWithoutAPromotion(t *testing.T) {
	r, mem, calls := failoverRig(t, dbSpec(2), nil)
	m, n := master(r.farm, "db")
	if n != 1 {
		t.Fatalf("%d masters:\n%s", n, serverLines(r.farm.Servers("db")))
	}
	if got := lookup(mem, "db.example.test"); !slices.Equal(got, []string{m.PrivateIP}) {
		t.Fatalf("db.example.test = %v, want the master's %s", got, m.PrivateIP)
	}
	if rs, _ := mem.Lookup("db.example.test", "A"); rs.TTL != 30*time.Second {
		t.Fatalf("TTL = %s", rs.TTL)
	}
	if c := calls.list(); len(c) != 0 {
		t.Fatalf("scripts ran for the first master: %v", c)
	}
	if n := r.rec.count(NewDBMaster); n != 0 {
		t.Fatalf("NewDBMaster fired %d times for the first master", n)
	}
	if fo := r.farm.Failovers(); len(fo) != 0 {
		t.Fatalf("Failovers = %+v", fo)
	}
}

func TestACrashedMasterFailsOverToTheReplica(t *testing.T) {
	r, mem, calls := failoverRig(t, dbSpec(2), nil)
	stop := masterWatch(t, r.farm, "db")
	old, _ := master(r.farm, "db")
	var replica Server
	for _, s := range r.farm.Servers("db") {
		if !s.Master {
			replica = s
		}
	}
	if err := r.cloud.Crash(old.ID); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.quiet()
	m, n := master(r.farm, "db")
	if n != 1 || m.ID != replica.ID {
		t.Fatalf("master = %s (%d masters), want the replica %s\n%s", m.ID, n, replica.ID, serverLines(r.farm.Servers("db")))
	}
	if want := []string{fmt.Sprintf("promote %s NewDBMaster %s->%s", replica.ID, old.ID, replica.ID)}; !slices.Equal(calls.list(), want) {
		t.Fatalf("scripts = %v, want %v", calls.list(), want)
	}
	if got := lookup(mem, "db.example.test"); !slices.Equal(got, []string{replica.PrivateIP}) {
		t.Fatalf("db.example.test = %v, want %s", got, replica.PrivateIP)
	}
	h := mem.History()
	if last := h[len(h)-1]; last.Set.Name != "db.example.test." || !slices.Equal(last.Prev, []string{old.PrivateIP}) {
		t.Fatalf("the move was %+v; want a swap from %s", last, old.PrivateIP)
	}
	evs := r.rec.of(NewDBMaster)
	if len(evs) != 1 {
		t.Fatalf("NewDBMaster fired %d times", len(evs))
	}
	p := evs[0].Params
	if evs[0].Role != "db" || evs[0].Server.ID != replica.ID || p["old_master_id"] != old.ID || p["old_master_ip"] != old.PrivateIP ||
		p["new_master_ip"] != replica.PrivateIP || p["dns_verified"] != "false" {
		t.Fatalf("NewDBMaster = %+v", evs[0])
	}
	fos := r.farm.Failovers()
	if len(fos) != 1 {
		t.Fatalf("Failovers = %+v", fos)
	}
	fo := fos[0]
	if fo.OldMaster != old.ID || fo.NewMaster != replica.ID || fo.Detected.IsZero() || fo.Promoted.Before(fo.Detected) ||
		fo.DNSSet.Before(fo.Promoted) || fo.Announced.Before(fo.DNSSet) || !fo.Verified.IsZero() || fo.Err != "" ||
		!strings.Contains(fo.Reason, "HostDown of master "+old.ID) {
		t.Fatalf("timeline = %+v", fo)
	}
	// The next ticks launch a replacement replica, which stays a replica.
	r.tick(time.Second)
	r.tick(30 * time.Second)
	r.quiet()
	if !r.farm.Status().Ready() {
		t.Fatalf("no replacement:\n%s", r.farm.Status())
	}
	if m2, n := master(r.farm, "db"); n != 1 || m2.ID != replica.ID {
		t.Fatalf("after the replacement the master is %s (%d)", m2.ID, n)
	}
	stop()
}

func TestAnUnhealthyMasterFailsOverAndIsReplacedAfterTheNewMasterServes(t *testing.T) {
	var mu sync.Mutex
	sick := map[string]bool{}
	spec := dbSpec(2)
	spec.Roles[0].HealthChecks = []HealthCheckSpec{{Name: "probe", Interval: time.Second, FailureThreshold: 2,
		Check: HealthCheckFunc(func(ctx context.Context, s Server) error {
			mu.Lock()
			defer mu.Unlock()
			if sick[s.ID] {
				return errors.New("mysqld does not answer")
			}
			return nil
		})}}
	r, mem, _ := failoverRig(t, spec, nil)
	stop := masterWatch(t, r.farm, "db")
	old, _ := master(r.farm, "db")
	// A later hook sees the old master's BeforeHostTerminate only after
	// the new master took over and the name moved.
	var atTerminate []string
	r.farm.AddHook(HookFunc(func(ctx context.Context, ev Event) error {
		if ev.Type == BeforeHostTerminate && ev.Server.ID == old.ID {
			m, n := master(r.farm, "db")
			atTerminate = append(atTerminate, fmt.Sprintf("%s %d %v", m.ID, n, lookup(mem, "db.example.test")))
		}
		return nil
	}))
	mu.Lock()
	sick[old.ID] = true
	mu.Unlock()
	for i := 0; i < 3; i++ {
		r.clk.Advance(time.Second)
		r.checkHealth()
	}
	r.quiet()
	m, n := master(r.farm, "db")
	if n != 1 || m.ID == old.ID {
		t.Fatalf("master = %s (%d) after the master's checks failed", m.ID, n)
	}
	r.tick(time.Second) // the farm replaces the unhealthy old master
	r.quiet()
	want := fmt.Sprintf("%s 1 [%s]", m.ID, m.PrivateIP)
	if !slices.Equal(atTerminate, []string{want}) {
		t.Fatalf("at the old master's BeforeHostTerminate: %v, want [%s]", atTerminate, want)
	}
	fo := r.farm.Failovers()
	if len(fo) != 1 || !strings.Contains(fo[0].Reason, "CheckFailed of master "+old.ID) {
		t.Fatalf("Failovers = %+v", fo)
	}
	stop()
}

func TestAFormerMasterThatRecoversIsDemotedOrRetired(t *testing.T) {
	for _, policy := range []string{OldMasterDemote, OldMasterTerminate} {
		t.Run(policy, func(t *testing.T) {
			var mu sync.Mutex
			sick := map[string]bool{}
			spec := dbSpec(2)
			spec.Roles[0].HealthAction = HealthReport // the farm itself keeps it
			spec.Roles[0].Database.OldMaster = policy
			spec.Roles[0].Database.DemoteScript = "demote"
			spec.Roles[0].HealthChecks = []HealthCheckSpec{{Name: "probe", Interval: time.Second, FailureThreshold: 2, RecoveryThreshold: 1,
				Check: HealthCheckFunc(func(ctx context.Context, s Server) error {
					mu.Lock()
					defer mu.Unlock()
					if sick[s.ID] {
						return errors.New("partitioned")
					}
					return nil
				})}}
			r, _, calls := failoverRig(t, spec, nil)
			stop := masterWatch(t, r.farm, "db")
			old, _ := master(r.farm, "db")
			mu.Lock()
			sick[old.ID] = true
			mu.Unlock()
			for i := 0; i < 3; i++ {
				r.clk.Advance(time.Second)
				r.checkHealth()
			}
			r.quiet()
			m, _ := master(r.farm, "db")
			if m.ID == old.ID || m.ID == "" {
				t.Fatalf("no failover: master %q", m.ID)
			}
			mu.Lock()
			sick[old.ID] = false
			mu.Unlock()
			r.clk.Advance(time.Second)
			r.checkHealth()
			r.quiet()
			r.tick(time.Second)
			r.quiet()
			s, _ := r.farm.Server(old.ID)
			demote := fmt.Sprintf("demote %s NewDBMaster %s->%s", old.ID, old.ID, m.ID)
			switch policy {
			case OldMasterDemote:
				if !slices.Contains(calls.list(), demote) || s.State != StateRunning || s.Master {
					t.Fatalf("scripts %v; former master %s %s master=%v", calls.list(), s.ID, s.State, s.Master)
				}
			case OldMasterTerminate:
				if slices.Contains(calls.list(), demote) || s.State == StateRunning {
					t.Fatalf("scripts %v; former master is %s, want it replaced", calls.list(), s.State)
				}
			}
			if m2, n := master(r.farm, "db"); n != 1 || m2.ID != m.ID {
				t.Fatalf("master after the old one came back = %s (%d)", m2.ID, n)
			}
			stop()
		})
	}
}

func TestAFailedPromotionTriesTheNextReplica(t *testing.T) {
	r, mem, calls := failoverRig(t, dbSpec(3), nil)
	old, _ := master(r.farm, "db")
	var replicas []Server
	for _, s := range r.farm.Servers("db") {
		if !s.Master {
			replicas = append(replicas, s)
		}
	}
	first, _ := chooseMaster(replicas, old, nil, nil)
	calls.mu.Lock()
	calls.fail[first.ID] = errors.New("exit status 1")
	calls.mu.Unlock()
	r.cloud.Crash(old.ID)
	r.tick(time.Second)
	r.quiet()
	m, n := master(r.farm, "db")
	if n != 1 || m.ID == first.ID || m.ID == old.ID {
		t.Fatalf("master = %s (%d); %s failed its promotion", m.ID, n, first.ID)
	}
	if got := calls.list(); len(got) != 2 {
		t.Fatalf("scripts = %v, want two promotions", got)
	}
	fo := r.farm.Failovers()
	if len(fo) != 1 || !slices.Equal(fo[0].Skipped, []string{first.ID + ": exit status 1"}) {
		t.Fatalf("Failovers = %+v", fo)
	}
	if got := lookup(mem, "db.example.test"); !slices.Equal(got, []string{m.PrivateIP}) {
		t.Fatalf("db.example.test = %v", got)
	}
}

func TestWithoutAReplicaTheReplacementBecomesMaster(t *testing.T) {
	r, mem, calls := failoverRig(t, dbSpec(1), nil)
	stop := masterWatch(t, r.farm, "db")
	old, _ := master(r.farm, "db")
	r.cloud.Crash(old.ID)
	r.tick(time.Second)
	r.quiet()
	if _, n := master(r.farm, "db"); n != 0 {
		t.Fatalf("%d masters with the only server gone", n)
	}
	if got := lookup(mem, "db.example.test"); !slices.Equal(got, []string{old.PrivateIP}) {
		t.Fatalf("db.example.test = %v while waiting; want it left at %s (no negative caching)", got, old.PrivateIP)
	}
	r.tick(time.Second)
	r.tick(30 * time.Second)
	r.quiet()
	m, n := master(r.farm, "db")
	if n != 1 || m.ID == old.ID {
		t.Fatalf("master = %s (%d)\n%s", m.ID, n, serverLines(r.farm.Servers("db")))
	}
	if want := []string{fmt.Sprintf("promote %s NewDBMaster %s->%s", m.ID, old.ID, m.ID)}; !slices.Equal(calls.list(), want) {
		t.Fatalf("scripts = %v, want %v", calls.list(), want)
	}
	if got := lookup(mem, "db.example.test"); !slices.Equal(got, []string{m.PrivateIP}) {
		t.Fatalf("db.example.test = %v, want %s", got, m.PrivateIP)
	}
	if n := r.rec.count(NewDBMaster); n != 1 {
		t.Fatalf("NewDBMaster fired %d times", n)
	}
	fo := r.farm.Failovers()
	if len(fo) != 1 || fo[0].OldMaster != old.ID || fo[0].NewMaster != m.ID || !fo[0].Promoted.After(fo[0].Detected) {
		t.Fatalf("Failovers = %+v", fo)
	}
	stop()
}

func TestACompareAndSwapRefusalIsSurfacedAndNothingIsOverwritten(t *testing.T) {
	r, mem, _ := failoverRig(t, dbSpec(2), nil)
	old, _ := master(r.farm, "db")
	// Another controller (or an operator) moved the name meanwhile.
	if err := mem.Set(r.ctx, dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.9.9.9"}}); err != nil {
		t.Fatal(err)
	}
	r.cloud.Crash(old.ID)
	r.tick(time.Second)
	r.quiet()
	if got := lookup(mem, "db.example.test"); !slices.Equal(got, []string{"10.9.9.9"}) {
		t.Fatalf("db.example.test = %v; the farm overwrote someone else's value", got)
	}
	fo := r.farm.Failovers()
	if len(fo) != 1 || !strings.Contains(fo[0].Err, "precondition failed") || !fo[0].DNSSet.IsZero() {
		t.Fatalf("Failovers = %+v", fo)
	}
	var db DNSRecord
	for _, rec := range r.farm.DNSRecords() {
		if rec.Role == "db" {
			db = rec
		}
	}
	if !strings.Contains(db.Err, "precondition failed") || !slices.Equal(db.Values, []string{old.PrivateIP}) {
		t.Fatalf("DNSRecords for db = %+v", db)
	}
	evs := r.rec.of(NewDBMaster)
	if len(evs) != 1 || evs[0].Params["dns_verified"] != "false" {
		t.Fatalf("NewDBMaster = %+v", evs)
	}
}

func TestFarmTerminationIsNoFailoverAndDeletesTheNames(t *testing.T) {
	r, mem, calls := failoverRig(t, dbSpec(2), &Options{TickInterval: time.Second})
	done := make(chan error, 1)
	go func() { done <- r.farm.Terminate(r.ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			r.quiet()
			if c := calls.list(); len(c) != 0 {
				t.Fatalf("scripts ran while the farm terminated: %v", c)
			}
			if fo := r.farm.Failovers(); len(fo) != 0 {
				t.Fatalf("Failovers = %+v", fo)
			}
			if recs := mem.Records(); len(recs) != 0 {
				t.Fatalf("records left after Terminate: %v", recs)
			}
			return
		default:
			r.quiet()
			r.clk.Advance(time.Second)
		}
	}
}

func TestAMasterBeingTerminatedHandsOverBeforeItGoes(t *testing.T) {
	r, mem, calls := failoverRig(t, dbSpec(2), nil)
	stop := masterWatch(t, r.farm, "db")
	old, _ := master(r.farm, "db")
	// The promotion takes a while; the old master's termination waits.
	release := make(chan struct{})
	r.farm.dns.runScript = func(ctx context.Context, id, script string, event EventType, params map[string]string) error {
		<-release
		return calls.run(ctx, id, script, event, params)
	}
	var atTerminate []string
	r.farm.AddHook(HookFunc(func(ctx context.Context, ev Event) error {
		if ev.Type == BeforeHostTerminate && ev.Server.ID == old.ID {
			m, n := master(r.farm, "db")
			atTerminate = append(atTerminate, fmt.Sprintf("%s %d %v", m.ID, n, lookup(mem, "db.example.test")))
		}
		return nil
	}))
	r.farm.retire(old.ID, "moved to a bigger instance type")
	if err := r.farm.Reconcile(r.ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if s, _ := r.farm.Server(old.ID); s.State != StatePendingTerminate || len(atTerminate) != 0 {
		t.Fatalf("old master %s; later hooks ran %v before the promotion finished", s.State, atTerminate)
	}
	close(release)
	r.quiet()
	r.tick(time.Second)
	r.quiet()
	m, n := master(r.farm, "db")
	want := fmt.Sprintf("%s 1 [%s]", m.ID, m.PrivateIP)
	if n != 1 || m.ID == old.ID || !slices.Equal(atTerminate, []string{want}) {
		t.Fatalf("at the old master's BeforeHostTerminate: %v, want [%s]", atTerminate, want)
	}
	if live := liveAtCloud(r.cloud, "db"); slices.ContainsFunc(live, func(s provider.Server) bool { return s.ID == old.ID }) {
		t.Fatalf("the old master %s is still at the cloud", old.ID)
	}
	fo := r.farm.Failovers()
	if len(fo) != 1 || !strings.Contains(fo[0].Reason, "BeforeHostTerminate of master "+old.ID) {
		t.Fatalf("Failovers = %+v", fo)
	}
	stop()
}

func TestAControllerThatTakesOverAdoptsTheMasterTheNamePointsAt(t *testing.T) {
	r, mem, _ := failoverRig(t, dbSpec(2), nil)
	first, _ := master(r.farm, "db")
	var other Server
	for _, s := range r.farm.Servers("db") {
		if s.ID != first.ID {
			other = s
		}
	}
	r.farm.Close()
	// Meanwhile the name points at the other server (the old controller
	// failed over just before it stopped): that is the master to keep.
	if err := mem.Set(r.ctx, dnsupdate.RecordSet{Name: "db.example.test", Type: "A", TTL: 30 * time.Second, Values: []string{other.PrivateIP}}); err != nil {
		t.Fatal(err)
	}
	changes := len(mem.History())

	f2, err := New(dbSpec(2), r.cloud, &Options{Clock: r.clk, DNS: mem, TickInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	calls := &scriptCalls{}
	f2.dns.runScript = calls.run
	rec := recordEvents(f2)
	if err := f2.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	if err := f2.SyncDNS(r.ctx); err != nil {
		t.Fatal(err)
	}
	m, n := master(f2, "db")
	if n != 1 || m.ID != other.ID {
		t.Fatalf("the new controller's master is %s (%d), want %s, where db.example.test points", m.ID, n, other.ID)
	}
	if c := calls.list(); len(c) != 0 {
		t.Fatalf("adopting the master ran scripts: %v", c)
	}
	for _, c := range mem.History()[changes:] {
		if c.Set.Name == "db.example.test." {
			t.Fatalf("adopting the master changed its name: %+v", c)
		}
	}
	// Its first move is a swap on the value it found.
	r.cloud.Crash(other.ID)
	r.clk.Advance(time.Second)
	f2.Reconcile(r.ctx)
	for i := 0; i < 20 && len(f2.Failovers()) == 0; i++ {
		f2.Settle(r.ctx)
	}
	f2.Settle(r.ctx)
	h := mem.History()
	if last := h[len(h)-1]; !slices.Equal(last.Prev, []string{other.PrivateIP}) || !slices.Equal(last.Set.Values, []string{first.PrivateIP}) {
		t.Fatalf("the move was %+v, want %s → %s", last, other.PrivateIP, first.PrivateIP)
	}
	if n := len(rec.of(NewDBMaster)); n != 1 {
		t.Fatalf("NewDBMaster fired %d times", n)
	}
}

func TestTheMasterNameFollowsTheMastersNewAddress(t *testing.T) {
	r, mem, calls := failoverRig(t, dbSpec(2), nil)
	m, _ := master(r.farm, "db")
	priv, _, err := r.cloud.ChangeIP(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.quiet()
	if got := lookup(mem, "db.example.test"); !slices.Equal(got, []string{priv}) {
		t.Fatalf("db.example.test = %v, want the master's new address %s", got, priv)
	}
	h := mem.History()
	if last := h[len(h)-1]; !slices.Equal(last.Prev, []string{m.PrivateIP}) {
		t.Fatalf("the move was %+v, want a swap from %s", last, m.PrivateIP)
	}
	if m2, n := master(r.farm, "db"); n != 1 || m2.ID != m.ID || len(calls.list()) != 0 || len(r.farm.Failovers()) != 0 {
		t.Fatalf("an address change is no failover: master %s (%d), scripts %v", m2.ID, n, calls.list())
	}
}
