package farm

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/farmhand/farmhand/scaling"
)

// APITarget returns the farm as the target of package scaling's HTTP API,
// so that an embedding program can let other systems read a role's
// capacity, set its desired count and fire custom events:
//
//	mux.Handle("/scaling/", scaling.NewHandler(f.APITarget(), scaling.BearerToken(token), nil))
//
// Only roles whose policy has an API check take role calls: in YAML
// `scaling: {api: {}}`, in Go ScalingSpec.API (or a scaling.APICapacity
// among ScalingSpec.Checks). Any other role is refused with
// [scaling.NotEnabled] (403) and an unknown one with [scaling.UnknownRole]
// (404); the program itself can still call [Farm.SetDesired] on any role.
//
// Capacity returns the role's desired count, its running servers and the
// bounds in force. SetDesired records the count for the API check, adds a
// record with origin "api" to [Farm.ScalingHistory], and makes the role's
// evaluation due at once (Run evaluates and reconciles right away); the
// policy's decision that applies it is recorded with origin "policy" and a
// reason such as "API-set desired 5". A count outside the role's bounds
// and a farm that is terminating are refused as bad input (400), changing
// nothing.
//
// FireEvent fires a custom event ([Farm.FireEvent]); a name that is not a
// variable-like name, or is a built-in event, is refused as bad input.
func (f *Farm) APITarget() scaling.APITarget { return apiTarget{f} }

type apiTarget struct{ f *Farm }

var _ scaling.APITarget = apiTarget{}

// SetDesired sets the count; with Options.Store it is saved before the
// call returns (and the API answers).
func (a apiTarget) SetDesired(ctx context.Context, role string, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := a.setDesired(ctx, role, n); err != nil {
		return err
	}
	return a.f.flush(ctx)
}

func (a apiTarget) setDesired(ctx context.Context, role string, n int) error {
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	rs, ok := f.roles[role]
	rsc := f.apiRoleLocked(role)
	switch {
	case !ok:
		return scaling.UnknownRole(role)
	case rsc == nil:
		return scaling.NotEnabled(role, enableAPIHint)
	case f.terminating:
		return &scaling.RequestError{Field: "role", Value: role, Message: "the farm is terminating"}
	case n < rs.min || n > rs.max:
		return &scaling.RequestError{Field: "desired", Value: strconv.Itoa(n),
			Message: fmt.Sprintf("outside role %q's bounds %d..%d", role, rs.min, rs.max)}
	}
	now := f.clk.Now()
	if err := rsc.ev.SetDesired(n, now); err != nil {
		return err
	}
	rsc.next = now
	f.markLocked(keyScaling + role)
	f.log.Info("farm: desired count set through the API; the policy applies it", "role", role, "desired", n)
	f.scalingChangedLocked(role, rs.desired, OriginAPI, fmt.Sprintf("API call: desired %d, applied at the role's next evaluation", n), nil)
	return nil
}

// enableAPIHint says how to let a role take API calls.
const enableAPIHint = "give it scaling: {api: {}} in YAML, or ScalingSpec.API in Go"

// apiRoleLocked returns the scaling state of a role whose policy takes API
// calls, or nil.
func (f *Farm) apiRoleLocked(role string) *roleScaling {
	if f.scaling == nil {
		return nil
	}
	if rsc := f.scaling.roles[role]; rsc != nil && rsc.hasAPI {
		return rsc
	}
	return nil
}

func (a apiTarget) Capacity(ctx context.Context, role string) (scaling.Capacity, error) {
	if err := ctx.Err(); err != nil {
		return scaling.Capacity{}, err
	}
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return scaling.Capacity{}, ErrClosed
	}
	rs, ok := f.roles[role]
	switch {
	case !ok:
		return scaling.Capacity{}, scaling.UnknownRole(role)
	case f.apiRoleLocked(role) == nil:
		return scaling.Capacity{}, scaling.NotEnabled(role, enableAPIHint)
	}
	running := 0
	for _, r := range f.records {
		if r.srv.Role == role && r.srv.State == StateRunning {
			running++
		}
	}
	return scaling.Capacity{Role: role, Desired: rs.desired, Running: running, Min: rs.min, Max: rs.max}, nil
}

func (a apiTarget) FireEvent(ctx context.Context, name string, params map[string]string) error {
	switch {
	case !varNameRE.MatchString(name):
		return &scaling.RequestError{Field: "event", Value: name, Message: "not a letter or '_' followed by letters, digits and '_'"}
	case EventType(name).Builtin():
		return &scaling.RequestError{Field: "event", Value: name, Message: "a built-in event; only custom events may be fired"}
	case !slices.Contains(a.f.spec.Events, name):
		return &scaling.RequestError{Field: "event", Value: name, Message: "not declared in the farm's events", Err: scaling.ErrNotFound}
	}
	return a.f.FireEvent(ctx, name, params)
}
