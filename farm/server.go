package farm

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/farmhand/farmhand/provider"
)

// ServerState is where a server is in its life as the farm sees it.
//
//	Pending → Initializing → Running → PendingTerminate → Terminated
//
// and Failed, from which a server is terminated (or kept, see
// RoleSpec.OnInitFailure) and replaced.
type ServerState string

const (
	// StatePending: launched; the cloud has not reported it running yet.
	StatePending ServerState = "Pending"
	// StateInitializing: the cloud reports it running; the HostInit and
	// BeforeHostUp hooks are running.
	StateInitializing ServerState = "Initializing"
	// StateRunning: initialised and in service (HostUp has fired); health
	// checks apply.
	StateRunning ServerState = "Running"
	// StatePendingTerminate: chosen for removal; the BeforeHostTerminate
	// hooks run, then the farm terminates it.
	StatePendingTerminate ServerState = "PendingTerminate"
	// StateTerminated: the cloud reports it gone.
	StateTerminated ServerState = "Terminated"
	// StateFailed: the cloud reports it stopped or failed, it did not boot
	// within the launch timeout, or its initialisation failed. The farm
	// terminates it and launches a replacement.
	StateFailed ServerState = "Failed"
)

// States lists the server states in lifecycle order.
var States = []ServerState{StatePending, StateInitializing, StateRunning, StatePendingTerminate, StateTerminated, StateFailed}

// live reports whether a server in this state counts toward its role's
// desired count.
func (s ServerState) live() bool {
	return s == StatePending || s == StateInitializing || s == StateRunning
}

// Server is a snapshot of one server of the farm. Values returned by the
// farm share no memory with it.
type Server struct {
	// ID is the cloud's identifier.
	ID string
	// Role is the role's name.
	Role string
	// Index is the server's slot in its role, from 1: %instance_index% in
	// scripts. A replacement gets the lowest free index.
	Index int
	// State is the server's state in the farm.
	State ServerState
	// CloudState is the state the cloud last reported.
	CloudState provider.State
	// PrivateIP and PublicIP are the server's addresses; empty when the
	// cloud has not given one.
	PrivateIP string
	PublicIP  string
	// SSHAddress is host:port of the server's sshd when the provider knows
	// it better than port 22 on an IP; empty otherwise.
	SSHAddress string
	// Zone is the availability zone it runs in.
	Zone string
	// Image and InstanceType are what it was launched with.
	Image        string
	InstanceType string
	// LaunchedAt is when the cloud launched it.
	LaunchedAt time.Time
	// UpAt is when it reached StateRunning (zero before).
	UpAt time.Time
	// Health summarises its health checks.
	Health Health
	// Protected servers are not chosen to shrink their role while another
	// server can go (see [Farm.SetProtected]).
	Protected bool
	// Master marks a database master; it is protected like Protected.
	// The database failover sets it.
	Master bool
	// Vars are server-level script variables.
	Vars map[string]string
	// Tags are the cloud's tags on the server.
	Tags map[string]string
	// Reason says why the server is Failed, PendingTerminate or
	// Terminated, such as "launch timeout after 10m0s".
	Reason string
	// Adopted is true for a server this controller found at the cloud
	// instead of launching it.
	Adopted bool
}

// Clone returns a copy of s that shares no memory with it.
func (s Server) Clone() Server {
	s.Vars = maps.Clone(s.Vars)
	s.Tags = maps.Clone(s.Tags)
	s.Health.Checks = slices.Clone(s.Health.Checks)
	return s
}

// HealthStatus summarises a server's health checks.
type HealthStatus string

const (
	// HealthUnknown: no check has reached a threshold yet, or the role has
	// no checks.
	HealthUnknown HealthStatus = "unknown"
	// HealthHealthy: every check that reached a threshold passed.
	HealthHealthy HealthStatus = "healthy"
	// HealthUnhealthy: at least one check failed past its threshold.
	HealthUnhealthy HealthStatus = "unhealthy"
)

// Health is the state of a server's health checks.
type Health struct {
	// Status sums up the checks: unhealthy when any check is, else
	// unknown while any check is, else healthy.
	Status HealthStatus
	// Checks holds one entry per health check of the role, in spec order.
	Checks []CheckState
	// RebootedAt is when the farm last rebooted the server for failing
	// checks; zero when it did not.
	RebootedAt time.Time
}

// CheckState is the state of one health check on one server.
type CheckState struct {
	// Name is the check's name in the role's spec.
	Name string
	// Status is healthy or unhealthy once a threshold has been reached.
	Status HealthStatus
	// Failures and Successes count consecutive results.
	Failures  int
	Successes int
	// LastError is the last failure's message; empty after a success.
	LastError string
	// LastCheck is when the check last ran.
	LastCheck time.Time
}

// sortServers orders servers by role, index and ID.
func sortServers(s []Server) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Role != s[j].Role {
			return s[i].Role < s[j].Role
		}
		if s[i].Index != s[j].Index {
			return s[i].Index < s[j].Index
		}
		return s[i].ID < s[j].ID
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
