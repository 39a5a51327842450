package farm

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

// checkNoDuplicates asserts, from the cloud's own record, that every role
// has exactly its desired number of live servers and that no index is
// held twice: each launch (token) made at most as many servers as indexes
// it named, and the farm maps live servers to distinct indexes.
func checkNoDuplicates(t *testing.T, f *Farm, cloud *fake.Provider) {
	t.Helper()
	st := f.Status()
	byToken := map[string][]provider.Server{}
	for _, s := range cloud.Servers() {
		byToken[s.Tags[provider.TagToken]] = append(byToken[s.Tags[provider.TagToken]], s)
	}
	for tok, servers := range byToken {
		if n := len(parseIndexes(servers[0].Tags[provider.TagSlot])); len(servers) > n {
			t.Errorf("token %s launched %d servers for %d indexes", tok, len(servers), n)
		}
	}
	for _, role := range st.Roles {
		live := liveAtCloud(cloud, role.Name)
		if len(live) != role.Desired {
			t.Errorf("role %s: %d live servers at the cloud, desired %d", role.Name, len(live), role.Desired)
		}
		held := map[int]string{}
		for _, s := range live {
			srv, ok := f.Server(s.ID)
			if !ok {
				t.Errorf("role %s: live server %s unknown to the farm", role.Name, s.ID)
				continue
			}
			if other, dup := held[srv.Index]; dup {
				t.Errorf("role %s: index %d held by %s and %s", role.Name, srv.Index, other, s.ID)
			}
			held[srv.Index] = s.ID
		}
	}
}

func TestConvergesWhileAThirdOfProviderCallsFail(t *testing.T) {
	for seed := int64(1); seed <= int64(convergeSeeds); seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { convergeUnderFaults(t, seed) })
		})
	}
}

func convergeUnderFaults(t *testing.T, seed int64) {
	{
		cloud := fake.New(fake.Options{BootTime: 20 * time.Second, Seed: seed, PageSize: 3})
		defer cloud.Close()
		cloud.FailRate(fake.OpAll, 0.3, provider.Unavailable)
		spec := Spec{Name: "chaos", Roles: []RoleSpec{
			{Name: "db", Image: "img-db", Min: 1, Max: 1},
			{Name: "app", Image: "img-app", Min: 2, Max: 8, DependsOn: []string{"db"}},
			{Name: "cache", Image: "img-cache", Min: 3, Max: 3, ZoneStrategy: ZoneOrdered},
		}}
		f, err := New(spec, cloud, &Options{TickInterval: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- f.Run(ctx) }()
		if err := f.Launch(ctx); err != nil {
			t.Logf("Launch under faults: %v (Run carries on)", err)
		}
		waitFor := func(what string, cond func(Status) bool) {
			t.Helper()
			wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
			defer cancel()
			if err := f.Wait(wctx, cond); err != nil {
				t.Fatalf("%s: %v\n%s", what, err, f.Status())
			}
		}
		waitFor("launch", Status.Ready)
		checkNoDuplicates(t, f, cloud)

		// Scale out, lose a few launch answers and crash two servers.
		cloud.LoseNext(fake.OpLaunch, 3, provider.Unavailable)
		if err := f.SetDesired("app", 6); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		crashed := map[string]bool{}
		for _, s := range f.Servers("app")[:2] {
			if s.State == StateRunning {
				cloud.Crash(s.ID)
				crashed[s.ID] = true
			}
		}
		waitFor("scale-out and healing", func(st Status) bool {
			if !st.Ready() {
				return false
			}
			for _, s := range f.Servers("app") {
				if crashed[s.ID] && s.State != StateTerminated {
					return false
				}
			}
			return true
		})
		checkNoDuplicates(t, f, cloud)

		if err := f.SetDesired("app", 2); err != nil {
			t.Fatal(err)
		}
		waitFor("scale-in", func(st Status) bool {
			app, _ := st.Role("app")
			return st.Ready() && len(liveAtCloud(cloud, "app")) == 2 && app.Counts[StateRunning] == 2
		})
		checkNoDuplicates(t, f, cloud)

		tctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		if err := f.Terminate(tctx); err != nil {
			t.Fatalf("Terminate under faults: %v\n%s", err, f.Status())
		}
		for _, s := range cloud.Servers() {
			if !s.State.Gone() {
				t.Errorf("server %s is %s after Terminate", s.ID, s.State)
			}
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		f.Close()

		failed := 0
		calls := cloud.Calls()
		for _, c := range calls {
			if c.Err != nil {
				failed++
			}
		}
		t.Logf("%d provider calls, %d failed; %d servers launched in all", len(calls), failed, len(cloud.Servers()))
		if failed < len(calls)/5 {
			t.Fatalf("only %d of %d calls failed; the fault injection did not bite", failed, len(calls))
		}
	}
}

func TestRunEndsItsGoroutinesWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := fake.New(fake.Options{BootTime: 5 * time.Second})
		defer cloud.Close()
		started := make(chan struct{})
		inits := 0
		hook := HookFunc(func(ctx context.Context, ev Event) error {
			if ev.Type == HostInit {
				inits++
				if inits == 1 {
					close(started)
					<-ctx.Done() // a long script, cut short by the end of Run
				}
			}
			return nil
		})
		spec := appSpec(1, 1)
		spec.Roles[0].HealthChecks = []HealthCheckSpec{{Name: "ok", Check: HealthCheckFunc(func(context.Context, Server) error { return nil })}}
		f, err := New(spec, cloud, &Options{TickInterval: time.Second, Hooks: []Hook{hook}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(t.Context())
		if err := f.Launch(ctx); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- f.Run(ctx) }()
		<-started
		if err := f.Run(ctx); err == nil || err.Error() != "farm: Run is already running" {
			t.Fatalf("a second Run: %v", err)
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Run returned: nothing of it may still run (synctest.Test
		// would report a goroutine blocked past the bubble's end, Close
		// must not have to wait for anything but subscribers).
		synctest.Wait()
		if s := f.Servers("app")[0]; s.State != StateInitializing {
			t.Fatalf("server is %s; an interrupted init must be retried, not failed", s.State)
		}
		// A new Run picks the initialisation up again.
		ctx2, stop2 := context.WithCancel(t.Context())
		go func() { done <- f.Run(ctx2) }()
		time.Sleep(2 * time.Second)
		stop2()
		<-done
		if s := f.Servers("app")[0]; s.State != StateRunning || inits != 2 {
			t.Fatalf("after the second Run the server is %s, HostInit ran %d times", s.State, inits)
		}
		f.Close()
		if err := f.Reconcile(t.Context()); err != ErrClosed {
			t.Fatalf("Reconcile after Close: %v", err)
		}
	})
}

// convergeSeeds is how many fault sequences the convergence test tries;
// raise it to hunt for rare ones (200 passed when it was written).
var convergeSeeds = 8
