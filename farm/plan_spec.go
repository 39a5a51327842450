package farm

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// This file holds the change plan of a new spec for a running farm
// ([Farm.Plan]): a pure function of the spec in force, the servers and
// the new spec, and the plan's printed form. rollout_apply.go carries a
// plan out.

// SpecPlan is what applying a new spec to a running farm would do, role by
// role, in the new spec's order (removed roles last). Print it with
// String, as a diff.
type SpecPlan struct {
	// Farm is the farm's name.
	Farm string
	// Roles holds one entry per role that changes; unchanged roles are
	// left out.
	Roles []RoleChange
}

// RoleChange is what applying a new spec does to one role.
type RoleChange struct {
	Role string
	// Added and Removed say the role is new, or gone from the new spec.
	Added, Removed bool
	// Launch and Terminate count servers the role gains or loses: a new
	// role's servers, a removed role's, or those the new bounds add or
	// remove.
	Launch, Terminate int
	// Replace counts servers whose image or instance type differs from
	// the new spec's: a rollout replaces them in batches.
	Replace int
	// Image and InstanceType are the role's from and to values, set when
	// they change.
	Image, InstanceType *Change
	// Min and Max are set when the bounds change.
	Min, Max *CountChange
	// Scripts are the script bindings that change.
	Scripts []ScriptChange
	// DNS are the DNS names the role gains ("+name") or loses ("-name").
	DNS []string
	// Other names the other fields that change (zones, health checks,
	// ...), which a running farm does not take: [Farm.Apply] refuses them.
	Other []string
}

// Change is a value's from and to.
type Change struct{ From, To string }

// CountChange is a count's from and to.
type CountChange struct{ From, To int }

// ScriptChange is one binding of a role's scripts that changes.
type ScriptChange struct {
	Event  EventType
	Script string
	// FromVersion and ToVersion are the binding's pinned versions (0: the
	// newest). A binding only in the new spec has Added set, one only in
	// the old spec Removed.
	FromVersion, ToVersion int
	Added, Removed         bool
	// Servers counts the role's servers in service, on which
	// ApplyOptions.RerunScripts runs the new version.
	Servers int
}

// Empty reports whether the plan changes nothing.
func (p SpecPlan) Empty() bool { return len(p.Roles) == 0 }

// Role returns the change of the named role, and false when it does not
// change.
func (p SpecPlan) Role(name string) (RoleChange, bool) {
	for _, c := range p.Roles {
		if c.Role == name {
			return c, true
		}
	}
	return RoleChange{}, false
}

// Unsupported lists the changes [Farm.Apply] refuses on a running farm:
// roles added or removed, DNS names, and the Other fields.
func (p SpecPlan) Unsupported() []string {
	var out []string
	for _, c := range p.Roles {
		switch {
		case c.Added:
			out = append(out, fmt.Sprintf("role %q is added", c.Role))
			continue
		case c.Removed:
			out = append(out, fmt.Sprintf("role %q is removed", c.Role))
			continue
		}
		if len(c.DNS) > 0 {
			out = append(out, fmt.Sprintf("role %q: DNS names change (%s)", c.Role, strings.Join(c.DNS, ", ")))
		}
		for _, o := range c.Other {
			out = append(out, fmt.Sprintf("role %q: %s changes", c.Role, o))
		}
		for _, s := range c.Scripts {
			if s.Added || s.Removed {
				out = append(out, fmt.Sprintf("role %q: a %s binding of script %q is %s", c.Role, s.Event, s.Script, map[bool]string{true: "added", false: "removed"}[s.Added]))
			}
		}
	}
	return out
}

