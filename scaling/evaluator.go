package scaling

import (
	"fmt"
	"sync"
	"time"
)

// Evaluator keeps one role's evaluation state (breach streaks, cooldowns,
// the API-set count) between evaluations; each evaluation itself is [Decide].
// It is safe for concurrent use.
type Evaluator struct {
	mu     sync.Mutex
	policy Policy
	state  State
	last   time.Time
}

// NewEvaluator returns an Evaluator for a valid policy.
func NewEvaluator(p Policy) (*Evaluator, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("scaling policy: %w", err)
	}
	return &Evaluator{policy: p}, nil
}

// Observation is what the caller measured for one evaluation.
type Observation struct {
	Now     time.Time         // the evaluation time
	Current int               // the role's server count, warming-up servers included
	Servers []Server          // the role's servers with their launch times
	Metrics map[string]Sample // the latest sample of each metric, by name
}

// Evaluate decides with the kept state and keeps the decision's state, as
// if its action is carried out.
func (ev *Evaluator) Evaluate(o Observation) Decision {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	d := Decide(Input{
		Policy:  ev.policy,
		Now:     o.Now,
		Current: o.Current,
		Servers: o.Servers,
		Metrics: o.Metrics,
		State:   ev.state,
	})
	ev.state = d.State
	ev.last = o.Now
	return d
}

// Due reports whether an evaluation interval has passed since the last
// evaluation (always true before the first).
func (ev *Evaluator) Due(now time.Time) bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.last.IsZero() || now.Sub(ev.last) >= ev.policy.withDefaults().EvaluationInterval
}

// SetDesired records a count set through the API at now. It fails with a
// [*RequestError] when the count is negative or the policy has no
// [APICapacity] check.
func (ev *Evaluator) SetDesired(n int, now time.Time) error {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.policy.apiCheck() == nil {
		return &RequestError{Field: "desired", Message: "the role's scaling policy has no API capacity check"}
	}
	if n < 0 {
		return &RequestError{Field: "desired", Message: fmt.Sprintf("%d is negative", n)}
	}
	ev.state.API = &APIDesired{Count: n, At: now}
	return nil
}

// SetPolicy replaces the policy, keeping the cooldowns, the API-set count
// and the breach streaks of checks whose names stay.
func (ev *Evaluator) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("scaling policy: %w", err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.policy = p
	return nil
}

// Policy returns the evaluated policy.
func (ev *Evaluator) Policy() Policy {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.policy
}

// State returns a copy of the kept state.
func (ev *Evaluator) State() State {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return copyState(ev.state)
}

// SetState replaces the kept state, for a controller that restores it
// after a restart.
func (ev *Evaluator) SetState(s State) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.state = copyState(s)
}

func copyState(s State) State {
	out := s
	if s.Streaks != nil {
		out.Streaks = make(map[string]Streak, len(s.Streaks))
		for k, v := range s.Streaks {
			out.Streaks[k] = v
		}
	}
	if s.API != nil {
		api := *s.API
		out.API = &api
	}
	return out
}
