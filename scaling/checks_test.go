package scaling

import (
	"strings"
	"testing"
	"time"
)

// berlinWeekdays is a schedule that raises min to 4 on weekdays 08:00-18:00
// Berlin time.
func berlinWeekdays(w Window) Policy {
	return Policy{Min: 1, Max: 10, Checks: []Check{&Schedule{TimeZone: "Europe/Berlin", Windows: []Window{w}}}}
}

func TestDecideChecks(t *testing.T) {
	weekly := Window{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, Start: "08:00", End: "18:00", Min: new(4)}
	cronWin := Window{Cron: "0 8 * * 1-5", Duration: 10 * time.Hour, Min: new(4)}
	overnight := Window{Days: []time.Weekday{time.Friday}, Start: "22:00", End: "02:00", Max: new(2)}
	utc := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	target := func(agg Aggregate, metric string, tv float64) Policy {
		return Policy{Min: 1, Max: 20, Checks: []Check{&TargetValue{Metric: metric, Aggregate: agg, Target: tv}}}
	}
	api := Policy{Min: 1, Max: 10, Checks: []Check{&APICapacity{TTL: time.Hour}, &Threshold{Metric: MetricLoad1, Up: Above(2, Count(1)), Down: Below(0.5, Count(1))}}}
	cases := []struct {
		name   string
		in     Input
		action Action
		to     int
		reason []string
	}{
		// Target value.
		{
			name:   "target value scales out to ceil(servers × metric / target)",
			in:     Input{Policy: target(Average, "cpu", 50), Current: 4, Servers: servers(4), Metrics: metrics(perServer("cpu", 70, 80, 75, 75))},
			action: Up, to: 6,
			reason: []string{"cpu per server 75.00 vs target 50.00: +2 (4 → 6)"},
		},
		{
			name:   "target value holds within the tolerance band",
			in:     Input{Policy: target(Average, "cpu", 50), Current: 4, Servers: servers(4), Metrics: metrics(perServer("cpu", 54, 54, 54, 54))},
			action: None, to: 4,
			reason: []string{"within 10%"},
		},
		{
			name:   "target value just outside the band acts",
			in:     Input{Policy: target(Average, "cpu", 50), Current: 10, Servers: servers(10), Metrics: metrics(perServer("cpu", 56, 56, 56, 56, 56, 56, 56, 56, 56, 56))},
			action: Up, to: 12,
		},
		{
			name:   "target value scales in",
			in:     Input{Policy: target(Average, "cpu", 50), Current: 10, Servers: servers(10), Metrics: metrics(perServer("cpu", 20, 20, 20, 20, 20, 20, 20, 20, 20, 20))},
			action: Down, to: 4,
		},
		{
			name: "target value with scale-in disabled only grows",
			in: Input{Policy: Policy{Min: 1, Max: 20, Checks: []Check{&TargetValue{Metric: "cpu", Target: 50, DisableScaleIn: true}}},
				Current: 10, Servers: servers(10), Metrics: metrics(perServer("cpu", 20, 20, 20, 20, 20, 20, 20, 20, 20, 20))},
			action: None, to: 10,
			reason: []string{"scale-in disabled"},
		},
		{
			name:   "target value on a role-wide total divides by the target",
			in:     Input{Policy: target(Total, "queue", 100), Current: 2, Servers: servers(2), Metrics: metrics(roleWide("queue", 340))},
			action: Up, to: 4,
			reason: []string{"queue per server 170.00 vs target 100.00: +2"},
		},
		{
			name: "target value counts warming servers and does not double the order",
			in: Input{Policy: Policy{Min: 1, Max: 20, WarmUp: 10 * time.Minute, Checks: []Check{&TargetValue{Metric: "cpu", Target: 50}}},
				Current: 4, Servers: append(servers(2), Server{ID: "s3", LaunchedAt: t0}, Server{ID: "s4", LaunchedAt: t0}),
				Metrics: metrics(perServer("cpu", 90, 90))},
			action: None, to: 4,
		},
		{
			name:   "target value with a failed metric blocks scale-in",
			in:     Input{Policy: target(Average, "cpu", 50), Current: 4, Servers: servers(4), Metrics: metrics(Sample{Metric: "cpu", Err: errTest})},
			action: None, to: 4,
			reason: []string{"scale-in blocked: cpu failed: test failure"},
		},
		// Schedules.
		{
			name:   "schedule window in Europe/Berlin before DST: 07:30 CET is outside",
			in:     Input{Policy: berlinWeekdays(weekly), Now: utc("2024-03-29T06:30:00Z"), Current: 2},
			action: None, to: 2,
		},
		{
			name:   "schedule window in Europe/Berlin before DST: 08:00 CET opens it",
			in:     Input{Policy: berlinWeekdays(weekly), Now: utc("2024-03-29T07:00:00Z"), Current: 2},
			action: Up, to: 4,
			reason: []string{"raised to min 4 (window Mon,Tue,Wed,Thu,Fri 08:00-18:00 Europe/Berlin) (2 → 4)"},
		},
		{
			name:   "schedule window in Europe/Berlin across DST: 06:30 UTC is 08:30 CEST, inside",
			in:     Input{Policy: berlinWeekdays(weekly), Now: utc("2024-04-02T06:30:00Z"), Current: 2},
			action: Up, to: 4,
		},
		{
			name:   "schedule window in Europe/Berlin across DST: 16:00 UTC is 18:00 CEST, the end is exclusive",
			in:     Input{Policy: berlinWeekdays(weekly), Now: utc("2024-04-02T16:00:00Z"), Current: 2},
			action: None, to: 2,
		},
		{
			name:   "schedule window in Europe/Berlin after DST ends: 07:00 UTC is 08:00 CET again",
			in:     Input{Policy: berlinWeekdays(weekly), Now: utc("2024-10-28T07:00:00Z"), Current: 2},
			action: Up, to: 4,
		},
		{
			name:   "schedule window in Europe/Berlin after DST ends: 06:30 UTC is 07:30 CET, outside",
			in:     Input{Policy: berlinWeekdays(weekly), Now: utc("2024-10-28T06:30:00Z"), Current: 2},
			action: None, to: 2,
		},
		{
			name:   "schedule window is closed at the weekend",
			in:     Input{Policy: berlinWeekdays(weekly), Now: utc("2024-03-30T10:00:00Z"), Current: 2},
			action: None, to: 2,
		},
		{
			name:   "cron window in Europe/Berlin across DST: opens 08:00 CEST",
			in:     Input{Policy: berlinWeekdays(cronWin), Now: utc("2024-04-02T06:00:00Z"), Current: 2},
			action: Up, to: 4,
			reason: []string{`window cron "0 8 * * 1-5" for 10h0m0s Europe/Berlin`},
		},
		{
			name:   "cron window in Europe/Berlin across DST: 05:59 UTC is 07:59 CEST, not yet open",
			in:     Input{Policy: berlinWeekdays(cronWin), Now: utc("2024-04-02T05:59:00Z"), Current: 2},
			action: None, to: 2,
		},
		{
			name:   "cron window in Europe/Berlin across DST: closes after its duration",
			in:     Input{Policy: berlinWeekdays(cronWin), Now: utc("2024-04-02T16:00:00Z"), Current: 2},
			action: None, to: 2,
		},
		{
			name:   "cron window in Europe/Berlin before DST: 06:30 UTC is 07:30 CET, not open",
			in:     Input{Policy: berlinWeekdays(cronWin), Now: utc("2024-03-29T06:30:00Z"), Current: 2},
			action: None, to: 2,
		},
		{
			name:   "overnight window runs past midnight into the next day",
			in:     Input{Policy: berlinWeekdays(overnight), Now: utc("2024-03-30T00:30:00Z"), Current: 5},
			action: Down, to: 2,
			reason: []string{"lowered to max 2 (window Fri 22:00-02:00 Europe/Berlin)"},
		},
		{
			name:   "overnight window does not open the night before a day it lacks",
			in:     Input{Policy: berlinWeekdays(overnight), Now: utc("2024-03-29T00:30:00Z"), Current: 5},
			action: None, to: 5,
		},
		{
			name: "window desired votes like a check",
			in: Input{Policy: berlinWeekdays(Window{Days: []time.Weekday{time.Monday}, Start: "00:00", End: "24:00", Desired: new(6)}),
				Now: t0, Current: 2},
			action: Up, to: 6,
			reason: []string{"window Mon 00:00-24:00 Europe/Berlin: desired 6 (2 → 6)"},
		},
		{
			name: "window max above the policy max lets the role grow further",
			in: Input{Policy: Policy{Min: 1, Max: 4, Checks: []Check{
				&Schedule{Windows: []Window{{Days: []time.Weekday{time.Monday}, Start: "00:00", End: "24:00", Max: new(8)}}},
				&Threshold{Metric: MetricLoad1, Up: Above(2, Count(3))},
			}}, Now: t0, Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3))},
			action: Up, to: 7,
		},
		{
			name: "overlapping windows err towards capacity",
			in: Input{Policy: Policy{Min: 1, Max: 10, Checks: []Check{&Schedule{Windows: []Window{
				{Days: []time.Weekday{time.Monday}, Start: "00:00", End: "24:00", Min: new(2), Desired: new(3)},
				{Days: []time.Weekday{time.Monday}, Start: "11:00", End: "13:00", Min: new(5), Desired: new(7)},
			}}}}, Now: t0, Current: 1},
			action: Up, to: 7,
		},
		{
			name: "a load scale-up beats a lower schedule desired",
			in: Input{Policy: Policy{Min: 1, Max: 10, Checks: []Check{
				&Schedule{Windows: []Window{{Days: []time.Weekday{time.Monday}, Start: "00:00", End: "24:00", Desired: new(3)}}},
				&Threshold{Metric: MetricLoad1, Up: Above(2, Count(2))},
			}}, Now: t0, Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3))},
			action: Up, to: 6,
		},
		// API-set capacity.
		{
			name:   "API-set desired grows the role",
			in:     Input{Policy: api, Current: 2, Servers: servers(2), Metrics: metrics(perServer(MetricLoad1, 1, 1)), State: State{API: &APIDesired{Count: 5, At: t0.Add(-time.Minute)}}},
			action: Up, to: 5,
			reason: []string{"API-set desired 5 (2 → 5)"},
		},
		{
			name:   "API-set desired is clamped to max",
			in:     Input{Policy: api, Current: 2, Servers: servers(2), Metrics: metrics(perServer(MetricLoad1, 1, 1)), State: State{API: &APIDesired{Count: 50, At: t0}}},
			action: Up, to: 10,
		},
		{
			name:   "API-set desired expires after its TTL",
			in:     Input{Policy: api, Current: 2, Servers: servers(2), Metrics: metrics(perServer(MetricLoad1, 1, 1)), State: State{API: &APIDesired{Count: 5, At: t0.Add(-time.Hour)}}},
			action: None, to: 2,
		},
		{
			name:   "API-set desired below the count waits for the other checks to agree",
			in:     Input{Policy: api, Current: 6, Servers: servers(6), Metrics: metrics(perServer(MetricLoad1, 1, 1, 1, 1, 1, 1)), State: State{API: &APIDesired{Count: 2, At: t0}}},
			action: None, to: 6,
			reason: []string{"overruled API-set desired 2"},
		},
		{
			name:   "API-set desired below the count shrinks the role when load is low",
			in:     Input{Policy: api, Current: 6, Servers: servers(6), Metrics: metrics(perServer(MetricLoad1, 0, 0, 0, 0, 0, 0)), State: State{API: &APIDesired{Count: 4, At: t0}}},
			action: Down, to: 5,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustValid(t, c.in.Policy)
			if c.in.Now.IsZero() {
				c.in.Now = t0
			}
			for k, s := range c.in.Metrics {
				s.Time = c.in.Now
				c.in.Metrics[k] = s
			}
			d := Decide(c.in)
			if d.Action != c.action || d.To != c.to {
				t.Errorf("got %s %d → %d, want %s → %d\nreason: %s", d.Action, d.From, d.To, c.action, c.to, d.Reason)
			}
			for _, want := range c.reason {
				if !strings.Contains(d.Reason, want) {
					t.Errorf("reason %q does not contain %q", d.Reason, want)
				}
			}
		})
	}
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("test failure")
