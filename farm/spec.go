package farm

import (
	"maps"
	"slices"
	"time"
)

// Spec defines a farm: the roles it runs and the variables its scripts see.
// A Spec is plain data; build it in Go or read it from YAML with [ParseYAML]
// or [LoadFile]. [Spec.Validate] reports every problem before anything is
// launched.
type Spec struct {
	// Name names the farm. It is put on every server as the provider.TagFarm
	// tag, so it must be a DNS label (lower-case letters, digits and '-', at
	// most 63 characters) and must be unique among the farms of one cloud
	// account.
	Name string `yaml:"name"`
	// Location is the cloud region, such as "us-east-1"; scripts see it as
	// %cloud_location%. Informational for the controller.
	Location string `yaml:"location,omitempty"`
	// TimeZone is the IANA time zone that schedules read, such as
	// "Europe/Berlin". Empty means UTC.
	TimeZone string `yaml:"time_zone,omitempty"`
	// Variables are farm-wide script variables; roles and servers may
	// override them.
	Variables map[string]string `yaml:"variables,omitempty"`
	// ScriptsDir is a directory of script files that [New] loads into
	// Options.Scripting.Library (scripting.LoadDir): each file is the
	// script named by the file's name without its extension, versioned by
	// content, so bindings can name "install-apache" for
	// scripts/install-apache.sh. [LoadFile] takes a relative path from the
	// farm file's directory.
	ScriptsDir string `yaml:"scripts_dir,omitempty"`
	// Events declares the farm's custom events ("deploy", "flush_cache"):
	// the only names, besides the built-in events, that script bindings
	// may name and [Farm.FireEvent] and the scaling API may fire, so that a
	// misspelt event is refused instead of never firing.
	Events []string `yaml:"events,omitempty"`
	// Roles are the farm's roles, in the order Status reports them.
	Roles []RoleSpec `yaml:"roles"`
	// Budget caps what the farm may spend; see [BudgetSpec]. nil means
	// no cap.
	Budget *BudgetSpec `yaml:"budget,omitempty"`

	// src is the file the spec was read from, if any.
	src *yamlSource
}

// RoleSpec defines a role: a group of identical servers.
type RoleSpec struct {
	// Name names the role; a DNS label, unique within the farm.
	Name string `yaml:"name"`
	// Image is the machine image to boot (an AMI ID, a Nova image ID).
	Image string `yaml:"image"`
	// InstanceType is the cloud's size name (m1.small, a Nova flavor).
	InstanceType string `yaml:"instance_type,omitempty"`
	// Zones are the availability zones the role may use; empty means every
	// zone the provider offers.
	Zones []string `yaml:"zones,omitempty"`
	// ZoneStrategy says how servers are placed over Zones: "even" (the
	// default) spreads them evenly, "ordered" fills the first usable zone.
	ZoneStrategy ZoneStrategy `yaml:"zone_strategy,omitempty"`
	// Min is the fewest servers the role runs; 0 means none.
	Min int `yaml:"min"`
	// Max is the most servers the role may run. Required: 1 to
	// MaxRoleServers (10,000), and at least Min.
	Max int `yaml:"max"`
	// Desired is the number of servers to start with; 0 means Min.
	// Scaling and [Farm.SetDesired] change it at run time within Min..Max.
	Desired int `yaml:"desired,omitempty"`
	// DependsOn names roles whose servers must all be up before this role
	// launches its first servers (a database before its app servers).
	DependsOn []string `yaml:"depends_on,omitempty"`
	// LaunchTimeout bounds how long a server may stay pending at the
	// cloud; a launch that takes longer is terminated and retried.
	// 0 means DefaultLaunchTimeout.
	LaunchTimeout time.Duration `yaml:"launch_timeout,omitempty"`
	// InitTimeout bounds the HostInit and BeforeHostUp hooks of a server;
	// past it the server has failed to initialise. 0 means
	// DefaultInitTimeout.
	InitTimeout time.Duration `yaml:"init_timeout,omitempty"`
	// TerminateTimeout bounds the BeforeHostTerminate hooks; the server is
	// terminated when they return or when it passes. 0 means
	// DefaultTerminateTimeout.
	TerminateTimeout time.Duration `yaml:"terminate_timeout,omitempty"`
	// OnInitFailure says what happens to a server whose HostInit or
	// BeforeHostUp hook failed: "replace" (the default) terminates it and
	// launches another; "keep" leaves it running, in state Failed, for
	// inspection, and launches another.
	OnInitFailure InitFailureAction `yaml:"on_init_failure,omitempty"`
	// UserData is passed to each server at launch (cloud-init).
	UserData string `yaml:"user_data,omitempty"`
	// Variables are role-level script variables.
	Variables map[string]string `yaml:"variables,omitempty"`
	// Scripts bind scripts of the scripting library to events; see
	// [ScriptBinding] for which events fire them and where they run.
	Scripts []ScriptBinding `yaml:"scripts,omitempty"`
	// Tags are put on every server of the role, next to farmhand's own
	// tags. Keys must not start with "farmhand:".
	Tags map[string]string `yaml:"tags,omitempty"`
	// HealthChecks tell whether a running server works.
	HealthChecks []HealthCheckSpec `yaml:"health_checks,omitempty"`
	// HealthAction is what happens to a server that fails a health check
	// past its threshold: "replace" (the default), "reboot-then-replace" or
	// "report" (events only).
	HealthAction HealthAction `yaml:"health_action,omitempty"`
	// TerminationPolicy chooses the servers to remove when the role
	// shrinks: "oldest-first" (the default) or "newest-first".
	TerminationPolicy TerminationPolicy `yaml:"termination_policy,omitempty"`
	// Scaling is the role's scaling policy; nil keeps the role at its
	// desired count. See [ScalingSpec] and Options.MetricSources.
	Scaling *ScalingSpec `yaml:"scaling,omitempty"`
	// LoadBalancer names a cloud load balancer (provider.LoadBalancer) the
	// role's servers are registered with when they enter service and
	// deregistered from before they are terminated.
	LoadBalancer string `yaml:"load_balancer,omitempty"`
	// DNS are names the farm keeps pointing at the role's servers, or at
	// its master; see [DNSName] and Options.DNS.
	DNS []DNSName `yaml:"dns,omitempty"`
	// Database makes the role a database with a master and replicas and
	// fails the master over; see [DatabaseSpec].
	Database *DatabaseSpec `yaml:"database,omitempty"`
	// NFS makes the role an NFS server whose clients remount it when it
	// moves; see [NFSSpec].
	NFS *NFSSpec `yaml:"nfs,omitempty"`
	// Backup backs the role's data up on an interval; see [BackupSpec].
	Backup *BackupSpec `yaml:"backup,omitempty"`
	// PricePerHour is what one server of the role costs per hour, in any
	// currency the farm's prices share; 0 means free. [Farm.Cost] reports
	// the farm's cost from it and Spec.Budget caps it.
	PricePerHour float64 `yaml:"price_per_hour,omitempty"`
}

