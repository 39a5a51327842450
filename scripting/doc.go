// Package scripting configures servers with scripts: named, versioned
// script bodies with %var% templates, run over SSH on one server or fanned
// out over many, each execution recorded in the scripting log.
//
// It imports neither package farm nor any cloud driver. Farm code builds a
// [Context] per server, turns servers into [Target]s and calls
// [Executor.Run] or [Executor.RunMany]; host keys come from any
// [HostKeySource] (provider.HostKeyReader is one).
//
// # Scripts and versions
//
// A [Script] is a name, a body and a version. A [Library] keeps every
// version of every script in memory and is shared by all farms, so the
// script tried on a test farm is the one the live farm runs. [Library.Save]
// stores the next version (checking the template first);
// [Library.Get] with [Latest] returns the newest, and a [ScriptRef] lets an
// event binding pin a version or follow the latest.
//
// # Templates and variables
//
// %name% in a body is replaced by the variable's value. A name in a body
// is a lower-case ASCII letter, then lower-case letters, digits and
// underscores, two to 128 bytes, not ending in an underscore
// ([Referable]). Every other percent sign is left as it is, so scripts
// keep the percent signs of the tools they call (date +%F, date
// +%Y%m%d_%H%M, printf "%s%s\n", awk '{printf "%d%%"}', ${f%.txt}). \%
// writes a literal percent sign (\%role_name% stays text); every other
// backslash is copied as is. A reference to a variable the set does not
// define is an [UnknownVariablesError] naming all such variables and the
// script, found before anything connects.
//
// [Context.Vars] builds a server's variable set: the built-ins role_name,
// server_id, instance_index, internal_ip, external_ip, zone, image_id,
// farm_id, farm_name and cloud_location ([ServerVars]); event_name and the
// triggering server's variables as event_role_name, event_internal_ip, ...
// ([EventVars]); the event's parameters; and user variables of the farm,
// role and server, a narrower scope overriding a wider one. User variables
// and parameters may not take a built-in name or the event_ prefix.
//
// Every variable is also in the script's environment as FARM_ and its name
// in upper case (FARM_ROLE_NAME). The values travel in the command itself
// (env 'FARM_ROLE_NAME=app' ... sh -s, see [EnvCommand]) rather than in SSH
// "env" requests, which sshd drops unless its AcceptEnv allows the name.
//
// # Running over SSH
//
// An [Executor] runs a [Job] on a [Target] with golang.org/x/crypto/ssh,
// using ed25519 client keys by default ([GenerateKey]) and x/crypto's
// default key exchange preferences. Each dial is bounded by DialTimeout,
// handshake included (a deadline on the connection: ClientConfig.Timeout
// would bound only the TCP connect). Keepalive requests drop a server that
// vanished. A target with a Jump is reached through one connection to the
// bastion.
//
// The script goes to "sh -s" on stdin as one brace group with stdin from
// /dev/null, so nothing runs until all of it has arrived and commands
// reading stdin cannot swallow the rest. A script starting with "#!", one
// larger than UploadThreshold, or a job with Files is uploaded over SFTP to
// a fresh directory ($FARMHAND_DIR), run from there and removed. RunAs runs
// it through "sudo -n -u USER"; a missing sudo or one that wants a password
// is reported as [ErrRunAs].
//
// A job's timeout really stops the script: the script's process group (the
// login shell's, whose PID the command reports first) gets SIGTERM from a
// second session on the same connection, then SIGKILL after KillGrace.
// Processes that start their own session (daemons) are left alone. Stdout
// and stderr are kept up to OutputCap bytes each, with truncation flags.
// The login shell on the server must be a POSIX shell.
//
// # Host keys
//
// Host keys fail closed. [HostKeys] trusts a server through a pinned key
// ([HostKeys.Pin]), a key its [HostKeySource] reports for Target.ServerID,
// an OpenSSH known_hosts file, or, only when TrustOnFirstUse is set, the
// first key it presents; anything else is refused before connecting
// ([ErrHostKeyUnknown]) and a changed key is refused with both
// fingerprints ([ErrHostKeyMismatch]). The host key algorithms offered are
// chosen from the expected key types (ssh-rsa pins offer rsa-sha2-512 and
// rsa-sha2-256), so a server with several host keys presents the one that
// is pinned. Call [HostKeys.Forget] when a server is terminated: its address
// will be reused by a server with another key.
//
// # Fan-out
//
// [Executor.RunMany] runs a job on many targets, Width at a time (64 by
// default), one connection each. It renders the script for every target
// before connecting anywhere, then streams each [Result] to OnResult as it
// finishes and returns a [Summary]. An unreachable or silent server holds
// only its own slot, for at most DialTimeout.
//
// # Pooled connections
//
// An Executor makes a connection per run. A [Pool] keeps one connection
// per server open between runs, for what runs often: reading the load
// average or free memory, command health checks. [Pool.Run] and
// [Pool.Output] open a session on it (a process on the server, no
// handshake); [Pool.ReadFile] reads a file through an SFTP session kept on
// the connection, which starts no process at all (cat is used where the
// server has no SFTP). A connection serves one user, address and server ID,
// up to SessionsPerConn sessions at once; it closes after IdleTimeout
// unused, and the least recently used idle one makes room when MaxConns
// are open. It is reused only while the [HostKeys] still trust the key it
// presented, so Forget and a new pin take effect at once. A connection that
// broke is dropped, and a run that could not open its session on a reused
// connection is retried once on a new one. Reading /proc/loadavg on 200
// servers takes about 50 ms this way against about 2 s with a handshake
// per read (go run ./internal/bench/observe).
//
// # The scripting log
//
// Every execution can be recorded as a [LogEntry] (farm, role, server,
// event, script and version, times, exit code, timeout, capped output,
// error) in a [Log]: set ExecutorOptions.Log. [MemoryLog] is the in-memory
// default, a ring keeping the newest entries; [LogQuery] selects by farm,
// role, server, event, script, time and failures, newest first.
package scripting
