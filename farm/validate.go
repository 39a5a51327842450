package farm

import (
	"errors"
	"fmt"
	"github.com/farmhand/farmhand/scripting"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// FieldError is one problem Validate found. Validate joins them with
// errors.Join; take them apart with errors.As on each, or with [FieldErrors].
type FieldError struct {
	// Path locates the field with YAML key names, such as
	// "roles[1].health_checks[0].port" or "name".
	Path string
	// Role is the role's name, empty for farm-level fields.
	Role string
	// Msg says what is wrong, naming the field and its value, such as
	// "min 5 > max 3".
	Msg string
	// File and Line locate the field in a YAML file; empty and 0 when the
	// spec did not come from one.
	File string
	Line int
}

// Error formats the problem as `role "app64": min 5 > max 3`, prefixed with
// "file:line: " when it is known.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Role != "" {
		fmt.Fprintf(&b, "role %q: ", e.Role)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// FieldErrors returns the *FieldError values joined in err, in order.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		walk(errors.Unwrap(err))
	}
	walk(err)
	return out
}

// nameRE is a DNS label in lower case: usable as a tag value, a host name
// part and a file name.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// varNameRE is a script variable name.
var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxUserData is EC2's limit on user data, the strictest of the clouds.
const maxUserData = 16 << 10

// reservedTagPrefix starts the tag keys farmhand keeps for itself.
const reservedTagPrefix = "farmhand:"

// checkKinds are the built-in health check kinds.
var checkKinds = []string{"tcp", "http", "ssh", "command"}

// Validate reports every problem of the spec, joined with errors.Join, or
// nil. Each problem is a [*FieldError] naming the role, the field and its
// value. Validate does not ask the cloud anything: zones are checked against
// the provider's when the farm launches.
func (s Spec) Validate() error {
	v := &validator{}
	v.spec(s)
	return errors.Join(v.errs...)
}

type validator struct {
	errs   []error
	events []string // the spec's declared custom events
}

// MaxRoleServers is the largest max a role may have: a bound beyond it is
// a slip of the keyboard, not a farm.
const MaxRoleServers = 10000

func (v *validator) add(path, role, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Role: role, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) spec(s Spec) {
	switch {
	case s.Name == "":
		v.add("name", "", "farm name is empty")
	case !nameRE.MatchString(s.Name):
		v.add("name", "", "farm name %q is not a DNS label (lower-case letters, digits and '-', at most 63)", s.Name)
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			v.add("time_zone", "", "time_zone %q is not a known IANA time zone", s.TimeZone)
		}
	}
	v.variables("variables", "", s.Variables)
	if len(s.Roles) == 0 {
		v.add("roles", "", "farm %q has no roles", s.Name)
	}
	seen := map[string]int{}
	for i, r := range s.Roles {
		path := fmt.Sprintf("roles[%d]", i)
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			v.add(path+".name", r.Name, "duplicate role name (also roles[%d])", j)
		} else {
			seen[r.Name] = i
		}
		v.role(path, r)
		v.scaling(path, r.Name, r, s.TimeZone)
	}
	v.dependencies(s.Roles)
	v.dnsSpec(s) // see dns.go
	v.declaredEvents(s.Events)
	v.scriptBindings(s.Roles, s.Events)
}

