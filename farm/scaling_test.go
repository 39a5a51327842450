package farm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scaling"
)

// cloudLoad is a metric source that reads the 1-minute load the fake cloud
// reports for each server (fake.Provider.SetLoad), as scaling.Proc reads
// /proc/loadavg on real servers. It counts its calls and can be broken.
type cloudLoad struct {
	cloud *fake.Provider
	clk   clock.Clock

	mu    sync.Mutex
	calls int
	err   error
}

func (s *cloudLoad) Metrics() []string { return []string{scaling.MetricLoad1} }

func (s *cloudLoad) Sample(ctx context.Context, t scaling.Target) ([]scaling.Sample, error) {
	s.mu.Lock()
	s.calls++
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := scaling.Sample{Metric: scaling.MetricLoad1, Time: s.clk.Now(), PerServer: map[string]float64{}}
	for _, srv := range t.Servers {
		l1, _, _, err := s.cloud.Load(srv.ID)
		if err != nil {
			return nil, err
		}
		out.PerServer[srv.ID] = l1
	}
	return []scaling.Sample{out}, nil
}

func (s *cloudLoad) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *cloudLoad) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func ptr[T any](v T) *T { return &v }

// scalingRig is a farm with one role "app" that has a scaling policy, fed
// by a cloudLoad source.
type scalingRig struct {
	*rig
	load *cloudLoad
}

