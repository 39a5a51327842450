// Dbfailover shows a database failover end to end on farmhand's fake cloud:
// the database master dies, a replica is promoted by a script that really
// runs over SSH, the database's DNS name moves to it, the move is checked at
// the authoritative server, the app servers run their reconnect script, and
// a replacement replica is launched.
//
//	go run ./examples/dbfailover
//
// DNS is a real BIND 9 named started on a loopback port (with a TSIG key,
// updated with RFC 2136) when /usr/sbin/named is installed, and farmhand's
// in-memory updater otherwise; the program says which. It needs no cloud
// account and no credentials.
//
// The farm checks the database servers over SSH every second (-health) and
// counts a master lost after two failures in a row (-threshold); the cloud
// listing, every -tick, also shows a crashed server. It prints the failover
// timeline and the benchmark line
//
//	failover detect_ms=A promote_ms=B dns_ms=C total_ms=D
//
// measured from the crash to the verified record: detect is crash → the
// farm noticed, promote is noticed → the replica promoted and marked master,
// dns is promoted → every authoritative server answers the new address,
// total is the sum. -mode hang makes the master stop answering while the
// cloud still reports it running, so that only the health check can tell.
// -runs repeats the crash on each new master.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/internal/bindtest"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dbfailover:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// config holds the command line.
type config struct {
	mode      string
	runs      int
	health    time.Duration
	threshold int
	tick      time.Duration
	memory    bool
}

func parse(args []string, w io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("dbfailover", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&c.mode, "mode", "crash", `how the master dies: "crash" (the cloud loses it) or "hang" (it stops answering, the cloud still says running)`)
	fs.IntVar(&c.runs, "runs", 1, "failovers in a row, each crashing the current master")
	fs.DurationVar(&c.health, "health", time.Second, "interval of the SSH health check of the database servers")
	fs.IntVar(&c.threshold, "threshold", 2, "failed checks in a row that make a master lost")
	fs.DurationVar(&c.tick, "tick", 250*time.Millisecond, "interval of the controller's reconciliation (the cloud listing)")
	fs.BoolVar(&c.memory, "memory-dns", false, "use the in-memory DNS updater even when BIND is installed")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.mode != "crash" && c.mode != "hang":
		return c, fmt.Errorf("-mode %q is not crash or hang", c.mode)
	case c.runs < 1:
		return c, fmt.Errorf("-runs %d < 1", c.runs)
	case c.health <= 0 || c.tick <= 0:
		return c, fmt.Errorf("-health %s and -tick %s must be positive", c.health, c.tick)
	case c.threshold < 1:
		return c, fmt.Errorf("-threshold %d < 1", c.threshold)
	}
	return c, nil
}

const zone = "example.test."

// The scripts. A real farm would run mysql; these leave a trace in the fake
// server's sandbox directory instead, so that the example shows they ran.
var scripts = []scripting.Script{
	{Name: "promote", Body: `# On a real replica: mysql -e "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0"
echo "promoted at $(date +\%T.\%N); master was %old_master_id% (%old_master_ip%)" > promoted
cat promoted`},
	{Name: "reconnect", Body: `# On a real app server: point the pool at the name again and reload.
echo "db.example.test is now %new_master_ip% (%new_master_id%)" > db-host
cat db-host`},
}

func spec(c config) farm.Spec {
	return farm.Spec{
		Name:     "dbfailover",
		Location: "fake-1",
		Roles: []farm.RoleSpec{
			{
				Name: "db", Image: "img-mysql", Min: 2, Max: 2,
				Database: &farm.DatabaseSpec{PromoteScript: "promote", PromoteTimeout: 30 * time.Second},
				DNS:      []farm.DNSName{{Name: "db." + zone, Select: farm.DNSSelectMaster, TTL: 30 * time.Second}},
				HealthChecks: []farm.HealthCheckSpec{{Kind: "ssh", Interval: c.health,
					Timeout: c.health / 2, FailureThreshold: c.threshold}},
			},
			{
				Name: "app", Image: "img-apache", Min: 2, Max: 2, DependsOn: []string{"db"},
				DNS: []farm.DNSName{
					{Name: "int-app." + zone},
					{Name: "ext-app." + zone, Address: farm.DNSPublic},
				},
				// NewDBMaster concerns every role: this runs on app's servers.
				Scripts: []farm.ScriptBinding{{Event: farm.NewDBMaster, Script: "reconnect"}},
			},
		},
	}
}

