package scaling

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// SimOptions tune [Simulate].
type SimOptions struct {
	// Metric is the per-server metric the trace's load feeds; empty means
	// the metric of the policy's first threshold or target check, else
	// [MetricLoad1]. Checks on other metrics see missing data.
	Metric string
	// Initial is the count at the start; 0 means the policy's Min. It is
	// clamped to [Min, Max].
	Initial int
	// BootDelay is how long a launched server takes to serve; until then it
	// is counted (and paid for) but carries no load and is not measured.
	BootDelay time.Duration
	// Start places a trace of second offsets in time, for schedules; zero
	// means Monday 2024-01-01 00:00 UTC. Ignored for RFC 3339 traces.
	Start time.Time
}

// SimStep is one evaluation of a simulation.
type SimStep struct {
	// At is the evaluation time.
	At time.Time
	// Load is the trace's load at At (0 in a gap).
	Load float64
	// Gap is set when the trace has no datapoint at At: the policy saw a
	// failed metric.
	Gap bool
	// Serving is the servers past their boot delay, which share Load.
	Serving int
	// PerServer is Load / Serving, the metric the policy saw (NaN when no
	// server serves or in a gap).
	PerServer float64
	// Action, From, To and Reason are the evaluation's decision.
	Action   Action
	From, To int
	Reason   string
}

// SimResult is the outcome of [Simulate].
type SimResult struct {
	// Steps holds every evaluation, in time order.
	Steps []SimStep
	// Ups and Downs count the scaling actions.
	Ups, Downs int
	// ServerHours is the integral of the server count over the trace, a
	// proxy for cost; booting servers count.
	ServerHours float64
	// Peak and Low are the largest and smallest counts reached.
	Peak, Low int
	// Duration is the simulated time.
	Duration time.Duration
}

// Actions is the number of scaling actions.
func (r *SimResult) Actions() int { return r.Ups + r.Downs }

// defaultSimStart is a Monday, so that weekday windows are easy to read.
var defaultSimStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Simulate runs a policy over a trace without any cloud: the trace's load is
// spread evenly over the serving servers and fed to the policy every
// evaluation interval; each decision adds servers (launched at once,
// serving after BootDelay) or removes the newest. It is pure: the same
// arguments give the same result, in a fraction of the trace's duration.
func Simulate(p Policy, tr *Trace, opts *SimOptions) (*SimResult, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("simulate: policy: %w", err)
	}
	if tr == nil || len(tr.Points) == 0 {
		return nil, errors.New("simulate: empty trace")
	}
	var o SimOptions
	if opts != nil {
		o = *opts
	}
	if o.BootDelay < 0 {
		return nil, fmt.Errorf("simulate: boot delay %s is negative", o.BootDelay)
	}
	if o.Initial < 0 {
		return nil, fmt.Errorf("simulate: initial count %d is negative", o.Initial)
	}
	if o.Metric == "" {
		o.Metric = firstMetric(p)
	}
	start := tr.Start
	if start.IsZero() {
		start = o.Start
		if start.IsZero() {
			start = defaultSimStart
		}
	}
	ev, err := NewEvaluator(p)
	if err != nil {
		return nil, err
	}
	interval := p.withDefaults().EvaluationInterval
	duration := tr.Duration()
	if duration == 0 {
		duration = interval
	}
	initial := o.Initial
	if initial == 0 {
		initial = p.Min
	}
	initial = min(max(initial, p.Min), p.Max)
	// Initial servers are long past boot and warm-up.
	old := start.Add(-o.BootDelay - p.WarmUp - time.Hour)
	fleet := make([]Server, 0, p.Max)
	nextID := 1
	launch := func(at time.Time) {
		fleet = append(fleet, Server{ID: fmt.Sprintf("sim-%d", nextID), LaunchedAt: at})
		nextID++
	}
	for range initial {
		launch(old)
	}

	res := &SimResult{Peak: initial, Low: initial, Duration: duration}
	end := start.Add(duration)
	for now := start; now.Before(end); now = now.Add(interval) {
		point := tr.PointAt(now.Sub(start))
		load := point.Load
		sample := Sample{Metric: o.Metric, Time: now, Scope: PerServer, PerServer: make(map[string]float64, len(fleet))}
		if point.Missing {
			// A gap in the recording is a failed measurement: no scale-in.
			sample.Err = errTraceGap
		}
		serving := 0
		for _, s := range fleet {
			if !s.LaunchedAt.Add(o.BootDelay).After(now) {
				serving++
			}
		}
		per := math.NaN()
		if serving > 0 && !point.Missing {
			per = load / float64(serving)
			for _, s := range fleet {
				if !s.LaunchedAt.Add(o.BootDelay).After(now) {
					sample.PerServer[s.ID] = per
				}
			}
		}
		d := ev.Evaluate(Observation{Now: now, Current: len(fleet), Servers: append([]Server(nil), fleet...), Metrics: map[string]Sample{o.Metric: sample}})
		switch d.Action {
		case Up:
			res.Ups++
			for range d.To - d.From {
				launch(now)
			}
		case Down:
			res.Downs++
			// The newest go first: they are the ones still booting, or
			// the least warmed up.
			sort.SliceStable(fleet, func(i, j int) bool { return fleet[i].LaunchedAt.Before(fleet[j].LaunchedAt) })
			fleet = fleet[:d.To]
		}
		res.Peak = max(res.Peak, len(fleet))
		res.Low = min(res.Low, len(fleet))
		span := min(interval, end.Sub(now))
		res.ServerHours += float64(len(fleet)) * span.Hours()
		res.Steps = append(res.Steps, SimStep{At: now, Load: load, Gap: point.Missing, Serving: serving, PerServer: per,
			Action: d.Action, From: d.From, To: d.To, Reason: d.Reason})
	}
	return res, nil
}

// errTraceGap is the metric error a simulation feeds the policy while the
// trace has no datapoint.
var errTraceGap = errors.New("no datapoint in the trace")

// firstMetric returns the metric of the policy's first metric check.
func firstMetric(p Policy) string {
	for _, c := range p.Checks {
		switch c := c.(type) {
		case *Threshold:
			return c.Metric
		case *TargetValue:
			return c.Metric
		}
	}
	return MetricLoad1
}

// WriteReport prints the simulation for people: one line per scaling
// action, the count at each hour, and a summary line
// "actions=N up=U down=D server-hours=H peak=P low=L".
func (r *SimResult) WriteReport(w io.Writer) error {
	var b strings.Builder
	b.WriteString("actions:\n")
	for _, s := range r.Steps {
		if s.Action == None {
			continue
		}
		fmt.Fprintf(&b, "  %s %-4s %2d → %-2d load %6.2f  %s\n", s.At.Format("2006-01-02 15:04"), s.Action, s.From, s.To, s.Load, s.Reason)
	}
	b.WriteString("capacity by hour:\n")
	lastHour := time.Time{}
	for _, s := range r.Steps {
		h := s.At.Truncate(time.Hour)
		if h.Equal(lastHour) {
			continue
		}
		lastHour = h
		load := fmt.Sprintf("%.2f", s.Load)
		if s.Gap {
			load = "missing"
		}
		fmt.Fprintf(&b, "  %s %3d %s load %s\n", s.At.Format("15:04"), s.To, strings.Repeat("█", min(s.To, 60)), load)
	}
	fmt.Fprintf(&b, "actions=%d up=%d down=%d server-hours=%.2f peak=%d low=%d\n", r.Actions(), r.Ups, r.Downs, r.ServerHours, r.Peak, r.Low)
	_, err := io.WriteString(w, b.String())
	return err
}
