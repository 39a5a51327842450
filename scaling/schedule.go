package scaling

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule sets a role's bounds and size for windows of time: weekdays
// between two clock times, or a cron expression and a duration, read in a
// time zone. While a window is active its Min and Max replace the policy's
// and its Desired is the count the schedule votes for.
//
// Windows follow the wall clock of the time zone, so "08:00" stays 08:00
// across daylight-saving changes. When several windows are active at once,
// the largest Min, the largest Max and the largest Desired apply: overlap
// errs towards capacity.
type Schedule struct {
	// Name identifies the check; the default is "schedule".
	Name string
	// TimeZone is an IANA zone name such as "Europe/Berlin"; empty means
	// UTC. The embedding program may import time/tzdata where the system
	// has no zone database.
	TimeZone string
	// Windows are the schedule's periods; where several are active, the
	// largest of their bounds and counts apply.
	Windows []Window
}

// Window is one period of a [Schedule]: either Days with Start and End, or
// Cron with Duration.
type Window struct {
	// Name describes the window in reasons; the default describes its time.
	Name string
	// Days, Start and End make a weekly window: on each of Days from Start
	// to End ("HH:MM", End exclusive, "24:00" allowed). An End at or before
	// Start runs past midnight into the next day.
	Days       []time.Weekday
	Start, End string
	// Cron and Duration make a window that opens at each time of a
	// five-field cron expression ("0 8 * * 1-5") or a descriptor such as
	// "@daily", and stays open for Duration.
	Cron     string
	Duration time.Duration
	// Min and Max replace the policy's bounds while the window is active;
	// nil keeps the policy's.
	Min, Max *int
	// Desired is the count the schedule votes for while the window is
	// active; nil votes for nothing (the bounds still apply).
	Desired *int
}

var _ Check = (*Schedule)(nil)

// CheckName returns s.Name or "schedule".
func (s *Schedule) CheckName() string {
	if s.Name != "" {
		return s.Name
	}
	return "schedule"
}

func (s *Schedule) validate(p *Policy) []error {
	var errs []error
	loc, err := loadLocation(s.TimeZone)
	if err != nil {
		return []error{fmt.Errorf("time zone %q: %w", s.TimeZone, err)}
	}
	if len(s.Windows) == 0 {
		errs = append(errs, fmt.Errorf("no windows"))
	}
	for i, w := range s.Windows {
		for _, err := range w.validate(p, loc) {
			errs = append(errs, fmt.Errorf("windows[%d]: %w", i, err))
		}
	}
	return errs
}

func (w Window) validate(p *Policy, loc *time.Location) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	weekly := len(w.Days) > 0 || w.Start != "" || w.End != ""
	switch {
	case weekly && w.Cron != "":
		bad("both Cron %q and Days/Start/End are set; use one", w.Cron)
	case weekly:
		if len(w.Days) == 0 {
			bad("Days is empty")
		}
		for _, d := range w.Days {
			if d < time.Sunday || d > time.Saturday {
				bad("day %d is not a weekday", int(d))
			}
		}
		if _, err := parseClock(w.Start, false); err != nil {
			bad("start %q: %v", w.Start, err)
		}
		if _, err := parseClock(w.End, true); err != nil {
			bad("end %q: %v", w.End, err)
		}
		if w.Duration != 0 {
			bad("duration %s is set on a weekly window; End ends it", w.Duration)
		}
	case w.Cron != "":
		if _, err := cronSchedule(w.Cron, loc); err != nil {
			bad("cron %q: %v", w.Cron, err)
		}
		if w.Duration <= 0 {
			bad("duration %s is not positive", w.Duration)
		}
	default:
		bad("neither Cron nor Days/Start/End is set")
	}
	if w.Min == nil && w.Max == nil && w.Desired == nil {
		bad("none of Min, Max, Desired is set")
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"min", w.Min}, {"max", w.Max}, {"desired", w.Desired}} {
		if f.v != nil && *f.v < 0 {
			bad("%s %d is negative", f.name, *f.v)
		}
	}
	lo, hi := w.bounds(p.Min, p.Max)
	if lo > hi {
		bad("min %d > max %d in the window", lo, hi)
	}
	if w.Desired != nil && lo <= hi && (*w.Desired < lo || *w.Desired > hi) {
		bad("desired %d is outside the window's bounds [%d, %d]", *w.Desired, lo, hi)
	}
	return errs
}

// bounds returns the window's min and max, the policy's where unset.
func (w Window) bounds(pmin, pmax int) (int, int) {
	lo, hi := pmin, pmax
	if w.Min != nil {
		lo = *w.Min
	}
	if w.Max != nil {
		hi = *w.Max
	}
	return lo, hi
}

// active reports whether the window contains now.
func (w Window) active(now time.Time, loc *time.Location) bool {
	if w.Cron != "" {
		sched, err := cronSchedule(w.Cron, loc)
		if err != nil {
			return false
		}
		// The latest opening at or before now is the first one after
		// now-Duration, if it is not after now.
		open := sched.Next(now.Add(-w.Duration))
		return !open.IsZero() && !open.After(now)
	}
	start, err1 := parseClock(w.Start, false)
	end, err2 := parseClock(w.End, true)
	if err1 != nil || err2 != nil {
		return false
	}
	local := now.In(loc)
	tod := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute +
		time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
	today := local.Weekday()
	yesterday := (today + 6) % 7
	if start < end {
		return hasDay(w.Days, today) && tod >= start && tod < end
	}
	return (hasDay(w.Days, today) && tod >= start) || (hasDay(w.Days, yesterday) && tod < end)
}