func newScalingRig(t *testing.T, role RoleSpec, opts *Options, cloudOpts fake.Options) *scalingRig {
	t.Helper()
	if role.Name == "" {
		role.Name = "app"
	}
	if role.Image == "" {
		role.Image = "img-app"
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	src := &cloudLoad{}
	if role.Scaling != nil && len(role.Scaling.Thresholds)+len(role.Scaling.Targets) > 0 {
		o.MetricSources = map[string][]scaling.Source{role.Name: {src}}
	}
	r := newRig(t, Spec{Name: "shop", TimeZone: "Europe/Berlin", Roles: []RoleSpec{role}}, &o, cloudOpts)
	src.cloud, src.clk = r.cloud, r.clk
	return &scalingRig{rig: r, load: src}
}

// launchReady launches the farm and ticks until it is ready.
func (r *scalingRig) launchReady() {
	r.t.Helper()
	if err := r.farm.Launch(r.ctx); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
	r.untilReady()
}

func (r *scalingRig) untilReady() {
	r.t.Helper()
	for range 20 {
		if r.farm.Status().Ready() {
			return
		}
		r.tick(10 * time.Second)
	}
	r.t.Fatalf("farm not ready:\n%s", r.farm.Status())
}

// setLoad sets every running server's load.
func (r *scalingRig) setLoad(l float64) {
	r.t.Helper()
	for _, id := range r.running("app") {
		if err := r.cloud.SetLoad(id, l, l, l); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *scalingRig) evaluate() {
	r.t.Helper()
	if err := r.farm.EvaluateScaling(r.ctx); err != nil {
		r.t.Fatalf("EvaluateScaling: %v", err)
	}
	r.settle()
}

func (r *scalingRig) desired() int {
	st, _ := r.farm.Status().Role("app")
	return st.Desired
}

func loadPolicy(up, down float64) *ScalingSpec {
	return &ScalingSpec{
		EvaluationInterval: time.Minute,
		CooldownUp:         -1, CooldownDown: -1,
		Thresholds: []ThresholdSpec{{Metric: "load1", UpAbove: ptr(up), UpBy: "2", DownBelow: ptr(down), DownBy: "1"}},
	}
}

func TestScalingEvaluatesOnItsInterval(t *testing.T) {
	pol := loadPolicy(2, 0.5)
	pol.Thresholds[0].Datapoints = 2
	r := newScalingRig(t, RoleSpec{Min: 2, Max: 8, Scaling: pol}, nil, fake.Options{})

	r.evaluate()
	if n := r.load.count(); n != 0 {
		t.Fatalf("the policy was measured %d times before Launch", n)
	}
	r.launchReady()
	r.setLoad(3)
	start := r.load.count()
	r.evaluate() // datapoint 1 of 2
	r.clk.Advance(30 * time.Second)
	r.evaluate() // not due: the interval is one minute
	if n := r.load.count() - start; n != 1 {
		t.Fatalf("measured %d times within one interval, want 1", n)
	}
	if d := r.desired(); d != 2 {
		t.Fatalf("desired = %d after one datapoint, want 2", d)
	}
	r.clk.Advance(30 * time.Second)
	r.evaluate() // datapoint 2 of 2: scale out
	if n := r.load.count() - start; n != 2 {
		t.Fatalf("measured %d times after one interval, want 2", n)
	}
	if d := r.desired(); d != 4 {
		t.Fatalf("desired = %d after two datapoints above 2.0, want 4", d)
	}
	h := r.farm.ScalingHistory("app")
	if len(h) != 1 || !h[0].Time.Equal(r.clk.Now()) {
		t.Fatalf("history = %+v", h)
	}
}

func TestScalingOutAndInThroughTheFarm(t *testing.T) {
	r := newScalingRig(t, RoleSpec{Min: 2, Max: 8, Scaling: loadPolicy(2, 0.5)}, nil, fake.Options{})
	r.launchReady()

	r.setLoad(3.4)
	r.evaluate()
	if d := r.desired(); d != 4 {
		t.Fatalf("desired = %d after load 3.4, want 4", d)
	}
	r.untilReady()
	if n := len(r.running("app")); n != 4 {
		t.Fatalf("%d servers running after the scale-out, want 4", n)
	}

	r.setLoad(0.2)
	r.clk.Advance(time.Minute)
	r.evaluate()
	if d := r.desired(); d != 3 {
		t.Fatalf("desired = %d after load 0.2, want 3", d)
	}
	r.untilReady()
	if n := len(liveAtCloud(r.cloud, "app")); n != 3 {
		t.Fatalf("%d servers live at the cloud after the scale-in, want 3", n)
	}

	want := []struct {
		from, to string
		reason   string
	}{
		{"2", "4", "load1 avg 3.40 > 2.00 for 1 datapoint"},
		{"4", "3", "load1 avg 0.20 < 0.50 for 1 datapoint"},
	}
	evs := r.rec.of(ScalingDecision)
	if len(evs) != len(want) {
		t.Fatalf("ScalingDecision events = %+v", evs)
	}
	for i, w := range want {
		ev := evs[i]
		if ev.Role != "app" || ev.Params["from"] != w.from || ev.Params["to"] != w.to ||
			!strings.Contains(ev.Reason, w.reason) || ev.Params["reason"] != ev.Reason || ev.Params["origin"] != "policy" {
			t.Errorf("event %d = %+v, want %s → %s with reason containing %q", i, ev, w.from, w.to, w.reason)
		}
	}
	h := r.farm.ScalingHistory("app")
	if len(h) != 2 || h[0].From != 2 || h[0].To != 4 || h[1].From != 4 || h[1].To != 3 ||
		h[0].Origin != OriginPolicy || h[1].Reason != evs[1].Reason || len(h[1].Checks) != 1 {
		t.Fatalf("history = %+v", h)
	}
	if n := r.rec.count(HostDown); n != 1 {
		t.Fatalf("HostDown fired %d times, want 1", n)
	}
}

func TestScalingCooldownHoldsASecondScaleUp(t *testing.T) {
	pol := loadPolicy(2, 0.5)
	pol.CooldownUp = 5 * time.Minute
	r := newScalingRig(t, RoleSpec{Min: 2, Max: 8, Scaling: pol}, nil, fake.Options{})
	r.launchReady()
	r.setLoad(5)
	r.evaluate()
	if d := r.desired(); d != 4 {
		t.Fatalf("desired = %d, want 4", d)
	}
	r.untilReady() // the clock moves on by less than the cooldown
	r.setLoad(5)
	r.clk.Set(r.ScalingHistoryAt(0).Add(time.Minute))
	r.evaluate()
	if d := r.desired(); d != 4 {
		t.Fatalf("desired = %d within the up cooldown, want 4", d)
	}
	last, ok := r.farm.LastScalingDecision("app")
	if !ok || !strings.Contains(last.Reason, "blocked by up cooldown") {
		t.Fatalf("last decision = %+v", last)
	}
	r.clk.Set(r.ScalingHistoryAt(0).Add(5 * time.Minute))
	r.evaluate()
	if d := r.desired(); d != 6 {
		t.Fatalf("desired = %d after the cooldown, want 6", d)
	}
	if n := len(r.farm.ScalingHistory("app")); n != 2 {
		t.Fatalf("%d history records, want 2", n)
	}
}

// ScalingHistoryAt returns the time of the i-th history record.
func (r *scalingRig) ScalingHistoryAt(i int) time.Time {
	r.t.Helper()
	h := r.farm.ScalingHistory("app")
	if i >= len(h) {
		r.t.Fatalf("history has %d records, want more than %d", len(h), i)
	}
	return h[i].Time
}

func TestScalingScheduleWindowSetsBounds(t *testing.T) {
	// t0 is Sunday 2026-03-01 12:00 UTC, 13:00 in Berlin.
	pol := &ScalingSpec{
		EvaluationInterval: time.Minute,
		Schedule: &ScheduleSpec{Windows: []WindowSpec{
			{Name: "daytime", Days: []string{"mon-sun"}, Start: "08:00", End: "18:00", Min: ptr(4)},
		}},
	}
	r := newScalingRig(t, RoleSpec{Min: 2, Max: 8, Scaling: pol}, nil, fake.Options{})
	r.launchReady()
	r.evaluate()
	st, _ := r.farm.Status().Role("app")
	if st.Min != 4 || st.Max != 8 || st.Desired != 4 {
		t.Fatalf("in the window: min %d max %d desired %d, want 4 8 4", st.Min, st.Max, st.Desired)
	}
	if sp, _ := r.farm.Spec().Role("app"); sp.Min != 4 {
		t.Fatalf("Spec().Min = %d in the window, want 4", sp.Min)
	}
	ev := r.rec.of(ScalingDecision)
	if len(ev) != 1 || !strings.Contains(ev[0].Reason, "raised to min 4 (window daytime)") {
		t.Fatalf("ScalingDecision events = %+v", ev)
	}
	r.untilReady()

	// 18:00 in Berlin (CET, UTC+1) is 17:00 UTC.
	r.clk.Set(time.Date(2026, 3, 1, 17, 0, 0, 0, time.UTC))
	r.evaluate()
	st, _ = r.farm.Status().Role("app")
	if st.Min != 2 || st.Max != 8 || st.Desired != 4 {
		t.Fatalf("after the window: min %d max %d desired %d, want 2 8 4", st.Min, st.Max, st.Desired)
	}
	h := r.farm.ScalingHistory("app")
	if len(h) != 2 || h[1].From != 4 || h[1].To != 4 || h[1].Min != 2 {
		t.Fatalf("history = %+v", h)
	}
	if n := r.rec.count(ScalingDecision); n != 1 {
		t.Fatalf("a change of bounds alone fired ScalingDecision (%d events)", n)
	}
}

func TestScalingMetricFailureBlocksScaleIn(t *testing.T) {
	r := newScalingRig(t, RoleSpec{Min: 1, Max: 4, Desired: 3, Scaling: loadPolicy(2, 0.5)}, nil, fake.Options{})
	r.launchReady()
	r.setLoad(0.1)
	r.load.fail(errors.New("connection refused"))
	r.evaluate()
	if d := r.desired(); d != 3 {
		t.Fatalf("desired = %d while the metric fails, want 3", d)
	}
	last, _ := r.farm.LastScalingDecision("app")
	if !strings.Contains(last.Reason, "connection refused") || !strings.Contains(last.Reason, "scale-in blocked") {
		t.Fatalf("reason = %q, want the failure and that it blocks scale-in", last.Reason)
	}
	if n := len(r.farm.ScalingHistory("app")); n != 0 {
		t.Fatalf("%d history records, want none", n)
	}

	r.load.fail(nil)
	r.clk.Advance(time.Minute)
	r.evaluate()
	if d := r.desired(); d != 2 {
		t.Fatalf("desired = %d once the metric answers, want 2", d)
	}
}

func TestScaleInIsGraceful(t *testing.T) {
	var (
		mu     sync.Mutex
		record []string
	)
	var cloud *fake.Provider
	hook := HookFunc(func(ctx context.Context, ev Event) error {
		if ev.Type != BeforeHostTerminate {
			return nil
		}
		id := ev.Server.ID
		still := slices.Contains(cloud.Registered("web"), id)
		terminated := false
		for _, c := range cloud.Calls() {
			if c.Op == fake.OpTerminate && strings.Contains(c.Args, id) {
				terminated = true
			}
		}
		mu.Lock()
		record = append(record, fmt.Sprintf("BeforeHostTerminate %s registered=%v terminated=%v", id, still, terminated))
		mu.Unlock()
		return nil
	})
	r := newScalingRig(t, RoleSpec{Min: 1, Max: 4, Desired: 3, LoadBalancer: "web", Scaling: loadPolicy(2, 0.5)},
		&Options{Hooks: []Hook{hook}}, fake.Options{LoadBalancers: []string{"web"}})
	cloud = r.cloud
	r.launchReady()
	running := r.running("app")
	slices.Sort(running)
	if got := r.cloud.Registered("web"); !slices.Equal(got, running) {
		t.Fatalf("registered = %v, want the running servers %v", got, running)
	}

	r.setLoad(0.1)
	oldest := running[0] // launched together, one per zone: the lowest ID goes first
	r.evaluate()
	r.tick(time.Second)
	r.tick(time.Second)
	if n := len(liveAtCloud(r.cloud, "app")); n != 2 {
		t.Fatalf("%d servers live after the scale-in, want 2\n%s", n, serverLines(r.farm.Servers("")))
	}
	mu.Lock()
	got := slices.Clone(record)
	mu.Unlock()
	if want := []string{"BeforeHostTerminate " + oldest + " registered=true terminated=false"}; !slices.Equal(got, want) {
		t.Fatalf("hook saw %q, want %q", got, want)
	}
	if slices.Contains(r.cloud.Registered("web"), oldest) || len(r.cloud.Registered("web")) != 2 {
		t.Fatalf("registered = %v after the scale-in", r.cloud.Registered("web"))
	}
	// The cloud saw the deregistration before the termination.
	dereg, term := -1, -1
	for i, c := range r.cloud.Calls() {
		switch {
		case c.Op == fake.OpDeregister && strings.Contains(c.Args, oldest) && dereg < 0:
			dereg = i
		case c.Op == fake.OpTerminate && strings.Contains(c.Args, oldest) && term < 0:
			term = i
		}
	}
	if dereg < 0 || term < 0 || dereg > term {
		t.Fatalf("Deregister at call %d, Terminate at call %d: want deregistration first", dereg, term)
	}
	types := r.rec.types()
	bht, down := slices.Index(types, string(BeforeHostTerminate)), slices.Index(types, string(HostDown))
	if bht < 0 || down < bht {
		t.Fatalf("events = %v, want BeforeHostTerminate before HostDown", types)
	}
}

func TestScaleInChoosesVictimsByTerminationPolicy(t *testing.T) {
	tests := []struct {
		name    string
		policy  TerminationPolicy
		protect int // index of the server to protect, 0 for none
		keep    []int
	}{
		{"oldest first by default", "", 0, []int{3}},
		{"newest first when asked", NewestFirst, 0, []int{1}},
		{"a protected server stays", OldestFirst, 1, []int{1}},
		{"a protected server stays with newest first", NewestFirst, 3, []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One zone, one launch at a time: three launch times.
			r := newScalingRig(t, RoleSpec{Min: 1, Max: 3, Desired: 1, Zones: []string{"fake-1a"},
				TerminationPolicy: tt.policy, Scaling: loadPolicy(2, 0.5)}, nil, fake.Options{})
			r.launchReady()
			for n := 2; n <= 3; n++ {
				r.clk.Advance(time.Minute)
				if err := r.farm.SetDesired("app", n); err != nil {
					t.Fatal(err)
				}
				r.untilReady()
			}
			byIndex := map[int]string{}
			for _, s := range r.farm.Servers("app") {
				byIndex[s.Index] = s.ID
			}
			if tt.protect > 0 {
				if err := r.farm.SetProtected(byIndex[tt.protect], true); err != nil {
					t.Fatal(err)
				}
			}
			r.setLoad(0.1)
			for range 2 {
				r.clk.Advance(time.Minute)
				r.evaluate()
				r.untilReady()
			}
			var kept []int
			for _, s := range r.farm.Servers("app") {
				if s.State == StateRunning {
					kept = append(kept, s.Index)
				}
			}
			if !slices.Equal(kept, tt.keep) {
				t.Fatalf("kept indexes %v, want %v\n%s", kept, tt.keep, serverLines(r.farm.Servers("app")))
			}
		})
	}
}

func TestScalingHandlerOverTheFarm(t *testing.T) {
	spec := Spec{Name: "shop", Events: []string{"deploy"}, Roles: []RoleSpec{
		{Name: "app", Image: "img", Min: 1, Max: 5},
		{Name: "web", Image: "img", Min: 1, Max: 5, Scaling: &ScalingSpec{API: &APISpec{}}},
	}}
	r := newRig(t, spec, nil, fake.Options{})
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.settle()
	for i := 0; len(r.running("web")) == 0; i++ {
		if i == 20 {
			t.Fatalf("web never ran:\n%s", r.farm.Status())
		}
		r.tick(10 * time.Second)
	}
	mux := http.NewServeMux()
	mux.Handle("/scaling/", scaling.NewHandler(r.farm.APITarget(), scaling.BearerToken("s3cret"), nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	desired := func(role string) int {
		st, _ := r.farm.Status().Role(role)
		return st.Desired
	}

	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		body       string
		wantStatus int
		wantBody   string
	}{
		{"an unauthenticated call reads nothing", "GET", "/scaling/roles/web", "", "", 401, `"error":"unauthorized"`},
		{"GET returns the role's desired, running and bounds", "GET", "/scaling/roles/web", "s3cret", "", 200, `{"role":"web","desired":1,"running":1,"min":1,"max":5}`},
		{"GET of the desired path returns the same", "GET", "/scaling/roles/web/desired", "s3cret", "", 200, `"running":1`},
		{"GET of an unknown role is 404", "GET", "/scaling/roles/db", "s3cret", "", 404, `role \"db\": no such role`},
		{"GET of a role without the API is 403", "GET", "/scaling/roles/app", "s3cret", "", 403, `role \"app\": the scaling API is not enabled for this role; give it scaling: {api: {}}`},
		{"an unauthenticated call changes nothing", "POST", "/scaling/roles/web/desired", "", `{"desired": 4}`, 401, ""},
		{"a wrong token changes nothing", "POST", "/scaling/roles/web/desired", "guess", `{"desired": 4}`, 401, ""},
		{"a role without the API cannot be set", "POST", "/scaling/roles/app/desired", "s3cret", `{"desired": 4}`, 403, "not enabled"},
		{"an unknown role is 404", "POST", "/scaling/roles/db/desired", "s3cret", `{"desired": 2}`, 404, `role \"db\": no such role`},
		{"a count over the role's max is bad input", "POST", "/scaling/roles/web/desired", "s3cret", `{"desired": 9}`, 400, `outside role \"web\"'s bounds 1..5`},
		{"a negative count is bad input", "POST", "/scaling/roles/web/desired", "s3cret", `{"desired": -1}`, 400, "desired"},
		{"a body that is not JSON is bad input", "POST", "/scaling/roles/web/desired", "s3cret", `desired=3`, 400, ""},
		{"a custom event is fired", "POST", "/scaling/events/deploy", "s3cret", `{"version": "1.4.2"}`, 200, ""},
		{"a built-in event cannot be fired", "POST", "/scaling/events/HostUp", "s3cret", `{}`, 400, "built-in"},
		{"an undeclared event is 404", "POST", "/scaling/events/deplyo", "s3cret", `{}`, 404, `event \"deplyo\": not declared in the farm's events`},
	}
	for _, tt := range tests {
		status, body := do(tt.method, tt.path, tt.token, tt.body)
		if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s: got %d %s, want %d containing %q", tt.name, status, body, tt.wantStatus, tt.wantBody)
		}
		if d, w := desired("app"), desired("web"); d != 1 || w != 1 {
			t.Errorf("%s: desired app %d web %d, want 1 and 1", tt.name, d, w)
		}
	}
	r.settle()
	if h := r.farm.ScalingHistory("app"); len(h) != 0 {
		t.Fatalf("app history = %+v, want none", h)
	}
	if evs := r.rec.of("deploy"); len(evs) != 1 || evs[0].Params["version"] != "1.4.2" {
		t.Fatalf("deploy events = %+v", evs)
	}

	// The policy applies the count at its next evaluation; the history
	// has the call and the decision.
	if status, body := do("POST", "/scaling/roles/web/desired", "s3cret", `{"desired": 3}`); status != 200 {
		t.Fatalf("web: %d %s", status, body)
	}
	if d := desired("web"); d != 1 {
		t.Fatalf("web desired = %d before the evaluation, want 1", d)
	}
	if err := r.farm.EvaluateScaling(r.ctx); err != nil {
		t.Fatal(err)
	}
	if d := desired("web"); d != 3 {
		t.Fatalf("web desired = %d after the evaluation, want 3", d)
	}
	h := r.farm.ScalingHistory("web")
	if len(h) != 2 || h[0].Origin != OriginAPI || !strings.Contains(h[0].Reason, "API call: desired 3") ||
		h[1].Origin != OriginPolicy || !strings.Contains(h[1].Reason, "API-set desired 3") {
		t.Fatalf("web history = %+v", h)
	}
	if status, body := do("GET", "/scaling/roles/web", "s3cret", ""); status != 200 || !strings.Contains(body, `"desired":3`) {
		t.Fatalf("GET after the evaluation: %d %s", status, body)
	}
}

func TestRunEvaluatesPoliciesAndReconcilesAtOnce(t *testing.T) {
	synctest.Test(t, testRunEvaluatesPoliciesAndReconcilesAtOnce)
}

func testRunEvaluatesPoliciesAndReconcilesAtOnce(t *testing.T) {
	cloud := fake.New(fake.Options{BootTime: 30 * time.Second}) // the bubble's clock
	defer cloud.Close()
	src := &cloudLoad{cloud: cloud, clk: clock.Real()}
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 8, Scaling: loadPolicy(2, 0.5)}}}
	f, err := New(spec, cloud, &Options{TickInterval: 10 * time.Second,
		MetricSources: map[string][]scaling.Source{"app": {src}}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.Launch(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	setLoad := func(l float64) {
		for _, s := range f.Servers("app") {
			if s.State == StateRunning {
				cloud.SetLoad(s.ID, l, l, l)
			}
		}
	}
	time.Sleep(time.Minute)
	synctest.Wait()
	if !f.Status().Ready() {
		t.Fatalf("not ready after a minute:\n%s", f.Status())
	}
	setLoad(3.4)
	time.Sleep(time.Minute)
	synctest.Wait()
	h := f.ScalingHistory("app")
	if len(h) != 1 || h[0].To != 4 {
		t.Fatalf("history after a minute of load = %+v", h)
	}
	launchedAtOnce := false
	for _, c := range cloud.Calls() {
		if c.Op == fake.OpLaunch && c.Time.Equal(h[0].Time) {
			launchedAtOnce = true
		}
	}
	if !launchedAtOnce {
		t.Fatalf("no launch at the time of the decision %s", h[0].Time)
	}
	time.Sleep(time.Minute)
	synctest.Wait()
	setLoad(0.1)
	time.Sleep(5 * time.Minute)
	synctest.Wait()
	if st, _ := f.Status().Role("app"); st.Desired != 2 || !st.Ready() {
		t.Fatalf("after the load fell:\n%s", f.Status())
	}
	if n := src.count(); n < 7 || n > 9 {
		t.Fatalf("measured %d times in 8 minutes of one-minute intervals", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestScalingNeedsASourceForEveryMetric(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 5, Scaling: &ScalingSpec{
		Thresholds: []ThresholdSpec{{Metric: "queue_length", UpAbove: ptr(100.0)}},
	}}}}
	cloud := fake.New(fake.Options{})
	_, err := New(spec, cloud, nil)
	if err == nil || !strings.Contains(err.Error(), `role "app": scaling reads metric "queue_length" but no source gives it: add one to Options.MetricSources["app"]`) {
		t.Fatalf("New without a source: %v", err)
	}
	_, err = New(spec, cloud, &Options{MetricSources: map[string][]scaling.Source{
		"app":  {&scaling.Func{Metric: "queue_length", Fn: func(context.Context, scaling.Target) (float64, error) { return 1, nil }}},
		"apps": nil,
	}})
	if err == nil || !strings.Contains(err.Error(), `Options.MetricSources["apps"]: the farm has no role "apps" with a scaling policy`) {
		t.Fatalf("New with a misspelt role: %v", err)
	}
}

func TestLoadBalancerNeedsTheCapability(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 5, LoadBalancer: "web"}}}
	_, err := New(spec, noLB{fake.New(fake.Options{})}, nil)
	if err == nil || !strings.Contains(err.Error(), `role "app": load_balancer "web": provider "fake" cannot register servers with a load balancer`) {
		t.Fatalf("New: %v", err)
	}
}

