package roles

import (
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// HAProxyOptions tune the HAProxy preset; zero values mean the defaults
// given with each field. Role overrides any field of the RoleSpec, and
// Role.Variables any variable.
type HAProxyOptions struct {
	// DNSName, when set, is a name the farm keeps pointing at the load
	// balancers' public addresses ("www.example.com"; the farm needs
	// Options.DNS).
	DNSName string
	// Role overrides the preset's RoleSpec field by field; Name defaults
	// to "lb", Min and Max to 1 and 2.
	Role farm.RoleSpec
	// LoadBalancer is the name the fronted roles give in
	// RoleSpec.LoadBalancer, and the key of the Backends in
	// farm.Options.LoadBalancers; default "www".
	LoadBalancer string
	// Bind and Port are where HAProxy listens (haproxy_bind, default
	// 0.0.0.0; haproxy_port, default 80).
	Bind string
	Port int
	// BackendPort is the port of the fronted servers (haproxy_backend_port,
	// default 80) and HealthPath the URL HAProxy checks them with
	// (haproxy_check_path, default /health).
	BackendPort int
	HealthPath  string
	// Config is the configuration file (haproxy_config, default
	// /etc/haproxy/haproxy.cfg) and Socket the admin stats socket
	// (haproxy_socket, default /run/haproxy/admin.sock).
	Config string
	Socket string
	// DrainTimeout bounds the wait for a drained server's requests in
	// progress; default 30 s (and the fronted role's TerminateTimeout).
	DrainTimeout time.Duration
}

// The HAProxy preset's defaults.
const (
	DefaultHAProxyConfig = "/etc/haproxy/haproxy.cfg"
	DefaultHAProxySocket = "/run/haproxy/admin.sock"
	DefaultDrainTimeout  = 30 * time.Second
)

// haproxyBackend is the backend section the fronted servers go in.
const haproxyBackend = "farm"

// HAProxy returns the HAProxy load balancer preset and the Backends that
// keeps its backend list equal to the servers in service of the roles that
// name opts.LoadBalancer, through HAProxy's runtime API. Put the Backends in
// farm.Options.LoadBalancers under HAProxyBackends.Name and call
// HAProxyBackends.Bind with the farm before Launch:
//
//	lb, backends := roles.HAProxy(roles.HAProxyOptions{})
//	opts.LoadBalancers = map[string]farm.Backends{backends.Name(): backends}
//	f, err := farm.New(spec, cloud, opts)
//	backends.Bind(f)
func HAProxy(o HAProxyOptions) (Preset, *HAProxyBackends) {
	lbName := or(o.LoadBalancer, "www")
	def := farm.RoleSpec{
		Name: "lb", Min: 1, Max: 2,
		Variables: map[string]string{
			"haproxy_packages":     "haproxy socat",
			"haproxy_config":       DefaultHAProxyConfig,
			"haproxy_socket":       DefaultHAProxySocket,
			"haproxy_bind":         "0.0.0.0",
			"haproxy_port":         "80",
			"haproxy_backend_port": "80",
			"haproxy_check_path":   "/health",
			"haproxy_user":         "haproxy",
			"haproxy_maxconn":      "4096",
			"haproxy_balance":      "roundrobin",
			"haproxy_start":        "fh_service haproxy restart",
			"haproxy_reload":       "fh_service haproxy reload",
			"haproxy_stop":         "fh_service haproxy stop",
		},
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostInit, Script: "haproxy-init", Blocking: true, Timeout: 10 * time.Minute},
			{Event: farm.BeforeHostTerminate, Script: "haproxy-stop", Blocking: true, Timeout: time.Minute},
		},
	}
	role := build(def, map[string]string{
		"haproxy_bind":         o.Bind,
		"haproxy_port":         itoa(o.Port),
		"haproxy_backend_port": itoa(o.BackendPort),
		"haproxy_check_path":   o.HealthPath,
		"haproxy_config":       o.Config,
		"haproxy_socket":       o.Socket,
	}, o.Role)
	withDNS(&role, o.Role, o.DNSName, "public")
	if o.Role.HealthChecks == nil {
		role.HealthChecks = []farm.HealthCheckSpec{{Name: "haproxy", Kind: "tcp", Host: tcpHost(role.Variables["haproxy_bind"]), Port: atoiOr(role.Variables["haproxy_port"], 80)}}
	}
	b := newHAProxyBackends(lbName, role, or(o.DrainTimeout, DefaultDrainTimeout))
	return Preset{Role: role, Scripts: haproxyScripts()}, b
}

func haproxyScripts() []scripting.Script {
	return []scripting.Script{
		script("haproxy-init", "installs HAProxy and socat, writes its configuration (an empty backend the farm fills through the runtime API), checks it and starts HAProxy", `
fh_install haproxy %haproxy_packages%
fh_install socat socat
CONF=$(fh_abs "%haproxy_config%")
SOCK=$(fh_abs "%haproxy_socket%")
PIDFILE=$(dirname "$SOCK")/haproxy.pid
BIND="%haproxy_bind%"
if [ -z "$BIND" ]; then BIND="%internal_ip%"; fi
mkdir -p "$(dirname "$CONF")" "$(dirname "$SOCK")"
USERLINE=
if [ -n "%haproxy_user%" ]; then USERLINE="user %haproxy_user%"; fi
cat > "$CONF" <<EOF
`+haproxyConfig+`EOF
haproxy -c -f "$CONF" >/dev/null
%haproxy_start%
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
test -S "$SOCK"
`),
		script("haproxy-stop", "stops HAProxy", `
CONF=$(fh_abs "%haproxy_config%")
SOCK=$(fh_abs "%haproxy_socket%")
PIDFILE=$(dirname "$SOCK")/haproxy.pid
%haproxy_stop%
`),
	}
}

// haproxyConfig is the configuration haproxy-init writes, as the body of
// an unquoted here-document: $SOCK, $BIND and $USERLINE are the script's.
const haproxyConfig = `# Written by farmhand (farm/roles HAProxy preset). The farm adds and
# removes the servers of backend "farm" through the admin socket.
global
    stats socket $SOCK mode 600 level admin expose-fd listeners
    stats timeout 30s
    maxconn %haproxy_maxconn%
    $USERLINE

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 5s
    option redispatch
    retries 3
    retry-on conn-failure empty-response response-timeout 502 503
    default-server inter 1s fall 2 rise 1

frontend www
    bind $BIND:%haproxy_port%
    default_backend farm

backend farm
    balance %haproxy_balance%
    option httpchk GET %haproxy_check_path%
    http-check expect status 200
    # farmhand servers begin
    # farmhand servers end
`
