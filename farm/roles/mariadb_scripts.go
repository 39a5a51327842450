package roles

// The MariaDB preset's scripts. Each is the shared prelude followed by its
// own part; every value comes from a %mariadb_...% variable (see
// MariaDBVariables), so that a test can point the datadir, socket, port,
// bind address and binaries at a temporary directory.

// mariadbPrelude sets the shell variables every script uses.
const mariadbPrelude = `set -eu
master_name='%mariadb_master_name%'
port='%mariadb_port%'
bind='%mariadb_bind_address%'
[ -n "$bind" ] || bind='%internal_ip%'
base="%mariadb_dir%"
datadir="$base/data"
sock="$base/mysqld.sock"
cnf="$base/my.cnf"
pidfile="$base/mysqld.pid"
repl_user='%mariadb_repl_user%'
repl_password='%mariadb_repl_password%'
client='%mariadb_client%'
sql() { "$client" --no-defaults --socket="$sock" -uroot -N -B -e "$1"; }
slave_field() { "$client" --no-defaults --socket="$sock" -uroot -e 'SHOW SLAVE STATUS\G' | awk -v f="$1:" '$1 == f { print $2 }'; }
resolve_master() { %mariadb_resolve%; }
alive() { [ -d "/proc/$1" ] && grep -q mariadbd "/proc/$1/comm" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
running() { [ -f "$pidfile" ] && alive "$(cat "$pidfile")"; }
`

// mariadbConfigure writes the option file.
const mariadbConfigure = `
mkdir -p "$base/tmp"
sid='%mariadb_server_id%'
if [ -z "$sid" ]; then
  sid=$(echo "$bind" | awk -F. '{ n = ($1 * 16777216 + $2 * 65536 + $3 * 256 + $4) \% 4294967295; if (n == 0) n = 1; printf "\%d\n", n }')
fi
cat > "$cnf.new" <<EOF
[mariadbd]
user=%mariadb_os_user%
datadir=$datadir
socket=$sock
pid-file=$pidfile
tmpdir=$base/tmp
port=$port
bind-address=$bind
server-id=$sid
log-basename=farm
log-bin=$datadir/binlog
binlog-format=ROW
gtid-strict-mode=ON
log-slave-updates=ON
read-only=ON
skip-name-resolve
rpl-semi-sync-master-enabled=ON
rpl-semi-sync-slave-enabled=ON
rpl-semi-sync-master-wait-point=AFTER_SYNC
rpl-semi-sync-master-timeout=%mariadb_semisync_timeout_ms%
log-error=$base/error.log
%mariadb_options%
EOF
mv "$cnf.new" "$cnf"
echo "$cnf"
`

// mariadbInstall installs MariaDB when missing, writes the option file,
// creates the data directory and starts mariadbd.
const mariadbInstall = `
if ! [ -x '%mariadb_mariadbd%' ]; then
  %mariadb_install%
fi
` + mariadbConfigure + `
if ! [ -d "$datadir/mysql" ]; then
  '%mariadb_install_db%' --no-defaults --datadir="$datadir" --user='%mariadb_os_user%' --skip-test-db --tmpdir="$base/tmp" >"$base/install-db.log" 2>&1 ||
    { grep -i -m 10 'error' "$base/install-db.log" >&2 || tail -n 20 "$base/install-db.log" >&2; exit 1; }
fi
if ! running; then
  setsid '%mariadb_mariadbd%' --defaults-file="$cnf" </dev/null >>"$base/mariadbd.out" 2>&1 &
fi
i=0
until '%mariadb_admin%' --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 600 ]; then
    echo "mariadbd did not start within 60 s; the end of $base/error.log:" >&2
    tail -20 "$base/error.log" >&2 || true
    exit 1
  fi
  sleep 0.1
done
`

// mariadbSetup makes the server the master when the master name points at
// it, else a replica of the address the name resolves to.
const mariadbSetup = `
i=0
while :; do
  m=$(resolve_master 2>/dev/null || true)
  [ -z "$m" ] || break
  i=$((i + 1))
  if [ "$i" -ge %mariadb_resolve_tries% ]; then
    echo "the master name $master_name does not resolve" >&2
    exit 1
  fi
  sleep 0.1
done
if [ "$m" = "$bind" ]; then
  if [ -n "$(sql 'SHOW SLAVE STATUS')" ]; then
    echo "the master name points at this server, but it replicates; leaving it read-only" >&2
    exit 1
  fi
  sql "CREATE USER IF NOT EXISTS '$repl_user'@'\%' IDENTIFIED BY '$repl_password';
GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN, BINLOG MONITOR ON *.* TO '$repl_user'@'\%';
CREATE DATABASE IF NOT EXISTS %mariadb_app_database%;
CREATE USER IF NOT EXISTS '%mariadb_app_user%'@'\%' IDENTIFIED BY '%mariadb_app_password%';
GRANT ALL ON %mariadb_app_database%.* TO '%mariadb_app_user%'@'\%';
SET GLOBAL read_only=OFF;"
  echo "master"
elif [ -z "$(sql 'SHOW SLAVE STATUS')" ]; then
  sql "CHANGE MASTER TO MASTER_HOST='$m', MASTER_PORT=$port, MASTER_USER='$repl_user',
MASTER_PASSWORD='$repl_password', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;"
  echo "replica of $m"
else
  echo "replica already"
fi
`

