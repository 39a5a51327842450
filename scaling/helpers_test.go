package scaling

import (
	"fmt"
	"testing"
	"time"
	_ "time/tzdata" // the schedule tests need zones wherever they run
)

// t0 is a Monday noon in UTC.
var t0 = time.Date(2024, 3, 11, 12, 0, 0, 0, time.UTC)

// servers returns n servers s1..sn launched an hour before t0.
func servers(n int) []Server {
	out := make([]Server, n)
	for i := range out {
		out[i] = Server{ID: fmt.Sprintf("s%d", i+1), Address: fmt.Sprintf("10.0.0.%d", i+1), LaunchedAt: t0.Add(-time.Hour)}
	}
	return out
}

// perServer returns a per-server sample with values for s1, s2, ….
func perServer(metric string, values ...float64) Sample {
	s := Sample{Metric: metric, Time: t0, Scope: PerServer, PerServer: map[string]float64{}}
	for i, v := range values {
		s.PerServer[fmt.Sprintf("s%d", i+1)] = v
	}
	return s
}

// roleWide returns a role-wide sample.
func roleWide(metric string, v float64) Sample {
	return Sample{Metric: metric, Time: t0, Scope: RoleWide, Value: v}
}

// metrics builds Input.Metrics.
func metrics(samples ...Sample) map[string]Sample {
	m := make(map[string]Sample, len(samples))
	for _, s := range samples {
		m[s.Metric] = s
	}
	return m
}

// loadPolicy is a threshold policy on load1: +2 above 2.0, -1 below 0.5.
func loadPolicy() Policy {
	return Policy{
		Min: 1, Max: 10,
		Checks: []Check{&Threshold{
			Metric: MetricLoad1,
			Up:     Above(2.0, Count(2)),
			Down:   Below(0.5, Count(1)),
		}},
	}
}

func mustValid(t *testing.T, p Policy) Policy {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatalf("policy invalid: %v", err)
	}
	return p
}
