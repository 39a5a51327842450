package roles

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// NginxLBOptions tune the nginx load balancer preset; zero values mean the
// defaults given with each field.
type NginxLBOptions struct {
	// DNSName, when set, is a name the farm keeps pointing at the load
	// balancers' public addresses ("www.example.com"; the farm needs
	// Options.DNS).
	DNSName string
	// Role overrides the preset's RoleSpec field by field; Name defaults
	// to "web", Min and Max to 1 and 2.
	Role farm.RoleSpec
	// LoadBalancer is the name the fronted roles give in
	// RoleSpec.LoadBalancer; default "www".
	LoadBalancer string
	// Bind and Port are where nginx listens (nginx_lb_bind, default
	// 0.0.0.0; nginx_lb_port, default 80), BackendPort the fronted
	// servers' port (nginx_lb_backend_port, default 80).
	Bind              string
	Port, BackendPort int
}

// NginxLB returns the nginx load balancer preset and its farm.Backends,
// which writes the fronted servers into the upstream file
// (nginx_lb_upstream_file), checks the configuration with nginx -t and
// reloads nginx: a reload is graceful (old workers finish their requests),
// so a server leaving is drained. Use it as HAProxy's: put the Backends in
// farm.Options.LoadBalancers and call Bind after farm.New.
func NginxLB(o NginxLBOptions) (Preset, *NginxBackends) {
	def := farm.RoleSpec{
		Name: "web", Min: 1, Max: 2,
		Variables: map[string]string{
			"nginx_lb_packages":      "nginx",
			"nginx_lb_config":        "/etc/nginx/nginx.conf",
			"nginx_lb_upstream_file": "/etc/nginx/farmhand-upstream.conf",
			"nginx_lb_bind":          "0.0.0.0",
			"nginx_lb_port":          "80",
			"nginx_lb_backend_port":  "80",
			"nginx_lb_user":          "www-data",
			"nginx_lb_pid":           "/run/nginx.pid",
			"nginx_lb_temp_dir":      "/var/lib/nginx",
			"nginx_lb_log_dir":       "/var/log/nginx",
			"nginx_lb_start":         "fh_service nginx restart",
			"nginx_lb_reload":        "fh_service nginx reload",
			"nginx_lb_stop":          "fh_service nginx stop",
		},
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostInit, Script: "nginx-lb-init", Blocking: true, Timeout: 10 * time.Minute},
			{Event: farm.BeforeHostTerminate, Script: "nginx-lb-stop", Blocking: true, Timeout: time.Minute},
		},
	}
	role := build(def, map[string]string{
		"nginx_lb_bind":         o.Bind,
		"nginx_lb_port":         itoa(o.Port),
		"nginx_lb_backend_port": itoa(o.BackendPort),
	}, o.Role)
	withDNS(&role, o.Role, o.DNSName, "public")
	if o.Role.HealthChecks == nil {
		role.HealthChecks = []farm.HealthCheckSpec{{Name: "nginx", Kind: "tcp", Host: tcpHost(role.Variables["nginx_lb_bind"]), Port: atoiOr(role.Variables["nginx_lb_port"], 80)}}
	}
	b := &NginxBackends{lbBase: newLBBase("nginx", or(o.LoadBalancer, "www"), role)}
	b.lbBase.apply = b.apply
	return Preset{Role: role, Scripts: []scripting.Script{
		script("nginx-lb-init", "installs nginx, writes its configuration (an upstream the farm fills) and starts it", `
fh_install nginx %nginx_lb_packages%
`+nginxVars("nginx_lb")+`UPSTREAM=$(fh_abs "%nginx_lb_upstream_file%")
mkdir -p "$(dirname "$UPSTREAM")"
if [ ! -s "$UPSTREAM" ]; then echo "server 127.0.0.1:9 down;" > "$UPSTREAM"; fi
cat > "$CONF" <<EOF
`+nginxHead+`    upstream farm {
        include $UPSTREAM;
        keepalive 16;
    }
    server {
        listen $BIND:%nginx_lb_port%;
        location / {
            proxy_pass http://farm;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout http_502 http_503;
        }
    }
}
EOF
nginx -t -q -c "$CONF"
%nginx_lb_start%
`),
		script("nginx-lb-stop", "stops nginx gracefully", nginxVars("nginx_lb")+`%nginx_lb_stop%
`),
	}}, b
}

// NginxBackends is the farm.Backends of the nginx load balancer preset: it
// rewrites the upstream file of every nginx in service of the preset's role
// and reloads it.
type NginxBackends struct {
	lbBase

	// Address returns the address nginx sends a server's requests to, an
	// IP (with nginx_lb_backend_port) or "IP:port"; nil means its private
	// IP. Set it before Bind.
	Address func(farm.Server) string
}

var _ farm.Backends = (*NginxBackends)(nil)

// UpstreamLines returns the upstream block's lines for servers.
func (b *NginxBackends) UpstreamLines(servers []farm.Server) string {
	var sb strings.Builder
	for _, s := range servers {
		ip := s.PrivateIP
		if b.Address != nil {
			ip = b.Address(s)
		}
		if ip == "" {
			continue
		}
		addr := ip
		if _, _, err := net.SplitHostPort(ip); err != nil {
			addr = net.JoinHostPort(ip, b.vars["nginx_lb_backend_port"])
		}
		fmt.Fprintf(&sb, "server %s max_fails=1 fail_timeout=5s;\n", addr)
	}
	if sb.Len() == 0 {
		sb.WriteString("server 127.0.0.1:9 down;\n") // an upstream needs one
	}
	return sb.String()
}

func (b *NginxBackends) apply(ctx context.Context, f Farm, lbID string, servers []farm.Server) error {
	cmd := prelude + `CONF=$(fh_abs ` + shellQuote(b.vars["nginx_lb_config"]) + `)
PIDFILE=$(fh_abs ` + shellQuote(b.vars["nginx_lb_pid"]) + `)
UPSTREAM=$(fh_abs ` + shellQuote(b.vars["nginx_lb_upstream_file"]) + `)
NEW=` + shellQuote(b.UpstreamLines(servers)) + `
printf '%s' "$NEW" > "$UPSTREAM.farmhand-new"
if cmp -s "$UPSTREAM.farmhand-new" "$UPSTREAM"; then rm -f "$UPSTREAM.farmhand-new"; exit 0; fi
cp "$UPSTREAM" "$UPSTREAM.farmhand-old" 2>/dev/null || true
mv "$UPSTREAM.farmhand-new" "$UPSTREAM"
if ! nginx -t -q -c "$CONF"; then mv "$UPSTREAM.farmhand-old" "$UPSTREAM"; exit 1; fi
# The workers of the old configuration finish their requests and exit:
# wait for them, so that a server left out takes no more requests.
OLD=
MASTER=$(cat "$PIDFILE" 2>/dev/null || true)
if [ -n "$MASTER" ]; then OLD=$(ps -o pid= --ppid "$MASTER" 2>/dev/null || true); fi
` + b.vars["nginx_lb_reload"] + `
i=0
while [ $i -lt 300 ]; do
	alive=
	for p in $OLD; do if kill -0 "$p" 2>/dev/null; then alive=1; fi; done
	if [ -z "$alive" ]; then break; fi
	sleep 0.1
	i=$((i+1))
done
`
	if _, err := f.Exec(ctx, lbID, cmd); err != nil {
		return fmt.Errorf("upstream rewrite and reload: %w", err)
	}
	return nil
}
