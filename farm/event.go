package farm

import (
	"context"
	"maps"
	"strings"
	"time"
)

// EventType names an event. The built-in types are the constants below;
// any other name is a custom event, declared in Spec.Events (YAML
// "events: [deploy]") and fired with [Farm.FireEvent]. A binding or a
// FireEvent naming an event that is neither is refused, with a suggestion
// when it looks like a slip ("HostUpp": did you mean "HostUp"?).
type EventType string

// The built-in events.
const (
	// BeforeInstanceLaunch fires before the farm asks the cloud for
	// servers: Params "zone", "count" and "indexes"; Server is nil.
	BeforeInstanceLaunch EventType = "BeforeInstanceLaunch"
	// HostInit fires when the cloud reports a new server running. Hooks
	// get it synchronously (see [Hook]); an error fails the server.
	HostInit EventType = "HostInit"
	// BeforeHostUp fires after HostInit, before the server enters service.
	// Hooks get it synchronously; an error fails the server.
	BeforeHostUp EventType = "BeforeHostUp"
	// HostUp fires when a server enters service (StateRunning).
	HostUp EventType = "HostUp"
	// HostDown fires once per server when it leaves the farm: terminated
	// by the farm, or reported gone, stopped or failed by the cloud.
	// Reason says which.
	HostDown EventType = "HostDown"
	// HostInitFailed fires when a server's HostInit or BeforeHostUp hooks
	// failed or timed out; Reason holds the error.
	HostInitFailed EventType = "HostInitFailed"
	// BeforeHostTerminate fires before the farm terminates a server that
	// was in service. Hooks get it synchronously, bounded by the role's
	// TerminateTimeout; their errors fire OperationFailed and do not stop
	// the termination.
	BeforeHostTerminate EventType = "BeforeHostTerminate"
	// RebootComplete fires when a server the farm rebooted passes a health
	// check again.
	RebootComplete EventType = "RebootComplete"
	// IPAddressChanged fires when the cloud reports new IP addresses for a
	// server in service: Params "old_internal_ip", "internal_ip",
	// "old_external_ip", "external_ip".
	IPAddressChanged EventType = "IPAddressChanged"
	// VolumeAttached fires when a volume is attached to a server.
	VolumeAttached EventType = "VolumeAttached"
	// NewDBMaster fires when a database replica has been promoted.
	NewDBMaster EventType = "NewDBMaster"
	// BackupComplete and BackupFailed report a backup's outcome.
	BackupComplete EventType = "BackupComplete"
	BackupFailed   EventType = "BackupFailed"
	// CheckFailed fires when a health check fails past its threshold:
	// Params "check", "failures", "error".
	CheckFailed EventType = "CheckFailed"
	// CheckRecovered fires when a failed check passes its recovery
	// threshold: Params "check", "successes".
	CheckRecovered EventType = "CheckRecovered"
	// FarmLaunched fires when [Farm.Launch] starts the farm.
	FarmLaunched EventType = "FarmLaunched"
	// FarmTerminated fires when [Farm.Terminate] has seen every server
	// gone.
	FarmTerminated EventType = "FarmTerminated"
	// ScalingDecision fires when a role's desired count changes: Params
	// "from", "to" and "reason" (also in Reason), "min" and "max" (the
	// bounds in force) and "origin" ("policy", "api" or "program"; see
	// [ScalingRecord]).
	ScalingDecision EventType = "ScalingDecision"
	// ScriptFailed fires for each server on which a script bound to a
	// non-blocking event (HostUp, NewDBMaster, a custom event, ...) did
	// not exit 0: Params "script", "version", "event" (the binding's
	// event), "exit_code"; Reason holds the error. (A failed blocking
	// script fails the server instead: HostInitFailed.) Scripts bound to
	// ScriptFailed itself fire no further ScriptFailed.
	ScriptFailed EventType = "ScriptFailed"
)

// BuiltinEvents lists the built-in event types.
var BuiltinEvents = []EventType{
	BeforeInstanceLaunch, HostInit, BeforeHostUp, HostUp, HostDown, HostInitFailed,
	BeforeHostTerminate, RebootComplete, IPAddressChanged, VolumeAttached, NewDBMaster,
	BackupComplete, BackupFailed, CheckFailed, CheckRecovered, FarmLaunched, FarmTerminated,
	ScalingDecision, ScriptFailed, OperationFailed,
	// and the rollout's, see rollout_run.go
	RolloutStarted, RolloutBatchStarted, RolloutBatchDone, RolloutBatchFailed, RollbackStarted,
	RolloutPaused, RolloutFinished, RollbackFinished, ScriptsRerun,
}