// noLB hides the fake's LoadBalancer capability.
type noLB struct{ p *fake.Provider }

func (n noLB) Name() string                                       { return n.p.Name() }
func (n noLB) As(i any) bool                                      { return false }
func (n noLB) Zones(ctx context.Context) ([]string, error)        { return n.p.Zones(ctx) }
func (n noLB) Terminate(ctx context.Context, ids ...string) error { return n.p.Terminate(ctx, ids...) }
func (n noLB) Reboot(ctx context.Context, id string) error        { return n.p.Reboot(ctx, id) }
func (n noLB) Get(ctx context.Context, id string) (provider.Server, error) {
	return n.p.Get(ctx, id)
}
func (n noLB) List(ctx context.Context, o provider.ListOptions) (provider.Page, error) {
	return n.p.List(ctx, o)
}
func (n noLB) Launch(ctx context.Context, s provider.LaunchSpec) ([]provider.Server, error) {
	return n.p.Launch(ctx, s)
}

func TestScalingReadsTheLoadOverSSHWithoutASource(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 4, Scaling: &ScalingSpec{
		EvaluationInterval: time.Minute,
		Thresholds:         []ThresholdSpec{{Metric: "load1", UpAbove: ptr(1000.0)}},
	}}}}
	r := newScriptRig(t, spec, nil, nil)
	r.upAll()
	if err := r.farm.EvaluateScaling(r.ctx); err != nil {
		t.Fatal(err)
	}
	// The fake servers run "cat /proc/loadavg /proc/meminfo" with /bin/sh
	// on this machine: the figures are real, whatever they are.
	d, ok := r.farm.LastScalingDecision("app")
	if !ok || len(d.Checks) != 1 || d.Checks[0].Vote != scaling.VoteHold || !strings.Contains(d.Reason, "load1 avg") {
		t.Fatalf("decision = %+v", d)
	}
	t.Logf("decision: %s", d.Reason)
}

