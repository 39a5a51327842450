package farm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/store"
)

// keyDrill prefixes the drill reports in the farm's Store: "drill/" + a
// zero-padded sequence number.
const keyDrill = "drill/"

// DrillReport is what a drill did and how the farm healed; see
// [Farm.Drill].
type DrillReport struct {
	Seq        int       `json:"seq"`
	Kind       DrillKind `json:"kind"`
	Role       string    `json:"role,omitempty"`
	Zone       string    `json:"zone,omitempty"`
	Fraction   float64   `json:"fraction,omitempty"`
	MaxVictims int       `json:"max_victims"`
	// Started is when the first server was killed, Finished when the
	// drill ended, on the farm's clock.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Killed are the servers the drill killed; Replacements the servers
	// in service at the end that were not before it.
	Killed       []DrillServer `json:"killed"`
	Replacements []DrillServer `json:"replacements"`
	// Detect is how long the farm took to see the last victim gone (its
	// HostDown), Heal how long until every role was back in service at
	// its desired count (with a master where it needs one).
	Detect time.Duration `json:"detect"`
	Heal   time.Duration `json:"heal"`
	// FailedScripts are the script and init failures during the drill,
	// one line each.
	FailedScripts []string `json:"failed_scripts,omitempty"`
	// Error says why the farm did not heal (the timeout passed); empty
	// when it healed.
	Error string `json:"error,omitempty"`
}

// String formats the report.
func (r DrillReport) String() string {
	var b strings.Builder
	p := DrillPlan{Kind: r.Kind, Role: r.Role, Zone: r.Zone, Fraction: r.Fraction}
	fmt.Fprintf(&b, "drill #%d %s at %s\n", r.Seq, p.describe(), r.Started.Format(time.RFC3339))
	for _, s := range r.Killed {
		fmt.Fprintf(&b, "  killed   %s\n", s)
	}
	for _, s := range r.Replacements {
		fmt.Fprintf(&b, "  replaced %s\n", s)
	}
	fmt.Fprintf(&b, "  detected in %s, healed in %s\n", r.Detect.Round(time.Millisecond), r.Heal.Round(time.Millisecond))
	if len(r.FailedScripts) == 0 {
		b.WriteString("  no script failed\n")
	}
	for _, s := range r.FailedScripts {
		fmt.Fprintf(&b, "  failed   %s\n", s)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "  NOT HEALED: %s\n", r.Error)
	}
	return b.String()
}

// drillLog holds the farm's drill reports.
type drillLog struct {
	mu       sync.Mutex // one drill at a time; guards the rest
	running  bool
	reports  []DrillReport
	restored bool
}

func (f *Farm) drills() *drillLog { return &f.drill }

// inService reports whether a server works: running, not leaving, not
// failing its health checks.
func (r *record) inService() bool {
	return r.srv.State == StateRunning && !r.terminating && r.srv.Health.Status != HealthUnhealthy
}

// PlanDrill is a drill's dry run: it returns the servers the drill would
// kill, or why it is refused (the farm is not healthy, the blast radius,
// a role's minimum in service), and changes nothing.
func (f *Farm) PlanDrill(spec DrillSpec) (DrillPlan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.planDrillLocked(spec)
}

func (f *Farm) planDrillLocked(spec DrillSpec) (DrillPlan, error) {
	if f.closed {
		return DrillPlan{}, ErrClosed
	}
	if !f.launched || f.terminating {
		return DrillPlan{}, errors.New("farm: drill refused: the farm is not running")
	}
	st := f.statusLocked()
	var roles []drillRole
	for _, rs := range st.Roles {
		dr := drillRole{Name: rs.Name, Min: rs.Min, Desired: rs.Desired, NeedsMaster: rs.NeedsMaster}
		if !rs.Ready() {
			dr.Unready = "is not at its desired count with every server in service"
		}
		if rs.Rollout != nil && rs.Rollout.Phase.Active() {
			dr.Unready = "has a rollout under way"
		}
		roles = append(roles, dr)
	}
	var cands []drillCandidate
	for _, r := range f.records {
		in := r.inService()
		if in {
			for i := range roles {
				if roles[i].Name == r.srv.Role {
					roles[i].InService++
				}
			}
		}
		cands = append(cands, drillCandidate{DrillServer: drillServerOf(r.srv), InService: in})
	}
	victims, err := chooseDrillVictims(spec, roles, cands)
	if err != nil {
		return DrillPlan{}, err
	}
	return DrillPlan{Kind: spec.Kind, Role: spec.Role, Zone: spec.Zone, Fraction: spec.Fraction,
		MaxVictims: max(spec.MaxVictims, 1), Victims: victims}, nil
}

