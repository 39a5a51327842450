package farm

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scripting"
)

// ScriptingOptions turn on scripts: the bindings of RoleSpec.Scripts,
// [Farm.ExecuteScript], [Farm.RunScript], [Farm.Exec], and the "command"
// health check over SSH.
type ScriptingOptions struct {
	// Library holds the scripts that bindings and ExecuteScript name.
	// Required. One library may serve many farms.
	Library *scripting.Library
	// Key is the client key the farm logs in with (see
	// scripting.GenerateKey). Its public half is installed on every
	// server the farm launches, unless Options.SSHPublicKey is set.
	// Key or SSH.Signers is required.
	Key *scripting.KeyPair
	// User is the login user; empty means "root".
	User string
	// Port is the servers' SSH port when the provider does not tell a
	// server's SSH address; 0 means 22.
	Port int
	// UsePublicIP connects to the servers' public IPs instead of their
	// private ones, for a controller outside the cloud's network.
	UsePublicIP bool
	// Width caps how many servers one binding or ExecuteScript runs on at
	// once; 0 means scripting.DefaultWidth.
	Width int
	// Log is the scripting log: every script run through the farm is
	// recorded there (not the one-off commands of Exec and health
	// checks). nil means the farm's own log, in memory (the newest
	// scripting.DefaultLogCapacity entries) and, with Options.Store, saved
	// there before each entry shows; [Farm.ScriptingLog] returns it either
	// way.
	Log scripting.Log
	// SSH configures the executor: timeouts, output caps, the dialer, a
	// logger, more client keys. SSH.HostKeys nil means a store that takes
	// each server's host keys from the provider (when it implements
	// provider.HostKeyReader) and trusts nothing else. SSH.Log is
	// ignored (see Log); SSH.Clock nil means the real clock.
	SSH scripting.ExecutorOptions
	// Pool configures the connections kept open to each server for
	// one-off commands ([Farm.Exec], "command" health checks) and reads
	// ([Farm.ReadFile], the load and free RAM scaling reads); nil means
	// scripting's defaults.
	Pool *scripting.PoolOptions
	// OnResult, when set, is called with each script's result as soon as
	// it is known: bound scripts with their event, and scripts run on
	// demand with an event of type ManualEvent. Calls for one binding are
	// never concurrent; calls for different events may be.
	OnResult func(ev Event, r scripting.Result)
}

// ErrNoScripting is returned by the scripting methods of a Farm created
// without Options.Scripting.
var ErrNoScripting = errors.New("farm: scripting is off (Options.Scripting is nil)")

// scriptEngine runs the farm's scripts.
type scriptEngine struct {
	f        *Farm
	lib      *scripting.Library
	exec     *scripting.Executor // records in the scripting log
	quiet    *scripting.Executor // one-off commands, not logged
	pool     *scripting.Pool     // quiet's pooled connections (observe_ssh.go)
	hostKeys *scripting.HostKeys
	log      scripting.Log
	saved    *savedLog // the log when ScriptingOptions.Log is nil
	user     string
	port     int
	publicIP bool
	width    int
	onResult func(Event, scripting.Result)
	logger   *slog.Logger
	bindings []boundScript // sorted by Order, then role and binding

	mu        sync.Mutex
	addrOwner map[string]string          // address → server last reached there
	addrs     map[string]map[string]bool // server → addresses it was reached at
	reached   map[string]bool            // servers that answered once
	savedPins map[string]string          // address → the pins saved in the Store
}

// boundScript is a binding with the role it belongs to.
type boundScript struct {
	ScriptBinding
	role    string
	roleIdx int
	idx     int
}

func (b boundScript) ref() scripting.ScriptRef {
	return scripting.ScriptRef{Name: b.Script, Version: b.Version}
}

