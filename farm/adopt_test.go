package farm

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

func launchCalls(cloud *fake.Provider) int {
	n := 0
	for _, c := range cloud.Calls() {
		if c.Op == fake.OpLaunch {
			n++
		}
	}
	return n
}

func TestASecondControllerAdoptsWhatRunsAndLaunchesNothing(t *testing.T) {
	spec := twoRoleSpec()
	r := newRig(t, spec, nil, fake.Options{})
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	r.tick(10 * time.Second)
	r.tick(30 * time.Second)
	if err := r.farm.SetDesired("app", 4); err != nil { // above the spec's 2
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.tick(30 * time.Second)
	if !r.farm.Status().Ready() {
		t.Fatalf("first controller not ready:\n%s", r.farm.Status())
	}
	before := map[string]int{}
	for _, s := range r.farm.Servers("") {
		before[s.ID] = s.Index
	}

	// The first controller is gone (no Terminate). A second one starts
	// over the same cloud.
	r.cloud.ResetCalls()
	second, err := New(spec, r.cloud, &Options{Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	events := recordEvents(second)
	if err := second.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(10 * time.Second)
	if err := second.Reconcile(r.ctx); err != nil {
		t.Fatal(err)
	}
	second.Settle(r.ctx)
	if n := launchCalls(r.cloud); n != 0 {
		t.Fatalf("the second controller made %d Launch calls", n)
	}
	st := second.Status()
	if !st.Ready() {
		t.Fatalf("second controller not ready:\n%s", st)
	}
	if app, _ := st.Role("app"); app.Desired != 4 {
		t.Fatalf("second controller's app desired = %d, want the 4 that run", app.Desired)
	}
	for _, s := range second.Servers("") {
		if !s.Adopted || s.Index != before[s.ID] {
			t.Fatalf("server %s: adopted %v index %d, first controller had index %d", s.ID, s.Adopted, s.Index, before[s.ID])
		}
	}
	if n := events.count(HostUp) + events.count(HostInit); n != 0 {
		t.Fatalf("adoption re-ran the lifecycle of running servers (%d events)", n)
	}
}

func TestLostLaunchAnswersNeverDuplicateServers(t *testing.T) {
	synctest.Test(t, testLostLaunchAnswersNeverDuplicateServers)
}

func testLostLaunchAnswersNeverDuplicateServers(t *testing.T) {
	spec := appSpec(3, 3)
	r := newBubbleRig(t, spec, nil, fake.Options{})
	// Every Launch takes effect and its answer is lost, retries included.
	r.cloud.LoseNext(fake.OpLaunch, 1000, provider.Unavailable)
	if err := r.farm.Launch(r.ctx); err == nil {
		t.Fatal("Launch reported no error although every answer was lost")
	}
	if n := len(r.cloud.Servers()); n != 3 {
		t.Fatalf("%d servers at the cloud after retried launches, want 3", n)
	}
	if st, _ := r.farm.Status().Role("app"); st.Launching != 3 {
		t.Fatalf("launching = %d, want the 3 of the unanswered launches", st.Launching)
	}
	r.tick(time.Second) // the listing shows them: no new launch
	if n := len(r.cloud.Servers()); n != 3 {
		t.Fatalf("%d servers after the next tick, want 3", n)
	}
	for _, s := range r.farm.Servers("app") {
		if s.Adopted {
			t.Fatalf("server %s taken as adopted; its launch was this controller's", s.ID)
		}
	}
	r.tick(30 * time.Second)
	if !r.farm.Status().Ready() {
		t.Fatalf("not ready:\n%s", r.farm.Status())
	}
}

func TestAControllerThatDiedMidLaunchIsSucceededWithoutDuplicates(t *testing.T) {
	synctest.Test(t, testAControllerThatDiedMidLaunchIsSucceededWithoutDuplicates)
}

func testAControllerThatDiedMidLaunchIsSucceededWithoutDuplicates(t *testing.T) {
	spec := appSpec(2, 2)
	r := newBubbleRig(t, spec, nil, fake.Options{})
	r.cloud.LoseNext(fake.OpLaunch, 1000, provider.Unavailable)
	r.farm.Launch(r.ctx) // launched, never heard back; then the process dies
	r.cloud.LoseNext(fake.OpLaunch, 0, provider.Unavailable)

	second := r.newFarm(spec)
	if err := second.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.advance(30 * time.Second)
	second.Reconcile(r.ctx)
	second.Settle(r.ctx)
	if n := len(r.cloud.Servers()); n != 2 {
		t.Fatalf("%d servers at the cloud, want 2", n)
	}
	if !second.Status().Ready() {
		t.Fatalf("not ready:\n%s", second.Status())
	}
	// Pending when adopted, these servers go through HostInit/HostUp.
	if n := len(second.Servers("app")); n != 2 {
		t.Fatalf("second controller knows %d servers", n)
	}
}

func TestRestartedControllerContinuesAttemptNumbers(t *testing.T) {
	spec := appSpec(1, 1)
	r := newRig(t, spec, nil, fake.Options{})
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	first := r.farm.Servers("app")[0]
	r.cloud.Crash(first.ID)

	second, err := New(spec, r.cloud, &Options{Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.Launch(r.ctx)
	live := liveAtCloud(r.cloud, "app")
	if len(live) != 1 || live[0].Tags[TagAttempt] != "2" || live[0].Tags[provider.TagToken] == first.Tags[provider.TagToken] {
		t.Fatalf("relaunch of index 1 by a new controller: %+v", live)
	}
}

func TestATokenThatNamesGoneServersMovesToTheNextAttempt(t *testing.T) {
	spec := appSpec(1, 1)
	r := newRig(t, spec, nil, fake.Options{})
	r.farm.Launch(r.ctx)
	first := r.farm.Servers("app")[0]
	r.cloud.Crash(first.ID)
	// Long after: the cloud lists the crashed server no more, but still
	// remembers its launch token.
	r.clk.Advance(fake.TerminatedRetention + time.Minute)

	second := r.newFarm(spec)
	second.Launch(r.ctx) // attempt 1 again: the cloud answers with the gone server
	if live := liveAtCloud(r.cloud, "app"); len(live) != 0 {
		t.Fatalf("live = %v after the stale token", live)
	}
	r.clk.Advance(time.Second)
	second.Reconcile(r.ctx) // attempt 2
	live := liveAtCloud(r.cloud, "app")
	if len(live) != 1 || live[0].Tags[TagAttempt] != "2" {
		t.Fatalf("live = %+v, want one server of attempt 2", live)
	}
}

func TestLaunchAfterTerminateStartsTheFarmAgain(t *testing.T) {
	r := newRig(t, appSpec(2, 3), nil, fake.Options{})
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	done := make(chan error)
	go func() { done <- r.farm.Terminate(r.ctx) }()
	for terminated := false; !terminated; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			terminated = true
		case <-time.After(time.Millisecond):
			r.clk.Advance(time.Second)
		}
	}
	if err := r.farm.SetDesired("app", 3); err == nil {
		t.Fatal("SetDesired succeeded on a terminated farm")
	}
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.tick(30 * time.Second)
	st := r.farm.Status()
	if app, _ := st.Role("app"); !st.Launched || st.Terminating || app.Desired != 2 || app.Counts[StateRunning] != 2 {
		t.Fatalf("relaunched farm:\n%s", st)
	}
}

func TestAdoptedServersAreRegisteredWithTheirLoadBalancerAgain(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 2, LoadBalancer: "www"}}}
	r := newRig(t, spec, nil, fake.Options{LoadBalancers: []string{"www"}})
	r.farm.Launch(r.ctx)
	for range 5 {
		r.tick(30 * time.Second)
	}
	if got := r.cloud.Registered("www"); len(got) != 2 {
		t.Fatalf("first controller registered %v, want both servers", got)
	}
	// The first controller dies; meanwhile the load balancer loses its
	// members (an operator's mistake, a recreated balancer).
	if err := r.cloud.Deregister(r.ctx, "www", r.cloud.Registered("www")...); err != nil {
		t.Fatal(err)
	}
	if got := r.cloud.Registered("www"); len(got) != 0 {
		t.Fatalf("the emptied load balancer has members %v", got)
	}
	second, err := New(spec, r.cloud, &Options{Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Settle(r.ctx); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range second.Servers("app") {
		if !s.Adopted || s.State != StateRunning {
			t.Fatalf("server %s: adopted %v, state %s", s.ID, s.Adopted, s.State)
		}
		want = append(want, s.ID)
	}
	slices.Sort(want) // Registered lists IDs in order; Servers by index
	if got := r.cloud.Registered("www"); !slices.Equal(got, want) {
		t.Fatalf("registered after the takeover: %v, want the adopted %v", got, want)
	}
}
