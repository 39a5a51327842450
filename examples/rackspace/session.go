package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
)

// session is one run of the farm: launch, show, terminate.
type session struct {
	out  *timeline
	p    provider.Provider
	spec farm.Spec
	opts farm.Options
	// memoryDNS holds the farm's names when they are not published.
	memoryDNS *dnsupdate.Memory
	// hostKeyPoll is how often a new server's console is read for its
	// host keys before its scripts run; 0 when scripts are off.
	hostKeyPoll  time.Duration
	readyTimeout time.Duration
	serve        bool
	// ready and done print what the mode adds once the farm is up and
	// once it is gone; nil for nothing.
	ready, done func(*timeline)
	// crash, when set, makes the cloud lose a server as if it crashed,
	// for -crash-db.
	crash func(id string)
}

// run launches the farm, waits for it, prints what it did, and terminates
// it, also when ctx ends early (an interrupt): servers left running cost
// money.
func (s *session) run(ctx context.Context) (err error) {
	if s.opts.Scripting != nil {
		s.opts.Scripting.OnResult = s.out.script
		if s.hostKeyPoll > 0 {
			s.opts.Hooks = append(s.opts.Hooks, waitForHostKeys(s.p, s.hostKeyPoll))
		}
	}
	f, err := farm.New(s.spec, s.p, &s.opts)
	if err != nil {
		return err
	}
	defer f.Close()
	f.Subscribe(s.out.event)

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
			s.out.printf("interrupted: terminating the farm (interrupt again to quit and leave its servers running)\n")
		}
		termCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		if terr := s.terminate(termCtx, f); terr != nil {
			err = errors.Join(err, fmt.Errorf("terminate: %w", terr))
		}
	}()

	s.out.printf("launching farm %q in %s: %s\n", s.spec.Name, s.spec.Location, describeRoles(s.spec))
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
	s.out.printf("farm %q is ready\n", s.spec.Name)
	s.showDNS(f)
	if s.ready != nil {
		s.ready(s.out)
	}
	if s.opts.Scripting != nil {
		s.showLoad(ctx, f)
		s.showScaling(ctx, f)
	} else {
		s.out.printf("scaling: app64's load average is read over SSH, which is off: no verdict\n")
	}
	if s.crash != nil {
		if err := s.crashMaster(ctx, f); err != nil {
			return err
		}
	}
	s.out.printf("status:\n%s", indent(f.Status().String()))
	if s.serve {
		s.out.printf("serving until interrupted (Ctrl-C terminates the farm)\n")
		<-ctx.Done()
	}
	if n := s.out.failedScripts(); n > 0 {
		return fmt.Errorf("%d script runs failed (see above)", n)
	}
	return nil
}

// terminate ends the farm gracefully and waits until the cloud reports
// every server gone.
func (s *session) terminate(ctx context.Context, f *farm.Farm) error {
	s.out.printf("terminating farm %q\n", s.spec.Name)
	start := time.Now()
	if err := f.Terminate(ctx); err != nil {
		return err
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}
	s.out.printf("farm %q terminated in %.1fs\n", s.spec.Name, time.Since(start).Seconds())
	if s.memoryDNS != nil {
		s.out.printf("DNS names left in memory: %d\n", len(s.memoryDNS.Records()))
	}
	if s.done != nil {
		s.done(s.out)
	}
	return nil
}

