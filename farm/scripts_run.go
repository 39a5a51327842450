package farm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/farmhand/farmhand/internal/retry"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scripting"
)

// handleBlocking runs the blocking bindings of a HostInit, BeforeHostUp or
// BeforeHostTerminate event, in order, inside the farm's synchronous hook:
// the first failure is the hook's error.
func (e *scriptEngine) handleBlocking(ctx context.Context, ev Event) error {
	for _, b := range e.matching(ev, true) {
		if err := e.runBinding(ctx, ev, b); err != nil {
			return err
		}
	}
	return nil
}

// handleEvent runs the other bindings of an event, in order. The farm's
// bus calls it one event at a time, in the order the events were fired.
// Each server a script failed on gets a ScriptFailed event.
func (e *scriptEngine) handleEvent(ev Event) {
	ctx := e.f.closeCtx
	bindings := e.matching(ev, false)
	if ev.Type == HostUp && ev.Server != nil && len(bindings) > 0 {
		defer e.f.hostUpDone(ev.Server.ID) // counted in emitLocked
	}
	for _, b := range bindings {
		if ctx.Err() != nil {
			return // the farm is closing
		}
		failed, err := e.runBindingResults(ctx, ev, b)
		if err == nil {
			continue
		}
		e.logger.Warn("farm: bound script failed", "event", string(ev.Type), "role", b.role, "script", b.Script, "err", err)
		if ev.Type == ScriptFailed {
			continue // no failure of a failure's script
		}
		e.scriptFailed(ev, b, failed, err)
	}
}

// scriptFailed fires ScriptFailed for each failed result, or once for the
// binding's role when the script ran nowhere (it could not be rendered).
func (e *scriptEngine) scriptFailed(ev Event, b boundScript, failed []scripting.Result, err error) {
	f := e.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	params := func(r scripting.Result) map[string]string {
		p := map[string]string{"script": b.Script, "version": fmt.Sprint(r.Version), "event": string(ev.Type)}
		if r.Err == nil {
			p["exit_code"] = fmt.Sprint(r.ExitCode)
		}
		return p
	}
	if len(failed) == 0 {
		f.emitLocked(Event{Type: ScriptFailed, Role: b.role, Reason: err.Error(),
			Params: map[string]string{"script": b.Script, "event": string(ev.Type)}})
		return
	}
	for _, r := range failed {
		reason := fmt.Sprintf("%s script %q v%d: %s", ev.Type, r.Script, r.Version, failureText(r))
		if rec, ok := f.records[r.Target.ServerID]; ok {
			f.emitLocked(f.serverEventLocked(ScriptFailed, rec, reason, params(r)))
			continue
		}
		f.emitLocked(Event{Type: ScriptFailed, Role: r.Target.Role, Reason: reason, Params: params(r)})
	}
}

// matching returns the bindings an event fires, blocking or not, in the
// order they run.
func (e *scriptEngine) matching(ev Event, blocking bool) []boundScript {
	wide := ev.farmWide()
	var out []boundScript
	e.mu.Lock()
	bindings := e.bindings // replaced, never changed in place (see rollout_apply.go)
	e.mu.Unlock()
	for _, b := range bindings {
		if b.Event != ev.Type || (b.Blocking && ev.Type.Blocking()) != blocking {
			continue
		}
		if !wide && b.role != ev.Role {
			continue
		}
		out = append(out, b)
	}
	return out
}

// bindingServers returns the servers a binding runs on for an event.
func (e *scriptEngine) bindingServers(ev Event, b boundScript) []Server {
	switch b.target() {
	case TargetServer:
		if ev.Server == nil || ev.Server.Role != b.role {
			return nil
		}
		s := *ev.Server
		if cur, ok := e.f.Server(s.ID); ok && cur.State != StateTerminated {
			s = cur // newer variables and addresses
		}
		return []Server{s}
	case TargetRole:
		return e.f.inService(b.role)
	case TargetRoles:
		var out []Server
		for _, r := range b.Roles {
			out = append(out, e.f.inService(r)...)
		}
		return out
	case TargetFarm:
		return e.f.inService("")
	}
	return nil
}

