package scaling_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/farmhand/farmhand/scaling"
)

// A threshold policy deciding on one sample of the role's load.
func ExampleDecide() {
	policy := scaling.Policy{
		Min: 2, Max: 10,
		Checks: []scaling.Check{&scaling.Threshold{
			Metric: scaling.MetricLoad1,
			Up:     scaling.Above(2.0, scaling.Count(2)),
			Down:   scaling.Below(0.5, scaling.Count(1)),
		}},
	}
	now := time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)
	load := scaling.Sample{
		Metric: scaling.MetricLoad1, Time: now, Scope: scaling.PerServer,
		PerServer: map[string]float64{"a": 3.0, "b": 4.0, "c": 3.0, "d": 3.6},
	}
	d := scaling.Decide(scaling.Input{
		Policy:  policy,
		Now:     now,
		Current: 4,
		Metrics: map[string]scaling.Sample{scaling.MetricLoad1: load},
	})
	fmt.Println(d.Action, d.To)
	fmt.Println(d.Reason)
	// Output:
	// up 6
	// load1 avg 3.40 > 2.00 for 1 datapoint: +2 (4 → 6)
}

// An Evaluator keeps the breach streak between evaluations, so a rule
// that needs three datapoints acts on the third, and the cooldown then
// holds the next scale-up back.
func ExampleEvaluator() {
	ev, err := scaling.NewEvaluator(scaling.Policy{
		Min: 1, Max: 10,
		Checks: []scaling.Check{&scaling.Threshold{
			Metric:     scaling.MetricLoad1,
			Up:         scaling.Above(2.0, scaling.Percent(50)),
			Datapoints: 3,
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)
	count := 4
	for range 4 {
		load := scaling.Sample{Metric: scaling.MetricLoad1, Time: now, Scope: scaling.RoleWide, Value: 2.7}
		d := ev.Evaluate(scaling.Observation{Now: now, Current: count, Metrics: map[string]scaling.Sample{scaling.MetricLoad1: load}})
		fmt.Println(now.Format("15:04"), d.Reason)
		count = d.To
		now = now.Add(time.Minute)
	}
	// Output:
	// 09:00 no change at 4: load1 2.70 > 2.00 for 1 of 3 datapoints
	// 09:01 no change at 4: load1 2.70 > 2.00 for 2 of 3 datapoints
	// 09:02 load1 2.70 > 2.00 for 3 datapoints: +2 (4 → 6)
	// 09:03 no change at 6: load1 2.70 > 2.00 for 3 datapoints: +3, scale-up to 9 blocked by up cooldown until 2024-03-11T09:07:00Z
}

// A schedule keeps at least four servers during Berlin office hours,
// whatever the season.
func ExampleSchedule() {
	policy := scaling.Policy{
		Min: 1, Max: 10,
		Checks: []scaling.Check{&scaling.Schedule{
			TimeZone: "Europe/Berlin",
			Windows: []scaling.Window{{
				Days:  []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
				Start: "08:00", End: "18:00",
				Min: new(4),
			}},
		}},
	}
	for _, at := range []string{"2024-03-29T06:30:00Z", "2024-04-02T06:30:00Z"} {
		now, _ := time.Parse(time.RFC3339, at)
		d := scaling.Decide(scaling.Input{Policy: policy, Now: now, Current: 2})
		fmt.Println(at, d.Reason)
	}
	// Output:
	// 2024-03-29T06:30:00Z no change at 2: no check voted
	// 2024-04-02T06:30:00Z raised to min 4 (window Mon,Tue,Wed,Thu,Fri 08:00-18:00 Europe/Berlin) (2 → 4)
}

// Replaying a policy over the sample day: a morning scale-out, an evening
// scale-in, and what it costs.
func ExampleSimulate() {
	f, err := os.Open("testdata/sample-trace.csv")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	trace, err := scaling.ReadTrace(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	policy := scaling.Policy{
		Min: 2, Max: 12,
		CooldownUp: 3 * time.Minute, CooldownDown: 10 * time.Minute, WarmUp: 3 * time.Minute,
		Checks: []scaling.Check{&scaling.Threshold{
			Metric:     scaling.MetricLoad1,
			Up:         scaling.Above(2.0, scaling.Percent(50)),
			Down:       scaling.Below(0.8, scaling.Count(1)),
			Datapoints: 2,
		}},
	}
	res, err := scaling.Simulate(policy, trace, &scaling.SimOptions{BootDelay: 2 * time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("actions=%d up=%d down=%d server-hours=%.1f peak=%d\n", res.Actions(), res.Ups, res.Downs, res.ServerHours, res.Peak)
	// Output:
	// actions=14 up=4 down=10 server-hours=147.5 peak=12
}

// roles is an APITarget that knows one role.
type roles struct{}

func (roles) Capacity(_ context.Context, role string) (scaling.Capacity, error) {
	if role != "app" {
		return scaling.Capacity{}, scaling.UnknownRole(role)
	}
	return scaling.Capacity{Role: "app", Desired: 5, Running: 4, Min: 2, Max: 8}, nil
}

func (roles) SetDesired(_ context.Context, role string, n int) error {
	if role != "app" {
		return scaling.UnknownRole(role)
	}
	fmt.Println("set", role, "to", n)
	return nil
}

func (roles) FireEvent(_ context.Context, name string, params map[string]string) error {
	fmt.Println("event", name, params)
	return nil
}

// Mounting the API under /scaling/ with a bearer token.
func ExampleNewHandler() {
	mux := http.NewServeMux()
	mux.Handle("/scaling/", scaling.NewHandler(roles{}, scaling.BearerToken("s3cret"), nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, token, body string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	post("/scaling/roles/app/desired", "s3cret", `{"desired": 5}`)
	post("/scaling/roles/app/desired", "guess", `{"desired": 50}`)
	post("/scaling/roles/db/desired", "s3cret", `{"desired": 1}`)
	post("/scaling/events/deploy", "s3cret", `{"version": "1.4.2"}`)

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/scaling/roles/app", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Status, " ", string(body))
	// Output:
	// set app to 5
	// 200 OK
	// 401 Unauthorized
	// 404 Not Found
	// event deploy map[version:1.4.2]
	// 200 OK
	// 200 OK {"role":"app","desired":5,"running":4,"min":2,"max":8}
}
