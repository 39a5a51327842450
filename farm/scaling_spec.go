package farm

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/farmhand/farmhand/scaling"
)

// ScalingSpec is a role's scaling policy in a form a farm file can hold.
// The farm turns it into a scaling.Policy (see [ScalingSpec.Policy]) whose
// Min and Max are the role's, and evaluates it every EvaluationInterval;
// see the package documentation's "Scaling" section.
//
// In YAML:
//
//	scaling:
//	  evaluation_interval: 1m
//	  cooldown_up: 3m
//	  cooldown_down: 10m
//	  warm_up: 3m
//	  thresholds:
//	    - metric: load1
//	      up_above: 2.0
//	      up_by: 50%
//	      down_below: 0.8
//	      down_by: 1
//	      datapoints: 2
//	  schedule:
//	    time_zone: Europe/Berlin
//	    windows:
//	      - {days: [mon-fri], start: "08:00", end: "18:00", min: 4}
//	  api: {ttl: 1h}
type ScalingSpec struct {
	// EvaluationInterval is the time between two evaluations; 0 means
	// scaling.DefaultEvaluationInterval (1 minute). At least 1 s.
	EvaluationInterval time.Duration `yaml:"evaluation_interval,omitempty"`
	// CooldownUp is the time after a scale-up during which the role does
	// not grow again; CooldownDown the time after any action during which
	// it does not shrink. 0 means scaling.DefaultCooldown (300 s); a
	// negative value means none.
	CooldownUp   time.Duration `yaml:"cooldown_up,omitempty"`
	CooldownDown time.Duration `yaml:"cooldown_down,omitempty"`
	// WarmUp is how long a server that just entered service (HostUp) is
	// counted but not measured.
	WarmUp time.Duration `yaml:"warm_up,omitempty"`
	// Thresholds grow or shrink the role by steps when a metric crosses a
	// value.
	Thresholds []ThresholdSpec `yaml:"thresholds,omitempty"`
	// Targets keep a metric per server near a value.
	Targets []TargetSpec `yaml:"targets,omitempty"`
	// Schedule sets the role's bounds and size for windows of time.
	Schedule *ScheduleSpec `yaml:"schedule,omitempty"`
	// API, when set, lets the HTTP API ([Farm.APITarget]) set the role's
	// desired count as a check of the policy. Without it, a count set
	// through the API changes the desired count directly, and the metric
	// checks may move it again later.
	API *APISpec `yaml:"api,omitempty"`
	// Checks are further checks written in Go, evaluated after the others.
	Checks []scaling.Check `yaml:"-"`
}

// ThresholdSpec is a scaling.Threshold check.
type ThresholdSpec struct {
	// Name identifies the check in reasons; empty means "threshold <metric>".
	Name string `yaml:"name,omitempty"`
	// Metric names the metric read, such as "load1" (scaling.MetricLoad1).
	Metric string `yaml:"metric"`
	// Aggregate is "avg" (the default: the mean over the servers) or
	// "total" (their sum).
	Aggregate string `yaml:"aggregate,omitempty"`
	// UpAbove grows the role by UpBy when the metric is above it; nil
	// never grows it.
	UpAbove *float64 `yaml:"up_above,omitempty"`
	UpBy    Step     `yaml:"up_by,omitempty"`
	// DownBelow shrinks the role by DownBy when the metric is below it;
	// nil never shrinks it.
	DownBelow *float64 `yaml:"down_below,omitempty"`
	DownBy    Step     `yaml:"down_by,omitempty"`
	// Datapoints is how many consecutive evaluations must breach; 0
	// means 1.
	Datapoints int `yaml:"datapoints,omitempty"`
}

// Step is how much a threshold changes a role: a number of servers ("2")
// or a percentage of the current count ("50%", rounded up, at least one
// server). Empty means one server.
type Step string

// TargetSpec is a scaling.TargetValue check.
type TargetSpec struct {
	// Name identifies the check in reasons; empty means "target <metric>".
	Name   string `yaml:"name,omitempty"`
	Metric string `yaml:"metric"`
	// Aggregate is "avg" (the metric is per server, the default) or
	// "total" (the role's total, divided by the servers in service).
	Aggregate string `yaml:"aggregate,omitempty"`
	// Value is the wanted metric per server; it must be > 0.
	Value float64 `yaml:"value"`
	// Tolerance is the fraction of Value the metric may stray before the
	// count changes; 0 means 0.10, negative means none.
	Tolerance float64 `yaml:"tolerance,omitempty"`
	// DisableScaleIn makes the check only ever grow the role.
	DisableScaleIn bool `yaml:"disable_scale_in,omitempty"`
}