// inService returns the Running servers of a role (of every role when
// role is empty).
func (f *Farm) inService(role string) []Server {
	var out []Server
	for _, s := range f.Servers(role) {
		if s.State == StateRunning {
			out = append(out, s)
		}
	}
	return out
}

// runBinding runs one binding for an event on its servers and returns an
// error naming the first server it failed on.
func (e *scriptEngine) runBinding(ctx context.Context, ev Event, b boundScript) error {
	_, err := e.runBindingResults(ctx, ev, b)
	return err
}

// runBindingResults is runBinding that also returns the failed results.
func (e *scriptEngine) runBindingResults(ctx context.Context, ev Event, b boundScript) ([]scripting.Result, error) {
	servers := e.bindingServers(ev, b)
	if len(servers) == 0 {
		return nil, nil
	}
	script, err := e.lib.Resolve(b.ref())
	if err != nil {
		return nil, fmt.Errorf("role %q: %s binding: %w", b.role, ev.Type, err)
	}
	// A server that is initialising may not answer yet (sshd starting, host
	// keys not published): wait for it within the hook's time.
	probe := b.target() == TargetServer && (ev.Type == HostInit || ev.Type == BeforeHostUp)
	var failed []scripting.Result
	_, err = e.run(ctx, runSpec{
		servers: servers, script: script, event: &ev, label: string(ev.Type),
		timeout: b.Timeout, runAs: b.RunAs, probe: probe,
		onResult: func(r scripting.Result) {
			if !r.OK() {
				failed = append(failed, r)
			}
		},
	})
	if err != nil {
		return failed, err
	}
	if len(failed) > 0 {
		return failed, scriptFailure(script, failed, len(servers))
	}
	return nil, nil
}

// runSpec is one script to run on some servers.
type runSpec struct {
	servers  []Server
	script   scripting.Script
	event    *Event // nil when run on demand
	label    string // the event in the scripting log
	vars     map[string]string
	timeout  time.Duration
	runAs    string
	width    int
	probe    bool // wait until a server not reached before answers
	onResult func(scripting.Result)
}

