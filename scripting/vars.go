package scripting

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Vars is a set of template variables: name → value. Names follow
// [ValidName]; values are any text without NUL bytes.
type Vars map[string]string

// Built-in variable names. [ServerVars] and [EventVars] set them; user
// variables may not use them, nor start with [EventPrefix].
const (
	VarRoleName      = "role_name"
	VarServerID      = "server_id"
	VarInstanceIndex = "instance_index"
	VarInternalIP    = "internal_ip"
	VarExternalIP    = "external_ip"
	VarFarmID        = "farm_id"
	VarFarmName      = "farm_name"
	VarCloudLocation = "cloud_location"
	VarZone          = "zone"
	VarImageID       = "image_id"
	VarEventName     = "event_name"
)

// EventPrefix starts the names of the triggering server's variables:
// %event_role_name%, %event_internal_ip%, ...
const EventPrefix = "event_"

// EnvPrefix starts the environment variable each template variable is
// exported as: role_name → FARM_ROLE_NAME.
const EnvPrefix = "FARM_"

var serverBuiltins = []string{
	VarRoleName, VarServerID, VarInstanceIndex, VarInternalIP, VarExternalIP,
	VarZone, VarImageID,
}

var farmBuiltins = []string{VarFarmID, VarFarmName, VarCloudLocation}

// IsBuiltin reports whether name is a built-in variable (including the
// event_ names).
func IsBuiltin(name string) bool {
	return slices.Contains(serverBuiltins, name) || slices.Contains(farmBuiltins, name) ||
		strings.HasPrefix(name, EventPrefix)
}

// FarmInfo describes the farm a script runs in.
type FarmInfo struct {
	ID            string
	Name          string
	CloudLocation string // the cloud region, e.g. "us-east-1"
}

// ServerInfo describes one server of a farm.
type ServerInfo struct {
	ID         string // the cloud's server ID
	Role       string // role name
	Index      int    // instance index within the role, from 1
	InternalIP string
	ExternalIP string
	Zone       string // availability zone
	ImageID    string
}

// EventInfo describes the event that triggered a script.
type EventInfo struct {
	Name string // e.g. "HostUp"
	// Server is the server the event is about, or nil for farm-wide
	// events. Its variables are the event_ ones.
	Server *ServerInfo
	// Params are the event's parameters (custom events), available under
	// their own names.
	Params Vars
}

// ServerVars returns the built-in variables of server s in farm f:
// role_name, server_id, instance_index, internal_ip, external_ip, zone,
// image_id, farm_id, farm_name and cloud_location.
func ServerVars(f FarmInfo, s ServerInfo) Vars {
	v := Vars{}
	setServer(v, "", s)
	v[VarFarmID] = f.ID
	v[VarFarmName] = f.Name
	v[VarCloudLocation] = f.CloudLocation
	return v
}

// EventVars returns event_name and, when the event has a server, that
// server's variables with the event_ prefix (event_role_name,
// event_internal_ip, ...). Parameters are not included; see [Context].
func EventVars(e EventInfo) Vars {
	v := Vars{VarEventName: e.Name}
	if e.Server != nil {
		setServer(v, EventPrefix, *e.Server)
	}
	return v
}

func setServer(v Vars, prefix string, s ServerInfo) {
	v[prefix+VarRoleName] = s.Role
	v[prefix+VarServerID] = s.ID
	v[prefix+VarInstanceIndex] = strconv.Itoa(s.Index)
	v[prefix+VarInternalIP] = s.InternalIP
	v[prefix+VarExternalIP] = s.ExternalIP
	v[prefix+VarZone] = s.Zone
	v[prefix+VarImageID] = s.ImageID
}

// VarScope is where a user variable is defined. A narrower scope overrides
// a wider one: server over role over farm.
type VarScope int

// The scopes, widest first.
const (
	ScopeFarm VarScope = iota
	ScopeRole
	ScopeServer
)

// String is "farm", "role" or "server".
func (s VarScope) String() string {
	switch s {
	case ScopeFarm:
		return "farm"
	case ScopeRole:
		return "role"
	case ScopeServer:
		return "server"
	}
	return "scope(" + strconv.Itoa(int(s)) + ")"
}

