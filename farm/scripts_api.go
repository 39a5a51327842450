package farm

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scripting"
)

// ScriptTarget selects the servers [Farm.ExecuteScript] runs a script on:
// the union of every server in service (All), the servers in service of
// Roles, and the Servers named by ID. Build one with [OnFarm], [OnRoles]
// or [OnServers].
type ScriptTarget struct {
	All     bool     // every server in service
	Roles   []string // the servers in service of these roles
	Servers []string // these servers, by ID
}

// OnFarm selects every server in service.
func OnFarm() ScriptTarget { return ScriptTarget{All: true} }

// OnRoles selects the servers in service of the named roles.
func OnRoles(roles ...string) ScriptTarget { return ScriptTarget{Roles: roles} }

// OnServers selects servers by ID, whatever their role.
func OnServers(ids ...string) ScriptTarget { return ScriptTarget{Servers: ids} }

// String describes the target, as in "roles app, db".
func (t ScriptTarget) String() string {
	var parts []string
	if t.All {
		parts = append(parts, "farm")
	}
	if len(t.Roles) > 0 {
		parts = append(parts, "roles "+strings.Join(t.Roles, ", "))
	}
	if len(t.Servers) > 0 {
		parts = append(parts, "servers "+strings.Join(t.Servers, ", "))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " and ")
}

// ExecuteOptions tune [Farm.ExecuteScript]. nil means the defaults.
type ExecuteOptions struct {
	// Vars are variables for this run only; they override the farm's,
	// the role's and the server's variables.
	Vars map[string]string
	// Timeout bounds the script on each server; 0 means the executor's
	// default.
	Timeout time.Duration
	// RunAs runs the script as this user through "sudo -n -u".
	RunAs string
	// Width caps how many servers run it at once; 0 means
	// ScriptingOptions.Width.
	Width int
	// OnResult, when set, gets each server's result as soon as it is
	// known, one call at a time.
	OnResult func(scripting.Result)
}

// ScriptingLog returns the farm's scripting log (ScriptingOptions.Log, or
// the MemoryLog the farm made), or nil when scripting is off. Query it by
// farm, role, server, event ([ManualEvent] for scripts run on demand) or
// script.
func (f *Farm) ScriptingLog() scripting.Log {
	if f.scripts == nil {
		return nil
	}
	return f.scripts.log
}

// ExecuteScript runs a script of the library now on the servers target
// selects, at most ScriptingOptions.Width (or opts.Width) at a time, and
// returns when every server has a result. It is recorded in the scripting
// log with the event [ManualEvent]; %event_name% and the %event_…%
// variables are not defined.
//
// It returns an error, and runs nothing, when the script or a role or
// server of the target is unknown, a selected server has no address, or
// the script uses a variable a server lacks. Otherwise the error is nil
// and each server's outcome is in the results (opts.OnResult) and counted
// in the Summary. A target that selects no server in service runs nothing
// and returns an empty Summary.
func (f *Farm) ExecuteScript(ctx context.Context, ref scripting.ScriptRef, target ScriptTarget, opts *ExecuteOptions) (scripting.Summary, error) {
	e, err := f.scriptEngine()
	if err != nil {
		return scripting.Summary{}, err
	}
	if opts == nil {
		opts = &ExecuteOptions{}
	}
	if opts.Width < 0 {
		return scripting.Summary{}, fmt.Errorf("farm: ExecuteScript: width %d is negative", opts.Width)
	}
	script, err := e.lib.Resolve(ref)
	if err != nil {
		return scripting.Summary{}, fmt.Errorf("farm: ExecuteScript %s: %w", ref, err)
	}
	servers, err := f.selectServers(target)
	if err != nil {
		return scripting.Summary{}, err
	}
	if len(servers) == 0 {
		return scripting.Summary{}, nil
	}
	return e.run(ctx, runSpec{
		servers: servers, script: script, label: ManualEvent, vars: opts.Vars,
		timeout: opts.Timeout, runAs: opts.RunAs, width: opts.Width, onResult: opts.OnResult,
	})
}

// selectServers resolves a ScriptTarget, each server once, by role and
// index.
func (f *Farm) selectServers(t ScriptTarget) ([]Server, error) {
	if !t.All && len(t.Roles) == 0 && len(t.Servers) == 0 {
		return nil, fmt.Errorf("farm: ExecuteScript: the target selects nothing (use OnFarm, OnRoles or OnServers)")
	}
	picked := map[string]Server{}
	if t.All {
		for _, s := range f.inService("") {
			picked[s.ID] = s
		}
	}
	for _, r := range t.Roles {
		if _, ok := f.spec.Role(r); !ok {
			return nil, fmt.Errorf("farm: ExecuteScript: no role %q", r)
		}
		for _, s := range f.inService(r) {
			picked[s.ID] = s
		}
	}
	for _, id := range t.Servers {
		s, err := f.liveServer(id)
		if err != nil {
			return nil, fmt.Errorf("farm: ExecuteScript: %w", err)
		}
		picked[s.ID] = s
	}
	out := slices.Collect(maps.Values(picked))
	sortServers(out)
	return out, nil
}

