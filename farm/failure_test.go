package farm

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

// failureLog keeps what a program subscribed with SubscribeFailures hears.
type failureLog struct {
	mu  sync.Mutex
	evs []Event
}

func subscribeFailures(f *Farm) *failureLog {
	l := &failureLog{}
	f.SubscribeFailures(func(ev Event) {
		l.mu.Lock()
		l.evs = append(l.evs, ev)
		l.mu.Unlock()
	})
	return l
}

// ops returns the OperationFailed events of one op.
func (l *failureLog) ops(op string) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, ev := range l.evs {
		if ev.Type == OperationFailed && ev.Params["op"] == op {
			out = append(out, ev)
		}
	}
	return out
}

func (l *failureLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ev := range l.evs {
		b.WriteString(ev.String() + "\n")
	}
	return b.String()
}

func TestAHookThatFailsOrOverrunsTheStepTimeoutIsReportedToTheProgram(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1}}}
		r := newBubbleRig(t, spec, &Options{StepTimeout: time.Minute}, fake.Options{})
		fails := subscribeFailures(r.farm)
		r.farm.AddHook(HookFunc(func(ctx context.Context, ev Event) error {
			if ev.Type == HostUp {
				return errors.New("inventory service down")
			}
			return nil
		}))
		r.farm.AddHook(HookFunc(func(ctx context.Context, ev Event) error {
			if ev.Type == HostUp {
				<-ctx.Done() // never answers
				return ctx.Err()
			}
			return nil
		}))
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.farm.Run(ctx) }()
		defer func() { stop(); <-done }()
		if err := r.farm.Launch(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.farm.WaitReady(ctx); err != nil {
			t.Fatalf("WaitReady: %v (a failed hook is no failed server)", err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		evs := fails.ops(OpHook)
		if len(evs) != 2 {
			t.Fatalf("hook failures heard: %d, want 2\n%s", len(evs), fails)
		}
		var failed, timedOut bool
		for _, ev := range evs {
			if ev.Params["event"] != string(HostUp) || ev.Server == nil || ev.Role != "app" {
				t.Fatalf("OperationFailed = %+v", ev)
			}
			failed = failed || strings.Contains(ev.Params["error"], "inventory service down")
			timedOut = timedOut || strings.Contains(ev.Reason, context.DeadlineExceeded.Error())
		}
		if !failed || !timedOut {
			t.Fatalf("want the error and the timeout, heard:\n%s", fails)
		}
	})
}

func TestFailedDNSWritesAreReportedAfterAnEventAndInThePeriodicSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := dnsupdate.NewMemory(nil)
		spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2,
			DNS: []DNSName{{Name: "www.farm.test", Select: DNSSelectAll}}}}}
		r := newBubbleRig(t, spec, &Options{DNS: mem}, fake.Options{})
		fails := subscribeFailures(r.farm)
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.farm.Run(ctx) }()
		defer func() { stop(); <-done }()
		if err := r.farm.Launch(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.farm.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.farm.Settle(ctx); err != nil {
			t.Fatal(err)
		}
		down := &dnsupdate.Error{Kind: dnsupdate.ErrUnavailable, Op: "test", Err: errors.New("server down")}

		// The write after the second server's HostUp fails.
		mem.FailNext(1, down)
		if err := r.farm.SetDesired("app", 2); err != nil {
			t.Fatal(err)
		}
		if err := r.farm.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.farm.Settle(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		evs := fails.ops(OpDNS)
		if len(evs) != 1 || evs[0].Params["name"] != "www.farm.test." || evs[0].Role != "app" ||
			!strings.Contains(evs[0].Params["error"], "server down") {
			t.Fatalf("after the failed write heard:\n%s", fails)
		}
		if n := len(fails.ops(OpHook)); n != 0 {
			t.Fatalf("the DNS failure was reported again as a hook's:\n%s", fails)
		}

		// The periodic sync's write fails too, and is heard.
		mem.FailNext(1, down)
		time.Sleep(DefaultDNSResync + time.Second)
		synctest.Wait()
		if evs := fails.ops(OpDNS); len(evs) != 2 {
			t.Fatalf("after the periodic sync failed heard:\n%s", fails)
		}
		// The next one repairs the name and reports nothing.
		time.Sleep(DefaultDNSResync)
		synctest.Wait()
		if rs, _ := mem.Lookup("www.farm.test", "A"); len(rs.Values) != 2 {
			t.Fatalf("www holds %v, want two addresses", rs.Values)
		}
		if evs := fails.ops(OpDNS); len(evs) != 2 {
			t.Fatalf("after the repair heard:\n%s", fails)
		}
	})
}

