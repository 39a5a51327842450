// Package roles is a catalog of predefined roles: each preset is a
// farm.RoleSpec with its scripts (for the farm's scripting library), bound
// to the right events, with its health check, DNS names and variables.
// Every field of the returned RoleSpec can be changed before the farm is
// built, and every setting the scripts use is a %variable% the role, the
// farm or a server can override.
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