// ScheduleSpec is a scaling.Schedule check.
type ScheduleSpec struct {
	// Name identifies the check in reasons; empty means "schedule".
	Name string `yaml:"name,omitempty"`
	// TimeZone is the IANA zone the windows are read in; empty means the
	// farm's TimeZone, and UTC when that is empty too.
	TimeZone string       `yaml:"time_zone,omitempty"`
	Windows  []WindowSpec `yaml:"windows"`
}

// WindowSpec is one window of a schedule: Days with Start and End, or Cron
// with Duration. While it is active, Min and Max replace the role's bounds
// and Desired is the count the schedule votes for.
type WindowSpec struct {
	// Name identifies the window in reasons; empty means its days and
	// hours (or its cron line) describe it.
	Name string `yaml:"name,omitempty"`
	// Days are weekday names ("mon", "Monday") or ranges ("mon-fri").
	Days []string `yaml:"days,omitempty"`
	// Start and End are "HH:MM"; End is exclusive, "24:00" allowed, and an
	// End at or before Start runs past midnight.
	Start string `yaml:"start,omitempty"`
	End   string `yaml:"end,omitempty"`
	// Cron is a five-field cron expression or a descriptor such as
	// "@daily"; the window stays open for Duration after each time.
	Cron     string        `yaml:"cron,omitempty"`
	Duration time.Duration `yaml:"duration,omitempty"`
	Min      *int          `yaml:"min,omitempty"`
	Max      *int          `yaml:"max,omitempty"`
	Desired  *int          `yaml:"desired,omitempty"`
}

// APISpec is a scaling.APICapacity check.
type APISpec struct {
	// TTL is how long a count set through the API stays in force; 0 means
	// until it is replaced.
	TTL time.Duration `yaml:"ttl,omitempty"`
}

// Policy returns the scaling.Policy of a role bounded by minCount and
// maxCount, reading schedules in timeZone unless the schedule names its
// own. It fails with every problem [Spec.Validate] would report for the
// scaling section.
func (s ScalingSpec) Policy(minCount, maxCount int, timeZone string) (scaling.Policy, error) {
	p, errs := s.build(minCount, maxCount, timeZone)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Msg
		}
		return scaling.Policy{}, fmt.Errorf("scaling: %s", strings.Join(msgs, "; "))
	}
	return p, nil
}