// newScriptEngine builds the engine from o.Scripting (nil when it is not
// set) and fills o's CommandRunner and SSHPublicKey when they are empty.
// It checks the bindings against the library and the variables.
func newScriptEngine(spec Spec, p provider.Provider, o *Options, log *slog.Logger) (*scriptEngine, error) {
	so := o.Scripting
	if so == nil && spec.ScriptsDir != "" {
		return nil, fmt.Errorf("farm: scripts_dir %q: the farm has no Options.Scripting to load the scripts into", spec.ScriptsDir)
	}
	if so == nil {
		for _, r := range spec.Roles {
			if len(r.Scripts) > 0 {
				return nil, fmt.Errorf("farm: role %q binds scripts, but Options.Scripting is nil", r.Name)
			}
		}
		return nil, nil
	}
	if so.Library == nil {
		return nil, errors.New("farm: Options.Scripting.Library is nil")
	}
	if spec.ScriptsDir != "" {
		if _, err := scripting.LoadDir(so.Library, spec.ScriptsDir); err != nil {
			return nil, fmt.Errorf("farm: scripts_dir: %w", err)
		}
	}
	if so.Width < 0 {
		return nil, fmt.Errorf("farm: Options.Scripting.Width %d is negative", so.Width)
	}
	if so.Port < 0 || so.Port > 65535 {
		return nil, fmt.Errorf("farm: Options.Scripting.Port %d is not within 1..65535", so.Port)
	}
	xo := so.SSH
	xo.Signers = slices.Clone(xo.Signers)
	if so.Key != nil {
		xo.Signers = append(xo.Signers, so.Key.Signer)
		if o.SSHPublicKey == "" {
			o.SSHPublicKey = so.Key.AuthorizedKey
		}
	}
	if len(xo.Signers) == 0 {
		return nil, errors.New("farm: Options.Scripting needs a client key: set Key or SSH.Signers")
	}
	if xo.Logger == nil {
		xo.Logger = log
	}
	if xo.HostKeys == nil {
		hko := &scripting.HostKeysOptions{Logger: log}
		if hr, ok := p.(provider.HostKeyReader); ok {
			hko.Source = hr
		}
		hk, err := scripting.NewHostKeys(hko)
		if err != nil {
			return nil, fmt.Errorf("farm: scripting host keys: %w", err)
		}
		xo.HostKeys = hk
	}
	scriptLog := so.Log
	var saved *savedLog
	if scriptLog == nil {
		saved = newSavedLog(o.Store) // see scripts_log_saved.go
		scriptLog = saved
	}
	xo.Log = nil
	quiet, err := scripting.NewExecutor(xo)
	if err != nil {
		return nil, fmt.Errorf("farm: Options.Scripting.SSH: %w", err)
	}
	xo.Log = scriptLog
	exec, err := scripting.NewExecutor(xo)
	if err != nil {
		return nil, fmt.Errorf("farm: Options.Scripting.SSH: %w", err)
	}
	e := &scriptEngine{
		lib: so.Library, exec: exec, quiet: quiet, pool: scripting.NewPool(quiet, so.Pool), hostKeys: xo.HostKeys, log: scriptLog, saved: saved,
		user: cmp.Or(so.User, "root"), port: cmp.Or(so.Port, 22), publicIP: so.UsePublicIP,
		width: cmp.Or(so.Width, scripting.DefaultWidth), onResult: so.OnResult, logger: log,
		addrOwner: map[string]string{}, addrs: map[string]map[string]bool{}, reached: map[string]bool{},
		savedPins: map[string]string{},
	}
	for i, r := range spec.Roles {
		for j, b := range r.Scripts {
			b.Roles = slices.Clone(b.Roles)
			e.bindings = append(e.bindings, boundScript{ScriptBinding: b, role: r.Name, roleIdx: i, idx: j})
		}
	}
	slices.SortStableFunc(e.bindings, func(a, b boundScript) int { return cmp.Compare(a.Order, b.Order) })
	if err := e.check(spec); err != nil {
		return nil, err
	}
	if o.CommandRunner == nil {
		o.CommandRunner = e
	}
	return e, nil
}

// start connects the engine to its farm: a hook for the blocking
// bindings (before any hook of Options.Hooks), a subscriber that runs the
// other bindings one event at a time, and one that drops the host keys of
// servers that left.
func (e *scriptEngine) start(f *Farm) {
	e.f = f
	f.scripts = e
	f.hooks = append(f.hooks, HookFunc(e.handleBlocking))
	f.bus.subscribe(e.handleEvent)
	f.bus.subscribe(func(ev Event) {
		if ev.Server != nil && (ev.Type == HostDown || ev.Type == IPAddressChanged) {
			e.forgetServer(ev.Server.ID)
		}
	})
}