func drillServerOf(s Server) DrillServer {
	return DrillServer{ID: s.ID, Role: s.Role, Zone: s.Zone, Index: s.Index, Master: s.Master}
}

// Drill tests the farm's self-healing on purpose: it plans the drill
// (see [PlanDrill]; a refused plan kills nothing), kills the victims
// (spec.Kill, or a Terminate through the provider), and waits until the
// farm has healed: every victim gone and every role back in service at its
// desired count. Something must drive the farm meanwhile ([Farm.Run]).
// It returns the report, also kept in the Store (or in memory) and
// returned by [Farm.Drills]; a farm that did not heal within spec.Timeout
// gives the report with its Error and an error. One drill runs at a time.
func (f *Farm) Drill(ctx context.Context, spec DrillSpec) (DrillReport, error) {
	dl := f.drills()
	dl.mu.Lock()
	if dl.running {
		dl.mu.Unlock()
		return DrillReport{}, errors.New("farm: drill refused: another drill is under way")
	}
	dl.running = true
	dl.mu.Unlock()
	defer func() {
		dl.mu.Lock()
		dl.running = false
		dl.mu.Unlock()
	}()
	if _, err := f.Drills(ctx); err != nil { // the sequence goes on from the saved reports
		return DrillReport{}, err
	}

	f.mu.Lock()
	plan, err := f.planDrillLocked(spec)
	if err != nil {
		f.mu.Unlock()
		return DrillReport{}, err
	}
	before := map[string]bool{}
	affected := map[string]bool{}
	for id, r := range f.records {
		if r.inService() {
			before[id] = true
		}
	}
	for _, v := range plan.Victims {
		affected[v.Role] = true
	}
	f.mu.Unlock()

	var (
		evMu   sync.Mutex
		downAt = map[string]time.Time{}
		failed []string
	)
	victims := map[string]bool{}
	for _, v := range plan.Victims {
		victims[v.ID] = true
	}
	unsub := f.Subscribe(func(ev Event) {
		evMu.Lock()
		defer evMu.Unlock()
		switch {
		case ev.Type == HostDown && ev.Server != nil && victims[ev.Server.ID]:
			downAt[ev.Server.ID] = ev.Time
		case ev.Type == ScriptFailed || ev.Type == HostInitFailed:
			who := ev.Role
			if ev.Server != nil {
				who += "/" + ev.Server.ID
			}
			line := fmt.Sprintf("%s on %s: %s", ev.Type, who, ev.Reason)
			if s := ev.Params["script"]; s != "" {
				line = fmt.Sprintf("%s script %q on %s: %s", ev.Type, s, who, ev.Reason)
			}
			failed = append(failed, line)
		}
	})
	defer unsub()

	rep := DrillReport{Kind: plan.Kind, Role: plan.Role, Zone: plan.Zone, Fraction: plan.Fraction,
		MaxVictims: plan.MaxVictims, Killed: plan.Victims, Started: f.clk.Now()}
	f.log.Warn("farm: drill: killing servers on purpose", "drill", plan.describe(), "victims", len(plan.Victims))
	var killErrs []error
	for _, v := range plan.Victims {
		var err error
		if spec.Kill != nil {
			err = spec.Kill(ctx, v.ID)
		} else {
			err = f.terminateCall(ctx, []string{v.ID})
		}
		if err != nil {
			killErrs = append(killErrs, fmt.Errorf("killing %s: %w", v.ID, err))
		}
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultDrillTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waitErr := errors.Join(killErrs...)
	if waitErr == nil {
		waitErr = f.Wait(wctx, func(st Status) bool { return healed(st, victims, affected) })
	}
	rep.Heal = f.clk.Since(rep.Started)
	if waitErr == nil {
		waitErr = f.Settle(wctx) // the replacements' HostUp scripts, whose failures the report lists
	}
	rep.Finished = f.clk.Now()
	f.mu.Lock()
	for id, r := range f.records {
		if !before[id] && r.inService() && affected[r.srv.Role] {
			rep.Replacements = append(rep.Replacements, drillServerOf(r.srv))
		}
	}
	f.mu.Unlock()
	slices.SortFunc(rep.Replacements, func(a, b DrillServer) int { return strings.Compare(a.Role+"/"+a.ID, b.Role+"/"+b.ID) })
	evMu.Lock()
	for _, t := range downAt {
		rep.Detect = max(rep.Detect, t.Sub(rep.Started))
	}
	rep.FailedScripts = slices.Clone(failed)
	evMu.Unlock()
	if waitErr != nil {
		rep.Error = waitErr.Error()
	}
	saveErr := f.keepDrill(ctx, &rep)
	if waitErr != nil {
		return rep, fmt.Errorf("farm: drill %s: the farm did not heal: %w", plan.describe(), waitErr)
	}
	return rep, saveErr
}

// healed reports whether the victims are gone and the roles they were in
// are back in service.
func healed(st Status, victims, roles map[string]bool) bool {
	for _, rs := range st.Roles {
		if !roles[rs.Name] {
			continue
		}
		if !rs.Ready() {
			return false
		}
		for _, s := range rs.Servers {
			if victims[s.ID] && s.State != StateTerminated {
				return false
			}
		}
	}
	return true
}

// keepDrill numbers a report and keeps it.
func (f *Farm) keepDrill(ctx context.Context, rep *DrillReport) error {
	dl := f.drills()
	dl.mu.Lock()
	rep.Seq = 1
	if n := len(dl.reports); n > 0 {
		rep.Seq = dl.reports[n-1].Seq + 1
	}
	dl.reports = append(dl.reports, *rep)
	dl.mu.Unlock()
	v, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if err := f.saveRecords(ctx, store.Put(fmt.Sprintf("%s%020d", keyDrill, rep.Seq), v)); err != nil {
		return fmt.Errorf("farm: drill report: %w", err)
	}
	return nil
}

// Drills returns the farm's drill reports, oldest first, those a previous
// controller saved in the Store included.
func (f *Farm) Drills(ctx context.Context) ([]DrillReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dl := f.drills()
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if !dl.restored {
		dl.restored = true
		var saved []DrillReport
		for _, kv := range f.recordsSaved(keyDrill) {
			var r DrillReport
			if err := json.Unmarshal(kv.Value, &r); err != nil {
				return nil, fmt.Errorf("farm: drill report %s: %w", kv.Key, err)
			}
			saved = append(saved, r)
		}
		dl.reports = append(saved, dl.reports...)
	}
	out := make([]DrillReport, len(dl.reports))
	copy(out, dl.reports)
	return out, nil
}

// DrillEvery runs a drill every interval on the farm's clock until ctx
// ends (then it returns ctx's error), handing each report, or why the
// drill was refused or did not heal, to report. A scheduled drill is
// refused like any other on a farm that is not healthy then.
func (f *Farm) DrillEvery(ctx context.Context, spec DrillSpec, every time.Duration, report func(DrillReport, error)) error {
	if every <= 0 {
		return fmt.Errorf("farm: drill interval %s is not positive", every)
	}
	t := f.clk.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
			rep, err := f.Drill(ctx, spec)
			report(rep, err)
		}
	}
}
