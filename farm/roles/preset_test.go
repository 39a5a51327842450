package roles_test

import (
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// catalog builds a farm of every preset.
func catalog(t *testing.T) (farm.Spec, *scripting.Library, *roles.HAProxyBackends, *roles.NginxBackends) {
	t.Helper()
	lib := scripting.NewLibrary(nil)
	spec := farm.Spec{Name: "shop"}
	lb, hb := roles.HAProxy(roles.HAProxyOptions{Role: farm.RoleSpec{Image: "debian-12"}})
	web, nb := roles.NginxLB(roles.NginxLBOptions{LoadBalancer: "web", Role: farm.RoleSpec{Image: "debian-12"}})
	app := roles.App(roles.AppOptions{Role: farm.RoleSpec{Image: "debian-12", DependsOn: []string{"nfs"}}})
	roles.NFSClient(roles.NFSClientOptions{}).AddTo(&app.Role)
	api := roles.App(roles.AppOptions{Role: farm.RoleSpec{Name: "api", Image: "debian-12", LoadBalancer: "web"}})
	client := roles.NFSClient(roles.NFSClientOptions{})
	if err := client.Save(lib); err != nil {
		t.Fatal(err)
	}
	if err := roles.Apply(&spec, lib, lb, web, app, api,
		roles.Squid(roles.SquidOptions{Role: farm.RoleSpec{Image: "debian-12"}}),
		roles.Memcached(roles.MemcachedOptions{Role: farm.RoleSpec{Image: "debian-12"}}),
		roles.NFS(roles.NFSOptions{Role: farm.RoleSpec{Image: "debian-12"}})); err != nil {
		t.Fatal(err)
	}
	return spec, lib, hb, nb
}

func TestEveryPresetMakesAValidFarm(t *testing.T) {
	spec, lib, hb, nb := catalog(t)
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	key, err := scripting.GenerateKey("test")
	if err != nil {
		t.Fatal(err)
	}
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	// New checks that every binding's script is in the library and that
	// every variable the scripts use is defined.
	f, err := farm.New(spec, cloud, &farm.Options{
		Scripting:     &farm.ScriptingOptions{Library: lib, Key: key},
		DNS:           dnsupdate.NewMemory(nil),
		LoadBalancers: map[string]farm.Backends{hb.Name(): hb, nb.Name(): nb},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hb.Bind(f)
	nb.Bind(f)
	var names []string
	for _, r := range spec.Roles {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, " "); got != "lb web app api proxy cache nfs" {
		t.Fatalf("roles %q", got)
	}
}

func TestPresetFieldsAreOverridable(t *testing.T) {
	p := roles.App(roles.AppOptions{Port: 8080, Role: farm.RoleSpec{
		Name: "shop-app", Image: "ubuntu-24.04", Min: 3, Max: 7, LoadBalancer: "front",
		TerminateTimeout: time.Minute,
		Variables:        map[string]string{"app_root": "/srv/www", "extra": "1"},
	}})
	r := p.Role
	if r.Name != "shop-app" || r.Image != "ubuntu-24.04" || r.Min != 3 || r.Max != 7 || r.LoadBalancer != "front" || r.TerminateTimeout != time.Minute {
		t.Fatalf("role %+v", r)
	}
	if r.Variables["app_port"] != "8080" || r.Variables["app_root"] != "/srv/www" || r.Variables["extra"] != "1" || r.Variables["app_config"] != "/etc/nginx/nginx.conf" {
		t.Fatalf("variables %v", r.Variables)
	}
	if len(r.HealthChecks) != 1 || r.HealthChecks[0].URL != "http://%internal_ip%:8080/health" {
		t.Fatalf("health checks %+v", r.HealthChecks)
	}
	if len(r.Scripts) != 2 || r.Scripts[0].Script != "app-init" || r.Scripts[1].Event != farm.BeforeHostTerminate {
		t.Fatalf("scripts %+v", r.Scripts)
	}
	// The defaults, untouched.
	d := roles.App(roles.AppOptions{}).Role
	if d.Name != "app" || d.Min != 2 || d.Max != 10 || d.LoadBalancer != "www" || d.Variables["app_port"] != "80" {
		t.Fatalf("defaults %+v", d)
	}
	// DNS names are the options'; a RoleSpec's DNS replaces them.
	if d := roles.App(roles.AppOptions{DNSName: "int-app.shop.example"}).Role.DNS; len(d) != 1 || d[0].Name != "int-app.shop.example" || d[0].Address != "private" {
		t.Fatalf("app DNS %+v", d)
	}
	lbp, _ := roles.HAProxy(roles.HAProxyOptions{DNSName: "www.shop.example", Role: farm.RoleSpec{DNS: []farm.DNSName{{Name: "lb.shop.example"}}}})
	if d := lbp.Role.DNS; len(d) != 1 || d[0].Name != "lb.shop.example" {
		t.Fatalf("lb DNS %+v", d)
	}
	// A role's own variables win over an added preset's.
	c := roles.NFSClient(roles.NFSClientOptions{})
	target := farm.RoleSpec{Variables: map[string]string{"nfs_mount": "/data"}}
	c.AddTo(&target)
	if target.Variables["nfs_mount"] != "/data" || target.Variables["nfs_server"] != "nfs.farm.internal" || len(target.Scripts) != 2 {
		t.Fatalf("AddTo: %+v", target)
	}
}
