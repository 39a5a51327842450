// Package metrics exports farms to Prometheus through
// github.com/prometheus/client_golang: a [Collector] the program registers
// once and points at its farms.
//
//	c := metrics.New(nil)
//	prometheus.MustRegister(c)
//	f, err := farm.New(spec, c.Provider(cloud), &farm.Options{
//		DNS:       c.DNS(updater),
//		Scripting: &farm.ScriptingOptions{Library: lib, Key: key, OnResult: c.ScriptResult},
//	})
//	stop, err := c.Watch(f)
//	http.Handle("/metrics", promhttp.Handler())
//
// # What is exported
//
// Read from the farms at each scrape ([Collector.Watch]):
//
//   - farmhand_servers{farm,role,state}: servers by state (Pending,
//     Initializing, Running, PendingTerminate, Terminated, Failed);
//   - farmhand_role_desired_servers, farmhand_role_min_servers,
//     farmhand_role_max_servers{farm,role};
//   - farmhand_ssh_connections_open, farmhand_ssh_pool_dials_total and
//     farmhand_ssh_pool_reuses_total{farm}: the connections the farm keeps
//     to its servers for Exec, ReadFile, command checks and load reads
//     (farm.Farm.SSHPoolStats);
//   - farmhand_backup_age_seconds{farm,role}: since the newest complete
//     backup of a role with a backup section finished (farm.Farm.Backups),
//     absent until there is one.
//
// Counted from the farms' events:
//
//   - farmhand_scaling_actions_total{farm,role,direction,reason}: direction
//     up, down or bounds; reason the names of the scaling checks that voted
//     for the change ("threshold load1", "schedule"), or api or program;
//   - farmhand_heal_duration_seconds{farm,role}: from a server's unplanned
//     HostDown (not a scale-in, not the farm's termination) to the next
//     HostUp in its role, on the farm's clock;
//   - farmhand_failover_duration_seconds{farm,role}: from the detection of
//     a lost database or NFS master to the announcement of the new one
//     (farm.Failover's Detected and Announced);
//   - farmhand_backups_total{farm,role,result}: BackupComplete and
//     BackupFailed;
//   - farmhand_events_total{farm,type}.
//
// Counted by the wrappers and the callback the program puts in place:
//
//   - farmhand_provider_calls_total, farmhand_provider_errors_total (with
//     the provider.Code as code) and farmhand_provider_call_duration_seconds
//     {provider,operation}, through [Collector.Provider], which keeps the
//     wrapped provider's optional capabilities;
//   - farmhand_dns_updates_total{operation,result}, through
//     [Collector.DNS], which keeps compare-and-swap when the updater has it;
//   - farmhand_script_runs_total{farm,role,script,status} and
//     farmhand_script_failures_total{farm,role,script}, through
//     [Collector.ScriptResult] as farm.ScriptingOptions.OnResult.
package metrics
