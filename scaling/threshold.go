package scaling

import (
	"fmt"
	"math"
)

// Comparison says on which side of a [Rule]'s value a metric breaches it.
type Comparison int

const (
	// GreaterThan breaches when the metric is greater than the value.
	GreaterThan Comparison = iota + 1
	// LessThan breaches when the metric is less than the value.
	LessThan
)

// String is ">" or "<".
func (c Comparison) String() string {
	switch c {
	case GreaterThan:
		return ">"
	case LessThan:
		return "<"
	}
	return fmt.Sprintf("comparison(%d)", int(c))
}

// Step is how much a threshold rule changes the count: a number of servers,
// or a percentage of the current count (rounded up, at least one server).
type Step struct {
	Count   int     // servers; used when over 0
	Percent float64 // else a percentage of the current count
}

// Count returns a Step of n servers.
func Count(n int) Step { return Step{Count: n} }

// Percent returns a Step of p percent of the current count.
func Percent(p float64) Step { return Step{Percent: p} }

// size returns the number of servers the step adds or removes at count n.
func (s Step) size(n int) int {
	if s.Count > 0 {
		return s.Count
	}
	return max(int(math.Ceil(float64(n)*s.Percent/100-1e-9)), 1)
}

// String is the step as the farm file writes it: "2" or "50%".
func (s Step) String() string {
	if s.Count > 0 {
		return fmt.Sprintf("%d", s.Count)
	}
	return fmt.Sprintf("%g%%", s.Percent)
}

// Rule is one side of a [Threshold]: when the metric compares to Value as
// When says, change the count By. [Above] and [Below] build one.
type Rule struct {
	When  Comparison // Above or Below Value
	Value float64    // the threshold
	By    Step       // how much to change the count
}

// Above returns a Rule that breaches when the metric exceeds v.
func Above(v float64, by Step) *Rule { return &Rule{When: GreaterThan, Value: v, By: by} }

// Below returns a Rule that breaches when the metric is under v.
func Below(v float64, by Step) *Rule { return &Rule{When: LessThan, Value: v, By: by} }

func (r *Rule) breached(v float64) bool {
	if r == nil {
		return false
	}
	if r.When == GreaterThan {
		return v > r.Value
	}
	return v < r.Value
}

// Threshold scales by steps when a metric crosses a value for a number of
// consecutive evaluations: for example, two more servers when the average
// 1-minute load stays above 2.0 for three datapoints, one fewer when it stays
// below 0.5.
type Threshold struct {
	// Name identifies the check; the default is "threshold " + Metric.
	Name string
	// Metric names the sample to read, such as [MetricLoad1].
	Metric string
	// Aggregate reads a per-server metric as the servers' average (the
	// default) or total.
	Aggregate Aggregate
	// Up grows the role when breached; nil never grows it.
	Up *Rule
	// Down shrinks the role when breached; nil never shrinks it.
	Down *Rule
	// Datapoints is how many consecutive evaluations a rule must be breached
	// before it acts; 0 means 1. A missing datapoint starts the count again.
	Datapoints int
}

var _ Check = (*Threshold)(nil)

// CheckName returns t.Name or "threshold <metric>".
func (t *Threshold) CheckName() string {
	if t.Name != "" {
		return t.Name
	}
	return "threshold " + t.Metric
}

func (t *Threshold) datapoints() int { return max(t.Datapoints, 1) }