// clone returns a deep copy of s.
func (s *ScalingSpec) clone() *ScalingSpec {
	if s == nil {
		return nil
	}
	c := *s
	c.Thresholds = slices.Clone(s.Thresholds)
	for i, t := range c.Thresholds {
		c.Thresholds[i].UpAbove = clonePtr(t.UpAbove)
		c.Thresholds[i].DownBelow = clonePtr(t.DownBelow)
	}
	c.Targets = slices.Clone(s.Targets)
	if s.Schedule != nil {
		sch := *s.Schedule
		sch.Windows = slices.Clone(sch.Windows)
		for i, w := range sch.Windows {
			sch.Windows[i].Days = slices.Clone(w.Days)
			sch.Windows[i].Min, sch.Windows[i].Max, sch.Windows[i].Desired = clonePtr(w.Min), clonePtr(w.Max), clonePtr(w.Desired)
		}
		c.Schedule = &sch
	}
	if s.API != nil {
		api := *s.API
		c.API = &api
	}
	c.Checks = slices.Clone(s.Checks)
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// scalingProblem is one problem of a scaling section: path is relative to
// the section ("thresholds[0].up_by").
type scalingProblem struct {
	Path, Msg string
}

// build converts the spec, collecting every problem with its path. Each
// check is also validated alone by package scaling, so that its problems
// carry the check's own path.
func (s ScalingSpec) build(minCount, maxCount int, timeZone string) (scaling.Policy, []scalingProblem) {
	var probs []scalingProblem
	bad := func(path, format string, args ...any) {
		probs = append(probs, scalingProblem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	p := scaling.Policy{
		Min: minCount, Max: maxCount,
		EvaluationInterval: s.EvaluationInterval,
		CooldownUp:         s.CooldownUp,
		CooldownDown:       s.CooldownDown,
		WarmUp:             s.WarmUp,
	}
	switch {
	case s.EvaluationInterval < 0:
		bad("evaluation_interval", "scaling.evaluation_interval %s is negative", s.EvaluationInterval)
	case s.EvaluationInterval > 0 && s.EvaluationInterval < time.Second:
		bad("evaluation_interval", "scaling.evaluation_interval %s is under 1s", s.EvaluationInterval)
	}
	if s.WarmUp < 0 {
		bad("warm_up", "scaling.warm_up %s is negative", s.WarmUp)
	}
	// check validates one check alone, under the role's bounds.
	check := func(path string, c scaling.Check) {
		alone := scaling.Policy{Min: max(minCount, 0), Max: max(maxCount, minCount, 0), Checks: []scaling.Check{c}}
		if err := alone.Validate(); err != nil {
			for _, line := range joinedErrors(err) {
				bad(path, "scaling.%s: %s", path, strings.TrimPrefix(line, fmt.Sprintf("checks[0] %q: ", c.CheckName())))
			}
		}
		p.Checks = append(p.Checks, c)
	}
	for i, t := range s.Thresholds {
		path := fmt.Sprintf("thresholds[%d]", i)
		th := &scaling.Threshold{Name: t.Name, Metric: t.Metric, Datapoints: t.Datapoints}
		var ok bool
		if th.Aggregate, ok = parseAggregate(t.Aggregate); !ok {
			bad(path+".aggregate", "scaling.%s.aggregate %q is not \"avg\" or \"total\"", path, t.Aggregate)
		}
		if t.UpAbove == nil && t.DownBelow == nil {
			bad(path, "scaling.%s: neither up_above nor down_below is set", path)
			continue
		}
		if t.UpAbove != nil {
			step, err := t.UpBy.step()
			if err != nil {
				bad(path+".up_by", "scaling.%s.up_by %q %v", path, string(t.UpBy), err)
				continue
			}
			th.Up = scaling.Above(*t.UpAbove, step)
		} else if t.UpBy != "" {
			bad(path+".up_by", "scaling.%s.up_by %q is set without up_above", path, string(t.UpBy))
		}
		if t.DownBelow != nil {
			step, err := t.DownBy.step()
			if err != nil {
				bad(path+".down_by", "scaling.%s.down_by %q %v", path, string(t.DownBy), err)
				continue
			}
			th.Down = scaling.Below(*t.DownBelow, step)
		} else if t.DownBy != "" {
			bad(path+".down_by", "scaling.%s.down_by %q is set without down_below", path, string(t.DownBy))
		}
		check(path, th)
	}
	for i, t := range s.Targets {
		path := fmt.Sprintf("targets[%d]", i)
		tv := &scaling.TargetValue{Name: t.Name, Metric: t.Metric, Target: t.Value, Tolerance: t.Tolerance, DisableScaleIn: t.DisableScaleIn}
		var ok bool
		if tv.Aggregate, ok = parseAggregate(t.Aggregate); !ok {
			bad(path+".aggregate", "scaling.%s.aggregate %q is not \"avg\" or \"total\"", path, t.Aggregate)
			continue
		}
		check(path, tv)
	}
	if sch := s.Schedule; sch != nil {
		sc := &scaling.Schedule{Name: sch.Name, TimeZone: sch.TimeZone}
		if sc.TimeZone == "" {
			sc.TimeZone = timeZone
		}
		daysOK := true
		for i, w := range sch.Windows {
			win := scaling.Window{Name: w.Name, Start: w.Start, End: w.End, Cron: w.Cron, Duration: w.Duration,
				Min: clonePtr(w.Min), Max: clonePtr(w.Max), Desired: clonePtr(w.Desired)}
			for j, d := range w.Days {
				days, err := parseDays(d)
				if err != nil {
					bad(fmt.Sprintf("schedule.windows[%d].days[%d]", i, j), "scaling.schedule.windows[%d].days[%d] %q %v", i, j, d, err)
					daysOK = false
				}
				for _, day := range days {
					if !slices.Contains(win.Days, day) {
						win.Days = append(win.Days, day)
					}
				}
			}
			sc.Windows = append(sc.Windows, win)
		}
		if daysOK && scheduleProblems(sch, sc, minCount, maxCount, bad) {
			check("schedule", sc)
		}
	}
	if s.API != nil {
		check("api", &scaling.APICapacity{TTL: s.API.TTL})
	}
	for i, c := range s.Checks {
		if c == nil {
			bad("checks", "scaling checks[%d] is nil", i)
			continue
		}
		check(fmt.Sprintf("checks[%d]", i), c)
	}
	if len(probs) == 0 {
		// What only the whole policy shows: two checks with one name.
		if err := p.Validate(); err != nil {
			for _, line := range joinedErrors(err) {
				bad("", "scaling: %s", line)
			}
		}
	}
	return p, probs
}

// scheduleProblems checks a schedule's time zone and each window alone, so
// that a problem points at the time_zone line or at the window at fault;
// it reports whether the schedule is free of them.
func scheduleProblems(sch *ScheduleSpec, sc *scaling.Schedule, minCount, maxCount int, bad func(path, format string, args ...any)) bool {
	if sc.TimeZone != "" {
		if _, err := time.LoadLocation(sc.TimeZone); err != nil {
			if sch.TimeZone != "" {
				bad("schedule.time_zone", "scaling.schedule.time_zone %q is not a known IANA time zone", sch.TimeZone)
			}
			// A farm-wide time_zone at fault is reported at its own line.
			return false
		}
	}
	ok := true
	for i, w := range sc.Windows {
		alone := scaling.Policy{Min: max(minCount, 0), Max: max(maxCount, minCount, 0),
			Checks: []scaling.Check{&scaling.Schedule{TimeZone: sc.TimeZone, Windows: []scaling.Window{w}}}}
		err := alone.Validate()
		if err == nil {
			continue
		}
		ok = false
		path := fmt.Sprintf("schedule.windows[%d]", i)
		for _, line := range joinedErrors(err) {
			_, msg, found := strings.Cut(line, "windows[0]: ")
			if !found {
				msg = line
			}
			bad(path, "scaling.%s: %s", path, msg)
		}
	}
	return ok
}

// joinedErrors splits an errors.Join result into its lines.
func joinedErrors(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, joinedErrors(e)...)
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

func parseAggregate(s string) (scaling.Aggregate, bool) {
	switch strings.ToLower(s) {
	case "", "avg", "average":
		return scaling.Average, true
	case "total", "sum":
		return scaling.Total, true
	}
	return scaling.Average, false
}

// step parses a Step.
func (s Step) step() (scaling.Step, error) {
	v := strings.TrimSpace(string(s))
	if v == "" {
		return scaling.Count(1), nil
	}
	if num, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || p <= 0 || p > 1000 {
			return scaling.Step{}, fmt.Errorf("is not a percentage within (0, 1000]")
		}
		return scaling.Percent(p), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return scaling.Step{}, fmt.Errorf("is not a count of servers >= 1 or a percentage such as \"50%%\"")
	}
	return scaling.Count(n), nil
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseDays reads a weekday name or a range of them ("mon-fri", "sat-sun",
// "fri-mon" wrapping over the weekend).
func parseDays(s string) ([]time.Weekday, error) {
	day := func(name string) (time.Weekday, bool) {
		n := strings.ToLower(strings.TrimSpace(name))
		if len(n) < 3 {
			return 0, false
		}
		d, ok := weekdays[n[:3]]
		if !ok || !strings.HasPrefix(strings.ToLower(d.String()), n) {
			return 0, false
		}
		return d, true
	}
	const want = `is not a weekday ("mon", "Monday") or a range of them ("mon-fri")`
	from, to, isRange := strings.Cut(s, "-")
	first, ok := day(from)
	if !ok {
		return nil, fmt.Errorf("%s", want)
	}
	if !isRange {
		return []time.Weekday{first}, nil
	}
	last, ok := day(to)
	if !ok {
		return nil, fmt.Errorf("%s", want)
	}
	var out []time.Weekday
	for d := first; ; d = (d + 1) % 7 {
		out = append(out, d)
		if d == last {
			return out, nil
		}
	}
}

// metricsRead returns the metrics the policy's threshold and target checks
// read, sorted.
func metricsRead(p scaling.Policy) []string {
	set := map[string]bool{}
	for _, c := range p.Checks {
		switch c := c.(type) {
		case *scaling.Threshold:
			set[c.Metric] = true
		case *scaling.TargetValue:
			set[c.Metric] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// scaling validates a role's scaling section and load balancer name.
func (v *validator) scaling(path, role string, r RoleSpec, timeZone string) {
	if r.LoadBalancer != "" && strings.TrimSpace(r.LoadBalancer) != r.LoadBalancer {
		v.add(path+".load_balancer", role, "load_balancer %q has leading or trailing spaces", r.LoadBalancer)
	}
	if r.Scaling == nil {
		return
	}
	_, probs := r.Scaling.build(r.Min, r.Max, timeZone)
	for _, p := range probs {
		fp := path + ".scaling"
		if p.Path != "" {
			fp += "." + p.Path
		}
		v.add(fp, role, "%s", p.Msg)
	}
}
