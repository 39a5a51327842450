package scaling

import (
	"testing"
	"time"
)

// BenchmarkDecide measures one evaluation of a 100-server role with a
// threshold, a target value and a schedule.
func BenchmarkDecide(b *testing.B) {
	p := Policy{Min: 1, Max: 200, WarmUp: 5 * time.Minute, Checks: []Check{
		&Threshold{Metric: MetricLoad1, Up: Above(2, Count(2)), Down: Below(0.5, Count(1)), Datapoints: 3},
		&TargetValue{Metric: MetricLoad5, Target: 1.5},
		&Schedule{TimeZone: "Europe/Berlin", Windows: []Window{{Days: []time.Weekday{time.Monday}, Start: "08:00", End: "18:00", Min: new(4)}}},
	}}
	vals := make([]float64, 100)
	for i := range vals {
		vals[i] = 1 + float64(i%7)/10
	}
	in := Input{Policy: p, Now: t0, Current: 100, Servers: servers(100),
		Metrics: metrics(perServer(MetricLoad1, vals...), perServer(MetricLoad5, vals...))}
	b.ReportAllocs()
	for b.Loop() {
		Decide(in)
	}
}

// BenchmarkSimulateDay replays the sample day (1,440 evaluations).
func BenchmarkSimulateDay(b *testing.B) {
	tr := readSampleTrace(b)
	p := replayPolicy()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Simulate(p, tr, &SimOptions{BootDelay: 2 * time.Minute}); err != nil {
			b.Fatal(err)
		}
	}
}
