package farm_test

import (
	"context"
	"fmt"
	"io"
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

// Mounting the scaling API over a farm: other systems read a role's
// capacity, set its desired count or fire a custom event with a bearer
// token. The role takes API calls because its spec enables them.
func ExampleFarm_APITarget() {
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: -1})
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "app", Image: "img-app", Min: 1, Max: 5,
		Scaling: &farm.ScalingSpec{API: &farm.APISpec{}}, // YAML: scaling: {api: {}}
	}}}
	f, err := farm.New(spec, cloud, &farm.Options{Clock: clk})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	ctx := context.Background()
	f.Launch(ctx)
	f.Reconcile(ctx)
	f.Settle(ctx)

	mux := http.NewServeMux()
	mux.Handle("/scaling/", scaling.NewHandler(f.APITarget(), scaling.BearerToken("s3cret"), nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	call := func(method, path, token, body string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s %s %s → %d %s", method, path, body, resp.StatusCode, answer)
	}
	call("GET", "/scaling/roles/app", "s3cret", "")
	call("POST", "/scaling/roles/app/desired", "", `{"desired": 4}`)
	call("POST", "/scaling/roles/app/desired", "s3cret", `{"desired": 9}`)
	call("POST", "/scaling/roles/app/desired", "s3cret", `{"desired": 4}`)
	f.EvaluateScaling(ctx) // Run does this at once after an API call
	call("GET", "/scaling/roles/app", "s3cret", "")
	call("GET", "/scaling/roles/db", "s3cret", "")
	// Output:
	// GET /scaling/roles/app  → 200 {"role":"app","desired":1,"running":1,"min":1,"max":5}
	// POST /scaling/roles/app/desired {"desired": 4} → 401 {"error":"unauthorized"}
	// POST /scaling/roles/app/desired {"desired": 9} → 400 {"error":"desired \"9\": outside role \"app\"'s bounds 1..5"}
	// POST /scaling/roles/app/desired {"desired": 4} → 200 {"desired":4,"role":"app"}
	// GET /scaling/roles/app  → 200 {"role":"app","desired":4,"running":1,"min":1,"max":5}
	// GET /scaling/roles/db  → 404 {"error":"role \"db\": no such role"}
}