// mariadbPosition prints the GTID position the server has received: the
// relay log's for a replica, the binlog's otherwise.
const mariadbPosition = `
io=$(slave_field Gtid_IO_Pos)
if [ -n "$io" ]; then
  echo "$io"
else
  sql 'SELECT @@gtid_current_pos'
fi
`

// mariadbFence leaves the old master unable to take writes: read_only if
// it answers, and mariadbd stopped for good in any case.
const mariadbFence = `
sql "SET GLOBAL read_only=ON" >/dev/null 2>&1 || true
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile")
  if alive "$pid"; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  i=0
  while alive "$pid"; do
    i=$((i + 1))
    [ "$i" -lt 100 ] || { echo "mariadbd $pid survived SIGKILL" >&2; exit 1; }
    sleep 0.1
  done
fi
echo fenced
`

// mariadbPromote makes a replica the master once it has applied every
// transaction it received.
const mariadbPromote = `
sql "STOP SLAVE IO_THREAD" || true
io=$(slave_field Gtid_IO_Pos)
if [ -n "$io" ]; then
  r=$(sql "SELECT MASTER_GTID_WAIT('$io', %mariadb_apply_timeout_s%)")
  if [ "$r" != 0 ]; then
    echo "the relay log was not applied up to $io within %mariadb_apply_timeout_s% s" >&2
    exit 1
  fi
fi
sql "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF;"
echo "promoted at $(sql 'SELECT @@gtid_current_pos')"
`

// mariadbRepoint makes the other replicas follow the new master once the
// master name points at it.
const mariadbRepoint = `
if [ '%server_id%' = '%new_master_id%' ] || [ '%server_id%' = '%old_master_id%' ]; then
  exit 0
fi
new='%new_master_ip%'
i=0
while m=$(resolve_master 2>/dev/null || true); [ "$m" != "$new" ]; do
  i=$((i + 1))
  if [ "$i" -ge %mariadb_resolve_tries% ]; then
    echo "the master name $master_name does not resolve to $new yet; using the address" >&2
    m=$new
    break
  fi
  sleep 0.1
done
sql "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='$m', MASTER_PORT=$port, MASTER_USER='$repl_user',
MASTER_PASSWORD='$repl_password', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;"
echo "replica of $m"
`

// mariadbBackup dumps every database to the backup directory, from a
// replica's consistent view (--single-transaction, with the GTID
// position), and prints the dump's path.
const mariadbBackup = `
dir="%mariadb_backup_dir%"
mkdir -p "$dir"
name="mariadb-$(date -u +\%Y\%m\%dT\%H\%M\%SZ)-%server_id%.sql.gz"
'%mariadb_dump%' --no-defaults --socket="$sock" -uroot --all-databases --single-transaction \
  --gtid --master-data=2 --routines --events --triggers | gzip > "$dir/$name.part"
mv "$dir/$name.part" "$dir/$name"
echo "$dir/$name"
`

// mariadbRestore seeds this server from a dump (mariadb_restore_path,
// else the newest in the backup directory) without writing its own binlog,
// and sets its replication position to the dump's, so that it can then
// replicate from the master from there.
const mariadbRestore = `
f="%mariadb_restore_path%"
dir="%mariadb_backup_dir%"
[ -n "$f" ] || f=$(ls -1 "$dir"/mariadb-*.sql.gz 2>/dev/null | sort | tail -n 1)
[ -n "$f" ] && [ -f "$f" ] || { echo "no backup to restore (mariadb_restore_path '$f', directory '$dir')" >&2; exit 1; }
gtid=$(gzip -dc "$f" | sed -n "s/^-- SET GLOBAL gtid_slave_pos='\([0-9,-]*\)'.*/\1/p" | head -n 1)
{ echo "SET SESSION sql_log_bin=0;"; gzip -dc "$f"; } | "$client" --no-defaults --socket="$sock" -uroot
sql "RESET MASTER; SET GLOBAL gtid_slave_pos='$gtid';"
echo "restored $f at $gtid"
`

// mariadbDelete removes a dump named by backup_id, only from the backup
// directory.
const mariadbDelete = `
dir="%mariadb_backup_dir%"
f='%backup_id%'
case "$f" in
  "$dir"/mariadb-*.sql.gz) rm -f -- "$f" ;;
  *) echo "not a dump of $dir: $f" >&2; exit 1 ;;
esac
echo "deleted $f"
`
