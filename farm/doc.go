// Package farm runs an elastic server farm over any cloud: a farm of roles,
// each a group of identical servers launched from a vanilla image, kept at
// its desired count, configured by scripts bound to events and replaced
// when it fails.
//
// # Specs
//
// A [Spec] names the farm and lists its roles; a [RoleSpec] says what one
// role runs (image, instance type, zones), how many servers it has (Min,
// Max, and Desired to start with), what each server gets (user data,
// tags, variables), how it is checked (HealthChecks, HealthAction), in
// which order roles start (DependsOn) and which servers go first when the
// role shrinks (TerminationPolicy). Zero fields take the defaults listed
// with each field.
//
//	spec := farm.Spec{
//		Name: "shop",
//		Roles: []farm.RoleSpec{
//			{Name: "db", Image: "ami-db", Min: 1, Max: 1},
//			{Name: "app64", Image: "ami-app", Min: 2, Max: 5, DependsOn: []string{"db"},
//				HealthChecks: []farm.HealthCheckSpec{{Kind: "http", URL: "http://%internal_ip%/health"}}},
//		},
//	}
//
// [Spec.Validate] reports every problem at once, each a [*FieldError]
// naming the role, the field and its value (`role "app64": min 5 > max 3`),
// before anything is launched; [New] calls it and refuses an invalid spec.
// Farm and role names must be DNS labels, since they become tags and host
// names.
//
// # Loading from YAML
//
// A farm file holds the same spec in YAML, with snake_case keys and
// durations written "30s" or "10m"; a test farm and a live farm can share
// one definition:
//
//	name: shop
//	location: us-east-1
//	roles:
//	  - name: app64
//	    image: ami-app
//	    min: 2
//	    max: 5
//	    zones: [us-east-1a, us-east-1b]
//	    depends_on: [db]
//	    launch_timeout: 10m
//	    health_action: reboot-then-replace
//	    health_checks:
//	      - {kind: http, url: "http://%internal_ip%:8080/health", expect_status: 200, interval: 15s}
//
// [LoadFile] and [ParseYAML] read it. A key the spec does not know is an
// error, and every error names the file and line: "shop.yaml:5: role
// "app64": min 5 > max 3".
//
// # The controller
//
// [New] makes a [Farm] over a provider.Provider; it calls nothing yet.
// [Farm.Launch] starts the farm (FarmLaunched) and runs the first
// reconciliation; [Farm.Run] keeps reconciling every TickInterval until its
// context ends; [Farm.Terminate] takes everything down gracefully and waits
// until the cloud reports every server gone (FarmTerminated); [Farm.Close]
// releases the Farm object. [Farm.Status] is a snapshot of every role and
// server; [Farm.WaitReady] and [Farm.Wait] wait for one.
//
// Run and Launch are separate and may come in either order: Run alone
// starts nothing. Until Launch the farm is stopped (Status says so, and
// each role's note says to call Launch), and a tick only lists the cloud.
// Launch refuses a definition the provider cannot serve (a zone it does
// not have) before anything is launched.
//
// Failure is never silent. [Farm.WaitReady] returns nil only once every
// role is at its count and the Running servers' HostUp scripts have
// finished; as soon as a server fails (its blocking scripts or hooks, a
// script that exits non-zero, a health check past its threshold) it
// returns a [ReadyError] naming each server and why. The same failures are
// events ([EventType.Failure]: HostInitFailed, ScriptFailed, CheckFailed,
// BackupFailed, and OperationFailed for what the farm does in the
// background) that [Farm.SubscribeFailures] delivers alone (see Failures
// below). [Event.String]
// prints an event as one line, and [Timeline] prints a farm's events and
// script results as they happen, as the examples do.
//
// Each tick ([Farm.Reconcile]) is level-triggered: it lists the cloud once
// by the farm's tag, adopts servers it did not launch (a restarted
// controller takes over what runs instead of launching again), folds in
// what the cloud reports, then decides per role, with pure functions, what
// to launch and what to terminate, and does it. Servers are spread evenly
// over the role's zones (or fill them in order); a zone that answered
// InsufficientCapacity or QuotaExceeded gets nothing for Options.ZoneCooloff.
// Launches into one zone are one provider call for all their servers.
//
// Each launch carries an idempotency token derived from the farm, the role,
// the instance indexes it fills and the attempt number (tags
// provider.TagSlot and [TagAttempt] on the servers), so a call whose answer
// was lost is retried with the same token and the cloud launches once; a
// launch whose outcome is unknown holds its indexes until its servers show
// up, so a failing provider never makes the farm launch twice. Throttled
// and Unavailable calls are retried with back-off.
//
// [Farm.SetDesired] sets a role's count within its bounds (this is what
// scaling drives); [Farm.SetBounds] moves the bounds. [ChooseVictims] is
// the pure rule for which servers go when a role shrinks. [Farm.SetProtected]
// and [Farm.SetMaster] keep a server out of scale-in; [Farm.SetServerVars]
// sets its script variables. [Farm.As] hands out the provider's client.
//
// # Events and hooks
//
// Everything the farm does is an [Event] (HostUp, HostDown, CheckFailed,
// ... and custom events, declared in Spec.Events and fired by
// [Farm.FireEvent]). [Farm.Subscribe] delivers
// them in order to a function, from a goroutine and an unbounded queue of
// its own: the controller never waits for a subscriber.
//
// A [Hook] takes part in the lifecycle. When the cloud reports a new server
// running it enters StateInitializing, and the hooks get HostInit and then
// BeforeHostUp synchronously, in a goroutine of the farm's, bounded by the
// role's InitTimeout; the controller's loop goes on meanwhile. When they
// all return nil the server is Running and HostUp fires; an error fires
// HostInitFailed and the server is replaced (or kept, see
// RoleSpec.OnInitFailure). Before a server in service is terminated, the
// hooks get BeforeHostTerminate, bounded by TerminateTimeout. Every other
// event reaches a hook asynchronously, like a subscriber. Scripts, DNS and
// load-balancer registration are hooks (see below).
//
// # Failures
//
// Every failure reaches the program as a returned error, an event it can
// filter ([Farm.SubscribeFailures] delivers the [EventType.Failure] ones
// alone), or a status it reads; never only as a log line:
//
//   - bad input (a spec, a farm file, SetDesired or SetBounds out of
//     range, an unknown custom event): an error from the call, before
//     anything launches;
//   - a server's initialisation (blocking scripts or hooks):
//     HostInitFailed, and a [ReadyError] from [Farm.WaitReady];
//   - a script in the background: ScriptFailed, and the scripting log;
//   - a health check past its threshold: CheckFailed;
//   - a backup: BackupFailed and [Farm.Backups]; deleting old ones:
//     OperationFailed (op "backup_retention");
//   - a rollout batch: RolloutBatchFailed and the role's status;
//   - a hook's error or timeout on a non-blocking event, or on
//     BeforeHostTerminate: OperationFailed (op "hook", Params "event");
//   - a DNS write, after an event, in a failover or in the periodic
//     re-sync: OperationFailed (op "dns", Params "name", "type"), and
//     [Farm.DNSRecords] (Err); [Farm.SyncDNS] returns it;
//   - load balancer registration (RoleSpec.LoadBalancer) and
//     Options.LoadBalancers' backends: OperationFailed (op
//     "load_balancer"), and [Farm.BackendsStatus];
//   - a failover that found no master (every candidate's promotion
//     failed, the old master could not be fenced): OperationFailed (op
//     "failover") and an entry in [Farm.Failovers] with NewMaster empty
//     and Err set; a DNS move that failed is that entry's Err;
//   - a tick, a scaling evaluation, a round of health checks or backups
//     that failed in [Farm.Run]: OperationFailed (op "reconcile",
//     "scaling", "health_checks", "backups"), once per different error
//     until a round succeeds; a tick's error is also [Status].LastError,
//     and [Farm.Reconcile] and the other calls return it;
//   - the cloud refusing to terminate a server: OperationFailed (op
//     "terminate"); the next tick tries again;
//   - Options.Store refusing a write: an error from the call that made it
//     (a farm that cannot save does not act); for a failover's writes and
//     host key pins in the background, OperationFailed (op "store");
//   - a launch: the role's LastError in [Status], and the launch is tried
//     again (a zone out of capacity is avoided for a while).
//
// # Health checks
//
// A server the cloud reports running can be dead all the same. Each role
// lists [HealthCheckSpec]s: "tcp" (connect to a port), "http" (GET a URL,
// expect a status), "ssh" (read the sshd banner), "command" (run a command
// through Options.CommandRunner), or any [HealthCheck] written in Go. Each
// runs every Interval on every Running server, at most
// Options.HealthConcurrency at once. FailureThreshold failures in a row make
// the check unhealthy (CheckFailed), RecoveryThreshold passes healthy again
// (CheckRecovered). The role's HealthAction then replaces the server,
// reboots it first (RebootComplete when a check passes again; replaced if
// it fails again before it recovers), or only reports. Run schedules the
// checks; tests call [Farm.CheckHealth].
//
// # Self-healing
//
// A server the cloud reports gone is replaced in the next tick (HostDown);
// one it reports stopped or failed is marked Failed, terminated and
// replaced; a launch that stays pending past the role's LaunchTimeout is
// terminated and launched again under a new attempt number; an unhealthy
// server is replaced per its HealthAction. Replacements take the lowest
// free instance index. Min and Max always hold.
//
// # Time
//
// The farm reads and waits on time only through Options.Clock (package
// clock). Tests drive a farm on a clock.Fake tick by tick with
// [Farm.Reconcile], [Farm.CheckHealth] and [Farm.Settle], or run it with
// [Farm.Run] inside a testing/synctest bubble on the real clock, where a
// day of farm activity takes milliseconds.
//
// # Deadlines
//
// No step waits on the network without a deadline, so that a cloud API, a
// DNS server, an SSH port or a load balancer that accepts and never
// answers cannot hold the controller. Each try of a provider call and
// each background delivery of an event to a hook is bounded by
// Options.StepTimeout (default 2 minutes, on the real clock); a tick whose
// call stalled returns "farm: list zones: no answer within ..." and the
// next tick tries again. Scripts have their own timeouts (a binding's
// Timeout; a database's PromoteTimeout for its promote, fence and demote
// scripts), an SSH dial its DialTimeout, a DNS update its updater's
// timeout and attempts, a master move Options.DNSVerify's Timeout. The
// locks held across such calls (the tick, the DNS sync, the scaling
// evaluation) are given up when the caller's context ends, and Close
// ends every step in progress.
//
// A provider call is retried by one loop only: a driver that retries some
// errors itself (provider.Retrier: the EC2 driver's SDK retryer, the
// Rackspace driver's throttling loop) is not retried again for them; the
// farm retries the rest up to three times within a tick. Run also writes
// the DNS names again every Options.DNSResync (default a minute) when one
// differs from what the farm wants, repairing a name a failed write left
// stale.
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
// one-off command and returns its output, and [Farm.ReadFile] reads a file
// (scaling reads /proc/loadavg and /proc/meminfo with it). The "command"
// health check runs over the same SSH. These three share one connection
// per server, kept open between calls (scripting.Pool, configured by
// ScriptingOptions.Pool): a read costs a session, not a handshake, and
// ReadFile's SFTP session starts no process on the server.
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
// Losing nothing acknowledged: with a FenceScript the farm first fences
// the lost master (the script leaves it read-only or stops the database;
// a server that does not answer is terminated at the cloud; without
// either, the failover waits), and with a PositionScript it then reads
// each replica's replication position ([ParsePosition]: a GTID list or a
// number) and promotes the most advanced replica before any zone rule.
// Under semi-synchronous replication with AFTER_SYNC that replica holds
// every commit the master acknowledged; the master's name moves only after
// the fence and the promotion, so clients never reach two writable
// masters. [Failover].Fenced and Positions record both steps. The MariaDB
// preset of package farm/roles sets all three scripts.
//
// # Backups
//
// A role's [BackupSpec] backs it up on an interval, inside a daily window
// read in the farm's time zone, by volume snapshots through the provider's
// provider.Snapshotter or by a script whose last output line names the
// backup, on a replica when one is in service. The newest Keep completed
// backups are kept and older ones deleted; each backup fires BackupComplete
// or BackupFailed (backup_id, backup_method, backup_server, backup_seq),
// and one still running past twice its interval fires BackupFailed with
// stuck "true". Run checks every 30 s ([Farm.RunBackups] does one pass for
// programs on a fake clock); [Farm.BackupNow] takes one at once;
// [Farm.Backups] lists the records, which live in Options.Store under
// "backup/" when the farm has one, else in memory.
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
// /proc over SSH with [Farm.ReadFile] (scaling.Proc), which needs
// Options.Scripting.
//
// Scale-in is graceful: the victims are chosen by [ChooseVictims] (never a
// protected server or a database master while another can go, the zone
// with most servers first, then by the role's TerminationPolicy), their
// BeforeHostTerminate hooks and scripts run, a role with a LoadBalancer
// deregisters them from it (provider.LoadBalancer; servers are registered
// when they enter service), and only then are they terminated.
//
// A load balancer the program drives itself (HAProxy on a role of the
// farm, see package farm/roles) is a [Backends] in Options.LoadBalancers,
// under the name the roles give in RoleSpec.LoadBalancer. The farm keeps
// its backends equal to the servers in service of those roles, and drains
// a server chosen for termination before its BeforeHostTerminate scripts
// and hooks run; [Farm.BackendsStatus] reports the last call and its error.
//
// [Farm.APITarget] lets other systems read a role's capacity, set its
// desired count or fire a custom event over HTTP with package scaling's
// handler, authenticated by a bearer token or an HMAC signature. Only roles
// whose spec enables it (`scaling: {api: {}}`, ScalingSpec.API) take role
// calls; another role gets 403, an unknown one 404, an unauthenticated call
// 401 (reading or changing nothing), bad input 400:
//
//	mux.Handle("/scaling/", scaling.NewHandler(f.APITarget(), scaling.BearerToken(token), nil))
//	// GET  /scaling/roles/app          → {"role":"app","desired":4,"running":4,"min":2,"max":8}
//	// POST /scaling/roles/app/desired {"desired": 5}
//	// POST /scaling/events/deploy     {"version": "1.4.2"}
//
// # Changing a running farm: Plan and Apply
//
// [Farm.Plan] compares a new spec (an edited farm file) with the farm as
// it runs and returns a [SpecPlan], role by role: servers to launch or
// terminate for new bounds, servers to replace for a new image or instance
// type, script bindings whose version changes (and on how many servers in
// service they would re-run), DNS names and other fields that change. It
// changes nothing; its String is a readable diff:
//
//	farm "shop": 1 role changes
//	~ role app
//	    image: ami-1 -> ami-2 (replace 4 servers in batches)
//	    max: 6 -> 8
//	    script deploy (HostUp): version 1 -> 2 (re-run on 4 servers with RerunScripts)
//
// [Farm.Apply] carries it out: new bounds at once, new binding versions for
// the events that fire from now on (and, with ApplyOptions.RerunScripts,
// on the servers in service now: a ScriptsRerun event says how many
// failed), and a rollout for each role whose image or instance type
// changes. Changes a running farm does not take (roles added or removed,
// DNS names, zones, health checks, ...: SpecPlan.Unsupported) make Apply
// refuse the whole spec, changing nothing.
//
// A rollout replaces the role's servers in batches (ApplyOptions.BatchSize
// or BatchPercent, default 1). A batch launches its new servers first, over
// the role's desired count, and terminates its old servers (gracefully,
// with their BeforeHostTerminate scripts) only once every new one is in
// service: its HostInit and BeforeHostUp hooks passed (HostUp fired) and,
// when the role has health checks, they passed. The role therefore never
// has fewer servers in service than before the batch, and a batch also
// waits while fewer than ApplyOptions.MinHealthy (default the role's min)
// would stay. A new server that fails its initialisation or its checks, or
// a batch not ready within BatchTimeout, fails the batch: its new servers
// are terminated, and the rollout rolls back (OnFailure RollBack, the
// default: the servers of the new build are replaced with the old build,
// in batches, the same way) or pauses (Pause: the role launches the old
// build again). Apply waits for its rollouts (ApplyOptions.NoWait does
// not; [Farm.WaitRollouts] waits later) and returns an error wrapping
// [ErrRolloutFailed] when one did not finish. [Farm.Rollouts] reports each
// role's rollout. Each step fires an event: RolloutStarted,
// RolloutBatchStarted, RolloutBatchDone, RolloutBatchFailed,
// RollbackStarted, RolloutPaused, RolloutFinished, RollbackFinished.
//
// Rollouts are steps of Reconcile, so Run drives them, and with a Store
// their progress is saved at every step: a controller restarted on the
// Store (even with the old spec) resumes the rollout where it was,
// replacing the new servers of the batch under way, whose hooks it cannot
// vouch for. New servers take the lowest free indexes, so a role's
// %instance_index% values move during a rollout.
//
// # Cost and budget
//
// A role may set PricePerHour (YAML price_per_hour): what one of its
// servers costs per hour. [Farm.Cost] reports the farm's running cost per
// hour and its cost so far and this month, counted from its servers'
// lifetimes on the farm's clock (from the launch until the listing that
// shows the server gone); with Options.Store the cost so far survives a
// restart. Spec.Budget (YAML budget: {per_hour: 5, per_month: 3000})
// blocks scale-out past it: a policy's growth stops where the budget ends
// and a ScalingDecision says so in its reason (with params "blocked":
// "budget" and "wanted" when the count stays), and SetDesired past it
// returns an error. The budget never blocks replacing failed servers, nor
// growing a role up to its minimum. package farm/metrics exports
// farmhand_cost_per_hour and farmhand_cost_total.
//
// # Drills
//
// [Farm.Drill] tests the farm's self-healing on purpose: it kills a
// fraction of a role's servers (DrillServers), a database role's master
// (DrillMaster) or every server in one zone (DrillZone), through the
// provider or DrillSpec.Kill, waits until the farm has healed, and returns
// a [DrillReport]: what was killed, what replaced it, how long the farm
// took to see it (the victims' HostDown) and to heal, and which scripts
// failed meanwhile. It is safe by design: [Farm.PlanDrill] is its dry
// run; a drill is refused, killing nothing, on a farm that is not healthy
// (a role short of servers in service, or rolling out), past its blast
// radius (DrillSpec.MaxVictims, default 1), or when it would leave a role
// below its minimum in service. Reports are kept under "drill/" keys in
// the Store and returned by [Farm.Drills], also after a restart;
// [Farm.DrillEvery] runs a drill on a schedule. examples/drill runs one.
//
// # The Store
//
// A controller's own state (what the cloud's tags cannot tell) lives in
// Options.Store, a store.Store opened per farm: store/boltstore keeps it in
// one local file, store/etcdstore in etcd for several controllers, and
// store.Memory in the process. The farm writes there
//
//   - each role's desired count and bounds, as SetDesired, SetBounds, the
//     scaling API and the policy leave them; the scaling state (cooldowns,
//     breach streaks, the API-set count), the last decision and the history;
//   - each database and NFS role's master, and a failover under way
//     (written before the promote script runs, removed once NewDBMaster
//     fired);
//   - every launch before its Launch call (write-ahead: the zone, the
//     indexes and the attempt from which the idempotency token derives),
//     removed once its outcome is known;
//   - the servers being scaled in, the launched and terminating flags;
//   - the scripting log, when ScriptingOptions.Log is nil: an entry is
//     saved before the log shows it, so ExecuteScript and
//     [Farm.ScriptingLog] only ever report saved entries;
//   - the host keys pinned for the servers' addresses.
//
// [New] reads it back: a controller restarted on the same Store keeps a
// count set through the API instead of taking what runs, continues
// cooldowns, retries an unfinished launch with its own token, marks the
// saved master again once the first listing shows it (and when that master
// died meanwhile, fails over from it with the promote script, instead of
// electing a first master or trusting DNS), resumes a failover cut short
// with the same candidate, and shows the same scripting log. New refuses a
// Store that holds another farm's state or records of a newer schema, and
// Options.Store's own Open refuses a damaged, locked or newer file.
//
// A farm that cannot write its Store does not act: Reconcile returns the
// error without calling the cloud, and SetDesired and the scaling API
// return it. Keys the farm does not know are left alone, so that later
// records (backups, drills, rollouts) can be added under keys of their own.
// Without a Store the farm keeps all of this in memory, as before: see the
// README for what that costs.
//
// # Several controllers
//
// A Farm is run by one controller at a time. To run many farms from
// several controller processes, with no single point of failure, share
// them on etcd with package cluster: each process joins under a lease, each
// farm is owned by exactly one live process (the others keep off it), and
// the owner makes the Farm in its work function with Options.Store set to
// the farm's store/etcdstore store fenced by its ownership, so that every
// state write compares the ownership in the same etcd transaction. When an
// owner dies its farms move within two lease TTLs: the new owner's Launch
// adopts the running servers and New restores the state the old one
// saved. An owner that cannot reach etcd stops its farms (their context
// ends) before etcd could hand them to another, and says so in
// cluster.Event. See package cluster.
package farm
