package main

import (
	"time"

	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// haproxyInstall sets up the load balancer Rackspace lacks. Rackspace has
// no Elastic Load Balancing: the lb role runs HAProxy, whose backend is the
// name int-app64.ZONE that the farm keeps pointing at every app server,
// re-resolved by HAProxy as servers come and go. %haproxy_cfg% and
// %reload_cmd% are farm variables, like %install_cmd%: on the test servers
// the configuration is printed and the reload echoed, so that trying the
// example changes nothing on this machine.
var haproxyInstall = scripting.Script{
	Name:        "haproxy-install",
	Description: "the load balancer role: HAProxy over the app servers' DNS name",
	Body: `%install_cmd% haproxy
cat > %haproxy_cfg% <<EOF
resolvers farm
    parse-resolv-conf
    hold valid 10s
frontend www
    mode http
    bind :80
    default_backend app64
backend app64
    mode http
    balance roundrobin
    server-template app 6 %app_name%:80 check resolvers farm init-addr none
EOF
%reload_cmd%
echo "I am a %role_name%: HAProxy balances %app_name% on port 80"`,
}

// haproxy is how the lb role's HAProxy is set up.
type haproxy struct {
	// config is %haproxy_cfg% and reload %reload_cmd%.
	config, reload string
	// address is the address www.ZONE points at: farm.DNSPublic on a
	// cloud, farm.DNSPrivate on the test servers, which give none public.
	address string
}

// webFarm is the seed article's farm on Rackspace: the shared db and app64
// roles, and lb, HAProxy in front of the app servers, reachable as
// www.ZONE.
func webFarm(s webfarm.Shape, h haproxy) farm.Spec {
	app := webfarm.AppRole(s)
	// HAProxy re-resolves the name as servers come and go: keep it short.
	app.DNS[0].TTL = 30 * time.Second
	lb := farm.RoleSpec{
		Name: "lb", Image: s.Image, InstanceType: s.InstanceType, Min: 1, Max: 1,
		DNS: []farm.DNSName{{Name: "www." + s.DNSZone, Address: h.address}},
	}
	if s.BindScripts {
		lb.Scripts = []farm.ScriptBinding{{Event: farm.HostUp, Script: "haproxy-install", RunAs: s.RunAs, Timeout: 10 * time.Minute}}
	}
	spec := webfarm.Spec(s, webfarm.DBRole(s), app, lb)
	spec.Variables["haproxy_cfg"] = h.config
	spec.Variables["reload_cmd"] = h.reload
	spec.Variables["app_name"] = "int-app64." + s.DNSZone
	return spec
}
