package farm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/internal/bindtest"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// liveFarm is a farm on the real clock over a fake cloud whose servers
// answer SSH on loopback, driven by Run.
type liveFarm struct {
	t       *testing.T
	farm    *Farm
	cloud   *fake.Provider
	sandbox string
	log     *scripting.MemoryLog
	events  chan Event
}

// startLiveFarm starts spec with scripts (name → body) and the given DNS
// options, runs it and waits until it is ready.
func startLiveFarm(t *testing.T, spec Spec, scripts map[string]string, tune func(*Options)) *liveFarm {
	t.Helper()
	lib := scripting.NewLibrary(nil)
	for _, name := range sortedKeys(scripts) {
		if _, err := lib.Save(scripting.Script{Name: name, Body: scripts[name]}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := scripting.GenerateKey("failover-test")
	if err != nil {
		t.Fatal(err)
	}
	sandbox := t.TempDir()
	cloud := fake.New(fake.Options{BootTime: 100 * time.Millisecond, SSH: &fake.SSHOptions{Dir: sandbox}})
	log := scripting.NewMemoryLog(0)
	opts := &Options{
		TickInterval: 200 * time.Millisecond,
		Scripting: &ScriptingOptions{Library: lib, Key: key, Log: log,
			SSH: scripting.ExecutorOptions{DialTimeout: 10 * time.Second}},
	}
	if tune != nil {
		tune(opts)
	}
	f, err := New(spec, cloud, opts)
	if err != nil {
		t.Fatal(err)
	}
	lf := &liveFarm{t: t, farm: f, cloud: cloud, sandbox: sandbox, log: log, events: make(chan Event, 1000)}
	cancelSub := f.Subscribe(func(ev Event) {
		select {
		case lf.events <- ev:
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		cancelSub()
		f.Close()
		cloud.Close()
	})
	if err := f.Launch(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { done <- f.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := f.WaitReady(wctx); err != nil {
		t.Fatalf("farm not ready: %v\n%s", err, f.Status())
	}
	if err := f.Settle(wctx); err != nil { // the hooks have seen every HostUp
		t.Fatal(err)
	}
	return lf
}

// waitEvent waits for an event of type typ.
func (lf *liveFarm) waitEvent(typ EventType, timeout time.Duration) Event {
	lf.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-lf.events:
			if ev.Type == typ {
				return ev
			}
		case <-deadline:
			lf.t.Fatalf("no %s within %s\n%s", typ, timeout, lf.farm.Status())
		}
	}
}

// waitFile waits until a server's sandbox holds a file and returns it.
func (lf *liveFarm) waitFile(serverID, name string, timeout time.Duration) string {
	lf.t.Helper()
	path := filepath.Join(lf.sandbox, serverID, name)
	end := time.Now().Add(timeout)
	for {
		// The shell creates the file before it writes to it: wait for a
		// whole line.
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		if err == nil {
			err = fmt.Errorf("no complete line yet: %q", b)
		}
		if time.Now().After(end) {
			lf.t.Fatalf("%s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rfc2136For returns an updater and verification options for a BIND
// server.
func rfc2136For(t *testing.T, srv *bindtest.Server) (*dnsupdate.RFC2136, *DNSVerify) {
	t.Helper()
	k := srv.Keys[0]
	upd, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: srv.Addr, Zone: srv.Zone,
		Key: &dnsupdate.TSIGKey{Name: k.Name, Algorithm: k.Algorithm, Secret: k.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	return upd, &DNSVerify{Servers: []string{srv.Addr}, Timeout: 10 * time.Second, Interval: 20 * time.Millisecond}
}

// TestFailoverEndToEndWithBIND kills the master of a database role whose
// servers run real shell scripts over SSH, and checks the whole failover
// at a real BIND: the replica ran the promote script, db.example.test
// answers the new master's address, the app role ran its reconnect
// script, and at no moment were there two masters.
func TestFailoverEndToEndWithBIND(t *testing.T) {
	noLeaks(t)
	srv := bindtest.Start(t, &bindtest.Options{Zone: "example.test.", SOAMinimum: time.Second})
	upd, verify := rfc2136For(t, srv)
	spec := Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "db", Image: "img-db", Min: 2, Max: 2,
			Database: &DatabaseSpec{PromoteScript: "promote", PromoteTimeout: 20 * time.Second},
			DNS:      []DNSName{{Name: "db.example.test", Select: DNSSelectMaster, TTL: 5 * time.Second}},
			HealthChecks: []HealthCheckSpec{{Kind: "ssh", Interval: time.Second, Timeout: 500 * time.Millisecond,
				FailureThreshold: 2}},
		},
		{Name: "app", Image: "img-app", Min: 2, Max: 2, DependsOn: []string{"db"},
			DNS:     []DNSName{{Name: "int-app.example.test"}},
			Scripts: []ScriptBinding{{Event: NewDBMaster, Script: "reconnect"}}},
	}}
	lf := startLiveFarm(t, spec, map[string]string{
		"promote":   `echo "%old_master_id% %new_master_id% %event_internal_ip%" > promoted`,
		"reconnect": `echo "%new_master_ip%" > db-host`,
	}, func(o *Options) { o.DNS, o.DNSVerify = upd, verify })
	f := lf.farm
	ctx := context.Background()

	old, n := master(f, "db")
	if n != 1 {
		t.Fatalf("%d masters:\n%s", n, f.Status())
	}
	vals, ttl, err := srv.Values(ctx, "db.example.test.", dns.TypeA)
	if err != nil || !slices.Equal(vals, []string{old.PrivateIP}) || ttl != 5 {
		t.Fatalf("BIND db.example.test = %v ttl %d (%v), want %s ttl 5", vals, ttl, err, old.PrivateIP)
	}
	apps, _, err := srv.Values(ctx, "int-app.example.test.", dns.TypeA)
	if err != nil || len(apps) != 2 {
		t.Fatalf("BIND int-app.example.test = %v (%v)", apps, err)
	}

	// Poll the farm as fast as it changes: never two masters.
	var mu sync.Mutex
	var twoMasters []string
	wctx, wcancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		f.Wait(wctx, func(st Status) bool {
			rs, _ := st.Role("db")
			var ms []string
			for _, s := range rs.Servers {
				if s.Master {
					ms = append(ms, s.ID)
				}
			}
			if len(ms) > 1 {
				mu.Lock()
				twoMasters = append(twoMasters, strings.Join(ms, ","))
				mu.Unlock()
			}
			return false
		})
	}()

	if err := lf.cloud.Crash(old.ID); err != nil {
		t.Fatal(err)
	}
	ev := lf.waitEvent(NewDBMaster, 20*time.Second)
	newID := ev.Server.ID
	if newID == old.ID || ev.Params["old_master_id"] != old.ID || ev.Params["dns_verified"] != "true" {
		t.Fatalf("NewDBMaster = %+v", ev)
	}
	newMaster, _ := f.Server(newID)
	if got := lf.waitFile(newID, "promoted", 5*time.Second); got != old.ID+" "+newID+" "+newMaster.PrivateIP {
		t.Fatalf("the replica's promote script wrote %q", got)
	}
	vals, _, err = srv.Values(ctx, "db.example.test.", dns.TypeA)
	if err != nil || !slices.Equal(vals, []string{newMaster.PrivateIP}) {
		t.Fatalf("BIND db.example.test = %v (%v), want the new master %s", vals, err, newMaster.PrivateIP)
	}
	for _, app := range f.Servers("app") {
		if got := lf.waitFile(app.ID, "db-host", 10*time.Second); got != newMaster.PrivateIP {
			t.Fatalf("app %s reconnect script wrote %q, want %s", app.ID, got, newMaster.PrivateIP)
		}
	}
	fos := f.Failovers()
	if len(fos) != 1 || fos[0].Verified.IsZero() || fos[0].Err != "" || fos[0].Verified.Before(fos[0].DNSSet) {
		t.Fatalf("Failovers = %+v", fos)
	}
	// The farm launches a replacement replica; the master stays.
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	if err := f.Wait(rctx, func(st Status) bool {
		rs, _ := st.Role("db")
		return rs.Ready() && rs.Counts[StateRunning] == 2
	}); err != nil {
		t.Fatalf("no replacement replica: %v\n%s", err, f.Status())
	}
	if m, n := master(f, "db"); n != 1 || m.ID != newID {
		t.Fatalf("after the replacement the master is %s (%d masters)", m.ID, n)
	}
	wcancel()
	<-watched
	mu.Lock()
	defer mu.Unlock()
	if len(twoMasters) > 0 {
		t.Fatalf("two masters seen: %v", twoMasters)
	}
}

// TestAStaleControllerCannotMoveTheNameBack runs a second controller whose
// view of the master is stale: BIND refuses its compare-and-swap.
func TestAStaleControllerCannotMoveTheNameBackAtBIND(t *testing.T) {
	srv := bindtest.Start(t, &bindtest.Options{Zone: "example.test."})
	upd, verify := rfc2136For(t, srv)
	spec := dbSpec(2)
	spec.Roles[0].DNS[0].Name = "db.example.test"
	spec.Roles[1].DNS = nil
	r := newRig(t, spec, &Options{DNS: upd, DNSVerify: verify}, fake.Options{})
	calls := &scriptCalls{}
	r.farm.dns.runScript = calls.run
	r.farm.Launch(r.ctx)
	for i := 0; i < 4 && !r.farm.Status().Ready(); i++ {
		r.tick(30 * time.Second)
		r.quiet()
	}
	old, _ := master(r.farm, "db")
	// Another controller moved the name to its own master meanwhile.
	if err := upd.Set(r.ctx, dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.99.0.1"}}); err != nil {
		t.Fatal(err)
	}
	r.cloud.Crash(old.ID)
	r.tick(time.Second)
	r.quiet()
	vals, _, err := srv.Values(r.ctx, "db.example.test.", dns.TypeA)
	if err != nil || !slices.Equal(vals, []string{"10.99.0.1"}) {
		t.Fatalf("BIND db.example.test = %v (%v); the stale controller moved it", vals, err)
	}
	fo := r.farm.Failovers()
	if len(fo) != 1 || !strings.Contains(fo[0].Err, "precondition failed") {
		t.Fatalf("Failovers = %+v", fo)
	}
}