func run(ctx context.Context, args []string, w io.Writer) error {
	c, err := parse(args, w)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out := &printer{w: w, start: time.Now()}

	dir, err := os.MkdirTemp("", "farmhand-dbfailover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// DNS: a real BIND when installed, else in memory.
	d, err := startDNS(ctx, dir, c.memory)
	if err != nil {
		return err
	}
	defer d.close()
	out.printf("DNS: %s\n", d.what)

	cloud := fake.New(fake.Options{BootTime: 300 * time.Millisecond, SSH: &fake.SSHOptions{Dir: dir + "/servers"}})
	defer cloud.Close()
	key, err := scripting.GenerateKey("dbfailover")
	if err != nil {
		return err
	}
	lib := scripting.NewLibrary(nil)
	for _, s := range scripts {
		if _, err := lib.Save(s); err != nil {
			return err
		}
	}
	f, err := farm.New(spec(c), cloud, &farm.Options{
		TickInterval: c.tick,
		Scripting:    &farm.ScriptingOptions{Library: lib, Key: key, OnResult: out.script},
		DNS:          d.updater,
		DNSVerify:    d.verify,
	})
	if err != nil {
		return err
	}
	defer f.Close()
	f.Subscribe(out.event)

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	defer func() { stop(); <-done }()

	if err := f.Launch(ctx); err != nil {
		return err
	}
	if err := f.WaitReady(ctx); err != nil {
		return err
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}
	out.printf("farm is ready:\n%s", f.Status())
	d.show(ctx, out, f)

	var results []result
	for i := 0; i < c.runs; i++ {
		r, err := failover(ctx, c, out, f, cloud, d)
		if err != nil {
			return err
		}
		results = append(results, r)
	}

	out.printf("terminating the farm\n")
	if err := f.Terminate(ctx); err != nil {
		return err
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}
	d.show(ctx, out, f)
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintln(w, r)
	}
	if len(results) > 1 {
		fmt.Fprintf(w, "median %s\n", median(results))
	}
	return nil
}

// result is one failover's benchmark figures.
type result struct{ detect, promote, dns, total time.Duration }

func (r result) String() string {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return fmt.Sprintf("failover detect_ms=%d promote_ms=%d dns_ms=%d total_ms=%d", ms(r.detect), ms(r.promote), ms(r.dns), ms(r.total))
}

func median(rs []result) result {
	pick := func(get func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{
		detect:  pick(func(r result) time.Duration { return r.detect }),
		promote: pick(func(r result) time.Duration { return r.promote }),
		dns:     pick(func(r result) time.Duration { return r.dns }),
		total:   pick(func(r result) time.Duration { return r.total }),
	}
}

// failover kills the current master and follows the farm until the new
// one serves, the app servers reconnected and the role is whole again.
func failover(ctx context.Context, c config, out *printer, f *farm.Farm, cloud *fake.Provider, d *dnsSetup) (result, error) {
	var old farm.Server
	for _, s := range f.Servers("db") {
		if s.Master {
			old = s
		}
	}
	if old.ID == "" {
		return result{}, errors.New("role db has no master")
	}
	before := len(f.Failovers())
	out.printf("--- %s the master db/%s (%s)\n", map[string]string{"crash": "crashing", "hang": "hanging"}[c.mode], old.ID, old.PrivateIP)
	killed := time.Now()
	var err error
	if c.mode == "hang" {
		err = cloud.Hang(old.ID)
	} else {
		err = cloud.Crash(old.ID)
	}
	if err != nil {
		return result{}, err
	}
	var fo farm.Failover
	if err := f.Wait(ctx, func(farm.Status) bool {
		all := f.Failovers()
		if len(all) > before && !all[len(all)-1].Announced.IsZero() {
			fo = all[len(all)-1]
			return true
		}
		return false
	}); err != nil {
		return result{}, fmt.Errorf("no failover announced: %w", err)
	}
	if fo.Err != "" {
		return result{}, fmt.Errorf("failover of role db: %s", fo.Err)
	}
	// Ask the authoritative server itself.
	vals, err := d.lookup(ctx, "db."+zone)
	if err != nil {
		return result{}, err
	}
	if !slices.Equal(vals, []string{fo.NewMasterIP}) {
		return result{}, fmt.Errorf("db.%s answers %v, want the new master %s", zone, vals, fo.NewMasterIP)
	}
	out.printf("%s answers db.%s = %v\n", d.name, zone, vals)
	// The role is whole again once the old master is out and a
	// replacement replica is in service.
	if err := f.Wait(ctx, func(st farm.Status) bool {
		db, _ := st.Role("db")
		for _, s := range db.Servers {
			if s.ID == old.ID && s.State != farm.StateTerminated {
				return false
			}
		}
		return st.Ready()
	}); err != nil {
		return result{}, err
	}
	if err := f.Settle(ctx); err != nil {
		return result{}, err
	}
	verified := fo.Verified
	if verified.IsZero() {
		verified = fo.DNSSet // the in-memory updater has no server to ask
	}
	step := func(name string, at time.Time) {
		if at.IsZero() {
			out.printf("    %-28s -\n", name)
			return
		}
		out.printf("    %-28s +%5d ms\n", name, at.Sub(killed).Milliseconds())
	}
	out.printf("failover of role %s: %s (%s) -> %s (%s)\n", fo.Role, fo.OldMaster, fo.OldMasterIP, fo.NewMaster, fo.NewMasterIP)
	out.printf("    reason: %s\n", fo.Reason)
	step("master killed", killed)
	step("loss detected", fo.Detected)
	step("replica promoted, marked", fo.Promoted)
	step("db name set", fo.DNSSet)
	step("verified at "+d.name, fo.Verified)
	step("NewDBMaster fired", fo.Announced)
	d.show(ctx, out, f)
	return result{
		detect:  fo.Detected.Sub(killed),
		promote: fo.Promoted.Sub(fo.Detected),
		dns:     verified.Sub(fo.Promoted),
		total:   verified.Sub(killed),
	}, nil
}

// dnsSetup is the DNS the farm updates.
type dnsSetup struct {
	what, name string
	updater    dnsupdate.Updater
	verify     *farm.DNSVerify
	bind       *bindtest.Server
	mem        *dnsupdate.Memory
}

func startDNS(ctx context.Context, dir string, memory bool) (*dnsSetup, error) {
	if memory || !bindtest.Available() {
		mem := dnsupdate.NewMemory(nil)
		why := "-memory-dns"
		if !memory {
			why = bindtest.Binary + " is not installed"
		}
		return &dnsSetup{what: "in-memory updater (" + why + ")", name: "memory", updater: mem, mem: mem}, nil
	}
	bdir := dir + "/bind"
	if err := os.Mkdir(bdir, 0o700); err != nil {
		return nil, err
	}
	srv, err := bindtest.Launch(ctx, bdir, &bindtest.Options{Zone: zone, SOAMinimum: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("starting BIND: %w", err)
	}
	k := srv.Keys[0]
	upd, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: srv.Addr, Zone: srv.Zone,
		Key: &dnsupdate.TSIGKey{Name: k.Name, Algorithm: k.Algorithm, Secret: k.Secret}})
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &dnsSetup{
		what:    fmt.Sprintf("BIND 9 named at %s, zone %s, RFC 2136 updates signed with TSIG key %s (%s)", srv.Addr, srv.Zone, k.Name, k.Algorithm),
		name:    "BIND",
		updater: upd,
		verify:  &farm.DNSVerify{Servers: []string{srv.Addr}, Timeout: 10 * time.Second, Interval: 10 * time.Millisecond},
		bind:    srv,
	}, nil
}