// run renders the script for every server (any error stops everything
// before a connection is made) and runs it, streaming each result to
// rs.onResult and ScriptingOptions.OnResult.
func (e *scriptEngine) run(ctx context.Context, rs runSpec) (scripting.Summary, error) {
	targets := make([]scripting.Target, 0, len(rs.servers))
	var errs []error
	for _, s := range rs.servers {
		t, err := e.target(s, rs.event, rs.vars, true)
		if err == nil {
			_, err = rs.script.Render(t.Vars)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		targets = append(targets, t)
	}
	if err := errors.Join(errs...); err != nil {
		return scripting.Summary{Targets: len(rs.servers)}, fmt.Errorf("farm: script %s: nothing ran: %w", rs.script.Ref(), err)
	}
	for _, t := range targets {
		e.claim(t.Addr, t.ServerID)
	}
	if rs.probe {
		for _, t := range targets {
			e.waitReachable(ctx, t)
		}
	}
	notify := rs.event
	if notify == nil {
		notify = &Event{Type: ManualEvent, Farm: e.f.spec.Name, Time: e.f.clk.Now()}
	}
	job := scripting.Job{Script: rs.script, Event: rs.label, Timeout: rs.timeout, RunAs: rs.runAs}
	width := e.width
	if rs.width > 0 {
		width = rs.width
	}
	return e.exec.RunMany(ctx, targets, job, &scripting.FanOutOptions{Width: width, OnResult: func(r scripting.Result) {
		if r.Err == nil || !unreachable(r.Err) {
			e.markReached(r.Target.ServerID)
			e.savePin(r.Target.Addr, r.Target.ServerID)
		}
		if !r.OK() {
			e.logger.Warn("farm: script failed", "event", rs.label, "role", r.Target.Role, "server", r.Target.ServerID,
				"script", r.Script, "version", r.Version, "status", r.Status().String(), "exit", r.ExitCode, "err", r.Err)
		}
		if rs.onResult != nil {
			rs.onResult(r)
		}
		if e.onResult != nil {
			e.onResult(notify.Clone(), r)
		}
	}})
}

// unreachable reports whether a connection error may pass as the server
// finishes booting: sshd not answering yet, host keys not published yet,
// or the provider too busy to tell them.
func unreachable(err error) bool {
	return errors.Is(err, scripting.ErrUnreachable) || errors.Is(err, scripting.ErrHostKeyUnknown) || provider.IsRetryable(err)
}

func (e *scriptEngine) markReached(id string) {
	e.mu.Lock()
	e.reached[id] = true
	e.mu.Unlock()
}

// waitReachable waits, within ctx, until a server that has not answered
// before accepts an SSH session, with a growing pause between attempts.
// The attempts are not logged; the script that follows reports any error.
func (e *scriptEngine) waitReachable(ctx context.Context, t scripting.Target) {
	e.mu.Lock()
	done := e.reached[t.ServerID]
	e.mu.Unlock()
	if done {
		return
	}
	probe := scripting.Job{Script: scripting.Script{Name: "reachable", Body: ":"}, Timeout: time.Minute}
	policy := retry.Policy{Tries: math.MaxInt32, Initial: time.Second, Max: 15 * time.Second}
	err := retry.Do(ctx, e.f.clk, policy, unreachable, func(ctx context.Context) error {
		return e.quiet.Run(ctx, t, probe).Err
	})
	if err == nil {
		e.markReached(t.ServerID)
	}
}

// ScriptError reports a script that did not exit with status 0 on every
// server it ran on. errors.Is matches the first failure's cause, such as
// scripting.ErrTimeout or scripting.ErrUnreachable.
type ScriptError struct {
	Script  string
	Version int
	// Result is the first failure. Its output is in the scripting log and
	// never in Error's text, since it may hold secrets.
	Result scripting.Result
	// Failed of Total servers did not succeed.
	Failed, Total int
}

// Error says which script failed where and how: `script "setup" v1
// failed on app/i-000002: exit status 3`.
func (e *ScriptError) Error() string {
	r := e.Result
	what := fmt.Sprintf("script %q v%d", e.Script, e.Version)
	if e.Version == 0 {
		what = e.Script // a one-off command of Exec
	}
	msg := fmt.Sprintf("%s failed on %s/%s: %s", what, r.Target.Role, r.Target.ServerID, failureText(r))
	if e.Failed > 1 {
		msg += fmt.Sprintf(" (and on %d more of %d servers)", e.Failed-1, e.Total)
	}
	return msg
}

// Unwrap returns the first failure's error, nil for a non-zero exit.
func (e *ScriptError) Unwrap() error { return e.Result.Err }

func scriptFailure(s scripting.Script, failed []scripting.Result, total int) error {
	return &ScriptError{Script: s.Name, Version: s.Version, Result: failed[0], Failed: len(failed), Total: total}
}

// failureText says in a few words why a script did not succeed. It never
// includes the script's output, which may hold secrets; the scripting log
// has it.
func failureText(r scripting.Result) string {
	switch r.Status() {
	case scripting.StatusOK:
		return "exit status 0"
	case scripting.StatusTimedOut:
		return "timed out"
	case scripting.StatusFailed:
		switch {
		case r.Err != nil:
			return r.Err.Error()
		case r.Signal != "":
			return "killed by signal " + r.Signal
		}
		return fmt.Sprintf("exit status %d", r.ExitCode)
	}
	return strings.TrimPrefix(r.Err.Error(), "scripting: ")
}
