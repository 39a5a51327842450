package roles

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// Preset is a role of the catalog: the RoleSpec, the scripts its bindings
// name (to be saved in the farm's scripting.Library), and the variables
// the scripts read, with their defaults (already in Role.Variables).
type Preset struct {
	// Role is the role, ready for farm.Spec.Roles. Presets that add to
	// another role (NFSClient) leave Name and Image empty: see [Preset.AddTo].
	Role farm.RoleSpec
	// Scripts are the scripts Role.Scripts names.
	Scripts []scripting.Script
}

// Save saves the preset's scripts in lib.
func (p Preset) Save(lib *scripting.Library) error {
	if lib == nil {
		return errors.New("roles: the scripting library is nil")
	}
	for _, s := range p.Scripts {
		if _, err := lib.Save(s); err != nil {
			return fmt.Errorf("roles: save script %q: %w", s.Name, err)
		}
	}
	return nil
}

// AddTo adds the preset's script bindings, health checks and variables to
// another role (a role's own variables win), as NFSClient is meant to be
// used: on the app role that mounts the share.
func (p Preset) AddTo(r *farm.RoleSpec) {
	r.Scripts = append(r.Scripts, p.Role.Scripts...)
	r.HealthChecks = append(r.HealthChecks, p.Role.HealthChecks...)
	vars := maps.Clone(p.Role.Variables)
	if vars == nil {
		vars = map[string]string{}
	}
	maps.Copy(vars, r.Variables)
	r.Variables = vars
}

// Apply appends the presets' roles to spec (AddTo-style presets must be
// added by hand) and saves their scripts in lib.
func Apply(spec *farm.Spec, lib *scripting.Library, presets ...Preset) error {
	for _, p := range presets {
		if p.Role.Name == "" {
			return errors.New("roles: Apply: a preset without a role name adds to another role; use AddTo")
		}
		if err := p.Save(lib); err != nil {
			return err
		}
		spec.Roles = append(spec.Roles, p.Role)
	}
	return nil
}

// build merges a preset's defaults with the caller's overrides: every
// non-zero field of over replaces the default's, variables are merged key
// by key (the caller's win), and vars (the typed options, rendered) are
// applied between the two.
func build(def farm.RoleSpec, vars map[string]string, over farm.RoleSpec) farm.RoleSpec {
	r := def
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.Name, over.Name)
	set(&r.Image, over.Image)
	set(&r.InstanceType, over.InstanceType)
	set(&r.UserData, over.UserData)
	set(&r.LoadBalancer, over.LoadBalancer)
	if over.Zones != nil {
		r.Zones = slices.Clone(over.Zones)
	}
	if over.ZoneStrategy != "" {
		r.ZoneStrategy = over.ZoneStrategy
	}
	if over.Min != 0 {
		r.Min = over.Min
	}
	if over.Max != 0 {
		r.Max = over.Max
	}
	if over.Desired != 0 {
		r.Desired = over.Desired
	}
	if over.DependsOn != nil {
		r.DependsOn = slices.Clone(over.DependsOn)
	}
	if over.LaunchTimeout != 0 {
		r.LaunchTimeout = over.LaunchTimeout
	}
	if over.InitTimeout != 0 {
		r.InitTimeout = over.InitTimeout
	}
	if over.TerminateTimeout != 0 {
		r.TerminateTimeout = over.TerminateTimeout
	}
	if over.OnInitFailure != "" {
		r.OnInitFailure = over.OnInitFailure
	}
	if over.Scripts != nil {
		r.Scripts = slices.Clone(over.Scripts)
	}
	if over.Tags != nil {
		r.Tags = maps.Clone(over.Tags)
	}
	if over.HealthChecks != nil {
		r.HealthChecks = slices.Clone(over.HealthChecks)
	}
	if over.HealthAction != "" {
		r.HealthAction = over.HealthAction
	}
	if over.TerminationPolicy != "" {
		r.TerminationPolicy = over.TerminationPolicy
	}
	if over.Scaling != nil {
		r.Scaling = over.Scaling
	}
	if over.DNS != nil {
		r.DNS = slices.Clone(over.DNS)
	}
	if over.Database != nil {
		r.Database = over.Database
	}
	if over.NFS != nil {
		r.NFS = over.NFS
	}
	merged := maps.Clone(def.Variables)
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range vars {
		if v != "" {
			merged[k] = v
		}
	}
	maps.Copy(merged, over.Variables)
	r.Variables = merged
	return r
}

// withDNS gives a role a DNS name for all its servers, unless the caller's
// RoleSpec sets DNS itself.
func withDNS(r *farm.RoleSpec, over farm.RoleSpec, name, address string) {
	if name == "" || over.DNS != nil {
		return
	}
	r.DNS = append(r.DNS, farm.DNSName{Name: name, Address: address, TTL: 60 * time.Second})
}

// tcpHost is a tcp health check's host for a bind address: the server's
// private address when it listens on every address.
func tcpHost(bind string) string {
	switch bind {
	case "", "0.0.0.0", "*", "::", "[::]":
		return ""
	}
	return bind
}

// atoiOr parses a port variable, or returns def.
func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return def
	}
	return n
}

// or returns v, or def when v is zero.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// itoa formats a port or a size for a variable; 0 stays empty (the
// default applies).
func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// prelude is the start of every preset script: strict mode, and the
// helpers that make the scripts run on a vanilla Debian or Ubuntu image
// (install the package when the program is missing, run the service's
// init) as in a test where the program is already there and the paths
// point into a temporary directory.
const prelude = `set -eu
# fh_install PROGRAM PACKAGE...: installs the packages unless PROGRAM is on the PATH.
fh_install() {
	prog=$1; shift
	if command -v "$prog" >/dev/null 2>&1; then return 0; fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q && apt-get install -y -q "$@"
}
# fh_service NAME ACTION: systemctl where systemd runs, else service(8).
fh_service() {
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl "$2" "$1"
	else
		service "$1" "$2"
	fi
}
# fh_abs PATH: PATH made absolute against the working directory.
fh_abs() {
	case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac
}
`

// script makes a preset script: the prelude, then body.
func script(name, desc, body string) scripting.Script {
	return scripting.Script{Name: name, Description: desc, Body: prelude + strings.TrimLeft(body, "\n")}
}