func TestSetBoundsBecomeThePolicyBounds(t *testing.T) {
	pol := &ScalingSpec{
		EvaluationInterval: time.Minute,
		Schedule: &ScheduleSpec{Windows: []WindowSpec{
			{Name: "night", Days: []string{"mon-sun"}, Start: "22:00", End: "06:00", Desired: ptr(3)},
		}},
	}
	r := newScalingRig(t, RoleSpec{Min: 2, Max: 8, Scaling: pol}, nil, fake.Options{})
	r.launchReady()
	if err := r.farm.SetBounds("app", 1, 2); err == nil || !strings.Contains(err.Error(), "desired 3 is outside the window's bounds [1, 2]") {
		t.Fatalf("SetBounds under the night window's desired: %v", err)
	}
	if st, _ := r.farm.Status().Role("app"); st.Min != 2 || st.Max != 8 {
		t.Fatalf("a refused SetBounds changed the bounds to %d..%d", st.Min, st.Max)
	}
	if err := r.farm.SetBounds("app", 3, 5); err != nil {
		t.Fatal(err)
	}
	r.evaluate() // outside the window: the policy keeps the program's bounds
	if st, _ := r.farm.Status().Role("app"); st.Min != 3 || st.Max != 5 || st.Desired != 3 {
		t.Fatalf("after SetBounds(3, 5) and an evaluation: min %d max %d desired %d", st.Min, st.Max, st.Desired)
	}
	h := r.farm.ScalingHistory("app")
	if len(h) != 1 || h[0].Origin != OriginProgram || h[0].Reason != "bounds set to 3..5" {
		t.Fatalf("history = %+v", h)
	}
}

