package webfarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
)

// Session is one run of the farm: launch, show, terminate. The program
// sets it up with the cloud's help ([Cloud]) and runs it.
type Session struct {
	// Set by the program before it calls the cloud.

	// Out is the timeline the run prints to.
	Out *Timeline
	// Logger logs the controller's and the driver's steps with -v; nil
	// otherwise.
	Logger *slog.Logger
	// Farm is the farm's shape as far as the program knows it; the cloud
	// adds its location, image and instance type.
	Farm Shape
	// HostKey is the test sshd's host key, an authorized_keys line, which
	// every server of a test cloud must print on its console; empty on a
	// real cloud and without sshd.
	HostKey string
	// KeyNote says which SSH key a real run logs in with (never the
	// secret), for the cloud's first line.
	KeyNote string

	// Set by the cloud.

	// Provider is the cloud's driver.
	Provider provider.Provider
	// Spec is the farm, usually built with Spec from Farm.
	Spec farm.Spec
	// Scripts are the cloud's own scripts, saved in the library next to
	// the web farm's.
	Scripts []scripting.Script
	// Crash makes a test cloud lose a server as if it crashed, for
	// -crash-db; nil on a real cloud.
	Crash func(id string)
	// Ready and Done print what the cloud adds once the farm is up and once
	// it is gone; nil for nothing.
	Ready, Done func(*Timeline)

	// Set by the program after the cloud.

	// Options are the farm's options: logging, DNS, scripting.
	Options farm.Options

	// memoryDNS holds the farm's names when they are not published.
	memoryDNS *dnsupdate.Memory
	// hostKeyPoll is how often a new server's console is read for its
	// host keys before its scripts run; 0 when scripts are off.
	hostKeyPoll  time.Duration
	readyTimeout time.Duration
	serve        bool

	mu       sync.Mutex
	cleanups []func()
}

// Cleanup registers fn to run when the session is closed, after the
// functions registered after it.
func (s *Session) Cleanup(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, fn)
}

// Every calls fn every interval, from a goroutine that Close ends and waits
// for. Test clouds use it to let time pass (nothing moves by itself there).
func (s *Session) Every(interval time.Duration, fn func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				fn()
			case <-done:
				return
			}
		}
	})
	s.Cleanup(func() {
		close(done)
		wg.Wait()
	})
}

// Close runs the cleanup functions, last registered first: it stops the
// test servers. A second Close does nothing.
func (s *Session) Close() {
	s.mu.Lock()
	fns := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for _, fn := range slices.Backward(fns) {
		fn()
	}
}

// run launches the farm, waits for it, prints what it did, and terminates
// it, also when ctx ends early (an interrupt): servers left running cost
// money.
func (s *Session) run(ctx context.Context) (err error) {
	if s.Options.Scripting != nil {
		s.Options.Scripting.OnResult = s.Out.ScriptResult
		if s.hostKeyPoll > 0 {
			s.Options.Hooks = append(s.Options.Hooks, waitForHostKeys(s.Provider, s.hostKeyPoll))
		}
	}
	f, err := farm.New(s.Spec, s.Provider, &s.Options)
	if err != nil {
		return err
	}
	defer f.Close()
	f.Subscribe(s.Out.Event)

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	runDone := make(chan error, 1)
	go func() { runDone <- f.Run(runCtx) }()
	defer func() {
		stopRun()
		<-runDone
	}()
	defer func() {
		// Terminate even after an interrupt, with a fresh deadline.
		if ctx.Err() != nil {
			s.Out.Printf("interrupted: terminating the farm (interrupt again to quit and leave its servers running)\n")
		}
		termCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		if terr := s.terminate(termCtx, f); terr != nil {
			err = errors.Join(err, fmt.Errorf("terminate: %w", terr))
		}
	}()

	s.Out.Printf("launching farm %q in %s: %s\n", s.Spec.Name, s.Spec.Location, describeRoles(s.Spec))
	if err := f.Launch(ctx); err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	readyCtx, cancel := context.WithTimeout(ctx, s.readyTimeout)
	defer cancel()
	if err := f.WaitReady(readyCtx); err != nil {
		return fmt.Errorf("waiting for the farm to be ready: %w\n%s", err, f.Status())
	}
	if err := f.Settle(readyCtx); err != nil {
		return err
	}
	s.Out.Printf("farm %q is ready\n", s.Spec.Name)
	s.showDNS(f)
	if s.Ready != nil {
		s.Ready(s.Out)
	}
	if s.Options.Scripting != nil {
		s.showLoad(ctx, f)
		s.showScaling(ctx, f)
	} else {
		s.Out.Printf("scaling: app64's load average is read over SSH, which is off: no verdict\n")
	}
	if s.Crash != nil {
		if err := s.crashMaster(ctx, f); err != nil {
			return err
		}
	}
	s.Out.Printf("status:\n%s", indent(f.Status().String()))
	if s.serve {
		s.Out.Printf("serving until interrupted (Ctrl-C terminates the farm)\n")
		<-ctx.Done()
	}
	if n := s.Out.FailedScripts(); n > 0 {
		return fmt.Errorf("%d script runs failed (see above)", n)
	}
	return nil
}

