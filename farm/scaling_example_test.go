package farm_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scaling"
)

// A role that grows on its load: the metric comes from a Go function here
// (a queue length, say); on real servers it may be the load average read
// over SSH. EvaluateScaling is what Run calls on the role's interval.
func ExampleFarm_EvaluateScaling() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 30 * time.Second})
	perServer := 0.4
	queue := &scaling.Func{Metric: "jobs", Clock: clk, Fn: func(context.Context, scaling.Target) (float64, error) {
		return perServer, nil
	}}
	up, down := 10.0, 1.0
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "worker", Image: "img-worker", Min: 1, Max: 6,
		Scaling: &farm.ScalingSpec{
			EvaluationInterval: time.Minute,
			Thresholds:         []farm.ThresholdSpec{{Metric: "jobs", UpAbove: &up, UpBy: "2", DownBelow: &down, DownBy: "1"}},
		},
	}}}
	f, err := farm.New(spec, cloud, &farm.Options{Clock: clk,
		MetricSources: map[string][]scaling.Source{"worker": {queue}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	tick := func() {
		clk.Advance(time.Minute)
		f.Reconcile(ctx)
		f.EvaluateScaling(ctx)
		f.Settle(ctx)
	}
	f.Launch(ctx)
	tick()

	perServer = 25 // the queue grows
	tick()
	perServer = 4
	tick()
	for _, r := range f.ScalingHistory("worker") {
		fmt.Printf("%d → %d: %s\n", r.From, r.To, r.Reason)
	}
	d, _ := f.LastScalingDecision("worker")
	fmt.Println("last:", d.Reason)
	// Output:
	// 1 → 3: jobs 25.00 > 10.00 for 1 datapoint: +2 (1 → 3)
	// last: no change at 3: jobs 4.00 within [1.00, 10.00]
}

// Mounting the scaling API over a farm: other systems set a role's desired
// count or fire a custom event with a bearer token.
func ExampleFarm_APITarget() {
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk})
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{Name: "app", Image: "img-app", Min: 1, Max: 5}}}
	f, err := farm.New(spec, cloud, &farm.Options{Clock: clk})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	f.Launch(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/scaling/", scaling.NewHandler(f.APITarget(), scaling.BearerToken("s3cret"), nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, call := range []struct{ token, body string }{
		{"", `{"desired": 4}`},
		{"s3cret", `{"desired": 4}`},
		{"s3cret", `{"desired": 9}`},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/scaling/roles/app/desired", strings.NewReader(call.body))
		if call.token != "" {
			req.Header.Set("Authorization", "Bearer "+call.token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		st, _ := f.Status().Role("app")
		fmt.Printf("%s → %d, desired %d\n", call.body, resp.StatusCode, st.Desired)
	}
	// Output:
	// {"desired": 4} → 401, desired 1
	// {"desired": 4} → 200, desired 4
	// {"desired": 9} → 400, desired 4
}
