package farm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/provider/fake"
)

func TestDesiredDNSFollowsTheServers(t *testing.T) {
	srv := func(id, role string, state ServerState, priv, pub string, master bool) Server {
		return Server{ID: id, Role: role, State: state, PrivateIP: priv, PublicIP: pub, Master: master}
	}
	servers := []Server{
		srv("i-1", "app", StateRunning, "10.0.0.1", "203.0.113.1", false),
		srv("i-2", "app", StateRunning, "10.0.0.2", "203.0.113.2", false),
		srv("i-3", "app", StatePending, "10.0.0.3", "203.0.113.3", false),
		srv("i-4", "app", StatePendingTerminate, "10.0.0.4", "203.0.113.4", false),
		srv("i-5", "app", StateInitializing, "10.0.0.5", "", false),
		srv("i-6", "db", StateRunning, "10.0.1.1", "", true),
		srv("i-7", "db", StateRunning, "10.0.1.2", "", false),
		srv("i-8", "web6", StateRunning, "fd00::8", "2001:db8::8", false),
	}
	target := func(role string, n DNSName) []dnsTarget {
		return []dnsTarget{{role: role, DNSName: n.withDefaults()}}
	}
	tests := []struct {
		name        string
		targets     []dnsTarget
		servers     []Server
		terminating bool
		want        []string
		keep        bool
	}{
		{"an all name holds the private IPs of the role's servers in service",
			target("app", DNSName{Name: "int-app.example.test"}), servers, false, []string{"10.0.0.1", "10.0.0.2"}, false},
		{"a public name holds the external IPs",
			target("app", DNSName{Name: "ext-app.example.test", Address: DNSPublic}), servers, false, []string{"203.0.113.1", "203.0.113.2"}, false},
		{"a master name holds the master's address only",
			target("db", DNSName{Name: "db.example.test", Select: DNSSelectMaster}), servers, false, []string{"10.0.1.1"}, false},
		{"a master name is kept while the role has no master",
			target("db", DNSName{Name: "db.example.test", Select: DNSSelectMaster}), servers[6:7], false, nil, true},
		{"a master name without master is deleted while the farm terminates",
			target("db", DNSName{Name: "db.example.test", Select: DNSSelectMaster}), servers[6:7], true, nil, false},
		{"an all name of a role without servers in service is empty",
			target("app", DNSName{Name: "int-app.example.test"}), servers[2:5], false, nil, false},
		{"an AAAA name takes only IPv6 addresses",
			target("web6", DNSName{Name: "web6.example.test", Type: "AAAA", Address: DNSPublic}), servers, false, []string{"2001:db8::8"}, false},
		{"an A name skips servers with IPv6 addresses",
			target("web6", DNSName{Name: "web6.example.test"}), servers, false, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := desiredDNS(tc.targets, tc.servers, tc.terminating)
			if len(got) != 1 {
				t.Fatalf("got %d wants, want 1", len(got))
			}
			if !slices.Equal(got[0].set.Values, tc.want) || got[0].keep != tc.keep {
				t.Fatalf("values %v keep %v, want %v keep %v", got[0].set.Values, got[0].keep, tc.want, tc.keep)
			}
			if got[0].set.TTL != dnsupdate.DefaultTTL {
				t.Fatalf("TTL %s, want the default %s", got[0].set.TTL, dnsupdate.DefaultTTL)
			}
		})
	}
}

