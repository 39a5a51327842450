package farm

import (
	"errors"
	"maps"
)

// OperationFailed fires when something the farm did on its own, with no
// caller to return an error to, failed: Params "op" (one of the Op
// constants), "error", and what the operation concerns ("event" for a
// hook, "name" and "type" for a DNS name, "load_balancer", ...); Reason
// holds the error in words. It is a failure event ([EventType.Failure]),
// so [Farm.SubscribeFailures] delivers it; [Farm.WaitReady] does not stop
// on it (it reports failed servers). A hook that fails on an
// OperationFailed event fires no further OperationFailed.
const OperationFailed EventType = "OperationFailed"

// The operations OperationFailed names in Params "op".
const (
	// OpHook: a hook's HandleEvent for a non-blocking event returned an
	// error or ran past Options.StepTimeout; also a BeforeHostTerminate
	// hook that failed (the server is terminated all the same).
	OpHook = "hook"
	// OpDNS: writing one of the farm's DNS names failed (after an event,
	// in a failover or in the periodic re-sync of Options.DNSResync).
	OpDNS = "dns"
	// OpLoadBalancer: registering a server with its role's load
	// balancer, or setting the backends of Options.LoadBalancers, failed.
	OpLoadBalancer = "load_balancer"
	// OpFailover: a failover found no master: every candidate's promotion
	// failed, the old master could not be fenced, or the failover's state
	// could not be saved. [Farm.Failovers] lists it with Err set.
	OpFailover = "failover"
	// OpTerminate: the cloud refused to terminate a server; the next tick
	// tries again.
	OpTerminate = "terminate"
	// OpStore: Options.Store refused a write the farm made in the
	// background (a new master, a finished failover, a host key pin); the
	// farm writes it again with its next change.
	OpStore = "store"
	// OpBackupRetention: deleting backups past the role's Keep failed.
	OpBackupRetention = "backup_retention"
	// OpReconcile, OpScaling, OpHealthChecks and OpBackups: a round of
	// Run's loops failed (the cloud did not answer, the Store refused a
	// write, ...). Each fires once per different error until a round
	// succeeds; [Status].LastError also holds a tick's error.
	OpReconcile    = "reconcile"
	OpScaling      = "scaling"
	OpHealthChecks = "health_checks"
	OpBackups      = "backups"
)

// loopFailed reports a failed round of one of Run's loops: OperationFailed
// fires when err differs from the error that op last reported, so that a
// cloud down for an hour is one event, not one per tick. A nil err (a
// round that went well) forgets the last error.
func (f *Farm) loopFailed(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.loopErrs, op)
		return
	}
	if f.loopErrs[op] == err.Error() {
		return
	}
	if f.loopErrs == nil {
		f.loopErrs = map[string]string{}
	}
	f.loopErrs[op] = err.Error()
	f.opFailedLocked(op, "", nil, err, nil)
}

// opError is an error that names the operation it failed in, for the
// OperationFailed event a hook's error becomes.
type opError struct {
	op     string
	params map[string]string
	err    error
}

func (e *opError) Error() string { return e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// reportedError is an error an OperationFailed event has already reported,
// so that the hook that returns it is not reported again.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

// reported marks err as reported; nil stays nil.
func reported(err error) error {
	if err == nil {
		return nil
	}
	return &reportedError{err}
}

// opFailed fires OperationFailed, unless the farm is closed. Called
// without f.mu.
func (f *Farm) opFailed(op, role string, srv *Server, err error, params map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opFailedLocked(op, role, srv, err, params)
}

// opFailedLocked is opFailed with f.mu held.
func (f *Farm) opFailedLocked(op, role string, srv *Server, err error, params map[string]string) {
	if err == nil || f.closed {
		return
	}
	p := maps.Clone(params)
	if p == nil {
		p = map[string]string{}
	}
	var oe *opError
	if errors.As(err, &oe) {
		op = oe.op
		maps.Copy(p, oe.params)
	}
	p["op"], p["error"] = op, err.Error()
	var s *Server
	if srv != nil {
		c := srv.Clone()
		s = &c
		if role == "" {
			role = c.Role
		}
	}
	f.emitLocked(Event{Type: OperationFailed, Role: role, Server: s, Params: p, Reason: op + ": " + err.Error()})
}
