package roles

import (
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// AppOptions tune the app server preset (nginx serving the app); zero
// values mean the defaults given with each field.
type AppOptions struct {
	// Role overrides the preset's RoleSpec field by field; Name defaults
	// to "app", Min and Max to 2 and 10, LoadBalancer to "www".
	Role farm.RoleSpec
	// Bind and Port are where nginx listens (app_bind, default empty: the
	// server's private address; app_port, default 80).
	Bind string
	Port int
	// Root is the document root (app_root, default /var/www/app).
	Root string
	// Upstream, when set, is the "host:port" of the application the
	// server proxies to (app_upstream), instead of serving Root.
	Upstream string
	// Config is nginx's main configuration file (app_config, default
	// /etc/nginx/nginx.conf: the preset owns the server's nginx).
	Config string
	// DNSName, when set, is a name the farm keeps pointing at every app
	// server's private address ("int-app.example.com"; the farm needs
	// Options.DNS).
	DNSName string
}

// App returns the app server preset: nginx serving a document root, or
// proxying to the application, with GET /health answering 200.
func App(o AppOptions) Preset {
	def := farm.RoleSpec{
		Name: "app", Min: 2, Max: 10, LoadBalancer: "www",
		TerminateTimeout: 2 * time.Minute,
		Variables: map[string]string{
			"app_packages": "nginx",
			"app_config":   "/etc/nginx/nginx.conf",
			"app_root":     "/var/www/app",
			"app_bind":     "",
			"app_port":     "80",
			"app_upstream": "",
			"app_user":     "www-data",
			"app_pid":      "/run/nginx.pid",
			"app_temp_dir": "/var/lib/nginx",
			"app_log_dir":  "/var/log/nginx",
			"app_start":    "fh_service nginx restart",
			"app_reload":   "fh_service nginx reload",
			"app_stop":     "fh_service nginx stop",
		},
		Scripts: []farm.ScriptBinding{
			{Event: farm.HostInit, Script: "app-init", Blocking: true, Timeout: 10 * time.Minute},
			{Event: farm.BeforeHostTerminate, Script: "app-stop", Blocking: true, Timeout: time.Minute},
		},
	}
	role := build(def, map[string]string{
		"app_bind":     o.Bind,
		"app_port":     itoa(o.Port),
		"app_root":     o.Root,
		"app_upstream": o.Upstream,
		"app_config":   o.Config,
	}, o.Role)
	withDNS(&role, o.Role, o.DNSName, "private")
	if o.Role.HealthChecks == nil {
		host := tcpHost(role.Variables["app_bind"])
		if host == "" {
			host = "%internal_ip%"
		}
		role.HealthChecks = []farm.HealthCheckSpec{{Name: "http", Kind: "http",
			URL: "http://" + host + ":" + role.Variables["app_port"] + "/health", ExpectStatus: 200}}
	}
	return Preset{Role: role, Scripts: []scripting.Script{
		script("app-init", "installs nginx, writes its configuration (a document root or a proxy to app_upstream, and /health), checks it with nginx -t and starts nginx", `
fh_install nginx %app_packages%
`+nginxVars("app")+`
ROOT=$(fh_abs "%app_root%")
mkdir -p "$ROOT"
if [ ! -e "$ROOT/index.html" ]; then echo "%role_name% %server_id%" > "$ROOT/index.html"; fi
UPSTREAM="%app_upstream%"
if [ -n "$UPSTREAM" ]; then
	SITE="location / { proxy_pass http://$UPSTREAM; proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; }"
else
	SITE="location / { try_files \$uri \$uri/ =404; }"
fi
cat > "$CONF" <<EOF
`+nginxHead+`    server {
        listen $BIND:%app_port%;
        root $ROOT;
        index index.html;
        location = /health { access_log off; return 200 "ok\n"; }
        $SITE
    }
}
EOF
nginx -t -q -c "$CONF"
%app_start%
`),
		script("app-stop", "stops nginx gracefully (requests in progress finish)", nginxVars("app")+`
%app_stop%
`),
	}}
}

// nginxVars sets the shell variables of an nginx preset's scripts from
// its variables (prefix app or nginx_lb).
func nginxVars(p string) string {
	return `CONF=$(fh_abs "%` + p + `_config%")
PIDFILE=$(fh_abs "%` + p + `_pid%")
TEMP=$(fh_abs "%` + p + `_temp_dir%")
LOGS=$(fh_abs "%` + p + `_log_dir%")
BIND="%` + p + `_bind%"
if [ -z "$BIND" ]; then BIND="%internal_ip%"; fi
USERLINE=
if [ -n "%` + p + `_user%" ]; then USERLINE="user %` + p + `_user%;"; fi
mkdir -p "$(dirname "$CONF")" "$(dirname "$PIDFILE")" "$TEMP" "$LOGS"
MIME=
if [ -f /etc/nginx/mime.types ]; then MIME="include /etc/nginx/mime.types;"; fi
`
}

// nginxHead is the start of an nginx configuration, up to the http block's
// servers, as the body of an unquoted here-document.
const nginxHead = `# Written by farmhand (farm/roles).
$USERLINE
worker_processes auto;
pid $PIDFILE;
error_log $LOGS/error.log;
events { worker_connections 1024; }
http {
    $MIME
    default_type text/html;
    access_log $LOGS/access.log;
    client_body_temp_path $TEMP/body;
    proxy_temp_path $TEMP/proxy;
    fastcgi_temp_path $TEMP/fastcgi;
    uwsgi_temp_path $TEMP/uwsgi;
    scgi_temp_path $TEMP/scgi;
    keepalive_timeout 30s;
`
