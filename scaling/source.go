package scaling

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/farmhand/farmhand/clock"
)

// Target is what a [Source] measures: one role's servers.
type Target struct {
	// Role is the role's name; queries may refer to it as %role_name%.
	Role string
	// Servers are the role's servers, warming-up ones included.
	Servers []Server
}

// Source measures one or more metrics of a role.
//
// Sample must honour ctx, must return one Sample for each name Metrics
// returns, and must report a server it could not measure in Sample.Missing
// rather than fail the whole call. A returned error means no metric of the
// source was measured.
type Source interface {
	// Metrics names the metrics Sample returns.
	Metrics() []string
	Sample(ctx context.Context, t Target) ([]Sample, error)
}

// Collect samples every source for t, concurrently, and returns the samples
// by metric name. A failed source yields samples whose Err is set, so that
// [Decide] sees the failure and blocks scale-in; when two sources return the
// same metric, the earlier source wins.
func Collect(ctx context.Context, t Target, sources ...Source) map[string]Sample {
	results := make([][]Sample, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		wg.Go(func() {
			samples, err := src.Sample(ctx, t)
			if err != nil {
				samples = nil
				for _, m := range src.Metrics() {
					samples = append(samples, Sample{Metric: m, Err: err})
				}
			}
			results[i] = samples
		})
	}
	wg.Wait()
	out := make(map[string]Sample)
	for i, samples := range results {
		for _, s := range samples {
			if _, dup := out[s.Metric]; !dup {
				out[s.Metric] = s
			}
		}
		for _, m := range sources[i].Metrics() {
			if _, ok := out[m]; !ok {
				out[m] = Sample{Metric: m, Err: fmt.Errorf("source returned no sample for %s", m)}
			}
		}
	}
	return out
}

// Func is a [Source] backed by a Go function that measures the role as a
// whole, such as a queue length read from the embedding program.
type Func struct {
	// Metric names the sample.
	Metric string
	// Fn measures it.
	Fn func(ctx context.Context, t Target) (float64, error)
	// Clock stamps the sample; nil means the real clock.
	Clock clock.Clock
}

var _ Source = (*Func)(nil)

// Metrics returns f.Metric.
func (f *Func) Metrics() []string { return []string{f.Metric} }

// Sample calls f.Fn; a NaN or infinite result is an error.
func (f *Func) Sample(ctx context.Context, t Target) ([]Sample, error) {
	if f.Fn == nil {
		return nil, errors.New("func source " + f.Metric + ": Fn is nil")
	}
	v, err := f.Fn(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("func source %s: %w", f.Metric, err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("func source %s: value %v is not a finite number", f.Metric, v)
	}
	return []Sample{{Metric: f.Metric, Time: clock.Or(f.Clock).Now(), Scope: RoleWide, Value: v}}, nil
}
