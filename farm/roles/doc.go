// Package roles is a catalog of predefined roles: each preset is a
// farm.RoleSpec with its scripts bound to the right events, its health
// check, its DNS names and its variables, ready for a farm.Spec. Every field
// is overridable: a preset takes an options struct whose zero values mean
// the defaults, and whose Role field overrides any RoleSpec field (its
// Variables any variable, key by key); MariaDB takes its options and
// returns the RoleSpec and its scripts, which can be changed before the
// farm is built.
//
//	lib := scripting.NewLibrary(nil)
//	spec := farm.Spec{Name: "shop"}
//	lb, backends := roles.HAProxy(roles.HAProxyOptions{})
//	err := roles.Apply(&spec, lib, roles.App(roles.AppOptions{}), lb)
//	f, err := farm.New(spec, cloud, &farm.Options{
//		Scripting:     &farm.ScriptingOptions{Library: lib, Key: key},
//		LoadBalancers: map[string]farm.Backends{backends.Name(): backends},
//	})
//	backends.Bind(f)
//
// # How the scripts work
//
// Every script starts from a vanilla Debian or Ubuntu image: it installs
// its package with apt-get when the program is missing (variable
// NAME_packages), writes the program's configuration, checks it with the
// program itself (nginx -t, haproxy -c, squid -k parse) and starts or
// reloads the service (systemctl where systemd runs, else service(8)).
// The paths, ports, bind addresses and the start, reload and stop commands
// are variables, so that the same scripts run in tests on the fake cloud,
// where the program is already installed, paths are relative to the fake
// server's sandbox directory, and the "service" is a daemon the script
// starts itself bound to the server's address. A bind address left empty
// means the server's private address (%internal_ip%).
//
// DNSName in a preset's options gives the role a name the farm keeps
// pointing at its servers (private addresses, public ones for the load
// balancers; the farm needs Options.DNS); the NFS preset always has one,
// of select "master".
//
// # App server (App)
//
// nginx serving a document root, or proxying to the application
// (app_upstream), with GET /health answering 200. Role "app", 2 to 10
// servers, LoadBalancer "www", an http health check on /health.
//
// Events: HostInit (blocking) app-init installs nginx, writes app_config
// (the whole nginx.conf: the preset owns the server's nginx), checks it and
// runs app_start; BeforeHostTerminate (blocking) app-stop runs app_stop (a
// graceful stop: the load balancer has drained the server before).
//
// Variables: app_packages (nginx), app_config (/etc/nginx/nginx.conf),
// app_root (/var/www/app), app_bind (empty: the private address), app_port
// (80), app_upstream (empty), app_user (www-data), app_pid
// (/run/nginx.pid), app_temp_dir (/var/lib/nginx), app_log_dir
// (/var/log/nginx), app_start, app_reload, app_stop (the nginx service).
//
// # HAProxy load balancer (HAProxy)
//
// HAProxy in front of the roles whose RoleSpec.LoadBalancer is the preset's
// name ("www"), with an admin stats socket through which HAProxyBackends,
// a farm.Backends, keeps backend "farm" equal to the servers in service:
// it adds servers as they enter service, drains a server chosen for
// termination before its BeforeHostTerminate scripts run (no new requests;
// it waits until the server's sessions end, up to DrainTimeout), then puts
// it in maintenance and deletes it, and drops a crashed server. A config
// rewrite and reload is only the fallback for an HAProxy whose runtime API
// cannot add or delete servers (older than 2.5). The frontend retries a
// request whose connection failed on another server (retry-on, redispatch),
// and checks the servers with GET haproxy_check_path every second.
// Role "lb", 1 to 2 servers, a tcp health check on the frontend.
//
// Events: HostInit (blocking) haproxy-init installs haproxy and socat,
// writes haproxy_config, checks it with haproxy -c and runs haproxy_start;
// BeforeHostUp (the Backends' hook) fills the new HAProxy's backend before
// it enters service; BeforeHostTerminate (blocking) haproxy-stop runs
// haproxy_stop.
//
// Variables: haproxy_packages (haproxy socat), haproxy_config
// (/etc/haproxy/haproxy.cfg), haproxy_socket (/run/haproxy/admin.sock),
// haproxy_bind (0.0.0.0), haproxy_port (80), haproxy_backend_port (80),
// haproxy_check_path (/health), haproxy_user (haproxy), haproxy_maxconn
// (4096), haproxy_balance (roundrobin; a static algorithm such as static-rr
// makes every change a configuration reload), haproxy_start, haproxy_reload, haproxy_stop (the haproxy service).
//
// # nginx load balancer (NginxLB)
//
// nginx in front of the roles whose RoleSpec.LoadBalancer is the preset's
// name ("www"), proxying to upstream "farm" (keep-alive, the next server on
// an error). NginxBackends, a farm.Backends, writes the servers into
// nginx_lb_upstream_file, checks the configuration with nginx -t (an
// upstream that fails it is put back) and reloads nginx, then waits until
// the old configuration's workers have finished their requests: a server
// left out is drained before its BeforeHostTerminate scripts run. Role
// "web", 1 to 2 servers, a tcp health check.
//
// Events: HostInit (blocking) nginx-lb-init; BeforeHostUp (the Backends'
// hook) fills the upstream; BeforeHostTerminate (blocking) nginx-lb-stop.
//
// Variables: nginx_lb_packages (nginx), nginx_lb_config
// (/etc/nginx/nginx.conf), nginx_lb_upstream_file
// (/etc/nginx/farmhand-upstream.conf), nginx_lb_bind (0.0.0.0),
// nginx_lb_port (80), nginx_lb_backend_port (80), nginx_lb_user
// (www-data), nginx_lb_pid, nginx_lb_temp_dir, nginx_lb_log_dir,
// nginx_lb_start, nginx_lb_reload, nginx_lb_stop.
//
// # Squid caching proxy (Squid)
//
// Squid 5 serving the networks of squid_allow, with a disk cache (created
// with squid -z on first start) and a memory cache. Role "proxy", 1 to 2
// servers, a tcp health check on squid_port.
//
// Events: HostInit (blocking) squid-init installs squid, writes
// squid_config, checks it with squid -k parse, creates the cache and runs
// squid_start; BeforeHostTerminate (blocking) squid-stop.
//
// Variables: squid_packages (squid), squid_config (/etc/squid/squid.conf),
// squid_bind (empty: the private address), squid_port (3128), squid_allow
// (the private ranges and 127.0.0.0/8), squid_cache_dir
// (/var/spool/squid), squid_cache_mb (1024), squid_mem_mb (256), squid_pid
// (/run/squid.pid), squid_log_dir (/var/log/squid), squid_user (proxy),
// squid_start, squid_reload, squid_stop.
//
// # memcached (Memcached)
//
// memcached listening on the private address only (UDP off). Role
// "cache", 1 to 4 servers, a tcp health check.
//
// Events: HostInit (blocking) memcached-init installs memcached, writes
// memcached_config in Debian's format (one option per line, as
// /etc/memcached.conf) and runs memcached_start; BeforeHostTerminate
// (blocking) memcached-stop.
//
// Variables: memcached_packages (memcached), memcached_config
// (/etc/memcached.conf), memcached_bind (empty: the private address),
// memcached_port (11211), memcached_mb (64), memcached_conns (1024),
// memcached_user (memcache), memcached_pid, memcached_start,
// memcached_stop.
//
// # NFS server and clients (NFS, NFSClient)
//
// NFS is a role with farm.NFSSpec: one kernel NFS server exporting
// nfs_export, under a DNS name of select "master" (DNSName,
// "nfs.farm.internal" by default; the farm needs Options.DNS) that the farm
// moves when the server is replaced, firing farm.NFSServerChanged. Role
// "nfs", one server, a tcp health check on 2049.
//
// Events: HostInit (blocking) nfs-server-init installs nfs-kernel-server
// (nfs_install), creates the export, writes its exports(5) line to
// nfs_exports_file and runs nfs_start and nfs_apply (exportfs -ra).
// Variables: nfs_install, nfs_export (/srv/shared), nfs_clients (*),
// nfs_options (rw,sync,no_subtree_check), nfs_exports_file
// (/etc/exports.d/farmhand.exports), nfs_apply, nfs_start.
//
// NFSClient adds to a client role (Preset.AddTo): HostInit (blocking)
// nfs-client-mount installs nfs-common and mounts nfs_server:nfs_export on
// nfs_mount; NFSServerChanged nfs-client-remount unmounts and mounts again
// from the event's nfs_name. Variables: nfs_client_install, nfs_server,
// nfs_export, nfs_mount (/mnt/shared), nfs_mount_options, nfs_mount_cmd,
// nfs_umount_cmd.
//
// A kernel NFS server cannot run in this project's tests (no nfsd in a
// container), so the tests run the scripts with nfs_start and nfs_apply
// turned off and check the exports line with CheckExports, which knows
// exports(5) syntax and options (the classic "host (rw)" space that
// exports to the world is refused), instead of exportfs.
//
// # Tests
//
// Each preset's configuration is checked by the real program in this
// package's tests: nginx -t for the app server and the nginx load
// balancer, haproxy -c and its runtime API for HAProxy, squid -k parse and
// squid -z for Squid, and memcached is started on loopback and answers
// "stats". They skip when a program is missing and fail under CI=true.
//
// internal/bench/lb (go run ./internal/bench/lb, -kind nginx) runs a real
// HAProxy (or nginx) in front of real nginx app servers on the fake cloud,
// each bound to its fake server's loopback address, while the farm scales
// out, scales in and replaces a crashed server, with requests going
// through it all along, and prints "lb requests=N failed=0 scale_events=3".
//
// # MariaDB master and replicas
//
// [MariaDB] runs MariaDB 10.11 (Debian's mariadb-server, installed on a
// vanilla image when missing) as one master and replicas: GTID
// replication from the address the master's DNS name resolves to,
// semi-synchronous replication with AFTER_SYNC (a commit returns only once
// a replica has it), and the farm's database failover with the most
// advanced replica promoted (mariadb-position), the old master fenced
// first (mariadb-fence: read_only, then mariadbd killed; the farm
// terminates the server when it does not answer), and the other replicas
// re-pointed on NewDBMaster (mariadb-repoint). mariadb-backup and
// mariadb-restore dump a replica and seed a fresh server from a dump.
// [MariaDBVariables] lists the settings and their defaults.
//
//	role, scripts, err := roles.MariaDB(roles.MariaDBOptions{
//		Image: "debian-12", MasterName: "db.shop.example", Replicas: 2})
//	for _, s := range scripts {
//		lib.Save(s)
//	}
//	spec.Roles = append(spec.Roles, role)
//
// The option file the scripts generate is checked by mariadbd itself
// (mariadbd --defaults-file=... --help --verbose) in this package's tests,
// which also run the scripts against real mariadbd processes on loopback.
package roles