// liveServer returns a server scripts can reach: known to the farm and
// past Pending, not terminated.
func (f *Farm) liveServer(id string) (Server, error) {
	s, ok := f.Server(id)
	switch {
	case !ok:
		return Server{}, fmt.Errorf("no server %q: %w", id, provider.NotFound)
	case s.State == StateTerminated || s.State == StatePending:
		return Server{}, fmt.Errorf("server %q is %s", id, s.State)
	}
	return s, nil
}

// RunScript runs a script of the library on one server now and returns
// its result; the error is nil only when the script exited with status 0
// (otherwise it is a [*ScriptError], or says why nothing ran). event names
// the event the script runs for, with params as its parameters and the
// server itself as the event's server (%event_internal_ip%, ...); the
// database failover runs a role's promotion script this way. An empty
// event runs it on demand, logged as [ManualEvent], with no event
// variables. The server may be initialising, running or leaving.
func (f *Farm) RunScript(ctx context.Context, serverID string, ref scripting.ScriptRef, event string, params map[string]string) (scripting.Result, error) {
	e, err := f.scriptEngine()
	if err != nil {
		return scripting.Result{}, err
	}
	script, err := e.lib.Resolve(ref)
	if err != nil {
		return scripting.Result{}, fmt.Errorf("farm: RunScript %s: %w", ref, err)
	}
	s, err := f.liveServer(serverID)
	if err != nil {
		return scripting.Result{}, fmt.Errorf("farm: RunScript %s: %w", ref, err)
	}
	rs := runSpec{servers: []Server{s}, script: script, label: ManualEvent}
	if event != "" {
		srv := s.Clone()
		rs.event = &Event{Type: EventType(event), Farm: f.spec.Name, Role: s.Role, Server: &srv,
			Time: f.clk.Now(), Params: maps.Clone(params), Reason: "run by the farm"}
		rs.label = event
	}
	var res scripting.Result
	rs.onResult = func(r scripting.Result) { res = r }
	if _, err := e.run(ctx, rs); err != nil {
		return scripting.Result{}, err
	}
	if !res.OK() {
		return res, scriptFailure(script, []scripting.Result{res}, 1)
	}
	return res, nil
}

// Exec runs a one-off shell command on a server over SSH and returns its
// standard output (up to the executor's OutputCap). The command is not a
// template (a percent sign is a percent sign) and is not recorded in the
// scripting log. It runs on the connection the farm keeps open to the
// server (see ScriptingOptions.Pool). The error is nil only when the
// command exited with status 0; otherwise it is a [*ScriptError] (Result
// holds stderr) or says why the command could not run.
func (f *Farm) Exec(ctx context.Context, serverID, command string) ([]byte, error) {
	e, err := f.scriptEngine()
	if err != nil {
		return nil, err
	}
	s, err := f.liveServer(serverID)
	if err != nil {
		return nil, fmt.Errorf("farm: Exec: %w", err)
	}
	r, err := e.command(ctx, s, command)
	return []byte(r.Stdout), err
}

// RunCommand runs command on srv for the "command" health check: nil when
// it exits with status 0.
func (e *scriptEngine) RunCommand(ctx context.Context, srv Server, command string) error {
	_, err := e.command(ctx, srv, command)
	return err
}

// command runs a one-off command on a server with the unlogged executor.
func (e *scriptEngine) command(ctx context.Context, s Server, command string) (scripting.Result, error) {
	t, err := e.target(s, nil, nil, false)
	if err != nil {
		return scripting.Result{}, fmt.Errorf("farm: %w", err)
	}
	e.claim(t.Addr, t.ServerID)
	script := scripting.Script{Name: "command", Body: scripting.Escape(command)}
	r := e.pool.Run(ctx, t, scripting.Job{Script: script})
	if !r.OK() {
		return r, scriptFailure(script, []scripting.Result{r}, 1)
	}
	return r, nil
}

// scriptEngine returns the engine, or ErrNoScripting.
func (f *Farm) scriptEngine() (*scriptEngine, error) {
	if f.scripts == nil {
		return nil, ErrNoScripting
	}
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return f.scripts, nil
}
