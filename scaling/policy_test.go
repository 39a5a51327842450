package scaling

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyValidate(t *testing.T) {
	weekday := []time.Weekday{time.Monday}
	cases := []struct {
		name string
		p    Policy
		want []string // substrings of the error; none means valid
	}{
		{name: "a threshold policy is valid", p: loadPolicy()},
		{name: "min above max is refused", p: Policy{Min: 5, Max: 3}, want: []string{"min 5 > max 3"}},
		{name: "negative min is refused", p: Policy{Min: -1, Max: 3}, want: []string{"min -1 is negative"}},
		{name: "sub-second interval is refused", p: Policy{Max: 1, EvaluationInterval: time.Millisecond}, want: []string{"evaluation interval 1ms is under 1s"}},
		{name: "negative warm-up is refused", p: Policy{Max: 1, WarmUp: -time.Second}, want: []string{"warm-up -1s is negative"}},
		{name: "a nil check is refused", p: Policy{Max: 1, Checks: []Check{(*Threshold)(nil)}}, want: []string{"checks[0] is nil"}},
		{
			name: "threshold without rules is refused",
			p:    Policy{Max: 1, Checks: []Check{&Threshold{Metric: "load1"}}},
			want: []string{`checks[0] "threshold load1": neither Up nor Down is set`},
		},
		{
			name: "threshold whose rules overlap is refused",
			p:    Policy{Max: 1, Checks: []Check{&Threshold{Metric: "load1", Up: Above(1, Count(1)), Down: Below(2, Count(1))}}},
			want: []string{"down value 2 > up value 1"},
		},
		{
			name: "threshold with rules on one side is refused",
			p:    Policy{Max: 1, Checks: []Check{&Threshold{Metric: "load1", Up: Above(1, Count(1)), Down: Above(2, Count(1))}}},
			want: []string{"up and down both breach >"},
		},
		{
			name: "step with neither count nor percent is refused",
			p:    Policy{Max: 1, Checks: []Check{&Threshold{Metric: "load1", Up: Above(1, Step{})}}},
			want: []string{"up.By.Percent 0 is not in (0, 1000]"},
		},
		{
			name: "step with both count and percent is refused",
			p:    Policy{Max: 1, Checks: []Check{&Threshold{Metric: "load1", Up: Above(1, Step{Count: 1, Percent: 5})}}},
			want: []string{"up.By has both Count 1 and Percent 5"},
		},
		{
			name: "two checks with one name are refused",
			p:    Policy{Max: 1, Checks: []Check{&Threshold{Metric: "load1", Up: Above(1, Count(1))}, &Threshold{Metric: "load1", Down: Below(1, Count(1))}}},
			want: []string{`checks[0] and checks[1] are both named "threshold load1"`},
		},
		{
			name: "target value of zero is refused",
			p:    Policy{Max: 1, Checks: []Check{&TargetValue{Metric: "cpu"}}},
			want: []string{"target 0 is not a positive number"},
		},
		{
			name: "unknown time zone is refused",
			p:    Policy{Max: 4, Checks: []Check{&Schedule{TimeZone: "Mars/Olympus", Windows: []Window{{Days: weekday, Start: "08:00", End: "18:00", Min: new(1)}}}}},
			want: []string{`time zone "Mars/Olympus"`},
		},
		{
			name: "bad cron expression is refused",
			p:    Policy{Max: 4, Checks: []Check{&Schedule{Windows: []Window{{Cron: "61 * * * *", Duration: time.Hour, Min: new(1)}}}}},
			want: []string{`windows[0]: cron "61 * * * *"`},
		},
		{
			name: "cron window without duration is refused",
			p:    Policy{Max: 4, Checks: []Check{&Schedule{Windows: []Window{{Cron: "0 8 * * *", Min: new(1)}}}}},
			want: []string{"duration 0s is not positive"},
		},
		{
			name: "a zone inside the cron expression is refused",
			p:    Policy{Max: 4, Checks: []Check{&Schedule{Windows: []Window{{Cron: "CRON_TZ=Asia/Tokyo 0 8 * * *", Duration: time.Hour, Min: new(1)}}}}},
			want: []string{"set the zone with Schedule.TimeZone"},
		},
		{
			name: "bad clock time is refused",
			p:    Policy{Max: 4, Checks: []Check{&Schedule{Windows: []Window{{Days: weekday, Start: "8am", End: "25:00", Min: new(1)}}}}},
			want: []string{`start "8am": want HH:MM`, `end "25:00": not a time of day`},
		},
		{
			name: "window min above the policy max is refused",
			p:    Policy{Max: 4, Checks: []Check{&Schedule{Windows: []Window{{Days: weekday, Start: "08:00", End: "18:00", Min: new(6)}}}}},
			want: []string{"min 6 > max 4 in the window"},
		},
		{
			name: "window desired outside its bounds is refused",
			p:    Policy{Max: 4, Checks: []Check{&Schedule{Windows: []Window{{Days: weekday, Start: "08:00", End: "18:00", Desired: new(9)}}}}},
			want: []string{"desired 9 is outside the window's bounds [0, 4]"},
		},
		{
			name: "window that sets nothing is refused",
			p:    Policy{Max: 4, Checks: []Check{&Schedule{Windows: []Window{{Days: weekday, Start: "08:00", End: "18:00"}}}}},
			want: []string{"none of Min, Max, Desired is set"},
		},
		{
			name: "two API checks are refused",
			p:    Policy{Max: 4, Checks: []Check{&APICapacity{}, &APICapacity{Name: "api2"}}},
			want: []string{"2 API capacity checks"},
		},
		{
			name: "every problem is reported at once",
			p:    Policy{Min: 5, Max: 3, WarmUp: -1},
			want: []string{"min 5 > max 3", "warm-up -1ns is negative"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted the policy; want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestEvaluatorKeepsState(t *testing.T) {
	p := Policy{Min: 1, Max: 10, Checks: []Check{
		&Threshold{Metric: MetricLoad1, Up: Above(2, Count(1)), Datapoints: 2},
		&APICapacity{},
	}}
	ev, err := NewEvaluator(p)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Due(t0) {
		t.Fatal("a new evaluator is not due")
	}
	obs := func(now time.Time, cur int) Observation {
		s := perServer(MetricLoad1, 3, 3, 3, 3, 3, 3)
		s.Time = now
		return Observation{Now: now, Current: cur, Servers: servers(cur), Metrics: metrics(s)}
	}
	if d := ev.Evaluate(obs(t0, 2)); d.Action != None {
		t.Fatalf("first breach acted: %s", d.Reason)
	}
	if ev.Due(t0.Add(30 * time.Second)) {
		t.Fatal("due before the evaluation interval passed")
	}
	if d := ev.Evaluate(obs(t0.Add(time.Minute), 2)); d.Action != Up || d.To != 3 {
		t.Fatalf("second breach: %s %d (%s)", d.Action, d.To, d.Reason)
	}
	if d := ev.Evaluate(obs(t0.Add(2*time.Minute), 3)); d.Action != None || !strings.Contains(d.Reason, "up cooldown") {
		t.Fatalf("breach during cooldown: %s (%s)", d.Action, d.Reason)
	}
	if err := ev.SetDesired(-1, t0); err == nil {
		t.Fatal("SetDesired accepted -1")
	}
	if err := ev.SetDesired(6, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d := ev.Evaluate(obs(t0.Add(10*time.Minute), 3)); d.Action != Up || d.To != 6 {
		t.Fatalf("after SetDesired(6): %s %d (%s)", d.Action, d.To, d.Reason)
	}
	st := ev.State()
	if st.API == nil || st.API.Count != 6 || !st.LastUp.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("state %+v", st)
	}

	noAPI, err := NewEvaluator(loadPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if err := noAPI.SetDesired(3, t0); err == nil || !strings.Contains(err.Error(), "no API capacity check") {
		t.Fatalf("SetDesired without an API check: %v", err)
	}
	if _, err := NewEvaluator(Policy{Min: 2, Max: 1}); err == nil || !strings.Contains(err.Error(), "min 2 > max 1") {
		t.Fatalf("NewEvaluator with a bad policy: %v", err)
	}
}

func TestEvaluatorSetPolicyKeepsStateOfChecksThatStay(t *testing.T) {
	ev, err := NewEvaluator(Policy{Min: 1, Max: 10, Checks: []Check{&Threshold{Metric: MetricLoad1, Up: Above(2, Count(1)), Datapoints: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	high := func(now time.Time) Observation {
		return Observation{Now: now, Current: 2, Metrics: metrics(Sample{Metric: MetricLoad1, Time: now, Scope: RoleWide, Value: 3})}
	}
	ev.Evaluate(high(t0))
	if err := ev.SetPolicy(Policy{Min: 1, Max: 5}); err != nil {
		t.Fatal(err)
	}
	if err := ev.SetPolicy(Policy{Min: 6, Max: 5}); err == nil {
		t.Fatal("SetPolicy accepted min > max")
	}
	if got := ev.Policy(); got.Max != 5 {
		t.Fatalf("policy max %d after SetPolicy, want 5", got.Max)
	}
	// A restarted controller restores the state it saved.
	if err := ev.SetPolicy(Policy{Min: 1, Max: 10, Checks: []Check{&Threshold{Metric: MetricLoad1, Up: Above(2, Count(1)), Datapoints: 2}}}); err != nil {
		t.Fatal(err)
	}
	ev.SetState(State{Streaks: map[string]Streak{"threshold load1": {Up: 1}}})
	if d := ev.Evaluate(high(t0.Add(2 * time.Minute))); d.Action != Up {
		t.Fatalf("restored streak of 1 plus a breach did not act: %s", d.Reason)
	}
	st := ev.State()
	st.Streaks["threshold load1"] = Streak{Up: 99}
	if ev.State().Streaks["threshold load1"].Up == 99 {
		t.Fatal("State returned the evaluator's own map")
	}
}