// String prints the plan as a diff, one role after another:
//
//	farm "shop": 1 role changes
//	~ role app
//	    image: ami-1 -> ami-2 (replace 4 servers in batches)
//	    max: 6 -> 8
//	    script deploy (HostUp): version 1 -> 2 (re-run on 4 servers)
func (p SpecPlan) String() string {
	var b strings.Builder
	switch len(p.Roles) {
	case 0:
		fmt.Fprintf(&b, "farm %q: no changes\n", p.Farm)
		return b.String()
	case 1:
		fmt.Fprintf(&b, "farm %q: 1 role changes\n", p.Farm)
	default:
		fmt.Fprintf(&b, "farm %q: %d roles change\n", p.Farm, len(p.Roles))
	}
	for _, c := range p.Roles {
		switch {
		case c.Added:
			fmt.Fprintf(&b, "+ role %s (launch %s)\n", c.Role, nServers(c.Launch))
			continue
		case c.Removed:
			fmt.Fprintf(&b, "- role %s (terminate %s)\n", c.Role, nServers(c.Terminate))
			continue
		}
		fmt.Fprintf(&b, "~ role %s\n", c.Role)
		replace := fmt.Sprintf(" (replace %s in batches)", nServers(c.Replace))
		if c.Image != nil {
			fmt.Fprintf(&b, "    image: %s -> %s%s\n", c.Image.From, c.Image.To, replace)
			replace = ""
		}
		if c.InstanceType != nil {
			fmt.Fprintf(&b, "    instance type: %s -> %s%s\n", orNone(c.InstanceType.From), orNone(c.InstanceType.To), replace)
		}
		if c.Min != nil {
			fmt.Fprintf(&b, "    min: %d -> %d\n", c.Min.From, c.Min.To)
		}
		if c.Max != nil {
			fmt.Fprintf(&b, "    max: %d -> %d\n", c.Max.From, c.Max.To)
		}
		if c.Launch > 0 {
			fmt.Fprintf(&b, "    launch %s (new bounds)\n", nServers(c.Launch))
		}
		if c.Terminate > 0 {
			fmt.Fprintf(&b, "    terminate %s (new bounds)\n", nServers(c.Terminate))
		}
		for _, s := range c.Scripts {
			switch {
			case s.Added:
				fmt.Fprintf(&b, "    + script %s (%s) version %s\n", s.Script, s.Event, versionName(s.ToVersion))
			case s.Removed:
				fmt.Fprintf(&b, "    - script %s (%s) version %s\n", s.Script, s.Event, versionName(s.FromVersion))
			default:
				fmt.Fprintf(&b, "    script %s (%s): version %s -> %s (re-run on %s with RerunScripts)\n",
					s.Script, s.Event, versionName(s.FromVersion), versionName(s.ToVersion), nServers(s.Servers))
			}
		}
		for _, d := range c.DNS {
			fmt.Fprintf(&b, "    dns %s %s\n", d[:1], d[1:])
		}
		for _, o := range c.Other {
			fmt.Fprintf(&b, "    %s changes (not applied to a running farm)\n", o)
		}
	}
	return b.String()
}

func nServers(n int) string {
	if n == 1 {
		return "1 server"
	}
	return fmt.Sprintf("%d servers", n)
}

func orNone(s string) string {
	if s == "" {
		return "(default)"
	}
	return s
}

func versionName(v int) string {
	if v == 0 {
		return "latest"
	}
	return fmt.Sprint(v)
}

// planSpec compares the spec in force with a new one, given the farm's
// servers (terminated ones are ignored). A pure function.
func planSpec(cur Spec, srvs []Server, next Spec) SpecPlan {
	plan := SpecPlan{Farm: cur.Name}
	live := map[string][]Server{}
	for _, s := range srvs {
		if s.State.live() {
			live[s.Role] = append(live[s.Role], s)
		}
	}
	for _, nr := range next.Roles {
		or, ok := cur.Role(nr.Name)
		if !ok {
			plan.Roles = append(plan.Roles, RoleChange{Role: nr.Name, Added: true, Launch: nr.initialDesired()})
			continue
		}
		if c := planRoleChange(or, live[nr.Name], nr); c != nil {
			plan.Roles = append(plan.Roles, *c)
		}
	}
	for _, or := range cur.Roles {
		if _, ok := next.Role(or.Name); !ok {
			plan.Roles = append(plan.Roles, RoleChange{Role: or.Name, Removed: true, Terminate: len(live[or.Name])})
		}
	}
	return plan
}

// planRoleChange compares one role; nil means it does not change.
func planRoleChange(or RoleSpec, live []Server, nr RoleSpec) *RoleChange {
	c := RoleChange{Role: nr.Name}
	changed := false
	if or.Image != nr.Image {
		c.Image, changed = &Change{or.Image, nr.Image}, true
	}
	if or.InstanceType != nr.InstanceType {
		c.InstanceType, changed = &Change{or.InstanceType, nr.InstanceType}, true
	}
	if changed {
		for _, s := range live {
			if s.Image != nr.Image || (nr.InstanceType != "" && s.InstanceType != nr.InstanceType) {
				c.Replace++
			}
		}
	}
	if or.Min != nr.Min {
		c.Min, changed = &CountChange{or.Min, nr.Min}, true
	}
	if or.Max != nr.Max {
		c.Max, changed = &CountChange{or.Max, nr.Max}, true
	}
	if n := len(live); n < nr.Min {
		c.Launch = nr.Min - n
	} else if n > nr.Max {
		c.Terminate = n - nr.Max
	}
	running := 0
	for _, s := range live {
		if s.State == StateRunning {
			running++
		}
	}
	c.Scripts = diffBindings(or.Scripts, nr.Scripts, running)
	c.DNS = diffDNS(or.DNS, nr.DNS)
	c.Other = otherChanges(or, nr)
	if changed || c.Launch > 0 || c.Terminate > 0 || len(c.Scripts) > 0 || len(c.DNS) > 0 || len(c.Other) > 0 {
		return &c
	}
	return nil
}

