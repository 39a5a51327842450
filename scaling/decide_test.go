package scaling

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// policyWith returns loadPolicy changed by f.
func policyWith(f func(*Policy)) Policy {
	p := loadPolicy()
	f(&p)
	return p
}

// twoThresholds is a policy with two threshold checks on load1 and load5,
// with the given up and down steps.
func twoThresholds(up1, up5, down1, down5 int) Policy {
	return Policy{Min: 1, Max: 20, Checks: []Check{
		&Threshold{Metric: MetricLoad1, Up: Above(2, Count(up1)), Down: Below(0.5, Count(down1))},
		&Threshold{Metric: MetricLoad5, Up: Above(2, Count(up5)), Down: Below(0.5, Count(down5))},
	}}
}

func TestDecide(t *testing.T) {
	sshErr := errors.New("ssh: connect to 10.0.0.2:22: connection refused")
	cases := []struct {
		name   string
		in     Input
		action Action
		to     int
		reason []string // substrings the reason must contain
	}{
		{
			name:   "scale-up when the average load exceeds the threshold",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 4, 3, 3.6))},
			action: Up, to: 6,
			reason: []string{"load1 avg 3.40 > 2.00 for 1 datapoint: +2 (4 → 6)"},
		},
		{
			name:   "scale-down when the average load is under the threshold",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 0.1, 0.2, 0.1, 0.2))},
			action: Down, to: 3,
			reason: []string{"load1 avg 0.15 < 0.50 for 1 datapoint: -1 (4 → 3)"},
		},
		{
			name:   "load inside the band holds the count",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 1, 1, 1, 1))},
			action: None, to: 4,
			reason: []string{"no change at 4", "load1 avg 1.00 within [0.50, 2.00]"},
		},
		{
			name:   "a value equal to the up threshold is not a breach",
			in:     Input{Policy: loadPolicy(), Current: 2, Servers: servers(2), Metrics: metrics(perServer(MetricLoad1, 2, 2))},
			action: None, to: 2,
		},
		{
			name:   "lower bound is inclusive",
			in:     Input{Policy: loadPolicy(), Current: 1, Servers: servers(1), Metrics: metrics(perServer(MetricLoad1, 0))},
			action: None, to: 1,
			reason: []string{"clamped to min 1"},
		},
		{
			name:   "upper bound is inclusive",
			in:     Input{Policy: loadPolicy(), Current: 10, Servers: servers(10), Metrics: metrics(perServer(MetricLoad1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9))},
			action: None, to: 10,
			reason: []string{"clamped to max 10"},
		},
		{
			name:   "a step past max is clamped to max",
			in:     Input{Policy: policyWith(func(p *Policy) { p.Max = 5 }), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3))},
			action: Up, to: 5,
			reason: []string{"+2, clamped to max 5 (4 → 5)"},
		},
		{
			name:   "a count under min is raised to min even during a cooldown",
			in:     Input{Policy: policyWith(func(p *Policy) { p.Min = 3 }), Current: 1, Servers: servers(1), Metrics: metrics(perServer(MetricLoad1, 1)), State: State{LastUp: t0.Add(-time.Minute)}},
			action: Up, to: 3,
			reason: []string{"raised to min 3", "(1 → 3)"},
		},
		{
			name:   "a count under min is raised to min even when load says shrink",
			in:     Input{Policy: policyWith(func(p *Policy) { p.Min = 3 }), Current: 1, Servers: servers(1), Metrics: metrics(perServer(MetricLoad1, 0))},
			action: Up, to: 3,
			reason: []string{"raised to min 3 (1 → 3)"},
		},
		{
			name: "a count under min is raised to min, and the cooldown holds a larger scale-up",
			in: Input{Policy: policyWith(func(p *Policy) { p.Min = 3; p.Checks[0].(*Threshold).Up.By = Count(4) }), Current: 1, Servers: servers(1),
				Metrics: metrics(perServer(MetricLoad1, 9)), State: State{LastUp: t0.Add(-time.Minute)}},
			action: Up, to: 3,
			reason: []string{"load1 avg 9.00 > 2.00 for 1 datapoint: +4, scale-up to 5 blocked by up cooldown until 2024-03-11T12:04:00Z, raised to min 3 (1 → 3)"},
		},
		{
			name:   "a count over max is lowered to max even when load says grow",
			in:     Input{Policy: policyWith(func(p *Policy) { p.Max = 3 }), Current: 5, Servers: servers(5), Metrics: metrics(perServer(MetricLoad1, 9, 9, 9, 9, 9))},
			action: Down, to: 3,
			reason: []string{"lowered to max 3 (5 → 3)"},
		},
		{
			name:   "a count over max is lowered to max even when metrics fail",
			in:     Input{Policy: policyWith(func(p *Policy) { p.Max = 3 }), Current: 5, Servers: servers(5), Metrics: metrics(Sample{Metric: MetricLoad1, Err: sshErr})},
			action: Down, to: 3,
			reason: []string{"lowered to max 3", "(5 → 3)"},
		},
		{
			name:   "cooldown blocks second scale-up",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3)), State: State{LastUp: t0.Add(-time.Minute)}},
			action: None, to: 4,
			reason: []string{"scale-up to 6 blocked by up cooldown until 2024-03-11T12:04:00Z"},
		},
		{
			name:   "scale-up is allowed again when the cooldown has passed",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3)), State: State{LastUp: t0.Add(-DefaultCooldown)}},
			action: Up, to: 6,
		},
		{
			name:   "scale-down waits for the down cooldown after a scale-up",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 0, 0, 0, 0)), State: State{LastUp: t0.Add(-2 * time.Minute)}},
			action: None, to: 4,
			reason: []string{"scale-down to 3 blocked by down cooldown"},
		},
		{
			name:   "cooldown blocks second scale-down",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 0, 0, 0, 0)), State: State{LastDown: t0.Add(-4 * time.Minute)}},
			action: None, to: 4,
			reason: []string{"blocked by down cooldown until 2024-03-11T12:01:00Z"},
		},
		{
			name:   "scale-up right after a scale-down is allowed",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3)), State: State{LastDown: t0.Add(-time.Minute)}},
			action: Up, to: 6,
		},
		{
			name:   "a negative cooldown means none",
			in:     Input{Policy: policyWith(func(p *Policy) { p.CooldownUp = -1 }), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3)), State: State{LastUp: t0.Add(-time.Second)}},
			action: Up, to: 6,
		},
		{
			name:   "metric error blocks scale-in",
			in:     Input{Policy: twoThresholds(1, 1, 1, 1), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 0, 0, 0, 0), Sample{Metric: MetricLoad5, Err: sshErr})},
			action: None, to: 4,
			reason: []string{"scale-in blocked: load5 failed: ssh: connect", "overruled load1 avg 0.00 < 0.50"},
		},
		{
			name:   "missing metric blocks scale-in",
			in:     Input{Policy: twoThresholds(1, 1, 1, 1), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 0, 0, 0, 0))},
			action: None, to: 4,
			reason: []string{"scale-in blocked: no sample for load5"},
		},
		{
			name: "a stale sample counts as missing",
			in: Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Now: t0.Add(3 * time.Minute),
				Metrics: metrics(perServer(MetricLoad1, 0, 0, 0, 0))},
			action: None, to: 4,
			reason: []string{"load1 sample is stale (taken 3m0s ago)"},
		},
		{
			name: "an unmeasured server blocks scale-in",
			in: Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(func() Sample {
				s := perServer(MetricLoad1, 0, 0, 0)
				s.Missing = map[string]error{"s4": sshErr}
				return s
			}())},
			action: None, to: 4,
			reason: []string{"scale-in blocked", "1 not measured: s4 (s4: ssh: connect"},
		},
		{
			name:   "an unmeasured server does not stop a scale-up",
			in:     Input{Policy: loadPolicy(), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 5, 5, 5))},
			action: Up, to: 6,
		},
		{
			name:   "metric error does not stop a scale-up from another check",
			in:     Input{Policy: twoThresholds(1, 1, 1, 1), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3), Sample{Metric: MetricLoad5, Err: sshErr})},
			action: Up, to: 5,
		},
		{
			name:   "no server measured is no data",
			in:     Input{Policy: loadPolicy(), Current: 2, Servers: servers(2), Metrics: metrics(perServer(MetricLoad1))},
			action: None, to: 2,
			reason: []string{"no server measured for load1 (2 not measured: s1, s2)"},
		},
		{
			name:   "scale-up beats scale-down",
			in:     Input{Policy: twoThresholds(1, 1, 1, 1), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3), perServer(MetricLoad5, 0, 0, 0, 0))},
			action: Up, to: 5,
		},
		{
			name:   "hold beats scale-down",
			in:     Input{Policy: twoThresholds(1, 1, 1, 1), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 1, 1, 1, 1), perServer(MetricLoad5, 0, 0, 0, 0))},
			action: None, to: 4,
			reason: []string{"overruled load5 avg 0.00 < 0.50"},
		},
		{
			name:   "larger scale-up wins",
			in:     Input{Policy: twoThresholds(1, 3, 1, 1), Current: 4, Servers: servers(4), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3), perServer(MetricLoad5, 3, 3, 3, 3))},
			action: Up, to: 7,
			reason: []string{"load5 avg 3.00 > 2.00"},
		},
		{
			name:   "smallest scale-down wins",
			in:     Input{Policy: twoThresholds(1, 1, 1, 3), Current: 6, Servers: servers(6), Metrics: metrics(perServer(MetricLoad1, 0, 0, 0, 0, 0, 0), perServer(MetricLoad5, 0, 0, 0, 0, 0, 0))},
			action: Down, to: 5,
			reason: []string{"load1 avg 0.00 < 0.50"},
		},
		{
			name: "warm-up servers are counted but not measured",
			in: Input{Policy: policyWith(func(p *Policy) { p.WarmUp = 5 * time.Minute }), Current: 4,
				Servers: append(servers(2), Server{ID: "s3", LaunchedAt: t0.Add(-time.Minute)}, Server{ID: "s4", LaunchedAt: t0.Add(-4 * time.Minute)}),
				Metrics: metrics(perServer(MetricLoad1, 3, 3, 0, 0))},
			action: Up, to: 6,
			reason: []string{"load1 avg 3.00 > 2.00", "(4 → 6)"},
		},
		{
			name: "metric checks do not scale in while servers warm up",
			in: Input{Policy: policyWith(func(p *Policy) { p.WarmUp = 5 * time.Minute }), Current: 3,
				Servers: append(servers(2), Server{ID: "s3", LaunchedAt: t0.Add(-time.Minute)}),
				Metrics: metrics(perServer(MetricLoad1, 0, 0))},
			action: None, to: 3,
			reason: []string{"but 1 warming up"},
		},
		{
			name: "a server past its warm-up is measured",
			in: Input{Policy: policyWith(func(p *Policy) { p.WarmUp = 5 * time.Minute }), Current: 2,
				Servers: []Server{{ID: "s1", LaunchedAt: t0.Add(-time.Hour)}, {ID: "s2", LaunchedAt: t0.Add(-5 * time.Minute)}},
				Metrics: metrics(perServer(MetricLoad1, 1, 4))},
			action: Up, to: 4,
			reason: []string{"load1 avg 2.50"},
		},
		{
			name:   "without a server list every value counts",
			in:     Input{Policy: loadPolicy(), Current: 3, Metrics: metrics(perServer(MetricLoad1, 3, 3, 3))},
			action: Up, to: 5,
		},
		{
			name: "total aggregation sums the servers",
			in: Input{Policy: Policy{Min: 1, Max: 10, Checks: []Check{&Threshold{Metric: "rps", Aggregate: Total, Up: Above(100, Count(1))}}},
				Current: 2, Servers: servers(2), Metrics: metrics(perServer("rps", 60, 70))},
			action: Up, to: 3,
			reason: []string{"rps total 130.00 > 100.00"},
		},
		{
			name: "percentage step rounds up",
			in: Input{Policy: Policy{Min: 1, Max: 20, Checks: []Check{&Threshold{Metric: MetricLoad1, Up: Above(2, Percent(50))}}},
				Current: 5, Servers: servers(5), Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3, 3))},
			action: Up, to: 8,
			reason: []string{"+3 (5 → 8)"},
		},
		{
			name: "percentage step is at least one server",
			in: Input{Policy: Policy{Min: 1, Max: 20, Checks: []Check{&Threshold{Metric: MetricLoad1, Up: Above(2, Percent(10))}}},
				Current: 2, Servers: servers(2), Metrics: metrics(perServer(MetricLoad1, 3, 3))},
			action: Up, to: 3,
		},
		{
			name: "free RAM below a value scales up",
			in: Input{Policy: Policy{Min: 1, Max: 10, Checks: []Check{&Threshold{Metric: MetricFreeRAM, Up: Below(256, Count(1)), Down: Above(2048, Count(1))}}},
				Current: 2, Servers: servers(2), Metrics: metrics(perServer(MetricFreeRAM, 100, 200))},
			action: Up, to: 3,
			reason: []string{"free_ram_mb avg 150.00 < 256.00"},
		},
		{
			name:   "no checks keep the count",
			in:     Input{Policy: Policy{Min: 1, Max: 3}, Current: 2},
			action: None, to: 2,
			reason: []string{"no change at 2: no check voted"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mustValid(t, c.in.Policy)
			if c.in.Now.IsZero() {
				c.in.Now = t0
			}
			d := Decide(c.in)
			if d.Action != c.action || d.To != c.to || d.From != c.in.Current {
				t.Errorf("got %s %d → %d, want %s → %d\nreason: %s", d.Action, d.From, d.To, c.action, c.to, d.Reason)
			}
			for _, want := range c.reason {
				if !strings.Contains(d.Reason, want) {
					t.Errorf("reason %q does not contain %q", d.Reason, want)
				}
			}
			if d.To < d.Min || d.To > d.Max {
				t.Errorf("to %d outside [%d, %d]", d.To, d.Min, d.Max)
			}
			if len(d.Checks) != len(c.in.Policy.Checks) {
				t.Errorf("%d check results for %d checks", len(d.Checks), len(c.in.Policy.Checks))
			}
			switch d.Action {
			case Up:
				if !d.State.LastUp.Equal(c.in.Now) {
					t.Errorf("next LastUp %v, want %v", d.State.LastUp, c.in.Now)
				}
			case Down:
				if !d.State.LastDown.Equal(c.in.Now) {
					t.Errorf("next LastDown %v, want %v", d.State.LastDown, c.in.Now)
				}
			case None:
				if !d.State.LastUp.Equal(c.in.State.LastUp) || !d.State.LastDown.Equal(c.in.State.LastDown) {
					t.Errorf("no action changed the cooldown state")
				}
			}
		})
	}
}