func TestValidateDNSNames(t *testing.T) {
	base := func() Spec {
		return Spec{Name: "shop", Roles: []RoleSpec{
			{Name: "db", Image: "img", Min: 1, Max: 2, Database: &DatabaseSpec{PromoteScript: "promote"},
				DNS: []DNSName{{Name: "db.example.test", Select: DNSSelectMaster}}},
			{Name: "app", Image: "img", Min: 1, Max: 3, DNS: []DNSName{{Name: "int-app.example.test"}}},
		}}
	}
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"a name with one label is refused", func(s *Spec) { s.Roles[1].DNS[0].Name = "app" },
			`role "app": dns name "app" is not a fully qualified domain name`},
		{"a CNAME type is refused", func(s *Spec) { s.Roles[1].DNS[0].Type = "CNAME" },
			`role "app": dns name "int-app.example.test": type "CNAME" is not "A" or "AAAA"`},
		{"an unknown address kind is refused", func(s *Spec) { s.Roles[1].DNS[0].Address = "elastic" },
			`role "app": dns name "int-app.example.test": address "elastic" is not "private" or "public"`},
		{"an unknown select is refused", func(s *Spec) { s.Roles[1].DNS[0].Select = "oldest" },
			`role "app": dns name "int-app.example.test": select "oldest" is not "all" or "master"`},
		{"a fractional TTL is refused", func(s *Spec) { s.Roles[1].DNS[0].TTL = 1500 * time.Millisecond },
			`role "app": dns name "int-app.example.test": ttl 1.5s is not a whole number of seconds`},
		{"a negative TTL is refused", func(s *Spec) { s.Roles[1].DNS[0].TTL = -time.Second },
			`role "app": dns name "int-app.example.test": ttl -1s is negative`},
		{"a name declared by two roles is refused", func(s *Spec) { s.Roles[1].DNS[0].Name = "DB.example.test." },
			`role "app": dns name "DB.example.test." (A) is declared twice (also roles[0].dns[0])`},
		{"a master name on a plain role is refused", func(s *Spec) { s.Roles[1].DNS[0].Select = DNSSelectMaster },
			`role "app": dns name "int-app.example.test": select "master" needs a database or nfs role`},
		{"a role cannot be database and nfs", func(s *Spec) { s.Roles[0].NFS = &NFSSpec{} },
			`role "db": a role is either a database or an nfs server, not both`},
		{"an nfs role needs a master name", func(s *Spec) { s.Roles[1].NFS = &NFSSpec{} },
			`role "app": an nfs role needs a dns name with select "master" for its clients to mount`},
		{"an nfs export must be absolute", func(s *Spec) { s.Roles[0].Database, s.Roles[0].NFS = nil, &NFSSpec{Export: "srv"} },
			`role "db": nfs export "srv" is not an absolute path`},
		{"demote needs a demote script", func(s *Spec) { s.Roles[0].Database.OldMaster = OldMasterDemote },
			`role "db": database old_master "demote" needs a demote_script`},
		{"an unknown old master policy is refused", func(s *Spec) { s.Roles[0].Database.OldMaster = "keep" },
			`role "db": database old_master "keep" is not "demote" or "terminate"`},
		{"a blank promote script is refused", func(s *Spec) { s.Roles[0].Database.PromoteScript = "  " },
			`role "db": promote_script "  " is blank`},
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("the base spec: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.change(&s)
			err := s.Validate()
			fes := FieldErrors(err)
			if len(fes) != 1 || fes[0].Error() != tc.want {
				t.Fatalf("Validate = %v\nwant     %s", err, tc.want)
			}
		})
	}
}

