package roles

import (
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// SquidOptions tune the Squid caching proxy preset; zero values mean the
// defaults given with each field.
type SquidOptions struct {
	// DNSName, when set, is a name the farm keeps pointing at the role's
	// private addresses (the farm needs Options.DNS).
	DNSName string
	// Role overrides the preset's RoleSpec field by field; Name defaults
	// to "proxy", Min and Max to 1 and 2.
	Role farm.RoleSpec
	// Bind and Port are where Squid listens (squid_bind, default empty:
	// the private address; squid_port, default 3128).
	Bind string
	Port int
	// Allow lists the client networks Squid serves (squid_allow, default
	// the private ranges and loopback).
	Allow string
	// CacheMB is the disk cache's size (squid_cache_mb, default 1024) and
	// MemMB the memory cache's (squid_mem_mb, default 256).
	CacheMB, MemMB int
}

// Squid returns the Squid caching proxy preset.
func Squid(o SquidOptions) Preset {
	def := farm.RoleSpec{
		Name: "proxy", Min: 1, Max: 2,
		Variables: map[string]string{
			"squid_packages":  "squid",
			"squid_config":    "/etc/squid/squid.conf",
			"squid_bind":      "",
			"squid_port":      "3128",
			"squid_allow":     "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 127.0.0.0/8",
			"squid_cache_dir": "/var/spool/squid",
			"squid_cache_mb":  "1024",
			"squid_mem_mb":    "256",
			"squid_pid":       "/run/squid.pid",
			"squid_log_dir":   "/var/log/squid",
			"squid_user":      "proxy",
			"squid_start":     "fh_service squid restart",
			"squid_reload":    "fh_service squid reload",
			"squid_stop":      "fh_service squid stop",
		},
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostInit, Script: "squid-init", Blocking: true, Timeout: 10 * time.Minute},
			{Event: farm.BeforeHostTerminate, Script: "squid-stop", Blocking: true, Timeout: time.Minute},
		},
	}
	role := build(def, map[string]string{
		"squid_bind":     o.Bind,
		"squid_port":     itoa(o.Port),
		"squid_allow":    o.Allow,
		"squid_cache_mb": itoa(o.CacheMB),
		"squid_mem_mb":   itoa(o.MemMB),
	}, o.Role)
	withDNS(&role, o.Role, o.DNSName, "private")
	if o.Role.HealthChecks == nil {
		role.HealthChecks = []farm.HealthCheckSpec{{Name: "squid", Kind: "tcp", Host: tcpHost(role.Variables["squid_bind"]), Port: atoiOr(role.Variables["squid_port"], 3128)}}
	}
	vars := `CONF=$(fh_abs "%squid_config%")
PIDFILE=$(fh_abs "%squid_pid%")
CACHE=$(fh_abs "%squid_cache_dir%")
LOGS=$(fh_abs "%squid_log_dir%")
`
	return Preset{Role: role, Scripts: []scripting.Script{
		script("squid-init", "installs Squid, writes its configuration, checks it with squid -k parse, creates the cache and starts Squid", `
fh_install squid %squid_packages%
`+vars+`BIND="%squid_bind%"
if [ -z "$BIND" ]; then BIND="%internal_ip%"; fi
USERLINE=
if [ -n "%squid_user%" ]; then USERLINE="cache_effective_user %squid_user%"; fi
mkdir -p "$(dirname "$CONF")" "$(dirname "$PIDFILE")" "$CACHE" "$LOGS"
if [ -n "%squid_user%" ]; then chown "%squid_user%" "$CACHE" "$LOGS" 2>/dev/null || true; fi
cat > "$CONF" <<EOF
# Written by farmhand (farm/roles Squid preset).
acl farm src %squid_allow%
acl SSL_ports port 443
acl Safe_ports port 80 443 1025-65535
acl CONNECT method CONNECT
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow farm
http_access deny all
http_port $BIND:%squid_port%
cache_mem %squid_mem_mb% MB
cache_dir ufs $CACHE %squid_cache_mb% 16 256
coredump_dir $CACHE
pid_filename $PIDFILE
access_log stdio:$LOGS/access.log
cache_log $LOGS/cache.log
cache_store_log none
$USERLINE
refresh_pattern -i (/cgi-bin/|\?) 0 0 0
refresh_pattern . 0 20 4320
EOF
squid -k parse -f "$CONF"
if [ ! -d "$CACHE/00" ]; then squid -z --foreground -f "$CONF"; fi
%squid_start%
`),
		script("squid-stop", "stops Squid", vars+`%squid_stop%
`),
	}}
}

