package scaling

import (
	"fmt"
	"math"
)

// DefaultTolerance is TargetValue.Tolerance when it is zero: the metric may
// stray 10% from the target before the count changes.
const DefaultTolerance = 0.10

// TargetValue keeps a metric per server near Target, as AWS target tracking
// does: the wanted count is ceil(in-service servers × metric per server /
// Target). Inside the tolerance band around Target the count holds, so that
// it does not flap.
type TargetValue struct {
	// Name identifies the check; the default is "target " + Metric.
	Name string
	// Metric names the sample to read.
	Metric string
	// Aggregate says what the metric is: a per-server figure (Average, the
	// default) or the role's total (Total), which is divided by the
	// in-service servers.
	Aggregate Aggregate
	// Target is the wanted metric per server; it must be > 0.
	Target float64
	// Tolerance is the fraction of Target the metric may stray either way
	// before the count changes; 0 means [DefaultTolerance], negative means
	// none.
	Tolerance float64
	// DisableScaleIn makes the check only ever grow the role.
	DisableScaleIn bool
}

var _ Check = (*TargetValue)(nil)

// CheckName returns t.Name or "target <metric>".
func (t *TargetValue) CheckName() string {
	if t.Name != "" {
		return t.Name
	}
	return "target " + t.Metric
}

func (t *TargetValue) tolerance() float64 {
	switch {
	case t.Tolerance == 0:
		return DefaultTolerance
	case t.Tolerance < 0:
		return 0
	}
	return t.Tolerance
}

func (t *TargetValue) validate(*Policy) []error {
	var errs []error
	if t.Metric == "" {
		errs = append(errs, fmt.Errorf("metric is empty"))
	}
	if t.Aggregate != Average && t.Aggregate != Total {
		errs = append(errs, fmt.Errorf("aggregate %d is unknown", int(t.Aggregate)))
	}
	if !(t.Target > 0) || math.IsInf(t.Target, 0) {
		errs = append(errs, fmt.Errorf("target %v is not a positive number", t.Target))
	}
	if math.IsNaN(t.Tolerance) || t.Tolerance >= 1 {
		errs = append(errs, fmt.Errorf("tolerance %v is not below 1", t.Tolerance))
	}
	return errs
}

func (t *TargetValue) evaluate(e *evalContext, _ Streak) (CheckResult, Streak) {
	cur := e.in.Current
	r := e.read(t.Metric, t.Aggregate)
	if r.noData != "" {
		return CheckResult{Vote: VoteNoData, To: cur, Reason: r.noData}, Streak{}
	}
	serving := e.inService()
	// demand is the metric's total over the in-service servers, in units of
	// Target: the number of servers the load needs. Servers that failed to
	// answer are assumed to carry the average; warming-up servers nothing.
	var perServer, demand float64
	switch {
	case r.roleWide && t.Aggregate == Total:
		demand = r.value / t.Target
		if serving > 0 {
			perServer = r.value / float64(serving)
		}
	case !r.roleWide && t.Aggregate == Total:
		perServer = r.value / float64(r.measured)
		demand = perServer * float64(serving) / t.Target
	default:
		perServer = r.value
		demand = perServer * float64(serving) / t.Target
	}
	label := fmt.Sprintf("%s per server %.2f", t.Metric, perServer)
	if serving == 0 && r.roleWide && t.Aggregate == Total {
		label = fmt.Sprintf("%s total %.2f", t.Metric, r.value)
	}
	want := int(math.Ceil(demand - 1e-9))
	tol := t.tolerance()
	within := serving > 0 && math.Abs(perServer-t.Target) <= tol*t.Target
	cond := fmt.Sprintf("%s vs target %.2f", label, t.Target)
	switch {
	case within:
		return t.hold(r, cur, fmt.Sprintf("%s within %.0f%%", cond, tol*100), e), Streak{}
	case want > cur:
		return CheckResult{Vote: VoteUp, To: want, Reason: fmt.Sprintf("%s: %s", cond, stepString(cur, want))}, Streak{}
	case want < cur:
		switch {
		case t.DisableScaleIn:
			return t.hold(r, cur, cond+", scale-in disabled", e), Streak{}
		case e.warmingCount > 0:
			return t.hold(r, cur, fmt.Sprintf("%s, but %d warming up", cond, e.warmingCount), e), Streak{}
		case r.incomplete():
			return t.hold(r, cur, cond, e), Streak{}
		}
		return CheckResult{Vote: VoteDown, To: want, Reason: fmt.Sprintf("%s: %s", cond, stepString(cur, want))}, Streak{}
	}
	return t.hold(r, cur, cond, e), Streak{}
}

// hold votes to keep the count, or no-data when servers went unmeasured.
func (t *TargetValue) hold(r reading, cur int, reason string, e *evalContext) CheckResult {
	if r.incomplete() {
		return CheckResult{Vote: VoteNoData, To: cur, Reason: fmt.Sprintf("%s but %s", reason, missingNote(e.in.Metrics[t.Metric], r.missing))}
	}
	return CheckResult{Vote: VoteHold, To: cur, Reason: reason}
}