// terminate ends the farm gracefully and waits until the cloud reports
// every server gone.
func (s *Session) terminate(ctx context.Context, f *farm.Farm) error {
	s.Out.Printf("terminating farm %q\n", s.Spec.Name)
	start := time.Now()
	if err := f.Terminate(ctx); err != nil {
		return err
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}
	s.Out.Printf("farm %q terminated in %.1fs\n", s.Spec.Name, time.Since(start).Seconds())
	if s.memoryDNS != nil {
		s.Out.Printf("DNS names left in memory: %d\n", len(s.memoryDNS.Records()))
	}
	if s.Done != nil {
		s.Done(s.Out)
	}
	return nil
}

// crashMaster crashes the database master and waits for the farm to fail
// over: a new master, db's name moved to it, NewDBMaster announced and the
// app servers' reconnect scripts run, the role back at its size.
func (s *Session) crashMaster(ctx context.Context, f *farm.Farm) error {
	var master farm.Server
	for _, srv := range f.Servers("db") {
		if srv.Master {
			master = srv
		}
	}
	if master.ID == "" {
		return fmt.Errorf("-crash-db: role db has no master")
	}
	s.Out.Printf("crashing the database master db/%s (%s)\n", master.ID, master.PrivateIP)
	s.Crash(master.ID)
	ctx, cancel := context.WithTimeout(ctx, s.readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if fo := f.Failovers(); len(fo) > 0 && !fo[len(fo)-1].Announced.IsZero() {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("-crash-db: no failover announced: %w", ctx.Err())
		}
	}
	if err := f.WaitReady(ctx); err != nil {
		return fmt.Errorf("-crash-db: %w", err)
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}
	fo := f.Failovers()
	last := fo[len(fo)-1]
	s.Out.Printf("failover of role %s: %s → %s (%s → %s); detected %s, DNS set +%s, announced +%s%s\n",
		last.Role, last.OldMaster, last.NewMaster, last.OldMasterIP, last.NewMasterIP,
		last.Detected.Format("15:04:05.000"), since(last.Detected, last.DNSSet), since(last.Detected, last.Announced),
		errNote(last.Err))
	s.showDNS(f)
	return nil
}

// since formats the time from a to b, or "-" when b was not reached.
func since(a, b time.Time) string {
	if b.IsZero() {
		return "-"
	}
	return b.Sub(a).Round(time.Millisecond).String()
}

func errNote(err string) string {
	if err == "" {
		return ""
	}
	return "; error: " + err
}