// bindingKey identifies a binding across two specs: its event, script and
// place among the role's bindings of that event and script.
type bindingKey struct {
	event  EventType
	script string
	n      int
}

func keyedBindings(bs []ScriptBinding) (map[bindingKey]ScriptBinding, []bindingKey) {
	m := map[bindingKey]ScriptBinding{}
	var order []bindingKey
	seen := map[[2]string]int{}
	for _, b := range bs {
		id := [2]string{string(b.Event), b.Script}
		k := bindingKey{b.Event, b.Script, seen[id]}
		seen[id]++
		m[k] = b
		order = append(order, k)
	}
	return m, order
}

// diffBindings lists the bindings that change: a different version is a
// version change (its other fields must be equal, or it is a removal and
// an addition), any other difference an addition and a removal.
func diffBindings(old, next []ScriptBinding, running int) []ScriptChange {
	om, oorder := keyedBindings(old)
	nm, norder := keyedBindings(next)
	var out []ScriptChange
	for _, k := range norder {
		nb := nm[k]
		ob, ok := om[k]
		switch {
		case !ok:
			out = append(out, ScriptChange{Event: k.event, Script: k.script, ToVersion: nb.Version, Added: true})
		case bindingsEqual(ob, nb):
		case sameButVersion(ob, nb):
			out = append(out, ScriptChange{Event: k.event, Script: k.script, FromVersion: ob.Version, ToVersion: nb.Version, Servers: running})
		default:
			out = append(out,
				ScriptChange{Event: k.event, Script: k.script, FromVersion: ob.Version, Removed: true},
				ScriptChange{Event: k.event, Script: k.script, ToVersion: nb.Version, Added: true})
		}
	}
	for _, k := range oorder {
		if _, ok := nm[k]; !ok {
			out = append(out, ScriptChange{Event: k.event, Script: k.script, FromVersion: om[k].Version, Removed: true})
		}
	}
	return out
}

func bindingsEqual(a, b ScriptBinding) bool { return reflect.DeepEqual(a, b) }

func sameButVersion(a, b ScriptBinding) bool {
	b.Version = a.Version
	return reflect.DeepEqual(a, b)
}

func diffDNS(old, next []DNSName) []string {
	key := func(d DNSName) string {
		return fmt.Sprintf("%s %s %s %s %s", strings.TrimSuffix(strings.ToLower(d.Name), "."), d.Type, d.Address, d.Select, d.TTL)
	}
	om, nm := map[string]string{}, map[string]string{}
	for _, d := range old {
		om[key(d)] = d.Name
	}
	for _, d := range next {
		nm[key(d)] = d.Name
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(nm)) {
		if _, ok := om[k]; !ok {
			out = append(out, "+"+nm[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(om)) {
		if _, ok := nm[k]; !ok {
			out = append(out, "-"+om[k])
		}
	}
	return out
}

// otherChanges names the fields a running farm does not take, in spec
// order.
func otherChanges(a, b RoleSpec) []string {
	var out []string
	diff := func(name string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			out = append(out, name)
		}
	}
	flag := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	flag("zones", !slices.Equal(a.Zones, b.Zones))
	diff("zone_strategy", a.ZoneStrategy, b.ZoneStrategy)
	flag("depends_on", !slices.Equal(a.DependsOn, b.DependsOn))
	diff("launch_timeout", a.LaunchTimeout, b.LaunchTimeout)
	diff("init_timeout", a.InitTimeout, b.InitTimeout)
	diff("terminate_timeout", a.TerminateTimeout, b.TerminateTimeout)
	diff("on_init_failure", a.OnInitFailure, b.OnInitFailure)
	diff("user_data", a.UserData, b.UserData)
	flag("variables", !maps.Equal(a.Variables, b.Variables))
	flag("tags", !maps.Equal(a.Tags, b.Tags))
	diff("health_checks", stripChecks(a.HealthChecks), stripChecks(b.HealthChecks))
	diff("health_action", a.HealthAction, b.HealthAction)
	diff("termination_policy", a.TerminationPolicy, b.TerminationPolicy)
	diff("scaling", a.Scaling, b.Scaling)
	diff("load_balancer", a.LoadBalancer, b.LoadBalancer)
	diff("database", a.Database, b.Database)
	diff("nfs", a.NFS, b.NFS)
	return out
}

// stripChecks drops the Go checks, which cannot be compared.
func stripChecks(cs []HealthCheckSpec) []HealthCheckSpec {
	out := slices.Clone(cs)
	for i := range out {
		out[i].Check = nil
	}
	return out
}