func (v *validator) role(path string, r RoleSpec) {
	name := r.Name
	switch {
	case r.Name == "":
		v.add(path+".name", "", "%s: role name is empty", path)
		name = path
	case !nameRE.MatchString(r.Name):
		v.add(path+".name", "", "role name %q is not a DNS label (lower-case letters, digits and '-', at most 63)", r.Name)
	}
	if strings.TrimSpace(r.Image) == "" {
		v.add(path+".image", name, "image is empty")
	}
	if r.Min < 0 {
		v.add(path+".min", name, "min %d < 0", r.Min)
	}
	if r.Max > MaxRoleServers {
		v.add(path+".max", name, "max %d is over %d servers, the most a role may have", r.Max, MaxRoleServers)
	}
	if r.Min > MaxRoleServers {
		v.add(path+".min", name, "min %d is over %d servers, the most a role may have", r.Min, MaxRoleServers)
	}
	if r.Max < 1 {
		v.add(path+".max", name, "max %d < 1", r.Max)
	}
	if r.Min > r.Max && r.Max >= 1 {
		v.add(path+".min", name, "min %d > max %d", r.Min, r.Max)
	}
	if r.Desired < 0 {
		v.add(path+".desired", name, "desired %d < 0", r.Desired)
	} else if r.Desired > 0 && r.Desired > r.Max && r.Max >= 1 {
		v.add(path+".desired", name, "desired %d > max %d", r.Desired, r.Max)
	}
	zones := map[string]bool{}
	for i, z := range r.Zones {
		zp := fmt.Sprintf("%s.zones[%d]", path, i)
		switch {
		case strings.TrimSpace(z) == "":
			v.add(zp, name, "zones[%d] is empty", i)
		case zones[z]:
			v.add(zp, name, "zone %q is listed twice", z)
		}
		zones[z] = true
	}
	switch r.ZoneStrategy {
	case "", ZoneEven, ZoneOrdered:
	default:
		v.add(path+".zone_strategy", name, "zone_strategy %q is not %q or %q", r.ZoneStrategy, ZoneEven, ZoneOrdered)
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"launch_timeout", r.LaunchTimeout},
		{"init_timeout", r.InitTimeout},
		{"terminate_timeout", r.TerminateTimeout},
	} {
		if d.val < 0 {
			v.add(path+"."+d.key, name, "%s %s is negative", d.key, d.val)
		}
	}
	switch r.OnInitFailure {
	case "", InitFailureReplace, InitFailureKeep:
	default:
		v.add(path+".on_init_failure", name, "on_init_failure %q is not %q or %q", r.OnInitFailure, InitFailureReplace, InitFailureKeep)
	}
	switch r.HealthAction {
	case "", HealthReplace, HealthRebootThenReplace, HealthReport:
	default:
		v.add(path+".health_action", name, "health_action %q is not %q, %q or %q", r.HealthAction, HealthReplace, HealthRebootThenReplace, HealthReport)
	}
	switch r.TerminationPolicy {
	case "", OldestFirst, NewestFirst:
	default:
		v.add(path+".termination_policy", name, "termination_policy %q is not %q or %q", r.TerminationPolicy, OldestFirst, NewestFirst)
	}
	if len(r.UserData) > maxUserData {
		v.add(path+".user_data", name, "user_data is %d bytes, more than the %d clouds accept", len(r.UserData), maxUserData)
	}
	v.variables(path+".variables", name, r.Variables)
	for _, k := range sortedKeys(r.Tags) {
		switch {
		case strings.TrimSpace(k) == "":
			v.add(path+".tags", name, "tag with an empty key")
		case strings.HasPrefix(k, reservedTagPrefix):
			v.add(path+".tags."+k, name, "tag %q uses the reserved prefix %q", k, reservedTagPrefix)
		}
	}
	checkNames := map[string]bool{}
	for i, c := range r.HealthChecks {
		cp := fmt.Sprintf("%s.health_checks[%d]", path, i)
		v.healthCheck(cp, name, c)
		n := c.withDefaults().Name
		if checkNames[n] {
			v.add(cp+".name", name, "health check name %q is used twice", n)
		}
		checkNames[n] = true
	}
}

func (v *validator) variables(path, role string, vars map[string]string) {
	for _, k := range sortedKeys(vars) {
		switch {
		case !varNameRE.MatchString(k):
			v.add(path+"."+k, role, "variable name %q is not a letter or '_' followed by letters, digits and '_'", k)
		case !scripting.Referable(k) && !scripting.IsBuiltin(k):
			v.add(path+"."+k, role, "variable %q cannot be used in scripts as %%%s%%: a name is a lower-case letter, then lower-case letters, digits and '_', at least 2 characters, not ending in '_'", k, k)
		}
		if strings.ContainsRune(vars[k], 0) {
			v.add(path+"."+k, role, "variable %q contains a NUL byte", k)
		}
	}
}

