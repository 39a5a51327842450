// Package farm runs an elastic server farm over any cloud: a farm of roles,
// each a group of identical servers launched from a vanilla image, kept at
// its desired count, configured by scripts bound to events and replaced
// when it fails.
//
// # Scripts
//
// With Options.Scripting set, the farm configures its servers over SSH with
// the scripts of a scripting.Library (see package scripting). A role binds
// scripts to events in RoleSpec.Scripts:
//
//	Scripts: []farm.ScriptBinding{
//		{Event: farm.HostInit, Script: "install", Blocking: true, Timeout: 10 * time.Minute},
//		{Event: farm.HostUp, Script: "hello"},
//		{Event: farm.NewDBMaster, Script: "reconnect"},
//	}
//
// or, in a farm file:
//
//	scripts:
//	  - {event: HostInit, script: install, blocking: true, timeout: 10m}
//	  - {event: HostUp, script: hello, version: 2}
//
// An event about a server or a role fires the bindings of that role;
// farm-wide events (custom events of [Farm.FireEvent], FarmLaunched,
// FarmTerminated) and NewDBMaster fire the bindings of every role, so the
// "reconnect" above, bound on an app role, runs on the app servers when the
// database role gets a new master. A binding's Target says where the
// script runs: the server the event is about (the default for server
// events), the binding's role, named roles, or the whole farm. See
// [ScriptBinding].
//
// A blocking HostInit or BeforeHostUp script that does not exit with
// status 0 (or times out, or cannot connect) fails the server's
// initialisation: HostInitFailed fires and the role's OnInitFailure
// replaces the server or keeps it for inspection. Other failures are only
// logged.
//
// Scripts see the variables of package scripting: the built-ins
// (%role_name%, %server_id%, %instance_index%, %internal_ip%,
// %external_ip%, %zone%, %image_id%, %farm_name% and %farm_id% (both the
// farm's name), %cloud_location% (Spec.Location)), %event_name% and the
// triggering server's variables as %event_internal_ip% and so on, the
// event's parameters (a custom event's, CheckFailed's %check%), and the
// user variables of Spec.Variables, RoleSpec.Variables and
// [Farm.SetServerVars], a narrower scope overriding a wider one. The same
// values are in the script's environment (FARM_ROLE_NAME). [New] refuses
// a binding whose script or version is not in the library, and one whose
// script uses a variable that no scope defines: give a server variable a
// default at the farm or role level. A custom event's parameters are
// checked when it fires, before anything connects.
//
// On demand, [Farm.ExecuteScript] runs a script now on [OnFarm],
// [OnRoles] or [OnServers], streaming each server's result;
// [Farm.RunScript] runs one on one server, for an event if need be (the
// database failover promotes a replica this way); [Farm.Exec] runs a
// one-off command and returns its output (scaling reads /proc/loadavg with
// it). The "command" health check runs over the same SSH.
//
// The farm logs in as ScriptingOptions.User ("root") with
// ScriptingOptions.Key, whose public half it installs on the servers it
// launches, at Server.SSHAddress when the provider tells one, else at the
// private IP on port 22. Host keys fail closed: by default each server's
// key comes from the provider (provider.HostKeyReader) and is pinned, and
// the pin is dropped when the server leaves, since clouds reuse addresses.
//
// Every script the farm runs is recorded in the scripting log
// ([Farm.ScriptingLog]): farm, role, server, event ([ManualEvent] for
// scripts run on demand), script and version, times, exit code and
// output. ScriptingOptions.OnResult streams the results as they come.
//
// # Scaling
//
// A role with RoleSpec.Scaling grows and shrinks within its Min and Max on
// its load, on a schedule, or on calls to an API; the decisions are those
// of package scaling (scale-up beats none beats scale-down, cooldowns,
// warm-up, a failed metric never shrinks a role). In a farm file:
//
//	scaling:
//	  evaluation_interval: 1m
//	  cooldown_up: 3m
//	  cooldown_down: 10m
//	  thresholds:
//	    - {metric: load1, up_above: 2.0, up_by: 50%, down_below: 0.8, down_by: 1, datapoints: 2}
//	  schedule:
//	    windows:
//	      - {days: [mon-fri], start: "08:00", end: "18:00", min: 4}
//	  api: {}
//
// Every EvaluationInterval (Run evaluates and then reconciles at once;
// tests and replays call [Farm.EvaluateScaling]) the farm measures the
// role's Running servers with its metric sources, decides, and sets the
// desired count, and the bounds while a schedule window is open. Each
// change fires ScalingDecision with its reason (params "from", "to",
// "reason") and is kept in [Farm.ScalingHistory]; [Farm.LastScalingDecision]
// tells why the last evaluation changed nothing.
//
// Metrics come from Options.MetricSources (a Prometheus query, a URL's
// response time, a Go function: scaling.Prometheus, scaling.URL,
// scaling.Func); the load averages and free RAM are otherwise read from
// /proc over SSH with [Farm.Exec] (scaling.Proc), which needs
// Options.Scripting.
//
// Scale-in is graceful: the victims are chosen by [ChooseVictims] (never a
// protected server or a database master while another can go, the zone
// with most servers first, then by the role's TerminationPolicy), their
// BeforeHostTerminate hooks and scripts run, a role with a LoadBalancer
// deregisters them from it (provider.LoadBalancer; servers are registered
// when they enter service), and only then are they terminated.
//
// [Farm.APITarget] lets other systems set a desired count or fire a custom
// event over HTTP with package scaling's handler, authenticated by a bearer
// token or an HMAC signature; an unauthenticated call gets 401 and changes
// nothing, bad input 400:
//
//	mux.Handle("/scaling/", scaling.NewHandler(f.APITarget(), scaling.BearerToken(token), nil))
//	// POST /scaling/roles/app/desired {"desired": 5}
//	// POST /scaling/events/deploy     {"version": "1.4.2"}
package farm