// crashMaster crashes the database master and waits for the farm to fail
// over: a new master, db's name moved to it, NewDBMaster announced and the
// app servers' reconnect scripts run, the role back at its size.
func (s *session) crashMaster(ctx context.Context, f *farm.Farm) error {
	var master farm.Server
	for _, srv := range f.Servers("db") {
		if srv.Master {
			master = srv
		}
	}
	if master.ID == "" {
		return fmt.Errorf("-crash-db: role db has no master")
	}
	s.out.printf("crashing the database master db/%s (%s)\n", master.ID, master.PrivateIP)
	s.crash(master.ID)
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
	s.out.printf("failover of role %s: %s → %s (%s → %s); detected %s, DNS set +%s, announced +%s%s\n",
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
func (s *session) showDNS(f *farm.Farm) {
	where := "published"
	if s.memoryDNS != nil {
		where = "in memory (-dns publishes them)"
	}
	for _, r := range f.DNSRecords() {
		state := strings.Join(r.Values, " ")
		if r.Err != "" {
			state += " (error: " + r.Err + ")"
		}
		s.out.printf("DNS %s %s → %s  [%s of role %s, %s]\n", r.Name, r.Type, state, r.Select, r.Role, where)
	}
}

// showLoad reads an app server's load average over SSH, as the scaling
// policy does.
func (s *session) showLoad(ctx context.Context, f *farm.Farm) {
	apps := f.Servers("app64")
	if len(apps) == 0 {
		return
	}
	out, err := f.Exec(ctx, apps[0].ID, "cat /proc/loadavg")
	if err != nil {
		s.out.printf("load of app64/%s over SSH: %v\n", apps[0].ID, err)
		return
	}
	s.out.printf("load of app64/%s over SSH: /proc/loadavg %s\n", apps[0].ID, strings.TrimSpace(string(out)))
}

// showScaling waits for an evaluation of app64's policy that measured the
// servers (the first ones may find them warming up) and prints its verdict.
func (s *session) showScaling(ctx context.Context, f *farm.Farm) {
	app, _ := s.spec.Role("app64")
	interval := app.Scaling.EvaluationInterval
	ctx, cancel := context.WithTimeout(ctx, 3*interval+2*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		d, ok := f.LastScalingDecision("app64")
		if ok && measured(d) {
			s.out.printf("scaling app64 on load1: %s (%d → %d, bounds %d..%d)\n", d.Reason, d.From, d.To, d.Min, d.Max)
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if ok {
				s.out.printf("scaling app64 on load1: %s\n", d.Reason)
			} else {
				s.out.printf("scaling app64: not evaluated yet\n")
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
// can be read from the cloud (Nova shows the console output once
// cloud-init has printed them), so that its HostUp scripts
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
		parts = append(parts, p+")")
	}
	return strings.Join(parts, "; ")
}

// timeline prints events and script results as they happen, with the
// time since the start. Its methods are safe for concurrent use.
type timeline struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time
	failed int
}

func newTimeline(w io.Writer) *timeline {
	return &timeline{w: w, start: time.Now()}
}

func (t *timeline) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%6.2fs  ", time.Since(t.start).Seconds())
	fmt.Fprintf(t.w, format, args...)
}

func (t *timeline) event(ev farm.Event) {
	switch ev.Type {
	case farm.BeforeInstanceLaunch, farm.BeforeHostUp, farm.HostInit:
		return // routine steps, left out to keep the timeline short
	}
	where := ev.Role
	if ev.Server != nil {
		where += "/" + ev.Server.ID
		if ev.Server.PrivateIP != "" {
			where += " (" + ev.Server.PrivateIP + ")"
		}
	}
	t.printf("event %-18s %-28s %s\n", ev.Type, where, ev.Reason)
}

// script prints a script's result with its whole output, indented.
func (t *timeline) script(ev farm.Event, r scripting.Result) {
	status := fmt.Sprintf("exit %d", r.ExitCode)
	if r.Err != nil {
		status = r.Err.Error()
	}
	t.mu.Lock()
	if !r.OK() {
		t.failed++
	}
	t.mu.Unlock()
	t.printf("%s script %q v%d on %s/%s: %s in %s\n%s", ev.Type, r.Script, r.Version,
		r.Target.Role, r.Target.ServerID, status, r.Duration().Round(time.Millisecond),
		indent(r.Stdout+r.Stderr))
}

func (t *timeline) failedScripts() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// indent prefixes every line of s with spaces, for output under a line of
// the timeline.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "          | " + strings.ReplaceAll(s, "\n", "\n          | ") + "\n"
}