func (d *dnsSetup) close() {
	if d.bind != nil {
		d.bind.Close()
	}
}

// lookup asks the DNS for a name's A records.
func (d *dnsSetup) lookup(ctx context.Context, name string) ([]string, error) {
	if d.bind != nil {
		vals, _, err := d.bind.Values(ctx, name, dns.TypeA)
		sort.Strings(vals)
		return vals, err
	}
	rs, _ := d.mem.Lookup(name, "A")
	return rs.Values, nil
}

// show prints the farm's names as the DNS serves them.
func (d *dnsSetup) show(ctx context.Context, out *printer, f *farm.Farm) {
	for _, r := range f.DNSRecords() {
		vals, err := d.lookup(ctx, r.Name)
		switch {
		case err != nil:
			out.printf("    %-24s %s\n", r.Name, err)
		case len(vals) == 0:
			out.printf("    %-24s (no such name)\n", r.Name)
		default:
			out.printf("    %-24s A %s\n", r.Name, strings.Join(vals, " "))
		}
	}
}

// printer prints events and script results with the time since the start.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%6.2fs  ", time.Since(p.start).Seconds())
	fmt.Fprintf(p.w, format, args...)
}

func (p *printer) event(ev farm.Event) {
	switch ev.Type {
	case farm.HostDown, farm.CheckFailed, farm.NewDBMaster, farm.HostUp, farm.BeforeHostTerminate, farm.FarmTerminated:
	default:
		return // routine steps, left out to keep the timeline short
	}
	where := ev.Role
	if ev.Server != nil {
		where += "/" + ev.Server.ID
	}
	p.printf("event %-19s %-10s %s\n", ev.Type, where, ev.Reason)
}

func (p *printer) script(ev farm.Event, r scripting.Result) {
	status := fmt.Sprintf("exit %d", r.ExitCode)
	if r.Err != nil {
		status = r.Err.Error()
	}
	p.printf("%s script %q on %s/%s: %s: %s\n", ev.Type, r.Script, r.Target.Role, r.Target.ServerID, status, strings.TrimSpace(r.Stdout))
}
