package farm

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/internal/netguard"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// The loopback guard every test of this package runs under sees the
// farm's own connections: health checks, scripts and DNS updates that
// would reach a fake server's public (documentation range) address are
// refused before a packet leaves, and recorded. Were one of these paths to
// dial around the guard, this test would find no violation and fail.
func TestTheLoopbackGuardSeesEveryConnectionTheFarmMakes(t *testing.T) {
	g := netguard.LoopbackOnly() // this test's own, so that its violations are expected
	defer g.Uninstall()
	lib := scripting.NewLibrary(nil)
	key, err := scripting.GenerateKey("farm-test")
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1,
		HealthChecks: []HealthCheckSpec{
			{Name: "tcp", Kind: "tcp", Host: "%external_ip%", Port: 81},
			{Name: "web", Kind: "http", URL: "http://%external_ip%:8080/health"},
		}}}}
	r := makeRigOver(t, spec, &Options{Scripting: &ScriptingOptions{Library: lib, Key: key, UsePublicIP: true}},
		fake.Options{}, clock.NewFake(t0), func(p *fake.Provider) provider.Provider { return sshdCloud{p} })
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Minute)
	r.tick(time.Minute)
	srv := r.farm.Servers("app")[0]
	pub := srv.PublicIP
	if !strings.HasPrefix(pub, "203.0.113.") {
		t.Fatalf("public IP %q, want one from 203.0.113.0/24", pub)
	}
	for _, c := range r.farm.roles["app"].checks {
		if err := c.Check(r.ctx, srv); err == nil || !strings.Contains(err.Error(), "refused to dial") {
			t.Errorf("check %T: %v, want the guard's refusal", c, err)
		}
	}
	if _, err := r.farm.Exec(r.ctx, srv.ID, "true"); err == nil || !strings.Contains(err.Error(), "refused to dial") {
		t.Errorf("Exec at the public IP: %v, want the guard's refusal", err)
	}
	upd, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: "192.0.2.53:53", Zone: "example.test."})
	if err != nil {
		t.Fatal(err)
	}
	if err := upd.Set(r.ctx, dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{srv.PrivateIP}}); err == nil {
		t.Error("a DNS update to 192.0.2.53 went through")
	}
	got := g.Violations()
	for _, want := range []string{"tcp " + pub + ":81", "tcp " + pub + ":8080", "tcp " + pub + ":22", "tcp 192.0.2.53:53"} {
		if !slices.Contains(got, want) {
			t.Errorf("violations %q lack %q", got, want)
		}
	}
}