// HealthCheckSpec defines one health check of a role.
type HealthCheckSpec struct {
	// Name identifies the check in events and status; unique within the
	// role. Empty means the Kind.
	Name string `yaml:"name,omitempty"`
	// Kind is "tcp" (connect to Port), "http" (GET URL, expect
	// ExpectStatus), "ssh" (connect and read the SSH banner) or "command"
	// (run Command on the server through Options.CommandRunner). It may be
	// empty when Check is set.
	Kind string `yaml:"kind,omitempty"`
	// Host is the address a tcp check connects to. It may use the
	// variables listed in [CheckVariables]; empty means "%internal_ip%".
	Host string `yaml:"host,omitempty"`
	// Port is the TCP port of a tcp check, and of an ssh check when the
	// provider gives no SSH address (default 22).
	Port int `yaml:"port,omitempty"`
	// URL is the http check's URL; it may use the variables listed in
	// [CheckVariables], as in "http://%internal_ip%:8080/health".
	URL string `yaml:"url,omitempty"`
	// ExpectStatus is the HTTP status an http check wants; 0 accepts any
	// 2xx status.
	ExpectStatus int `yaml:"expect_status,omitempty"`
	// Command is the command line a command check runs; exit status 0 is
	// healthy.
	Command string `yaml:"command,omitempty"`
	// Interval is the time between two checks of one server; 0 means
	// DefaultCheckInterval.
	Interval time.Duration `yaml:"interval,omitempty"`
	// Timeout bounds one check; 0 means DefaultCheckTimeout.
	Timeout time.Duration `yaml:"timeout,omitempty"`
	// FailureThreshold is how many consecutive failures make a server
	// unhealthy; 0 means DefaultFailureThreshold.
	FailureThreshold int `yaml:"failure_threshold,omitempty"`
	// RecoveryThreshold is how many consecutive successes make an
	// unhealthy server healthy again; 0 means DefaultRecoveryThreshold.
	RecoveryThreshold int `yaml:"recovery_threshold,omitempty"`
	// Check, when set, is the check to run; it overrides Kind. Programs
	// use it for checks written in Go.
	Check HealthCheck `yaml:"-"`
}

