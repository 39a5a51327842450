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
// # DNS and database failover
//
// A role declares DNS names ([DNSName]) and the farm keeps them true
// through Options.DNS, a dnsupdate.Updater (RFC 2136 with TSIG, Route 53,
// DNS Made Easy, dyndns2, or dnsupdate.Memory in tests):
//
//	dns:
//	  - {name: int-app64.example.com}                   # every app server's private IP
//	  - {name: ext-app64.example.com, address: public}  # their public IPs
//
// After HostUp, HostDown, BeforeHostTerminate (the leaving server is
// dropped before it goes), IPAddressChanged, NewDBMaster and
// [NFSServerChanged] the farm computes every name's addresses from the
// servers in service and writes the names that changed; a name left
// without servers is deleted. [Farm.DNSRecords] tells what was written
// and the last error of each name; [Farm.SyncDNS] rebuilds them on demand,
// and a controller that takes over a running farm calls it after Launch.
//
// A database role ([DatabaseSpec]) has one master, [Server.Master]: the
// first of its servers to enter service. Its names of select "master"
// point at the master only:
//
//	roles:
//	  - name: db
//	    min: 2
//	    max: 2
//	    database: {promote_script: promote-mysql}
//	    dns:
//	      - {name: db.example.com, select: master, ttl: 30s}
//
// When the master is lost (the cloud reports it gone, stopped or failed;
// a health check fails past its threshold; or it is about to be
// terminated) the farm, in a goroutine of its own per role, unmarks it,
// picks a replica (the old master's zone first, then healthy, then longest
// in service), runs the promote script there with [Farm.RunScript], marks
// it master, moves the master names with a compare-and-swap on the address
// the farm wrote before (a controller with a stale view cannot move them
// back: its swap is refused, reported in [Failover].Err and DNSRecords,
// and nothing is overwritten), waits until every server of
// Options.DNSVerify serves the new address with a newer zone serial, and
// fires NewDBMaster (old_master_id, old_master_ip, new_master_id,
// new_master_ip, dns_verified). Scripts bound to NewDBMaster on the roles
// that use the database run on their servers (see Scripts above). The
// role's reconciliation then launches a replacement, a replica. A role is
// never seen with two masters: the old one is unmarked before the new one
// is marked. A former master still in service (its checks failed, then
// recovered) is demoted with DemoteScript or replaced. [Farm.Failovers]
// returns each failover's timeline: detected, promoted, DNS set, verified,
// announced.
//
// An NFS role ([NFSSpec]) moves its name the same way when its server is
// replaced, and fires NFSServerChanged, to which client roles bind their
// remount scripts.
//
// TTL and negative caching: a resolver keeps an answer for its TTL, so
// clients see a moved name only once their copy expires. Keep master names
// short (30 to 60 seconds; the default is 60) and have reconnect scripts
// drop the clients' connection pools. A resolver told that a name does not
// exist keeps that for the zone's negative TTL, min(SOA TTL, SOA MINIMUM)
// (RFC 2308), often an hour. So the farm never deletes a master name while
// it looks for a new master (it leaves the old address until the new one
// is set); create the names before clients ask for them, and keep the
// zone's SOA MINIMUM low (dnsupdate.ReadSOA shows it).
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
