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
// (4096), haproxy_start, haproxy_reload, haproxy_stop (the haproxy service).
//
// internal/bench/lb runs a real HAProxy in front of real nginx app servers
// on the fake cloud while the farm scales out, scales in and replaces a
// crashed server, with requests going through it all along.
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