// ZoneStrategy says how a role's servers are placed over its zones.
type ZoneStrategy string

const (
	// ZoneEven places each new server in the usable zone with the fewest
	// servers of the role.
	ZoneEven ZoneStrategy = "even"
	// ZoneOrdered places new servers in the first usable zone of the list;
	// later zones are fallbacks.
	ZoneOrdered ZoneStrategy = "ordered"
)

// HealthAction says what happens to a server that failed its health checks.
type HealthAction string

const (
	// HealthReplace terminates the server and launches another.
	HealthReplace HealthAction = "replace"
	// HealthRebootThenReplace reboots the server first, and replaces it if
	// it fails again before it recovers.
	HealthRebootThenReplace HealthAction = "reboot-then-replace"
	// HealthReport only fires CheckFailed and CheckRecovered events.
	HealthReport HealthAction = "report"
)

// InitFailureAction says what happens to a server whose initialisation
// hooks failed.
type InitFailureAction string

const (
	// InitFailureReplace terminates the server and launches another.
	InitFailureReplace InitFailureAction = "replace"
	// InitFailureKeep leaves the server running in state Failed, outside
	// the role's count, and launches another.
	InitFailureKeep InitFailureAction = "keep"
)

// TerminationPolicy orders the servers a shrinking role gives up.
type TerminationPolicy string

const (
	// OldestFirst removes the servers launched first.
	OldestFirst TerminationPolicy = "oldest-first"
	// NewestFirst removes the servers launched last.
	NewestFirst TerminationPolicy = "newest-first"
)

// Defaults for zero fields of a RoleSpec and HealthCheckSpec.
const (
	DefaultLaunchTimeout     = 10 * time.Minute
	DefaultInitTimeout       = 15 * time.Minute
	DefaultTerminateTimeout  = 2 * time.Minute
	DefaultCheckInterval     = 30 * time.Second
	DefaultCheckTimeout      = 5 * time.Second
	DefaultFailureThreshold  = 3
	DefaultRecoveryThreshold = 2
)

// Role returns the role named name, and false when there is none.
func (s Spec) Role(name string) (RoleSpec, bool) {
	for _, r := range s.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return RoleSpec{}, false
}

// Clone returns a deep copy of s.
func (s Spec) Clone() Spec {
	s.Variables = maps.Clone(s.Variables)
	s.Events = slices.Clone(s.Events)
	roles := make([]RoleSpec, len(s.Roles))
	for i, r := range s.Roles {
		roles[i] = r.clone()
	}
	s.Roles = roles
	return s
}

func (r RoleSpec) clone() RoleSpec {
	r.Zones = slices.Clone(r.Zones)
	r.DependsOn = slices.Clone(r.DependsOn)
	r.Variables = maps.Clone(r.Variables)
	r.Tags = maps.Clone(r.Tags)
	r.HealthChecks = slices.Clone(r.HealthChecks)
	r = r.cloneBehaviours() // see failover.go
	r.Scripts = cloneBindings(r.Scripts)
	r.Scaling = r.Scaling.clone()
	return r
}

// withDefaults returns r with its zero fields set to their defaults.
func (r RoleSpec) withDefaults() RoleSpec {
	r = r.clone()
	if r.ZoneStrategy == "" {
		r.ZoneStrategy = ZoneEven
	}
	if r.LaunchTimeout == 0 {
		r.LaunchTimeout = DefaultLaunchTimeout
	}
	if r.InitTimeout == 0 {
		r.InitTimeout = DefaultInitTimeout
	}
	if r.TerminateTimeout == 0 {
		r.TerminateTimeout = DefaultTerminateTimeout
	}
	if r.OnInitFailure == "" {
		r.OnInitFailure = InitFailureReplace
	}
	if r.HealthAction == "" {
		r.HealthAction = HealthReplace
	}
	if r.TerminationPolicy == "" {
		r.TerminationPolicy = OldestFirst
	}
	for i, c := range r.HealthChecks {
		r.HealthChecks[i] = c.withDefaults()
	}
	return r
}

// initialDesired is the count a role starts with.
func (r RoleSpec) initialDesired() int {
	return max(r.Min, r.Desired)
}

func (c HealthCheckSpec) withDefaults() HealthCheckSpec {
	if c.Name == "" {
		c.Name = c.Kind
		if c.Name == "" {
			c.Name = "check"
		}
	}
	if c.Interval == 0 {
		c.Interval = DefaultCheckInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultCheckTimeout
	}
	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.RecoveryThreshold == 0 {
		c.RecoveryThreshold = DefaultRecoveryThreshold
	}
	return c
}
