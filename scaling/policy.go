package scaling

import (
	"errors"
	"fmt"
	"time"
)

// Defaults applied to a [Policy]'s zero fields.
const (
	// DefaultEvaluationInterval is how often a role's checks are evaluated
	// when Policy.EvaluationInterval is zero.
	DefaultEvaluationInterval = time.Minute
	// DefaultCooldown is the cooldown used when Policy.CooldownUp or
	// CooldownDown is zero: 300 s, as in AWS Auto Scaling.
	DefaultCooldown = 300 * time.Second
)

// Policy says how one role scales: its bounds, how often it is evaluated,
// how long it waits after acting, and the checks that vote on its size.
//
// The zero values of EvaluationInterval, CooldownUp and CooldownDown mean
// the defaults; a negative cooldown means none.
type Policy struct {
	// Min and Max bound the role's server count, both inclusive. An active
	// schedule window may replace them for its duration.
	Min, Max int
	// EvaluationInterval is how often the checks are evaluated; each
	// evaluation is one datapoint for Threshold.Datapoints.
	EvaluationInterval time.Duration
	// CooldownUp is the time after a scale-up during which no further
	// scale-up happens.
	CooldownUp time.Duration
	// CooldownDown is the time after any scaling action during which no
	// scale-down happens, so that a role does not shrink right after it grew.
	CooldownDown time.Duration
	// WarmUp is how long a new server is left out of per-server metrics. It
	// still counts towards the role's size, and metric checks do not scale
	// in while any server is warming up.
	WarmUp time.Duration
	// Checks vote on the role's size: *Threshold, *TargetValue, *Schedule,
	// *APICapacity.
	Checks []Check
}

// Check is one rule of a [Policy]: [*Threshold], [*TargetValue],
// [*Schedule] or [*APICapacity].
type Check interface {
	// CheckName returns the name used in reasons and in the evaluation
	// state: the check's Name, or one derived from its kind and metric.
	CheckName() string
	validate(p *Policy) []error
	evaluate(e *evalContext, st Streak) (CheckResult, Streak)
}

// withDefaults returns p with its zero durations replaced by the defaults
// and negative cooldowns by zero.
func (p Policy) withDefaults() Policy {
	if p.EvaluationInterval == 0 {
		p.EvaluationInterval = DefaultEvaluationInterval
	}
	p.CooldownUp = cooldownOrDefault(p.CooldownUp)
	p.CooldownDown = cooldownOrDefault(p.CooldownDown)
	return p
}

func cooldownOrDefault(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultCooldown
	case d < 0:
		return 0
	}
	return d
}

// Validate reports every problem of the policy, each naming the field and
// its value. A policy that validates never makes [Decide] panic.
func (p Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Min < 0 {
		bad("min %d is negative", p.Min)
	}
	if p.Max < p.Min {
		bad("min %d > max %d", p.Min, p.Max)
	}
	if p.EvaluationInterval < 0 {
		bad("evaluation interval %s is negative", p.EvaluationInterval)
	} else if p.EvaluationInterval > 0 && p.EvaluationInterval < time.Second {
		bad("evaluation interval %s is under 1s", p.EvaluationInterval)
	}
	if p.WarmUp < 0 {
		bad("warm-up %s is negative", p.WarmUp)
	}
	names := make(map[string]int)
	apiChecks := 0
	for i, c := range p.Checks {
		if c == nil || isNilCheck(c) {
			bad("checks[%d] is nil", i)
			continue
		}
		name := c.CheckName()
		if j, dup := names[name]; dup {
			bad("checks[%d] and checks[%d] are both named %q; give them distinct Names", j, i, name)
		} else {
			names[name] = i
		}
		if _, ok := c.(*APICapacity); ok {
			apiChecks++
		}
		for _, err := range c.validate(&p) {
			bad("checks[%d] %q: %w", i, name, err)
		}
	}
	if apiChecks > 1 {
		bad("%d API capacity checks; a policy has at most one", apiChecks)
	}
	return errors.Join(errs...)
}

// isNilCheck catches typed nil pointers stored in the Check interface.
func isNilCheck(c Check) bool {
	switch c := c.(type) {
	case *Threshold:
		return c == nil
	case *TargetValue:
		return c == nil
	case *Schedule:
		return c == nil
	case *APICapacity:
		return c == nil
	}
	return false
}

// apiCheck returns the policy's API capacity check, or nil.
func (p Policy) apiCheck() *APICapacity {
	for _, c := range p.Checks {
		if a, ok := c.(*APICapacity); ok && a != nil {
			return a
		}
	}
	return nil
}