func TestParseYAMLReadsDNSAndDatabase(t *testing.T) {
	spec, err := ParseYAML([]byte(`
name: shop
roles:
  - name: db
    image: img-db
    min: 2
    max: 2
    database:
      promote_script: promote-mysql
      promote_timeout: 2m
    dns:
      - name: db.example.test
        select: master
        ttl: 30s
  - name: files
    image: img-nfs
    min: 1
    max: 1
    nfs:
      export: /srv/shared
    dns:
      - {name: nfs.example.test, select: master}
  - name: app
    image: img-app
    min: 1
    max: 4
    dns:
      - {name: int-app.example.test}
      - {name: ext-app.example.test, address: public}
`), "farm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := spec.Roles[0]
	if db.Database == nil || db.Database.PromoteScript != "promote-mysql" || db.Database.PromoteTimeout != 2*time.Minute {
		t.Fatalf("database = %+v", db.Database)
	}
	if len(db.DNS) != 1 || db.DNS[0].TTL != 30*time.Second || db.DNS[0].Select != DNSSelectMaster {
		t.Fatalf("db dns = %+v", db.DNS)
	}
	if spec.Roles[1].NFS == nil || spec.Roles[1].NFS.Export != "/srv/shared" {
		t.Fatalf("nfs = %+v", spec.Roles[1].NFS)
	}
	if len(spec.Roles[2].DNS) != 2 || spec.Roles[2].DNS[1].Address != DNSPublic {
		t.Fatalf("app dns = %+v", spec.Roles[2].DNS)
	}
	// Clone shares no memory: changing the copy leaves the spec alone.
	c := spec.Clone()
	c.Roles[0].Database.PromoteScript = "other"
	c.Roles[0].DNS[0].Name = "x.example.test"
	if spec.Roles[0].Database.PromoteScript != "promote-mysql" || spec.Roles[0].DNS[0].Name != "db.example.test" {
		t.Fatal("Clone shares the database spec or the DNS names")
	}
}

func TestNewRefusesDNSNamesWithoutAnUpdater(t *testing.T) {
	spec := Spec{Name: "web", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2,
		DNS: []DNSName{{Name: "int-app.example.test"}}}}}
	_, err := New(spec, fake.New(fake.Options{}), nil)
	if err == nil || err.Error() != `farm: role "app" declares dns name "int-app.example.test." but Options.DNS (the updater) is nil` {
		t.Fatalf("New = %v", err)
	}
	_, err = New(spec, fake.New(fake.Options{}), &Options{DNS: dnsupdate.NewMemory(nil), DNSVerify: &DNSVerify{}})
	if err == nil || !strings.Contains(err.Error(), "DNSVerify.Servers is empty") {
		t.Fatalf("New with an empty DNSVerify = %v", err)
	}
}

// dnsRig is a rig with an in-memory DNS updater on the rig's clock.
func dnsRig(t *testing.T, spec Spec, opts *Options) (*rig, *dnsupdate.Memory) {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	mem := dnsupdate.NewMemory(nil)
	o.DNS = mem
	r := newRig(t, spec, &o, fake.Options{})
	return r, mem
}

// quiet waits until no failover runs, no hook is busy and every event has
// been handled, twice in a row.
func (r *rig) quiet() {
	r.t.Helper()
	for i := 0; i < 50; i++ {
		r.settle()
		r.farm.mu.Lock()
		n := r.farm.bgCount
		r.farm.mu.Unlock()
		if n == 0 && r.farm.bus.idle() {
			return
		}
	}
	r.t.Fatal("the farm does not become quiet")
}

// idle reports whether every event published so far has been handled.
func (b *bus) idle() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		if s.busy || len(s.queue) > 0 {
			return false
		}
	}
	return true
}

func lookup(m *dnsupdate.Memory, name string) []string {
	rs, ok := m.Lookup(name, "A")
	if !ok {
		return nil
	}
	return rs.Values
}

func privateIPs(servers []Server) []string {
	var out []string
	for _, s := range servers {
		if s.State == StateRunning {
			out = append(out, s.PrivateIP)
		}
	}
	slices.Sort(out)
	return out
}