// showDNS prints the names the farm keeps.
func (s *Session) showDNS(f *farm.Farm) {
	where := "published"
	if s.memoryDNS != nil {
		where = "in memory (-dns publishes them)"
	}
	for _, r := range f.DNSRecords() {
		state := strings.Join(r.Values, " ")
		if r.Err != "" {
			state += " (error: " + r.Err + ")"
		}
		s.Out.Printf("DNS %s %s → %s  [%s of role %s, %s]\n", r.Name, r.Type, state, r.Select, r.Role, where)
	}
}

// showLoad reads an app server's load average over SSH, as the scaling
// policy does.
func (s *Session) showLoad(ctx context.Context, f *farm.Farm) {
	apps := f.Servers("app64")
	if len(apps) == 0 {
		return
	}
	out, err := f.Exec(ctx, apps[0].ID, "cat /proc/loadavg")
	if err != nil {
		s.Out.Printf("load of app64/%s over SSH: %v\n", apps[0].ID, err)
		return
	}
	s.Out.Printf("load of app64/%s over SSH: /proc/loadavg %s\n", apps[0].ID, strings.TrimSpace(string(out)))
}

// showScaling waits for an evaluation of app64's policy that measured the
// servers (the first ones may find them warming up) and prints its verdict.
func (s *Session) showScaling(ctx context.Context, f *farm.Farm) {
	app, _ := s.Spec.Role("app64")
	interval := app.Scaling.EvaluationInterval
	ctx, cancel := context.WithTimeout(ctx, 3*interval+2*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		d, ok := f.LastScalingDecision("app64")
		if ok && measured(d) {
			s.Out.Printf("scaling app64 on load1: %s (%d → %d, bounds %d..%d)\n", d.Reason, d.From, d.To, d.Min, d.Max)
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if ok {
				s.Out.Printf("scaling app64 on load1: %s\n", d.Reason)
			} else {
				s.Out.Printf("scaling app64: not evaluated yet\n")
			}
			return
		}
	}
}

// measured reports whether a decision read the metric of some check.
func measured(d scaling.Decision) bool {
	for _, c := range d.Checks {
		if c.Vote != scaling.VoteNoData && c.Vote != scaling.VoteAbstain {
			return true
		}
	}
	return false
}

// waitForHostKeys holds a new server in Initializing until its host keys
// can be read from the cloud (clouds show the console output, where
// cloud-init prints them, some time after boot), so that its HostUp scripts
// find a key to check. (Blocking BeforeHostUp scripts, such as db's, wait
// for the keys by themselves.)
func waitForHostKeys(p provider.Provider, poll time.Duration) farm.Hook {
	hk, ok := p.(provider.HostKeyReader)
	if !ok {
		return farm.HookFunc(func(context.Context, farm.Event) error { return nil })
	}
	return farm.HookFunc(func(ctx context.Context, ev farm.Event) error {
		if ev.Type != farm.BeforeHostUp || ev.Server == nil {
			return nil
		}
		tick := time.NewTicker(poll)
		defer tick.Stop()
		for {
			keys, err := hk.HostKeys(ctx, ev.Server.ID)
			if err == nil && len(keys) > 0 {
				return nil
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return fmt.Errorf("no host keys on the console of %s: %w", ev.Server.ID, ctx.Err())
			}
		}
	})
}

// describeRoles says in one line what each role is made of.
func describeRoles(spec farm.Spec) string {
	var parts []string
	for _, r := range spec.Roles {
		p := fmt.Sprintf("%s (%d..%d × %s %s", r.Name, r.Min, r.Max, r.Image, r.InstanceType)
		for _, b := range r.Scripts {
			p += fmt.Sprintf(", %s → %s", b.Event, b.Script)
		}
		for _, n := range r.DNS {
			p += ", DNS " + n.Name
		}
		if r.Scaling != nil {
			p += ", scaling on load1"
		}
		if r.LoadBalancer != "" {
			p += ", load balancer " + r.LoadBalancer
		}
		parts = append(parts, p+")")
	}
	return strings.Join(parts, "; ")
}
