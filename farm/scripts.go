package farm

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ScriptBinding binds a script of the scripting library to an event: when
// the event fires, the script runs on the binding's target. Bindings are
// listed on a role (RoleSpec.Scripts), the role that owns them.
//
// Which events fire a binding of role R:
//
//   - Events about a server or a role (HostInit, HostUp, HostDown,
//     CheckFailed, ScalingDecision, ...) fire the bindings of that role
//     only: a HostUp of an app server runs app's HostUp scripts, not db's.
//   - Farm-wide events fire the bindings of every role: custom events
//     ([Farm.FireEvent]), FarmLaunched, FarmTerminated, and NewDBMaster,
//     which concerns every role that uses the database. So a script bound
//     on role app for NewDBMaster runs on app's servers when the db role
//     gets a new master, with %event_internal_ip% set to the master's
//     address.
//
// Where the script runs is the Target: "server", the server the event is
// about (for a farm-wide event only when that server belongs to R); "role",
// R's servers in service; "roles", the servers in service of the roles
// named in Roles; "farm", every server in service. "In service" means
// Running: a server that is initialising or leaving is reached only as the
// triggering server.
//
// Blocking bindings (HostInit, BeforeHostUp, BeforeHostTerminate) run
// inside the farm's hook for the server, before the hooks of
// Options.Hooks. The others run in the background, one event at a time in
// the order the farm fired the events: a server's HostUp scripts start
// after its HostInit scripts have finished, and a long script delays the
// scripts of later events, never the farm itself.
type ScriptBinding struct {
	// Event is a built-in event (HostUp) or the name of a custom event.
	Event EventType `yaml:"event"`
	// Script names a script in the farm's scripting library.
	Script string `yaml:"script"`
	// Version pins a version of the script; 0 means the newest version
	// at the time the event fires.
	Version int `yaml:"version,omitempty"`
	// Target says where the script runs: "server", "role", "roles" or
	// "farm". Empty means "server" for events about a server and "role"
	// for the others (farm-wide and role-wide events, and NewDBMaster).
	Target BindingTarget `yaml:"target,omitempty"`
	// Roles are the roles a "roles" target runs on.
	Roles []string `yaml:"roles,omitempty"`
	// Order sorts the bindings of one event: lower first, then in the
	// order of the roles in the spec and of the bindings in the role.
	// Each binding finishes on all its servers before the next starts.
	Order int `yaml:"order,omitempty"`
	// Blocking runs a HostInit, BeforeHostUp or BeforeHostTerminate
	// script inside the farm's synchronous hook: the server does not go
	// on until it has run, and a failing HostInit or BeforeHostUp script
	// fails the server's initialisation (HostInitFailed, then the role's
	// OnInitFailure). Other bindings run in the background, and a
	// failure fires ScriptFailed (see also the scripting log).
	Blocking bool `yaml:"blocking,omitempty"`
	// Timeout bounds one run of the script; 0 means the executor's
	// default (scripting.DefaultJobTimeout). The script's processes are
	// stopped when it passes.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// RunAs runs the script as this user through "sudo -n -u"; empty
	// runs it as the login user.
	RunAs string `yaml:"run_as,omitempty"`
}

// BindingTarget says where a bound script runs; see [ScriptBinding].
type BindingTarget string

// The targets of a [ScriptBinding].
const (
	// TargetServer runs the script on the server the event is about.
	TargetServer BindingTarget = "server"
	// TargetRole runs it on every server in service of the binding's role.
	TargetRole BindingTarget = "role"
	// TargetRoles runs it on every server in service of the roles named
	// in ScriptBinding.Roles.
	TargetRoles BindingTarget = "roles"
	// TargetFarm runs it on every server in service of the farm.
	TargetFarm BindingTarget = "farm"
)

// ManualEvent labels, in the scripting log and in ScriptingOptions.OnResult,
// the scripts run on demand by [Farm.ExecuteScript] and [Farm.RunScript]
// without an event. Bindings cannot use it.
const ManualEvent = "Manual"

// serverlessEvents are the built-in events that concern no server.
var serverlessEvents = []EventType{BeforeInstanceLaunch, ScalingDecision, FarmLaunched, FarmTerminated}

// hasServer reports whether events of type t are about a server. Custom
// events fired with [Farm.FireEvent] are not.
func (t EventType) hasServer() bool {
	return t.Builtin() && !slices.Contains(serverlessEvents, t)
}

// farmWide reports whether an event fires the bindings of every role
// rather than those of its own role.
func (ev Event) farmWide() bool {
	return ev.Role == "" || ev.Type == NewDBMaster || !ev.Type.Builtin()
}