// MemcachedOptions tune the memcached preset; zero values mean the
// defaults given with each field.
type MemcachedOptions struct {
	// DNSName, when set, is a name the farm keeps pointing at the role's
	// private addresses (the farm needs Options.DNS).
	DNSName string
	// Role overrides the preset's RoleSpec field by field; Name defaults
	// to "cache", Min and Max to 1 and 4.
	Role farm.RoleSpec
	// Bind and Port are where memcached listens (memcached_bind, default
	// empty: the private address; memcached_port, default 11211).
	Bind string
	Port int
	// MemoryMB is the cache's size (memcached_mb, default 64) and
	// Connections the connection limit (memcached_conns, default 1024).
	MemoryMB, Connections int
}

// Memcached returns the memcached preset.
func Memcached(o MemcachedOptions) Preset {
	def := farm.RoleSpec{
		Name: "cache", Min: 1, Max: 4,
		Variables: map[string]string{
			"memcached_packages": "memcached",
			"memcached_config":   "/etc/memcached.conf",
			"memcached_bind":     "",
			"memcached_port":     "11211",
			"memcached_mb":       "64",
			"memcached_conns":    "1024",
			"memcached_user":     "memcache",
			"memcached_pid":      "/run/memcached/memcached.pid",
			"memcached_start":    "fh_service memcached restart",
			"memcached_stop":     "fh_service memcached stop",
		},
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostInit, Script: "memcached-init", Blocking: true, Timeout: 10 * time.Minute},
			{Event: farm.BeforeHostTerminate, Script: "memcached-stop", Blocking: true, Timeout: time.Minute},
		},
	}
	role := build(def, map[string]string{
		"memcached_bind":  o.Bind,
		"memcached_port":  itoa(o.Port),
		"memcached_mb":    itoa(o.MemoryMB),
		"memcached_conns": itoa(o.Connections),
	}, o.Role)
	withDNS(&role, o.Role, o.DNSName, "private")
	if o.Role.HealthChecks == nil {
		role.HealthChecks = []farm.HealthCheckSpec{{Name: "memcached", Kind: "tcp", Host: tcpHost(role.Variables["memcached_bind"]), Port: atoiOr(role.Variables["memcached_port"], 11211)}}
	}
	vars := `CONF=$(fh_abs "%memcached_config%")
PIDFILE=$(fh_abs "%memcached_pid%")
`
	return Preset{Role: role, Scripts: []scripting.Script{
		script("memcached-init", "installs memcached, writes /etc/memcached.conf (Debian's option-per-line format) and starts memcached", `
fh_install memcached %memcached_packages%
`+vars+`BIND="%memcached_bind%"
if [ -z "$BIND" ]; then BIND="%internal_ip%"; fi
USERLINE=
if [ -n "%memcached_user%" ]; then USERLINE="-u %memcached_user%"; fi
mkdir -p "$(dirname "$CONF")" "$(dirname "$PIDFILE")"
cat > "$CONF" <<EOF
# Written by farmhand (farm/roles memcached preset).
-l $BIND
-p %memcached_port%
-U 0
-m %memcached_mb%
-c %memcached_conns%
-P $PIDFILE
$USERLINE
EOF
%memcached_start%
`),
		script("memcached-stop", "stops memcached", vars+`%memcached_stop%
`),
	}}
}