func (v *validator) healthCheck(path, role string, c HealthCheckSpec) {
	label := c.withDefaults().Name
	bad := func(field, format string, args ...any) {
		v.add(path+"."+field, role, "health check %q: "+format, append([]any{label}, args...)...)
	}
	kind := c.Kind
	if c.Check == nil {
		switch {
		case kind == "":
			bad("kind", "kind is empty (one of %s)", strings.Join(checkKinds, ", "))
		case !slices.Contains(checkKinds, kind):
			bad("kind", "kind %q is not one of %s", kind, strings.Join(checkKinds, ", "))
		}
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("port", "port %d is not within 1..65535", c.Port)
	}
	if c.Check == nil && slices.Contains(checkKinds, kind) {
		switch kind {
		case "tcp":
			if c.Port == 0 {
				bad("port", "a tcp check needs a port")
			}
			v.checkTemplate(path+".host", role, label, "host", c.Host)
		case "http":
			v.httpURL(path, role, label, c.URL)
			if c.ExpectStatus != 0 && (c.ExpectStatus < 100 || c.ExpectStatus > 599) {
				bad("expect_status", "expect_status %d is not an HTTP status (100..599)", c.ExpectStatus)
			}
		case "command":
			if strings.TrimSpace(c.Command) == "" {
				bad("command", "a command check needs a command")
			}
		}
		if kind != "http" && c.URL != "" {
			bad("url", "url is only for http checks, not %q", kind)
		}
		if kind != "http" && c.ExpectStatus != 0 {
			bad("expect_status", "expect_status is only for http checks, not %q", kind)
		}
		if kind != "command" && c.Command != "" {
			bad("command", "command is only for command checks, not %q", kind)
		}
	}
	if c.Interval < 0 {
		bad("interval", "interval %s is negative", c.Interval)
	}
	if c.Timeout < 0 {
		bad("timeout", "timeout %s is negative", c.Timeout)
	}
	if c.FailureThreshold < 0 {
		bad("failure_threshold", "failure_threshold %d < 0", c.FailureThreshold)
	}
	if c.RecoveryThreshold < 0 {
		bad("recovery_threshold", "recovery_threshold %d < 0", c.RecoveryThreshold)
	}
}

func (v *validator) checkTemplate(path, role, label, field, tmpl string) bool {
	if unknown := unknownCheckVariables(tmpl); len(unknown) > 0 {
		v.add(path, role, "health check %q: %s %q uses unknown variable %%%s%% (known: %s)",
			label, field, tmpl, unknown[0], strings.Join(CheckVariables, ", "))
		return false
	}
	return true
}

func (v *validator) httpURL(path, role, label, raw string) {
	if strings.TrimSpace(raw) == "" {
		v.add(path+".url", role, "health check %q: an http check needs a url", label)
		return
	}
	if !v.checkTemplate(path+".url", role, label, "url", raw) {
		return
	}
	u, err := url.Parse(expandCheckTemplate(raw, sampleCheckServer))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path+".url", role, "health check %q: url %q is not an http:// or https:// URL with a host", label, raw)
	}
}

// dependencies reports unknown and self dependencies and cycles.
func (v *validator) dependencies(roles []RoleSpec) {
	index := map[string]int{}
	for i, r := range roles {
		if _, dup := index[r.Name]; !dup {
			index[r.Name] = i
		}
	}
	for i, r := range roles {
		for j, d := range r.DependsOn {
			p := fmt.Sprintf("roles[%d].depends_on[%d]", i, j)
			switch _, ok := index[d]; {
			case d == r.Name:
				v.add(p, r.Name, "depends_on names the role itself")
			case !ok:
				v.add(p, r.Name, "depends_on names unknown role %q", d)
			}
		}
	}
	// Depth-first search for cycles; each cycle is reported once, at the
	// role where the search first closed it.
	const (
		unvisited = iota
		active
		done
	)
	mark := make([]int, len(roles))
	var stack []string
	var visit func(i int)
	visit = func(i int) {
		mark[i] = active
		stack = append(stack, roles[i].Name)
		for j, d := range roles[i].DependsOn {
			k, ok := index[d]
			if !ok || d == roles[i].Name {
				continue
			}
			switch mark[k] {
			case active:
				start := slices.Index(stack, d)
				cycle := append(slices.Clone(stack[start:]), d)
				v.add(fmt.Sprintf("roles[%d].depends_on[%d]", i, j), roles[i].Name,
					"depends_on makes a cycle: %s", strings.Join(cycle, " -> "))
			case unvisited:
				visit(k)
			}
		}
		stack = stack[:len(stack)-1]
		mark[i] = done
	}
	for i := range roles {
		if mark[i] == unvisited {
			visit(i)
		}
	}
}

// declaredEvents checks the spec's custom events.
func (v *validator) declaredEvents(events []string) {
	seen := map[string]int{}
	for i, ev := range events {
		path := fmt.Sprintf("events[%d]", i)
		switch {
		case EventType(ev).Builtin() || ev == ManualEvent:
			v.add(path, "", "events: %q is a built-in event; declare only custom events", ev)
		case !varNameRE.MatchString(ev):
			v.add(path, "", "events: %q is not an event name (a letter or '_' followed by letters, digits and '_')", ev)
		}
		if j, dup := seen[ev]; dup {
			v.add(path, "", "events: %q is declared twice (also events[%d])", ev, j)
		}
		seen[ev] = i
	}
}
