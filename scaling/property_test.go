package scaling

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// drawPolicy draws a valid policy of threshold, target-value and API checks
// on the metrics m0..m2.
func drawPolicy(t *rapid.T) Policy {
	lo := rapid.IntRange(0, 5).Draw(t, "min")
	p := Policy{
		Min:                lo,
		Max:                rapid.IntRange(lo, lo+15).Draw(t, "max"),
		EvaluationInterval: time.Duration(rapid.IntRange(1, 300).Draw(t, "interval_s")) * time.Second,
		CooldownUp:         time.Duration(rapid.IntRange(-1, 900).Draw(t, "cooldown_up_s")) * time.Second,
		CooldownDown:       time.Duration(rapid.IntRange(-1, 900).Draw(t, "cooldown_down_s")) * time.Second,
		WarmUp:             time.Duration(rapid.IntRange(0, 600).Draw(t, "warmup_s")) * time.Second,
	}
	step := func(label string) Step {
		if rapid.Bool().Draw(t, label+"_is_percent") {
			return Percent(rapid.Float64Range(1, 200).Draw(t, label+"_percent"))
		}
		return Count(rapid.IntRange(1, 6).Draw(t, label+"_count"))
	}
	n := rapid.IntRange(1, 3).Draw(t, "checks")
	for i := range n {
		metric := fmt.Sprintf("m%d", i)
		switch rapid.IntRange(0, 2).Draw(t, "kind") {
		case 0:
			down := rapid.Float64Range(0, 5).Draw(t, "down_below")
			p.Checks = append(p.Checks, &Threshold{
				Metric:     metric,
				Aggregate:  rapid.SampledFrom([]Aggregate{Average, Total}).Draw(t, "aggregate"),
				Up:         Above(down+rapid.Float64Range(0, 5).Draw(t, "band"), step("up")),
				Down:       Below(down, step("down")),
				Datapoints: rapid.IntRange(0, 4).Draw(t, "datapoints"),
			})
		case 1:
			p.Checks = append(p.Checks, &TargetValue{Metric: metric, Target: rapid.Float64Range(0.1, 10).Draw(t, "target"),
				Tolerance: rapid.Float64Range(-0.5, 0.5).Draw(t, "tolerance")})
		case 2:
			if p.apiCheck() == nil {
				p.Checks = append(p.Checks, &APICapacity{TTL: time.Duration(rapid.IntRange(0, 3600).Draw(t, "ttl_s")) * time.Second})
			}
		}
	}
	return p
}

// metricsOf lists the metrics a policy's checks read.
func metricsOf(p Policy) []string {
	var out []string
	for _, c := range p.Checks {
		switch c := c.(type) {
		case *Threshold:
			out = append(out, c.Metric)
		case *TargetValue:
			out = append(out, c.Metric)
		}
	}
	return out
}