// Merge returns one set holding every variable of the given sets, where a
// later set overrides an earlier one: Merge(farm, role, server).
func Merge(sets ...Vars) Vars {
	out := Vars{}
	for _, s := range sets {
		maps.Copy(out, s)
	}
	return out
}

// Context is everything a script's variables come from: the farm, the
// server the script runs on, the triggering event (if any) and the user
// variables of each scope.
type Context struct {
	Farm   FarmInfo
	Server ServerInfo
	// Event is nil for a script run on demand; then %event_name% and the
	// event_ variables are unknown.
	Event *EventInfo
	// User variables by scope; a narrower scope overrides a wider one.
	FarmVars, RoleVars, ServerVars Vars
}

// Vars returns the full variable set: user variables (farm, then role, then
// server overriding), then event parameters (overriding user variables),
// then the built-ins. A user variable or event parameter named like a
// built-in (or starting with event_) is an error, as is an invalid name or
// a value with a NUL byte.
func (c Context) Vars() (Vars, error) {
	scopes := []struct {
		scope VarScope
		vars  Vars
	}{{ScopeFarm, c.FarmVars}, {ScopeRole, c.RoleVars}, {ScopeServer, c.ServerVars}}
	for _, s := range scopes {
		if err := checkUser(s.scope.String()+" variable", s.vars); err != nil {
			return nil, err
		}
	}
	out := Merge(c.FarmVars, c.RoleVars, c.ServerVars)
	if c.Event != nil {
		if err := checkUser("event "+strconv.Quote(c.Event.Name)+" parameter", c.Event.Params); err != nil {
			return nil, err
		}
		maps.Copy(out, c.Event.Params)
		maps.Copy(out, EventVars(*c.Event))
	}
	maps.Copy(out, ServerVars(c.Farm, c.Server))
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

func checkUser(what string, v Vars) error {
	for _, name := range slices.Sorted(maps.Keys(v)) {
		if IsBuiltin(name) {
			return fmt.Errorf("%s %q: the name is reserved for a built-in variable", what, name)
		}
	}
	return nil
}

// Validate checks that every name is valid, that no value holds a NUL byte
// (a shell cannot carry one), and that no two names differ only in case
// (they would be the same environment variable).
func (v Vars) Validate() error {
	upper := make(map[string]string, len(v))
	for _, name := range slices.Sorted(maps.Keys(v)) {
		if !ValidName(name) {
			return fmt.Errorf("variable %q: invalid name: a name starts with a letter and has at most %d letters, digits and underscores", clip(name), maxNameLen)
		}
		if strings.IndexByte(v[name], 0) >= 0 {
			return fmt.Errorf("variable %q: value has a NUL byte", name)
		}
		u := strings.ToUpper(name)
		if other, ok := upper[u]; ok {
			return fmt.Errorf("variables %q and %q differ only in case; both would be exported as %s%s", other, name, EnvPrefix, u)
		}
		upper[u] = name
	}
	return nil
}

// EnvName returns the environment variable name a template variable is
// exported as: EnvPrefix + upper case name.
func EnvName(name string) string { return EnvPrefix + strings.ToUpper(name) }

// Env returns the variables as sorted "FARM_NAME=value" strings.
func (v Vars) Env() []string {
	out := make([]string, 0, len(v))
	for _, name := range slices.Sorted(maps.Keys(v)) {
		out = append(out, EnvName(name)+"="+v[name])
	}
	return out
}

// EnvCommand returns command prefixed with env(1) and each variable as a
// quoted FARM_NAME=value argument:
//
//	env 'FARM_ROLE_NAME=app' 'FARM_ZONE=us-east-1a' sh -s
//
// This reaches the script on any server, unlike the SSH "env" request,
// which sshd honours only for the names its AcceptEnv allows. With no
// variables it returns command unchanged.
func EnvCommand(v Vars, command string) string {
	if len(v) == 0 {
		return command
	}
	var b strings.Builder
	b.WriteString("env")
	for _, kv := range v.Env() {
		b.WriteByte(' ')
		b.WriteString(ShellQuote(kv))
	}
	b.WriteByte(' ')
	b.WriteString(command)
	return b.String()
}

// ShellQuote quotes s for a POSIX shell: inside single quotes, with each
// single quote written as '\”. Plain words of safe characters are left
// as they are.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !isShellSafe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isShellSafe(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("_-./:@,+", r)
}
