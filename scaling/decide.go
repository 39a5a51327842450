package scaling

import (
	"fmt"
	"strings"
	"time"
)

// Action is what a [Decision] does to a role's server count.
type Action int

const (
	// None keeps the count.
	None Action = iota
	// Up adds servers.
	Up
	// Down removes servers.
	Down
)

// String is "up", "down" or "none".
func (a Action) String() string {
	switch a {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "none"
}

// Vote is one check's opinion in an evaluation.
type Vote int

const (
	// VoteAbstain: the check has no opinion (a schedule outside its windows,
	// no capacity set through the API).
	VoteAbstain Vote = iota
	// VoteHold: keep the current count.
	VoteHold
	// VoteUp: grow to CheckResult.To.
	VoteUp
	// VoteDown: shrink to CheckResult.To.
	VoteDown
	// VoteNoData: the check's metric failed, is missing, stale or incomplete.
	// It holds the count and blocks every scale-in of this evaluation.
	VoteNoData
)

// String is "abstain", "hold", "up", "down" or "no data".
func (v Vote) String() string {
	return [...]string{"abstain", "hold", "up", "down", "no data"}[v]
}

// Server is one server of a role as scaling sees it.
type Server struct {
	// ID identifies the server; per-server samples are keyed by it.
	ID string
	// Address is where metric sources reach it (an IP address or host name).
	Address string
	// LaunchedAt starts the server's warm-up (Policy.WarmUp).
	LaunchedAt time.Time
}

// Streak counts consecutive datapoints a threshold check has been in breach.
type Streak struct {
	Up, Down int // datapoints in a row in breach of the up rule, and of the down rule
}

// APIDesired is a count set through the API for an [APICapacity] check.
type APIDesired struct {
	// Count is the count set.
	Count int
	// At is when it was set; APICapacity.TTL counts from it.
	At time.Time
}

// State is what evaluations of one role carry from one to the next.
type State struct {
	// LastUp and LastDown are the times of the last scale-up and
	// scale-down; zero when there was none.
	LastUp, LastDown time.Time
	// Streaks holds each threshold check's breach counts, by check name.
	Streaks map[string]Streak
	// API is the count set through the API, or nil.
	API *APIDesired
}

// Input is everything [Decide] looks at.
type Input struct {
	// Policy is the role's policy.
	Policy Policy
	// Now is the evaluation time; schedules and cooldowns are read against it.
	Now time.Time
	// Current is the role's server count, warming-up servers included.
	Current int
	// Servers lists the role's servers with their launch times. When nil,
	// no server is taken as warming up and per-server samples count as they
	// are.
	Servers []Server
	// Metrics holds the latest sample of each metric, by name. An absent
	// metric is missing data.
	Metrics map[string]Sample
	// State is the previous evaluation's Decision.State.
	State State
}

// CheckResult is one check's part in a [Decision].
type CheckResult struct {
	// Check is the check's name.
	Check string
	// Vote is what the check wants: up, down, hold, abstain, or no data.
	Vote Vote
	// To is the count the check wants (the current count for VoteHold).
	To int
	// Reason explains the vote, such as "load1 avg 3.40 > 2.00 for 3
	// datapoints: +2".
	Reason string
}

// Decision is the outcome of one evaluation.
type Decision struct {
	// Action is the direction of the change, None for no change.
	Action Action
	// From is the count evaluated, To the count to reach; To == From when
	// Action is None.
	From, To int
	// Reason explains the outcome in one line, for people.
	Reason string
	// Min and Max are the bounds in force, schedule windows applied.
	Min, Max int
	// Checks holds each check's vote, in policy order.
	Checks []CheckResult
	// State is the state to pass to the next evaluation, assuming the
	// action is carried out.
	State State
}

// evalContext is the per-evaluation view the checks share.
type evalContext struct {
	policy       Policy // defaults applied
	in           Input
	warmingCount int
	min, max     int
	minFrom      string // what set min ("policy" or a schedule window)
	maxFrom      string
}

// warming reports whether s is still in its warm-up.
func (e *evalContext) warming(s Server) bool {
	return e.policy.WarmUp > 0 && e.in.Now.Sub(s.LaunchedAt) < e.policy.WarmUp
}

// inService is the number of servers past their warm-up.
func (e *evalContext) inService() int {
	return max(e.in.Current-e.warmingCount, 0)
}

// clamp bounds n to the effective [min, max].
func (e *evalContext) clamp(n int) int {
	return min(max(n, e.min), e.max)
}

// Decide evaluates a role's policy once. It is a pure function of its
// input: the same Input always gives the same Decision.
//
// Every check votes; scale-up beats none beats scale-down: the largest
// scale-up wins if any check votes up, else the count holds if any check
// holds or lacks data, else the largest of the scale-down targets (the
// smallest reduction) wins. The result is clamped to [Min, Max] (schedule
// windows applied) and then held back by the cooldowns. A count outside the
// bounds is brought back inside even during a cooldown.
//
// The policy must be valid (see [Policy.Validate]).
func Decide(in Input) Decision {
	e := &evalContext{policy: in.Policy.withDefaults(), in: in}
	if in.Servers != nil && e.policy.WarmUp > 0 {
		for _, s := range in.Servers {
			if e.warming(s) {
				e.warmingCount++
			}
		}
	}
	e.applyScheduleBounds()

	d := Decision{From: in.Current, Min: e.min, Max: e.max}
	next := State{LastUp: in.State.LastUp, LastDown: in.State.LastDown, API: in.State.API}
	for _, c := range e.policy.Checks {
		name := c.CheckName()
		r, st := c.evaluate(e, in.State.Streaks[name])
		r.Check = name
		d.Checks = append(d.Checks, r)
		if st != (Streak{}) {
			if next.Streaks == nil {
				next.Streaks = make(map[string]Streak)
			}
			next.Streaks[name] = st
		}
	}

	c := combine(in.Current, d.Checks)
	forced := e.clamp(in.Current) // where the bounds alone put the count
	want := e.clamp(c.to)
	to := want
	var blocked string
	if to > forced {
		if until := in.State.LastUp.Add(e.policy.CooldownUp); !in.State.LastUp.IsZero() && in.Now.Before(until) {
			blocked = fmt.Sprintf("scale-up to %d blocked by up cooldown until %s", to, stamp(until))
			to = forced
		}
	}
	if to < forced {
		last := later(in.State.LastUp, in.State.LastDown)
		if until := last.Add(e.policy.CooldownDown); !last.IsZero() && in.Now.Before(until) {
			blocked = fmt.Sprintf("scale-down to %d blocked by down cooldown until %s", to, stamp(until))
			to = forced
		}
	}
	// A vote the bounds turned the other way does not explain the outcome.
	if c.lead != nil && ((c.lead.Vote == VoteUp && want < in.Current) || (c.lead.Vote == VoteDown && want > in.Current)) {
		c.lead = nil
	}
	var notes []string
	if c.lead != nil && want != c.to {
		if want < c.to {
			notes = append(notes, fmt.Sprintf("clamped to max %d%s", e.max, boundFrom(e.maxFrom)))
		} else {
			notes = append(notes, fmt.Sprintf("clamped to min %d%s", e.min, boundFrom(e.minFrom)))
		}
	}
	if blocked != "" {
		notes = append(notes, blocked)
	}
	if forced != in.Current && to == forced {
		if forced > in.Current {
			notes = append(notes, fmt.Sprintf("raised to min %d%s", e.min, boundFrom(e.minFrom)))
		} else {
			notes = append(notes, fmt.Sprintf("lowered to max %d%s", e.max, boundFrom(e.maxFrom)))
		}
	}

	d.To = to
	switch {
	case to > in.Current:
		d.Action = Up
		next.LastUp = in.Now
	case to < in.Current:
		d.Action = Down
		next.LastDown = in.Now
	}
	d.State = next
	d.Reason = c.reason(d, notes)
	return d
}

// combined is the outcome of the votes before bounds and cooldowns.
type combined struct {
	to      int
	lead    *CheckResult   // the winning up or down vote
	holds   []*CheckResult // hold votes
	noData  []*CheckResult // no-data votes
	downs   []*CheckResult // down votes overruled by holds or missing data
	abstain bool           // nobody voted
}

// combine applies "scale-up beats none beats scale-down; within a direction
// the larger count wins".
func combine(current int, results []CheckResult) combined {
	c := combined{to: current}
	var up, down *CheckResult
	var downs []*CheckResult
	for i := range results {
		r := &results[i]
		switch r.Vote {
		case VoteUp:
			if up == nil || r.To > up.To {
				up = r
			}
		case VoteDown:
			downs = append(downs, r)
			if down == nil || r.To > down.To {
				down = r
			}
		case VoteHold:
			c.holds = append(c.holds, r)
		case VoteNoData:
			c.noData = append(c.noData, r)
		}
	}
	switch {
	case up != nil:
		c.lead, c.to = up, up.To
	case len(c.holds) > 0 || len(c.noData) > 0:
		c.downs = downs
	case down != nil:
		c.lead, c.to = down, down.To
	default:
		c.abstain = true
	}
	return c
}

// reason renders the decision in one line.
func (c combined) reason(d Decision, notes []string) string {
	var b strings.Builder
	if d.Action != None {
		if c.lead != nil {
			b.WriteString(c.lead.Reason)
			for _, n := range notes {
				b.WriteString(", " + n)
			}
		} else {
			b.WriteString(strings.Join(notes, ", "))
		}
		fmt.Fprintf(&b, " (%d → %d)", d.From, d.To)
		return b.String()
	}
	fmt.Fprintf(&b, "no change at %d: ", d.From)
	var parts []string
	if c.lead != nil {
		parts = append(parts, strings.Join(append([]string{c.lead.Reason}, notes...), ", "))
	} else {
		parts = append(parts, notes...)
	}
	if len(c.noData) > 0 {
		var why []string
		for _, r := range c.noData {
			why = append(why, r.Reason)
		}
		parts = append(parts, "scale-in blocked: "+strings.Join(why, "; "))
	}
	for _, r := range c.downs {
		parts = append(parts, "overruled "+r.Reason)
	}
	if c.lead == nil {
		for _, r := range c.holds {
			parts = append(parts, r.Reason)
		}
	}
	if c.abstain && len(parts) == 0 {
		parts = append(parts, "no check voted")
	}
	b.WriteString(strings.Join(parts, "; "))
	return b.String()
}

func boundFrom(from string) string {
	if from == "" {
		return ""
	}
	return " (" + from + ")"
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stamp formats a time for reasons.
func stamp(t time.Time) string { return t.Format(time.RFC3339) }

// stepString renders a change of count as "+2" or "-1".
func stepString(from, to int) string {
	return fmt.Sprintf("%+d", to-from)
}