// knownParams are the parameters of the built-in events whose parameters
// are fixed. Parameters named like built-in variables (internal_ip) are
// dropped: the built-ins hold the same values. Bindings of events missing
// here (custom events, NewDBMaster, backups) may use any variable; it is
// checked when the event fires, before anything runs.
var knownParams = map[EventType][]string{
	BeforeInstanceLaunch: {"count", "indexes"},
	HostInit:             nil,
	BeforeHostUp:         nil,
	HostUp:               nil,
	HostDown:             nil,
	HostInitFailed:       nil,
	BeforeHostTerminate:  nil,
	RebootComplete:       nil,
	IPAddressChanged:     {"old_internal_ip", "old_external_ip"},
	CheckFailed:          {"check", "failures", "error"},
	CheckRecovered:       {"check", "successes"},
	FarmLaunched:         nil,
	FarmTerminated:       nil,
	ScalingDecision:      {"from", "to"},
}

// builtinServerVars are the variables every script has.
var builtinServerVars = slices.Collect(maps.Keys(scripting.ServerVars(scripting.FarmInfo{}, scripting.ServerInfo{})))

// check reports, before anything is launched, bindings that name a script
// or version the library lacks, scripts that use a variable no scope
// defines, and user variables scripts cannot have.
func (e *scriptEngine) check(spec Spec) error {
	var errs []error
	add := func(path, role, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Role: role, Msg: fmt.Sprintf(format, args...)})
	}
	userVars := func(path, role string, vars map[string]string) {
		for _, k := range sortedKeys(vars) {
			switch {
			case scripting.IsBuiltin(k) || strings.HasPrefix(k, scripting.EventPrefix):
				add(path+"."+k, role, "variable %q is reserved for a built-in script variable", k)
			}
		}
	}
	userVars("variables", "", spec.Variables)
	roleVars := map[string]map[string]string{}
	for i, r := range spec.Roles {
		roleVars[r.Name] = r.Variables
		userVars(fmt.Sprintf("roles[%d].variables", i), r.Name, r.Variables)
	}
	for _, b := range e.bindings {
		path := fmt.Sprintf("roles[%d].scripts[%d]", b.roleIdx, b.idx)
		s, err := e.lib.Resolve(b.ref())
		if err != nil {
			what := fmt.Sprintf("script %q", b.Script)
			if b.Version != scripting.Latest {
				what += fmt.Sprintf(" version %d", b.Version)
			}
			add(path+".script", b.role, "scripts[%d]: %s is not in the scripting library", b.idx, what)
			continue
		}
		tmpl, err := s.Template()
		if err != nil {
			add(path+".script", b.role, "scripts[%d]: %v", b.idx, err)
			continue
		}
		params, fixed := knownParams[b.Event]
		if !fixed {
			continue
		}
		var targets []string
		switch b.target() {
		case TargetRoles:
			targets = b.Roles
		case TargetFarm:
			targets = slices.Collect(maps.Keys(roleVars))
		default:
			targets = []string{b.role}
		}
		var unknown []string
		for _, name := range tmpl.Names() {
			if definedFor(name, b.Event, params, spec.Variables, roleVars, targets) {
				continue
			}
			unknown = append(unknown, "%"+name+"%")
		}
		if len(unknown) > 0 {
			add(path+".script", b.role, "scripts[%d]: script %q v%d uses unknown variable %s on %s: define it in the farm's or the role's variables (server variables override those)",
				b.idx, s.Name, s.Version, strings.Join(unknown, ", "), b.Event)
		}
	}
	return errors.Join(errs...)
}

// definedFor reports whether a script bound to event ev has variable
// name on every server of the target roles.
func definedFor(name string, ev EventType, params []string, farmVars map[string]string, roleVars map[string]map[string]string, roles []string) bool {
	switch {
	case slices.Contains(builtinServerVars, name), name == scripting.VarEventName, slices.Contains(params, name):
		return true
	case strings.HasPrefix(name, scripting.EventPrefix):
		return ev.hasServer() && slices.Contains(builtinServerVars, strings.TrimPrefix(name, scripting.EventPrefix))
	}
	if _, ok := farmVars[name]; ok {
		return true
	}
	for _, r := range roles {
		if _, ok := roleVars[r][name]; !ok {
			return false
		}
	}
	return len(roles) > 0
}

// address returns where a server's sshd listens.
func (e *scriptEngine) address(s Server) (string, error) {
	if err := sshReachable(e.f.p, s.ID); err != nil {
		return "", err
	}
	if s.SSHAddress != "" {
		return s.SSHAddress, nil
	}
	ip := s.PrivateIP
	if e.publicIP {
		ip = s.PublicIP
	}
	if ip == "" {
		return "", fmt.Errorf("server %q (%s) has no address", s.ID, s.State)
	}
	return net.JoinHostPort(ip, strconv.Itoa(e.port)), nil
}

