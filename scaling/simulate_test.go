package scaling

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// replayPolicy keeps the servers' 1-minute load between 0.8 and 2.
func replayPolicy() Policy {
	return Policy{
		Min: 2, Max: 12,
		EvaluationInterval: time.Minute,
		CooldownUp:         3 * time.Minute,
		CooldownDown:       10 * time.Minute,
		WarmUp:             3 * time.Minute,
		Checks: []Check{&Threshold{
			Metric:     MetricLoad1,
			Up:         Above(2.0, Percent(50)),
			Down:       Below(0.8, Count(1)),
			Datapoints: 2,
		}},
	}
}

func TestSimulateSampleTrace(t *testing.T) {
	tr := readSampleTrace(t)
	p := replayPolicy()
	res, err := Simulate(p, tr, &SimOptions{BootDelay: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 24*60 {
		t.Fatalf("%d steps, want one per minute of the day", len(res.Steps))
	}
	at := func(hhmm string) SimStep {
		t.Helper()
		for _, s := range res.Steps {
			if s.At.Format("15:04") == hhmm {
				return s
			}
		}
		t.Fatalf("no step at %s", hhmm)
		return SimStep{}
	}
	if s := at("04:00"); s.To != p.Min {
		t.Errorf("at night %d servers, want min %d", s.To, p.Min)
	}
	if s := at("12:00"); s.To < 7 {
		t.Errorf("at noon %d servers for load %.2f, want at least 7", s.To, s.Load)
	}
	if s := at("23:00"); s.To > 3 {
		t.Errorf("late evening %d servers, want it shrunk back", s.To)
	}
	if res.Ups == 0 || res.Downs == 0 {
		t.Errorf("ups %d downs %d: want a scale-out in the morning and a scale-in in the evening", res.Ups, res.Downs)
	}
	// Cost: between always-min and always-peak.
	if lo, hi := float64(p.Min)*24, float64(res.Peak)*24; res.ServerHours <= lo || res.ServerHours >= hi {
		t.Errorf("server-hours %.1f outside (%.0f, %.0f)", res.ServerHours, lo, hi)
	}
	var prevUp, prevDown time.Time
	for i, s := range res.Steps {
		if s.To < p.Min || s.To > p.Max {
			t.Fatalf("step %d: count %d outside [%d, %d]", i, s.To, p.Min, p.Max)
		}
		if i > 0 && s.From != res.Steps[i-1].To {
			t.Fatalf("step %d starts at %d, the previous ended at %d", i, s.From, res.Steps[i-1].To)
		}
		switch s.Action {
		case Up:
			if !prevUp.IsZero() && s.At.Sub(prevUp) < p.CooldownUp {
				t.Fatalf("scale-ups at %s and %s inside the up cooldown", prevUp, s.At)
			}
			prevUp = s.At
		case Down:
			if !prevDown.IsZero() && s.At.Sub(prevDown) < p.CooldownDown {
				t.Fatalf("scale-downs at %s and %s inside the down cooldown", prevDown, s.At)
			}
			prevDown = s.At
		}
	}
	var out bytes.Buffer
	if err := res.WriteReport(&out); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{"actions:", "capacity by hour:", "server-hours=", "up ", "load1 avg"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + report)
	}
}

func TestSimulateIsPure(t *testing.T) {
	tr := readSampleTrace(t)
	a, err := Simulate(replayPolicy(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Simulate(replayPolicy(), tr, nil)
	if a.ServerHours != b.ServerHours || a.Ups != b.Ups || a.Downs != b.Downs {
		t.Fatalf("two runs differ: %+v vs %+v", a, b)
	}
}

func TestSimulateBootDelayCostsCapacity(t *testing.T) {
	// A step from 1 to 8 load: with a boot delay the servers launched are
	// paid for before they serve, and the per-server load stays high longer.
	tr := &Trace{Points: []TracePoint{{0, 1, false}, {10 * time.Minute, 8, false}, {2 * time.Hour, 8, false}}}
	p := replayPolicy()
	fast, err := Simulate(p, tr, &SimOptions{Initial: 2})
	if err != nil {
		t.Fatal(err)
	}
	slow, err := Simulate(p, tr, &SimOptions{Initial: 2, BootDelay: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	firstCalm := func(r *SimResult) time.Duration {
		for _, s := range r.Steps {
			if s.Load == 8 && s.PerServer <= 2 {
				return s.At.Sub(r.Steps[0].At)
			}
		}
		return -1
	}
	if f, s := firstCalm(fast), firstCalm(slow); f < 0 || s <= f {
		t.Fatalf("load per server under 2 after %s with instant boot, %s with a 10-minute boot", f, s)
	}
}

func TestSimulateRelativeTraceStartsOnAMonday(t *testing.T) {
	tr, err := ReadTrace(strings.NewReader("0,1\n3600,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{Min: 1, Max: 5, Checks: []Check{&Schedule{Windows: []Window{{Days: []time.Weekday{time.Monday}, Start: "00:00", End: "01:00", Min: new(3)}}}}}
	res, err := Simulate(p, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps[0].At.Weekday() != time.Monday || res.Steps[0].To != 3 {
		t.Fatalf("first step %s with %d servers, want a Monday with the window's min 3", res.Steps[0].At, res.Steps[0].To)
	}
	// After the window closes at 01:00 no check votes to shrink the role,
	// and 3 is inside the policy's own bounds: the count stays.
	if last := res.Steps[len(res.Steps)-1]; last.At.Hour() != 1 || last.To != 3 {
		t.Fatalf("last step %s with %d servers", last.At, last.To)
	}
}

func TestSimulateRefusesBadInput(t *testing.T) {
	tr := &Trace{Points: []TracePoint{{0, 1, false}}}
	if _, err := Simulate(Policy{Min: 3, Max: 1}, tr, nil); err == nil || !strings.Contains(err.Error(), "min 3 > max 1") {
		t.Errorf("bad policy: %v", err)
	}
	if _, err := Simulate(replayPolicy(), &Trace{}, nil); err == nil {
		t.Error("empty trace accepted")
	}
	if _, err := Simulate(replayPolicy(), tr, &SimOptions{BootDelay: -time.Second}); err == nil {
		t.Error("negative boot delay accepted")
	}
}

func TestSimulateTreatsAGapAsAFailedMetric(t *testing.T) {
	// An hour at a load the policy scales out for, then an hour with no
	// datapoints, then quiet load: the count must not drop during the gap,
	// and must drop once quiet datapoints come.
	var csv strings.Builder
	for m := 0; m < 180; m += 5 {
		switch {
		case m < 60:
			fmt.Fprintf(&csv, "%d,%d\n", m*60, 12)
		case m < 120:
			fmt.Fprintf(&csv, "%d,\n", m*60)
		default:
			fmt.Fprintf(&csv, "%d,%d\n", m*60, 1)
		}
	}
	tr, err := ReadTrace(strings.NewReader(csv.String()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Simulate(replayPolicy(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	var beforeGap, downsAfter int
	for _, s := range res.Steps {
		offset := s.At.Sub(res.Steps[0].At)
		switch {
		case offset < time.Hour:
			beforeGap = s.To
		case offset < 2*time.Hour:
			if !s.Gap || !math.IsNaN(s.PerServer) {
				t.Fatalf("step at %s: gap %v per-server %v, want a gap", offset, s.Gap, s.PerServer)
			}
			if s.Action == Down {
				t.Fatalf("scale-in at %s during the gap: %s", offset, s.Reason)
			}
		default:
			if s.Action == Down {
				downsAfter++
			}
		}
	}
	if beforeGap <= 2 || downsAfter == 0 {
		t.Fatalf("%d servers before the gap, %d scale-ins after it: want a scale-out before and scale-ins after", beforeGap, downsAfter)
	}
	var report bytes.Buffer
	if err := res.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.String(), "load missing") {
		t.Errorf("report does not show the gap:\n%s", report.String())
	}
}