// target returns the binding's target with the default applied.
func (b ScriptBinding) target() BindingTarget {
	if b.Target != "" {
		return b.Target
	}
	if b.Event.hasServer() && b.Event != NewDBMaster {
		return TargetServer
	}
	return TargetRole
}

// runAsRE is a user name sudo accepts that needs no quoting to read well
// in logs.
var runAsRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)

// scriptBindings checks every role's bindings. It knows nothing of the
// scripting library: script names and template variables are checked by
// [New], against Options.Scripting.
func (v *validator) scriptBindings(roles []RoleSpec, events []string) {
	v.events = events
	known := map[string]bool{}
	for _, r := range roles {
		known[r.Name] = true
	}
	for i, r := range roles {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("roles[%d]", i)
		}
		for j, b := range r.Scripts {
			v.scriptBinding(fmt.Sprintf("roles[%d].scripts[%d]", i, j), name, j, b, known)
		}
	}
}

func (v *validator) scriptBinding(path, role string, j int, b ScriptBinding, roles map[string]bool) {
	label := fmt.Sprintf("scripts[%d]", j)
	if b.Script != "" {
		label = fmt.Sprintf("scripts[%d] (%q)", j, b.Script)
	}
	bad := func(field, format string, args ...any) {
		v.add(path+"."+field, role, label+": "+format, args...)
	}
	ev := string(b.Event)
	switch {
	case ev == "":
		bad("event", "event is empty")
	case ev == ManualEvent:
		bad("event", "event %q is reserved for scripts run on demand", ev)
	case !b.Event.Builtin() && b.Event != NFSServerChanged && !slices.Contains(v.events, ev):
		bad("event", "%s", unknownEventMsg(ev, v.events))
	}
	if strings.TrimSpace(b.Script) == "" {
		bad("script", "script is empty")
	}
	if b.Version < 0 {
		bad("version", "version %d < 0 (0 means the latest)", b.Version)
	}
	switch b.Target {
	case "", TargetServer, TargetRole, TargetRoles, TargetFarm:
	default:
		bad("target", "target %q is not %q, %q, %q or %q", b.Target, TargetServer, TargetRole, TargetRoles, TargetFarm)
	}
	switch {
	case b.Target == TargetServer && ev != "" && !b.Event.hasServer():
		bad("target", "target %q: event %q is not about a server", b.Target, ev)
	case b.Target == TargetServer && b.Event == HostDown:
		bad("target", "target %q: the server is gone when HostDown fires", b.Target)
	}
	if b.Target == TargetRoles && len(b.Roles) == 0 {
		bad("roles", "target %q needs roles", b.Target)
	}
	if b.Target != TargetRoles && len(b.Roles) > 0 {
		bad("roles", "roles %v is only for target %q, not %q", b.Roles, TargetRoles, b.target())
	}
	for k, r := range b.Roles {
		if !roles[r] {
			bad(fmt.Sprintf("roles[%d]", k), "roles names unknown role %q", r)
		}
	}
	if b.Blocking && ev != "" && !b.Event.Blocking() {
		bad("blocking", "blocking is only for %s, %s and %s, not %q", HostInit, BeforeHostUp, BeforeHostTerminate, ev)
	}
	if b.Timeout < 0 {
		bad("timeout", "timeout %s is negative", b.Timeout)
	}
	if b.RunAs != "" && !runAsRE.MatchString(b.RunAs) {
		bad("run_as", "run_as %q is not a user name", b.RunAs)
	}
}

// cloneBindings returns a deep copy of bindings.
func cloneBindings(bs []ScriptBinding) []ScriptBinding {
	if bs == nil {
		return nil
	}
	out := slices.Clone(bs)
	for i := range out {
		out[i].Roles = slices.Clone(out[i].Roles)
	}
	return out
}

// unknownEventMsg says that ev is neither built in nor declared, with the
// event it probably means.
func unknownEventMsg(ev string, declared []string) string {
	candidates := append(slices.Clone(declared), ManualEvent, string(NFSServerChanged))
	for _, b := range BuiltinEvents {
		candidates = append(candidates, string(b))
	}
	if s := suggest(ev, candidates); s != "" && s != ManualEvent {
		if EventType(s).Builtin() {
			return fmt.Sprintf("event %q is not a built-in event; did you mean %q?", ev, s)
		}
		return fmt.Sprintf("event %q is not declared in the farm's events; did you mean %q?", ev, s)
	}
	return fmt.Sprintf("event %q is neither a built-in event nor declared in the farm's events (events: [%s])", ev, ev)
}