// describe names the window for reasons.
func (w Window) describe(tz string) string {
	if w.Name != "" {
		return "window " + w.Name
	}
	if tz == "" {
		tz = "UTC"
	}
	if w.Cron != "" {
		return fmt.Sprintf("window cron %q for %s %s", w.Cron, w.Duration, tz)
	}
	days := make([]string, len(w.Days))
	for i, d := range w.Days {
		days[i] = d.String()[:3]
	}
	return fmt.Sprintf("window %s %s-%s %s", strings.Join(days, ","), w.Start, w.End, tz)
}

func hasDay(days []time.Weekday, d time.Weekday) bool {
	for _, x := range days {
		if x == d {
			return true
		}
	}
	return false
}

// parseClock parses "HH:MM" into the time since midnight. "24:00" is
// accepted only as an end.
func parseClock(s string, isEnd bool) (time.Duration, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("want HH:MM")
	}
	if _, err := fmt.Sscanf(s, "%2d:%2d", &h, &m); err != nil {
		return 0, fmt.Errorf("want HH:MM")
	}
	if isEnd && h == 24 && m == 0 {
		return 24 * time.Hour, nil
	}
	if h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("not a time of day")
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// activeWindow is a window that contains the evaluation time.
type activeWindow struct {
	w    Window
	desc string
}

func (s *Schedule) active(now time.Time) []activeWindow {
	loc, err := loadLocation(s.TimeZone)
	if err != nil {
		return nil
	}
	var out []activeWindow
	for _, w := range s.Windows {
		if w.active(now, loc) {
			out = append(out, activeWindow{w, w.describe(s.TimeZone)})
		}
	}
	return out
}

// applyScheduleBounds sets e's bounds from the policy and the active
// windows of its schedules.
func (e *evalContext) applyScheduleBounds() {
	p := e.policy
	e.min, e.max = p.Min, p.Max
	first := true
	for _, c := range p.Checks {
		s, ok := c.(*Schedule)
		if !ok {
			continue
		}
		for _, a := range s.active(e.in.Now) {
			lo, hi := a.w.bounds(p.Min, p.Max)
			if first || lo > e.min {
				e.min, e.minFrom = lo, a.desc
				if a.w.Min == nil {
					e.minFrom = ""
				}
			}
			if first || hi > e.max {
				e.max, e.maxFrom = hi, a.desc
				if a.w.Max == nil {
					e.maxFrom = ""
				}
			}
			first = false
		}
	}
}

func (s *Schedule) evaluate(e *evalContext, _ Streak) (CheckResult, Streak) {
	cur := e.in.Current
	active := s.active(e.in.Now)
	if len(active) == 0 {
		return CheckResult{Vote: VoteAbstain, To: cur, Reason: "no window active"}, Streak{}
	}
	var lead *activeWindow
	for i := range active {
		if d := active[i].w.Desired; d != nil && (lead == nil || *d > *lead.w.Desired) {
			lead = &active[i]
		}
	}
	if lead == nil {
		return CheckResult{Vote: VoteAbstain, To: cur, Reason: active[0].desc + " sets bounds only"}, Streak{}
	}
	want := e.clamp(*lead.w.Desired)
	reason := fmt.Sprintf("%s: desired %d", lead.desc, *lead.w.Desired)
	switch {
	case want > cur:
		return CheckResult{Vote: VoteUp, To: want, Reason: reason}, Streak{}
	case want < cur:
		return CheckResult{Vote: VoteDown, To: want, Reason: reason}, Streak{}
	}
	return CheckResult{Vote: VoteHold, To: cur, Reason: reason}, Streak{}
}

// Loaded zones and parsed cron expressions are cached: policies are few and
// evaluated often, and time.LoadLocation reads the zone file every time.
var (
	locations sync.Map // string → *time.Location
	crons     sync.Map // cronKey → cron.Schedule
)

type cronKey struct{ expr, zone string }

func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	if loc == time.Local {
		return nil, fmt.Errorf("the machine's local zone is not allowed; name the zone")
	}
	locations.Store(name, loc)
	return loc, nil
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func cronSchedule(expr string, loc *time.Location) (cron.Schedule, error) {
	key := cronKey{expr, loc.String()}
	if s, ok := crons.Load(key); ok {
		return s.(cron.Schedule), nil
	}
	trimmed := strings.TrimSpace(expr)
	if strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ=") {
		return nil, fmt.Errorf("set the zone with Schedule.TimeZone, not in the expression")
	}
	if strings.HasPrefix(trimmed, "@every") {
		return nil, fmt.Errorf("@every has no fixed opening time; use a five-field expression")
	}
	s, err := cronParser.Parse(trimmed)
	if err != nil {
		return nil, err
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported schedule %T", s)
	}
	spec.Location = loc
	crons.Store(key, spec)
	return spec, nil
}