func TestDecideConsecutiveDatapoints(t *testing.T) {
	p := Policy{Min: 1, Max: 10, Checks: []Check{&Threshold{
		Metric: MetricLoad1, Up: Above(2, Count(2)), Down: Below(0.5, Count(1)), Datapoints: 3,
	}}}
	mustValid(t, p)
	high := metrics(perServer(MetricLoad1, 3, 4, 3, 3.6))
	low := metrics(perServer(MetricLoad1, 0, 0, 0, 0))
	mid := metrics(perServer(MetricLoad1, 1, 1, 1, 1))
	failed := metrics(Sample{Metric: MetricLoad1, Err: errors.New("timeout")})
	steps := []struct {
		name    string
		metrics map[string]Sample
		action  Action
		streak  Streak
		reason  string
	}{
		{"first breach is 1 of 3", high, None, Streak{Up: 1}, "load1 avg 3.40 > 2.00 for 1 of 3 datapoints"},
		{"second breach is 2 of 3", high, None, Streak{Up: 2}, "for 2 of 3 datapoints"},
		{"a missing datapoint restarts the count", failed, None, Streak{}, "load1 failed: timeout"},
		{"the count starts again at 1", high, None, Streak{Up: 1}, "for 1 of 3 datapoints"},
		{"a value inside the band restarts the count", mid, None, Streak{}, "within"},
		{"first breach again", high, None, Streak{Up: 1}, ""},
		{"second breach again", high, None, Streak{Up: 2}, ""},
		{"third consecutive breach acts", high, Up, Streak{Up: 3}, "load1 avg 3.40 > 2.00 for 3 datapoints: +2 (4 → 6)"},
		{"a breach the other way resets the up count", low, None, Streak{Down: 1}, "< 0.50 for 1 of 3 datapoints"},
	}
	var st State
	now := t0
	for _, s := range steps {
		for k, v := range s.metrics {
			v.Time = now
			s.metrics[k] = v
		}
		d := Decide(Input{Policy: p, Now: now, Current: 4, Servers: servers(4), Metrics: s.metrics, State: st})
		if d.Action != s.action {
			t.Fatalf("%s: action %s, want %s (%s)", s.name, d.Action, s.action, d.Reason)
		}
		if got := d.State.Streaks["threshold load1"]; got != s.streak {
			t.Fatalf("%s: streak %+v, want %+v", s.name, got, s.streak)
		}
		if s.reason != "" && !strings.Contains(d.Reason, s.reason) {
			t.Fatalf("%s: reason %q does not contain %q", s.name, d.Reason, s.reason)
		}
		if d.Action == Up {
			// The example in the package documentation.
			if want := "load1 avg 3.40 > 2.00 for 3 datapoints: +2 (4 → 6)"; d.Reason != want {
				t.Fatalf("reason %q, want %q", d.Reason, want)
			}
		}
		st = d.State
		st.LastUp = time.Time{} // keep cooldowns out of this test
		now = now.Add(time.Minute)
	}
}

func TestDecideIsPure(t *testing.T) {
	in := Input{Policy: loadPolicy(), Now: t0, Current: 4, Servers: servers(4),
		Metrics: metrics(perServer(MetricLoad1, 3, 3, 3, 3)),
		State:   State{Streaks: map[string]Streak{"threshold load1": {Up: 7}}}}
	a, b := Decide(in), Decide(in)
	if a.Reason != b.Reason || a.To != b.To {
		t.Fatalf("two decisions on one input differ: %q vs %q", a.Reason, b.Reason)
	}
	if in.State.Streaks["threshold load1"] != (Streak{Up: 7}) {
		t.Fatalf("Decide changed its input's state: %+v", in.State.Streaks)
	}
}