func (t *Threshold) validate(*Policy) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if t.Metric == "" {
		bad("metric is empty")
	}
	if t.Aggregate != Average && t.Aggregate != Total {
		bad("aggregate %d is unknown", int(t.Aggregate))
	}
	if t.Up == nil && t.Down == nil {
		bad("neither Up nor Down is set")
	}
	if t.Datapoints < 0 {
		bad("datapoints %d is negative", t.Datapoints)
	}
	for _, side := range []struct {
		name string
		r    *Rule
	}{{"up", t.Up}, {"down", t.Down}} {
		r := side.r
		if r == nil {
			continue
		}
		if r.When != GreaterThan && r.When != LessThan {
			bad("%s.When %d is neither GreaterThan nor LessThan", side.name, int(r.When))
		}
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			bad("%s.Value %v is not a finite number", side.name, r.Value)
		}
		switch {
		case r.By.Count < 0:
			bad("%s.By.Count %d is negative", side.name, r.By.Count)
		case r.By.Count > 0 && r.By.Percent != 0:
			bad("%s.By has both Count %d and Percent %g; set one", side.name, r.By.Count, r.By.Percent)
		case r.By.Count == 0 && !(r.By.Percent > 0 && r.By.Percent <= 1000):
			bad("%s.By.Percent %g is not in (0, 1000] and Count is 0", side.name, r.By.Percent)
		}
	}
	if t.Up != nil && t.Down != nil && len(errs) == 0 {
		u, d := t.Up, t.Down
		switch {
		case u.When == d.When:
			bad("up and down both breach %s their value; one must be GreaterThan and the other LessThan", u.When)
		case u.When == GreaterThan && d.Value > u.Value:
			bad("down value %g > up value %g: a metric could breach both", d.Value, u.Value)
		case u.When == LessThan && d.Value < u.Value:
			bad("down value %g < up value %g: a metric could breach both", d.Value, u.Value)
		}
	}
	return errs
}

func (t *Threshold) evaluate(e *evalContext, st Streak) (CheckResult, Streak) {
	cur := e.in.Current
	r := e.read(t.Metric, t.Aggregate)
	if r.noData != "" {
		return CheckResult{Vote: VoteNoData, To: cur, Reason: r.noData}, Streak{}
	}
	label := fmt.Sprintf("%s %.2f", r.label(t.Metric), r.value)
	need := t.datapoints()
	switch {
	case t.Up.breached(r.value):
		st = Streak{Up: st.Up + 1}
		cond := fmt.Sprintf("%s %s %.2f", label, t.Up.When, t.Up.Value)
		if st.Up < need {
			return CheckResult{Vote: VoteHold, To: cur, Reason: fmt.Sprintf("%s for %d of %d datapoints", cond, st.Up, need)}, st
		}
		to := cur + t.Up.By.size(cur)
		return CheckResult{Vote: VoteUp, To: to, Reason: fmt.Sprintf("%s for %s: %s", cond, datapointsString(need), stepString(cur, to))}, st
	case t.Down.breached(r.value):
		cond := fmt.Sprintf("%s %s %.2f", label, t.Down.When, t.Down.Value)
		if r.incomplete() {
			// Too few servers answered to trust a low reading.
			return CheckResult{Vote: VoteNoData, To: cur, Reason: fmt.Sprintf("%s but %s", cond, missingNote(e.in.Metrics[t.Metric], r.missing))}, Streak{}
		}
		st = Streak{Down: st.Down + 1}
		if st.Down < need {
			return CheckResult{Vote: VoteHold, To: cur, Reason: fmt.Sprintf("%s for %d of %d datapoints", cond, st.Down, need)}, st
		}
		if e.warmingCount > 0 {
			return CheckResult{Vote: VoteHold, To: cur, Reason: fmt.Sprintf("%s, but %d warming up", cond, e.warmingCount)}, st
		}
		to := max(cur-t.Down.By.size(cur), 0)
		return CheckResult{Vote: VoteDown, To: to, Reason: fmt.Sprintf("%s for %s: %s", cond, datapointsString(need), stepString(cur, to))}, st
	}
	reason := fmt.Sprintf("%s within %s", label, t.band())
	if r.incomplete() {
		return CheckResult{Vote: VoteNoData, To: cur, Reason: fmt.Sprintf("%s but %s", reason, missingNote(e.in.Metrics[t.Metric], r.missing))}, Streak{}
	}
	return CheckResult{Vote: VoteHold, To: cur, Reason: reason}, Streak{}
}

// band describes the values that breach no rule.
func (t *Threshold) band() string {
	lo, hi := math.Inf(-1), math.Inf(1)
	for _, r := range []*Rule{t.Up, t.Down} {
		if r == nil {
			continue
		}
		if r.When == GreaterThan {
			hi = r.Value
		} else {
			lo = r.Value
		}
	}
	switch {
	case math.IsInf(lo, -1):
		return fmt.Sprintf("≤ %.2f", hi)
	case math.IsInf(hi, 1):
		return fmt.Sprintf("≥ %.2f", lo)
	}
	return fmt.Sprintf("[%.2f, %.2f]", lo, hi)
}

func datapointsString(n int) string {
	if n == 1 {
		return "1 datapoint"
	}
	return fmt.Sprintf("%d datapoints", n)
}
