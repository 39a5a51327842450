package farm

import (
	"context"
	"fmt"
	"strconv"

	"github.com/farmhand/farmhand/scaling"
)

// APITarget returns the farm as the target of package scaling's HTTP API,
// so that an embedding program can let other systems set a role's desired
// count and fire custom events:
//
//	mux.Handle("/scaling/", scaling.NewHandler(f.APITarget(), scaling.BearerToken(token), nil))
//
// SetDesired of a role whose policy has an API check (ScalingSpec.API)
// records the count for that check and makes the role's evaluation due at
// once (Run evaluates and reconciles right away); for any other role it
// sets the desired count directly, recorded in [Farm.ScalingHistory] with
// origin "api" (the policy's decision is recorded with origin "policy"
// and a reason such as "API-set desired 5"). An unknown role, a count outside
// the role's bounds and a farm that is terminating are refused as bad
// input (400), changing nothing.
//
// FireEvent fires a custom event ([Farm.FireEvent]); a name that is not a
// variable-like name, or is a built-in event, is refused as bad input.
func (f *Farm) APITarget() scaling.APITarget { return apiTarget{f} }

type apiTarget struct{ f *Farm }

var _ scaling.APITarget = apiTarget{}

func (a apiTarget) SetDesired(ctx context.Context, role string, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	rs, ok := f.roles[role]
	switch {
	case !ok:
		return scaling.UnknownRole(role)
	case f.terminating:
		return &scaling.RequestError{Field: "role", Value: role, Message: "the farm is terminating"}
	case n < rs.min || n > rs.max:
		return &scaling.RequestError{Field: "desired", Value: strconv.Itoa(n),
			Message: fmt.Sprintf("outside role %q's bounds %d..%d", role, rs.min, rs.max)}
	}
	if rsc := f.scaling.roles[role]; rsc != nil && rsc.hasAPI {
		now := f.clk.Now()
		if err := rsc.ev.SetDesired(n, now); err != nil {
			return err
		}
		rsc.next = now
		f.log.Info("farm: desired count set through the API; the policy applies it", "role", role, "desired", n)
		poke(f.scaling.wake)
		return nil
	}
	rs.desiredByUser = true
	if rs.desired == n {
		return nil
	}
	from := rs.desired
	rs.desired = n
	f.log.Info("farm: desired count set through the API", "role", role, "from", from, "to", n)
	f.scalingChangedLocked(role, from, OriginAPI, fmt.Sprintf("API-set desired %d (%d → %d)", n, from, n), nil)
	f.notifyLocked()
	return nil
}

func (a apiTarget) FireEvent(ctx context.Context, name string, params map[string]string) error {
	switch {
	case !varNameRE.MatchString(name):
		return &scaling.RequestError{Field: "event", Value: name, Message: "not a letter or '_' followed by letters, digits and '_'"}
	case EventType(name).Builtin():
		return &scaling.RequestError{Field: "event", Value: name, Message: "a built-in event; only custom events may be fired"}
	}
	return a.f.FireEvent(ctx, name, params)
}