// For random policies and random traces of metrics, failures, API calls
// and server launches, the evaluator never leaves [min, max], never acts
// twice in one direction inside a cooldown, and never scales in on an
// evaluation that lacked data.
func TestPropertyEvaluatorRespectsBoundsCooldownsAndMissingData(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := drawPolicy(t)
		if err := p.Validate(); err != nil {
			t.Fatalf("drawn policy invalid: %v", err)
		}
		eff := p.withDefaults()
		ev, err := NewEvaluator(p)
		if err != nil {
			t.Fatal(err)
		}
		count := rapid.IntRange(p.Min, p.Max).Draw(t, "initial")
		var fleet []Server
		for i := range count {
			fleet = append(fleet, Server{ID: fmt.Sprintf("s%d", i), LaunchedAt: t0.Add(-time.Hour)})
		}
		nextID := count
		now := t0
		var lastUp, lastDown time.Time
		steps := rapid.IntRange(1, 150).Draw(t, "steps")
		for range steps {
			now = now.Add(eff.EvaluationInterval + time.Duration(rapid.IntRange(0, 120).Draw(t, "jitter_s"))*time.Second)
			if p.apiCheck() != nil && rapid.IntRange(0, 9).Draw(t, "api_call") == 0 {
				if err := ev.SetDesired(rapid.IntRange(0, p.Max+5).Draw(t, "api_desired"), now); err != nil {
					t.Fatal(err)
				}
			}
			ms := make(map[string]Sample)
			lacking := false
			for _, m := range metricsOf(p) {
				switch rapid.IntRange(0, 19).Draw(t, "metric_fate") {
				case 0:
					ms[m] = Sample{Metric: m, Err: errors.New("unreachable")}
					lacking = true
				case 1:
					lacking = true // missing altogether
				default:
					s := Sample{Metric: m, Time: now, Scope: PerServer, PerServer: map[string]float64{}, Missing: map[string]error{}}
					measured := 0
					for _, srv := range fleet {
						if rapid.IntRange(0, 29).Draw(t, "server_fails") == 0 {
							s.Missing[srv.ID] = errors.New("timeout")
							if now.Sub(srv.LaunchedAt) >= p.WarmUp {
								lacking = true
							}
							continue
						}
						s.PerServer[srv.ID] = rapid.Float64Range(0, 12).Draw(t, "value")
						if p.WarmUp == 0 || now.Sub(srv.LaunchedAt) >= p.WarmUp {
							measured++
						}
					}
					if measured == 0 {
						lacking = true
					}
					ms[m] = s
				}
			}
			d := ev.Evaluate(Observation{Now: now, Current: count, Servers: append([]Server(nil), fleet...), Metrics: ms})
			if d.From != count {
				t.Fatalf("decision from %d, count is %d", d.From, count)
			}
			if d.To < p.Min || d.To > p.Max {
				t.Fatalf("count %d outside [%d, %d]: %s", d.To, p.Min, p.Max, d.Reason)
			}
			if (d.Action == Up) != (d.To > count) || (d.Action == Down) != (d.To < count) {
				t.Fatalf("action %s from %d to %d", d.Action, count, d.To)
			}
			switch d.Action {
			case Up:
				if !lastUp.IsZero() && now.Sub(lastUp) < eff.CooldownUp {
					t.Fatalf("scale-ups %s apart, cooldown %s", now.Sub(lastUp), eff.CooldownUp)
				}
				lastUp = now
				for range d.To - count {
					fleet = append(fleet, Server{ID: fmt.Sprintf("s%d", nextID), LaunchedAt: now})
					nextID++
				}
			case Down:
				if lacking {
					t.Fatalf("scaled in on an evaluation that lacked data: %s", d.Reason)
				}
				if last := later(lastUp, lastDown); !last.IsZero() && now.Sub(last) < eff.CooldownDown {
					t.Fatalf("scale-down %s after the last action, cooldown %s", now.Sub(last), eff.CooldownDown)
				}
				lastDown = now
				fleet = fleet[:d.To]
			}
			if d.Reason == "" {
				t.Fatal("a decision without a reason")
			}
			count = d.To
		}
	})
}

// For random traces replayed with random boot delays, the simulated count
// stays within [min, max] and actions respect the cooldowns.
func TestPropertySimulationStaysInBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := drawPolicy(t)
		eff := p.withDefaults()
		n := rapid.IntRange(1, 60).Draw(t, "points")
		tr := &Trace{}
		for i := range n {
			tr.Points = append(tr.Points, TracePoint{Offset: time.Duration(i) * 5 * time.Minute, Load: rapid.Float64Range(0, 40).Draw(t, "load")})
		}
		res, err := Simulate(p, tr, &SimOptions{Metric: "m0", BootDelay: time.Duration(rapid.IntRange(0, 600).Draw(t, "boot_s")) * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var lastUp, lastDown time.Time
		for _, s := range res.Steps {
			if s.To < p.Min || s.To > p.Max {
				t.Fatalf("count %d outside [%d, %d]", s.To, p.Min, p.Max)
			}
			switch s.Action {
			case Up:
				if !lastUp.IsZero() && s.At.Sub(lastUp) < eff.CooldownUp {
					t.Fatalf("scale-ups inside the cooldown")
				}
				lastUp = s.At
			case Down:
				if last := later(lastUp, lastDown); !last.IsZero() && s.At.Sub(last) < eff.CooldownDown {
					t.Fatalf("scale-down inside the cooldown")
				}
				lastDown = s.At
			}
		}
		if res.ServerHours < float64(p.Min)*res.Duration.Hours()-1e-9 || res.ServerHours > float64(p.Max)*res.Duration.Hours()+1e-9 {
			t.Fatalf("server-hours %.2f outside min and max over %s", res.ServerHours, res.Duration)
		}
	})
}