func TestScalingStateSurvivesARestartedController(t *testing.T) {
	pol := loadPolicy(2, 0.5)
	pol.CooldownUp = 10 * time.Minute
	r := newScalingRig(t, RoleSpec{Min: 2, Max: 8, Scaling: pol}, nil, fake.Options{})
	r.launchReady()
	r.setLoad(5)
	r.evaluate()
	st, ok := r.farm.ScalingState("app")
	if !ok || !st.LastUp.Equal(r.clk.Now()) {
		t.Fatalf("state = %+v, %v", st, ok)
	}

	// A second controller over the same cloud, told the saved state,
	// keeps the cooldown.
	second, err := New(r.farm.Spec(), r.cloud, &Options{Clock: r.clk,
		MetricSources: map[string][]scaling.Source{"app": {r.load}}})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.SetScalingState("app", st); err != nil {
		t.Fatal(err)
	}
	if err := second.SetScalingState("db", st); err == nil {
		t.Fatal("SetScalingState accepted a role without a policy")
	}
	if err := second.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(time.Minute)
	if err := second.EvaluateScaling(r.ctx); err != nil {
		t.Fatal(err)
	}
	d, _ := second.LastScalingDecision("app")
	if d.Action != scaling.None || !strings.Contains(d.Reason, "blocked by up cooldown") {
		t.Fatalf("second controller's decision = %+v", d)
	}
}