func TestDNSNamesFollowScaleOutScaleInAndAddressChanges(t *testing.T) {
	spec := Spec{Name: "web", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 0, Max: 4, Desired: 2,
		DNS: []DNSName{{Name: "int-app64.example.test"}, {Name: "ext-app64.example.test", Address: DNSPublic}}}}}
	r, mem := dnsRig(t, spec, nil)
	// A hook added after the farm's own sees the leaving server already
	// gone from the names: the farm removes it before it is terminated.
	var leftEarly []string
	r.farm.AddHook(HookFunc(func(ctx context.Context, ev Event) error {
		if ev.Type == BeforeHostTerminate && slices.Contains(lookup(mem, "int-app64.example.test"), ev.Server.PrivateIP) {
			leftEarly = append(leftEarly, ev.Server.ID)
		}
		return nil
	}))
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	r.quiet()
	if got, want := lookup(mem, "int-app64.example.test"), privateIPs(r.farm.Servers("app")); len(got) != 2 || !slices.Equal(got, want) {
		t.Fatalf("int-app64 = %v, want the two private IPs %v", got, want)
	}
	ext := lookup(mem, "ext-app64.example.test")
	if len(ext) != 2 || !strings.HasPrefix(ext[0], "203.0.113.") {
		t.Fatalf("ext-app64 = %v, want two public IPs", ext)
	}

	if err := r.farm.SetDesired("app", 3); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.tick(30 * time.Second)
	r.quiet()
	if got := lookup(mem, "int-app64.example.test"); len(got) != 3 || !slices.Equal(got, privateIPs(r.farm.Servers("app"))) {
		t.Fatalf("after scale-out int-app64 = %v", got)
	}

	// An address change moves the names.
	victim := r.farm.Servers("app")[0]
	newPriv, _, err := r.cloud.ChangeIP(victim.ID)
	if err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.quiet()
	got := lookup(mem, "int-app64.example.test")
	if !slices.Contains(got, newPriv) || slices.Contains(got, victim.PrivateIP) {
		t.Fatalf("after the address change int-app64 = %v, want %s instead of %s", got, newPriv, victim.PrivateIP)
	}

	if err := r.farm.SetDesired("app", 1); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.tick(time.Second)
	r.quiet()
	if got := lookup(mem, "int-app64.example.test"); len(got) != 1 || !slices.Equal(got, privateIPs(r.farm.Servers("app"))) {
		t.Fatalf("after scale-in int-app64 = %v", got)
	}
	if len(leftEarly) != 0 {
		t.Fatalf("servers %v were still in int-app64 when their BeforeHostTerminate hooks ran", leftEarly)
	}

	// No server left: the names are deleted.
	if err := r.farm.SetDesired("app", 0); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Second)
	r.tick(time.Second)
	r.quiet()
	if _, ok := mem.Lookup("int-app64.example.test", "A"); ok {
		t.Fatal("int-app64 still exists with no server in service")
	}
	h := mem.History()
	if last := h[len(h)-1]; last.Op != "delete" {
		t.Fatalf("last change = %+v, want a delete", last)
	}
	// Only changes were written: no set repeats its predecessor.
	seen := map[string][]string{}
	for _, c := range h {
		if c.Op == "set" && slices.Equal(seen[c.Set.Name], c.Set.Values) {
			t.Fatalf("a set repeated the values %v of %s", c.Set.Values, c.Set.Name)
		}
		seen[c.Set.Name] = c.Set.Values
	}
	recs := r.farm.DNSRecords()
	if len(recs) != 2 || !recs[0].Published || recs[0].Values != nil || recs[0].Err != "" {
		t.Fatalf("DNSRecords = %+v", recs)
	}
}

func TestDNSUpdateErrorsAreReportedAndRetriedAtTheNextEvent(t *testing.T) {
	spec := Spec{Name: "web", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 4,
		DNS: []DNSName{{Name: "int-app64.example.test"}}}}}
	r, mem := dnsRig(t, spec, nil)
	mem.FailNext(1, &dnsupdate.Error{Kind: dnsupdate.ErrUnavailable, Op: "test", Err: errors.New("server down")})
	r.farm.Launch(r.ctx)
	r.tick(30 * time.Second)
	r.quiet()
	if _, ok := mem.Lookup("int-app64.example.test", "A"); ok {
		t.Fatal("the failed update was applied")
	}
	recs := r.farm.DNSRecords()
	if recs[0].Published || !strings.Contains(recs[0].Err, "server down") {
		t.Fatalf("DNSRecords after a failed update = %+v", recs)
	}
	if err := r.farm.SyncDNS(r.ctx); err != nil {
		t.Fatal(err)
	}
	if got := lookup(mem, "int-app64.example.test"); len(got) != 1 {
		t.Fatalf("after SyncDNS int-app64 = %v", got)
	}
	if recs := r.farm.DNSRecords(); !recs[0].Published || recs[0].Err != "" {
		t.Fatalf("DNSRecords after the retry = %+v", recs)
	}
}

func TestParseYAMLNamesDNSAndDatabaseTypeErrors(t *testing.T) {
	_, err := ParseYAML([]byte(`
name: shop
roles:
  - name: db
    image: img
    min: 1
    max: 1
    database: yes
    dns:
      - db.example.test
`), "farm.yaml")
	got := err.Error()
	for _, want := range []string{
		`farm.yaml:8: role "db": database: want a database section (key: value lines), got "yes"`,
		`farm.yaml:10: role "db": dns[0]: want a dns name (key: value lines), got "db.example.test"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("error %q lacks %q", got, want)
		}
	}
}