func TestAFailoverWhosePromotionsAllFailIsListedAndReported(t *testing.T) {
	r, _, _ := failoverRig(t, dbSpec(3), nil)
	fails := subscribeFailures(r.farm)
	r.farm.dns.runScript = func(ctx context.Context, id, script string, event EventType, params map[string]string) error {
		return errors.New("exit status 1")
	}
	old, _ := master(r.farm, "db")
	if err := r.cloud.Crash(old.ID); err != nil {
		t.Fatal(err)
	}
	for range 4 { // the replacement comes up, and its promotion fails too
		r.tick(30 * time.Second)
		r.quiet()
	}
	if _, n := master(r.farm, "db"); n != 0 {
		t.Fatalf("%d masters after every promotion failed", n)
	}
	fos := r.farm.Failovers()
	if len(fos) != 1 {
		t.Fatalf("Failovers = %+v, want the failed one", fos)
	}
	fo := fos[0]
	if fo.NewMaster != "" || fo.OldMaster != old.ID || !strings.Contains(fo.Err, "promotion failed") || len(fo.Skipped) < 2 {
		t.Fatalf("failed failover = %+v", fo)
	}
	evs := fails.ops(OpFailover)
	if len(evs) != 1 || evs[0].Role != "db" || evs[0].Params["old_master"] != old.ID ||
		!strings.Contains(evs[0].Params["skipped"], "exit status 1") {
		t.Fatalf("heard:\n%s", fails)
	}
}

func TestLoadBalancerRegistrationFailuresAreReported(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 2, LoadBalancer: "www"}}}
	r := newRig(t, spec, nil, fake.Options{LoadBalancers: []string{"www"}})
	fails := subscribeFailures(r.farm)
	r.cloud.FailNext(fake.OpRegister, 1, provider.InvalidArgument)
	r.farm.Launch(r.ctx)
	for range 5 {
		r.tick(30 * time.Second)
	}
	r.quiet()
	evs := fails.ops(OpLoadBalancer)
	if len(evs) != 1 || evs[0].Params["load_balancer"] != "www" || evs[0].Params["event"] != string(HostUp) || evs[0].Server == nil {
		t.Fatalf("after a failed registration heard:\n%s", fails)
	}

	// A controller taking over registers the adopted servers again; the
	// load balancer refuses.
	second, err := New(spec, r.cloud, &Options{Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	fails2 := subscribeFailures(second)
	r.cloud.FailNext(fake.OpRegister, 2, provider.InvalidArgument)
	if err := second.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Settle(r.ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(fails2.ops(OpLoadBalancer)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if evs := fails2.ops(OpLoadBalancer); len(evs) != 2 || evs[0].Params["load_balancer"] != "www" {
		t.Fatalf("after failed registrations of adopted servers heard:\n%s", fails2)
	}
}

func TestATickThatKeepsFailingIsReportedOnceUntilOneSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1}}}
		r := newBubbleRig(t, spec, &Options{TickInterval: 10 * time.Second}, fake.Options{})
		fails := subscribeFailures(r.farm)
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.farm.Run(ctx) }()
		defer func() { stop(); <-done }()
		if err := r.farm.Launch(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.farm.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		// Five ticks in a row cannot list the cloud.
		r.cloud.FailNext(fake.OpList, 5, provider.InvalidArgument)
		time.Sleep(75 * time.Second)
		synctest.Wait()
		evs := fails.ops(OpReconcile)
		if len(evs) != 1 || !strings.Contains(evs[0].Params["error"], "injected fault") {
			t.Fatalf("after five failed ticks heard:\n%s", fails)
		}
		if st := r.farm.Status(); st.LastError != "" {
			t.Fatalf("a tick went well since, yet Status.LastError = %q", st.LastError)
		}
		// A failure after a tick that went well is heard again.
		r.cloud.FailNext(fake.OpList, 1, provider.InvalidArgument)
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if evs := fails.ops(OpReconcile); len(evs) != 2 {
			t.Fatalf("after another failed tick heard:\n%s", fails)
		}
	})
}