// Failure reports whether events of this type say that something failed:
// HostInitFailed, ScriptFailed, CheckFailed, BackupFailed,
// RolloutBatchFailed and OperationFailed. See [Farm.SubscribeFailures].
func (t EventType) Failure() bool {
	return t == HostInitFailed || t == ScriptFailed || t == CheckFailed || t == BackupFailed ||
		t == RolloutBatchFailed || t == OperationFailed
}

// Builtin reports whether t is one of [BuiltinEvents].
func (t EventType) Builtin() bool {
	for _, b := range BuiltinEvents {
		if b == t {
			return true
		}
	}
	return false
}

// Blocking reports whether hooks receive events of this type synchronously,
// with their errors deciding the server's fate: HostInit, BeforeHostUp and
// BeforeHostTerminate.
func (t EventType) Blocking() bool {
	return t == HostInit || t == BeforeHostUp || t == BeforeHostTerminate
}

// Event is something that happened in the farm.
type Event struct {
	// Type says what happened.
	Type EventType
	// Farm is the farm's name.
	Farm string
	// Role is the role concerned, empty for farm-wide events.
	Role string
	// Server is a snapshot of the server concerned, nil for role- and
	// farm-wide events.
	Server *Server
	// Time is when it happened, on the farm's clock.
	Time time.Time
	// Params are the event's parameters.
	Params map[string]string
	// Reason explains the event in words, such as "cloud reports the
	// server terminated".
	Reason string
	// Seq numbers the farm's events from 1 in the order they were fired.
	Seq uint64
}

// String formats the event as one line: its time (UTC, to the
// millisecond), type, role and server with its private address, and reason:
//
//	2026-03-01 12:00:42.000 HostInitFailed app64/i-000002 (127.100.0.2): script "setup" v1 failed on app64/i-000002: exit status 3
func (ev Event) String() string {
	var b strings.Builder
	if !ev.Time.IsZero() {
		b.WriteString(ev.Time.UTC().Format("2006-01-02 15:04:05.000 "))
	}
	b.WriteString(string(ev.Type))
	if where := ev.where(); where != "" {
		b.WriteString(" " + where)
	}
	if ev.Reason != "" {
		b.WriteString(": " + ev.Reason)
	}
	return b.String()
}

// where names the event's role and server: "app64/i-000002 (127.100.0.2)",
// "app64", or "" for a farm-wide event.
func (ev Event) where() string {
	where := ev.Role
	if ev.Server != nil {
		if where == "" {
			where = ev.Server.Role
		}
		where += "/" + ev.Server.ID
		if ev.Server.PrivateIP != "" {
			where += " (" + ev.Server.PrivateIP + ")"
		}
	}
	return where
}

// Clone returns a copy of ev that shares no memory with it.
func (ev Event) Clone() Event {
	ev.Params = maps.Clone(ev.Params)
	if ev.Server != nil {
		s := ev.Server.Clone()
		ev.Server = &s
	}
	return ev
}

// Hook connects other parts of a program to the farm's lifecycle: scripts
// bound to events, DNS records, load balancers.
//
// For the blocking events (HostInit, BeforeHostUp, BeforeHostTerminate, see
// [EventType.Blocking]) the farm calls HandleEvent synchronously from the
// goroutine that moves the server along, one hook after another in the
// order they were added, with ctx bounded by the role's InitTimeout or
// TerminateTimeout. A HostInit or BeforeHostUp error fails the server
// (HostInitFailed); a BeforeHostTerminate error fires OperationFailed and
// the server is terminated all the same. The server stays Initializing, or
// PendingTerminate, while they run; the controller's loop does not wait.
//
// Every other event reaches HandleEvent asynchronously, in the order the
// farm fired them, from a goroutine of the hook's own, bounded by
// Options.StepTimeout; its error fires OperationFailed (Params "op" "hook",
// "event"). ctx ends when the farm is closed.
type Hook interface {
	HandleEvent(ctx context.Context, ev Event) error
}

// HookFunc adapts a function to [Hook].
type HookFunc func(ctx context.Context, ev Event) error

// HandleEvent calls f.
func (f HookFunc) HandleEvent(ctx context.Context, ev Event) error { return f(ctx, ev) }