// sshReachable asks a provider that can tell whether server id has an
// sshd a client may dial; nil means dial.
func sshReachable(p provider.Provider, id string) error {
	if r, ok := p.(provider.SSHReacher); ok {
		return r.SSHReachable(id)
	}
	return nil
}

// claim notes that server id is reached at addr. An address last used by
// another server loses its pinned host key first: clouds reuse addresses,
// and the new server has a key of its own.
func (e *scriptEngine) claim(addr, id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if owner, ok := e.addrOwner[addr]; ok && owner != id {
		e.hostKeys.Forget(addr)
		delete(e.addrs[owner], addr)
	}
	e.addrOwner[addr] = id
	if e.addrs[id] == nil {
		e.addrs[id] = map[string]bool{}
	}
	e.addrs[id][addr] = true
}

// forgetServer drops the host keys pinned for the addresses a server that
// left (or moved) was reached at.
func (e *scriptEngine) forgetServer(id string) {
	e.mu.Lock()
	var dropped []string
	for addr := range e.addrs[id] {
		if e.addrOwner[addr] == id {
			e.hostKeys.Forget(addr)
			delete(e.addrOwner, addr)
			dropped = append(dropped, addr)
		}
	}
	delete(e.addrs, id)
	delete(e.reached, id)
	e.mu.Unlock()
	for _, addr := range dropped {
		e.pool.Forget(addr)
	}
	e.dropPins(dropped) // see scripts_pins_saved.go
}

// farmInfo describes the farm to scripts. The farm's name is its ID.
func (e *scriptEngine) farmInfo() scripting.FarmInfo {
	return scripting.FarmInfo{ID: e.f.spec.Name, Name: e.f.spec.Name, CloudLocation: e.f.spec.Location}
}

func serverInfo(s Server) scripting.ServerInfo {
	return scripting.ServerInfo{ID: s.ID, Role: s.Role, Index: s.Index, InternalIP: s.PrivateIP,
		ExternalIP: s.PublicIP, Zone: s.Zone, ImageID: s.Image}
}

// vars builds the variables of a script on server s for event ev (nil
// when run on demand); extra are the narrowest user variables.
func (e *scriptEngine) vars(s Server, ev *Event, extra map[string]string) (scripting.Vars, error) {
	c := scripting.Context{
		Farm:       e.farmInfo(),
		Server:     serverInfo(s),
		FarmVars:   e.f.spec.Variables,
		ServerVars: scripting.Merge(s.Vars, extra),
	}
	if r, ok := e.f.spec.Role(s.Role); ok {
		c.RoleVars = r.Variables
	}
	if ev != nil {
		info := &scripting.EventInfo{Name: string(ev.Type), Params: eventParams(*ev)}
		if ev.Server != nil {
			si := serverInfo(*ev.Server)
			info.Server = &si
		}
		c.Event = info
	}
	return c.Vars()
}

// eventParams are an event's parameters as script variables. The farm's
// own events carry some parameters named like built-in variables
// (IPAddressChanged's internal_ip); those are left to the built-ins.
func eventParams(ev Event) scripting.Vars {
	if !ev.Type.Builtin() {
		return ev.Params
	}
	out := scripting.Vars{}
	for k, v := range ev.Params {
		if scripting.ValidName(k) && !scripting.IsBuiltin(k) && !strings.HasPrefix(k, scripting.EventPrefix) {
			out[k] = v
		}
	}
	return out
}

// target turns a server into a scripting target with its variables.
// withVars false leaves the variables out (one-off commands).
func (e *scriptEngine) target(s Server, ev *Event, extra map[string]string, withVars bool) (scripting.Target, error) {
	addr, err := e.address(s)
	if err != nil {
		return scripting.Target{}, err
	}
	t := scripting.Target{Addr: addr, User: e.user, ServerID: s.ID, Farm: e.f.spec.Name, Role: s.Role}
	if withVars {
		v, err := e.vars(s, ev, extra)
		if err != nil {
			return scripting.Target{}, fmt.Errorf("server %q: %w", s.ID, err)
		}
		t.Vars = v
	}
	return t, nil
}
