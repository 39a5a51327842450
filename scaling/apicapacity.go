package scaling

import (
	"fmt"
	"time"
)

// APICapacity votes for a count set through the API ([Evaluator.SetDesired],
// [NewHandler]). It is a check like the others: it can always grow the role,
// but it shrinks it only when no other check holds (use a schedule's Max to
// force a smaller role). With a TTL the value expires and the check abstains
// again.
type APICapacity struct {
	// Name identifies the check; the default is "api".
	Name string
	// TTL is how long a value set through the API stays in force; zero
	// means until it is replaced.
	TTL time.Duration
}

var _ Check = (*APICapacity)(nil)

// CheckName returns a.Name or "api".
func (a *APICapacity) CheckName() string {
	if a.Name != "" {
		return a.Name
	}
	return "api"
}

func (a *APICapacity) validate(*Policy) []error {
	if a.TTL < 0 {
		return []error{fmt.Errorf("TTL %s is negative", a.TTL)}
	}
	return nil
}

func (a *APICapacity) evaluate(e *evalContext, _ Streak) (CheckResult, Streak) {
	cur := e.in.Current
	v := e.in.State.API
	if v == nil {
		return CheckResult{Vote: VoteAbstain, To: cur, Reason: "no capacity set through the API"}, Streak{}
	}
	if a.TTL > 0 && !e.in.Now.Before(v.At.Add(a.TTL)) {
		return CheckResult{Vote: VoteAbstain, To: cur, Reason: fmt.Sprintf("API-set desired %d expired at %s", v.Count, stamp(v.At.Add(a.TTL)))}, Streak{}
	}
	want := e.clamp(v.Count)
	reason := fmt.Sprintf("API-set desired %d", v.Count)
	switch {
	case want > cur:
		return CheckResult{Vote: VoteUp, To: want, Reason: reason}, Streak{}
	case want < cur:
		return CheckResult{Vote: VoteDown, To: want, Reason: reason}, Streak{}
	}
	return CheckResult{Vote: VoteHold, To: cur, Reason: reason}, Streak{}
}