func TestAFailedScaleInIsReported(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2, Desired: 2, LoadBalancer: "www"}}}
	var refuse sync.Mutex
	refusing := false
	b := backendsFunc(func(ctx context.Context, lb string, servers []Server) error {
		refuse.Lock()
		defer refuse.Unlock()
		if refusing {
			return errors.New("runtime API refused")
		}
		return nil
	})
	r := newRig(t, spec, &Options{LoadBalancers: map[string]Backends{"www": b}}, fake.Options{})
	fails := subscribeFailures(r.farm)
	r.farm.AddHook(HookFunc(func(ctx context.Context, ev Event) error {
		if ev.Type == BeforeHostTerminate {
			return errors.New("inventory service down")
		}
		return nil
	}))
	r.farm.Launch(r.ctx)
	for range 4 {
		r.tick(30 * time.Second)
	}
	r.quiet()
	if n := len(r.running("app")); n != 2 {
		t.Fatalf("%d servers running, want 2", n)
	}
	r.cloud.FailNext(fake.OpTerminate, 1, provider.InvalidArgument)
	if err := r.farm.SetDesired("app", 1); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r.tick(30 * time.Second)
		r.quiet()
	}
	hooks := fails.ops(OpHook)
	if len(hooks) != 1 || hooks[0].Params["event"] != string(BeforeHostTerminate) || hooks[0].Server == nil ||
		!strings.Contains(hooks[0].Reason, "inventory service down") {
		t.Fatalf("the BeforeHostTerminate hook's failure: heard\n%s", fails)
	}
	if terms := fails.ops(OpTerminate); len(terms) != 1 || terms[0].Server == nil || !strings.Contains(terms[0].Reason, "injected fault") {
		t.Fatalf("the refused terminate: heard\n%s", fails)
	}
	if n := len(liveAtCloud(r.cloud, "app")); n != 1 {
		t.Fatalf("%d servers at the cloud, want 1 (the next tick terminates)", n)
	}

	// The load balancer refuses the backends when a new server enters
	// service.
	refuse.Lock()
	refusing = true
	refuse.Unlock()
	if err := r.farm.SetDesired("app", 2); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		r.tick(30 * time.Second)
		r.quiet()
	}
	lbs := fails.ops(OpLoadBalancer)
	if len(lbs) != 1 || lbs[0].Params["load_balancer"] != "www" || lbs[0].Params["event"] != string(HostUp) ||
		!strings.Contains(lbs[0].Reason, "runtime API refused") {
		t.Fatalf("the load balancer's failure: heard\n%s", fails)
	}
	if st := r.farm.BackendsStatus(); len(st) != 1 || !strings.Contains(st[0].Err, "runtime API refused") {
		t.Fatalf("BackendsStatus = %+v", st)
	}
}

// backendsFunc adapts a function to Backends.
type backendsFunc func(ctx context.Context, lb string, servers []Server) error

func (f backendsFunc) SetBackends(ctx context.Context, lb string, servers []Server) error {
	return f(ctx, lb, servers)
}

func TestAFailedDeletionOfAnOldBackupIsReported(t *testing.T) {
	r := backupRig(t, BackupSpec{Interval: time.Hour, Keep: 1})
	fails := subscribeFailures(r.farm)
	r.runBackups()
	r.advance(time.Hour)
	// The second backup makes the first one too many; deleting it fails.
	r.cloud.FailNext(fake.OpDeleteSnapshot, 1, provider.InvalidArgument)
	r.runBackups()
	r.quiet()
	evs := fails.ops(OpBackupRetention)
	if len(evs) != 1 || evs[0].Role != "db" || !strings.Contains(evs[0].Reason, "injected fault") {
		t.Fatalf("heard:\n%s", fails)
	}
	if n := len(r.rec.of(BackupComplete)); n != 2 {
		t.Fatalf("%d BackupComplete, want 2", n)
	}
}

func TestANewMasterTheStoreCannotSaveIsReported(t *testing.T) {
	spec := dbSpec(2)
	st := &failingStore{Store: farmStore(t, spec.Name)}
	r, _, _ := failoverRig(t, spec, &Options{Store: st})
	fails := subscribeFailures(r.farm)
	old, _ := master(r.farm, "db")
	st.failNext = keyMaster
	if err := r.cloud.Crash(old.ID); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.quiet()
	evs := fails.ops(OpStore)
	if len(evs) != 1 || evs[0].Role != "db" || !strings.Contains(evs[0].Reason, "disk full") {
		t.Fatalf("heard:\n%s", fails)
	}
	if m, n := master(r.farm, "db"); n != 1 || m.ID == old.ID {
		t.Fatalf("master %s (%d): the failover goes on", m.ID, n)
	}
}
