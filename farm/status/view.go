package status

import (
	"context"
	"fmt"
	"html/template"
	"slices"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// Index is the JSON view of the index page: every farm in brief.
type Index struct {
	Title string      `json:"title"`
	Farms []FarmBrief `json:"farms"`
}

// FarmBrief is one farm on the index page.
type FarmBrief struct {
	Name  string `json:"name"`
	State string `json:"state"` // stopped, launched, terminating
	Ready bool   `json:"ready"`
	// Running and Desired add up the roles.
	Running int `json:"running"`
	Desired int `json:"desired"`
	// Unhealthy counts servers whose health checks fail.
	Unhealthy int       `json:"unhealthy"`
	Failovers int       `json:"failovers"`
	Time      time.Time `json:"time"`
}

// FarmPage is the JSON view of one farm's page; the HTML page shows the
// same.
type FarmPage struct {
	FarmBrief
	Roles   []RoleView   `json:"roles"`
	Servers []ServerView `json:"servers"`
	// Events are the newest events the handler saw, newest first.
	Events []EventView `json:"events"`
	// ScriptFailures are the newest failed runs in the scripting log,
	// newest first; ScriptingOff says the farm runs no scripts.
	ScriptFailures []ScriptFailure `json:"script_failures"`
	ScriptingOff   bool            `json:"scripting_off,omitempty"`
	// Scaling holds each role's scaling history, oldest first.
	Scaling   []RoleScaling  `json:"scaling"`
	Failovers []FailoverView `json:"failovers"`
	// Backups are the newest backups of each role with a backup
	// section, newest first; BackupErrors says which could not be read.
	Backups      []BackupView `json:"backups"`
	BackupErrors []string     `json:"backup_errors,omitempty"`
	BackupRoles  int          `json:"backup_roles"`
	// Drills are the farm's drill reports, newest first; DrillsError
	// says why they could not be read.
	Drills      []farm.DrillReport `json:"drills"`
	DrillsError string             `json:"drills_error,omitempty"`
}

// BackupView is one backup record.
type BackupView struct {
	Role     string    `json:"role"`
	Seq      uint64    `json:"seq"`
	Status   string    `json:"status"`
	Method   string    `json:"method"`
	Server   string    `json:"server"`
	ID       string    `json:"id,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Stuck    bool      `json:"stuck,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// drillsShown is how many drill reports a page lists.
const drillsShown = 10

// backupsPerRole is how many backups of each role a page lists.
const backupsPerRole = 10

// RoleView is one role's counts.
type RoleView struct {
	Name      string         `json:"name"`
	Desired   int            `json:"desired"`
	Min       int            `json:"min"`
	Max       int            `json:"max"`
	Counts    map[string]int `json:"counts"`
	Launching int            `json:"launching"`
	Ready     bool           `json:"ready"`
	Note      string         `json:"note,omitempty"`
}

// ServerView is one server.
type ServerView struct {
	ID        string    `json:"id"`
	Role      string    `json:"role"`
	Index     int       `json:"index"`
	State     string    `json:"state"`
	Zone      string    `json:"zone"`
	PrivateIP string    `json:"private_ip"`
	PublicIP  string    `json:"public_ip"`
	Health    string    `json:"health"`
	Checks    []string  `json:"checks,omitempty"` // "web: unhealthy (3 failures): timeout"
	Master    bool      `json:"master,omitempty"`
	Protected bool      `json:"protected,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	UpAt      time.Time `json:"up_at,omitzero"`
}

// EventView is one event.
type EventView struct {
	Seq    uint64            `json:"seq"`
	Time   time.Time         `json:"time"`
	Type   string            `json:"type"`
	Role   string            `json:"role,omitempty"`
	Server string            `json:"server,omitempty"`
	Reason string            `json:"reason,omitempty"`
	Params map[string]string `json:"params,omitempty"`
}

// ScriptFailure is a failed run from the scripting log.
type ScriptFailure struct {
	Time     time.Time `json:"time"`
	Role     string    `json:"role"`
	Server   string    `json:"server"`
	Event    string    `json:"event"`
	Script   string    `json:"script"`
	Version  int       `json:"version"`
	ExitCode int       `json:"exit_code"`
	TimedOut bool      `json:"timed_out,omitempty"`
	Error    string    `json:"error,omitempty"`
	Stderr   string    `json:"stderr,omitempty"`
}

// RoleScaling is a role's scaling history.
type RoleScaling struct {
	Role    string        `json:"role"`
	Records []ScalingStep `json:"records"`
	// Since is when the role's oldest server listed was launched: where
	// the chart starts when that is before the first record.
	Since time.Time `json:"since,omitzero"`
	// Chart is the capacity-over-time SVG, on the HTML page only.
	Chart template.HTML `json:"-"`
}

// ScalingStep is one change of the desired count.
type ScalingStep struct {
	Time   time.Time `json:"time"`
	From   int       `json:"from"`
	To     int       `json:"to"`
	Min    int       `json:"min"`
	Max    int       `json:"max"`
	Origin string    `json:"origin"`
	Reason string    `json:"reason"`
}

// FailoverView is one master change.
type FailoverView struct {
	Role      string        `json:"role"`
	Reason    string        `json:"reason"`
	OldMaster string        `json:"old_master"`
	NewMaster string        `json:"new_master"`
	Detected  time.Time     `json:"detected"`
	Announced time.Time     `json:"announced"`
	Duration  time.Duration `json:"duration_ns"`
	Fenced    string        `json:"fenced,omitempty"`
}

func brief(f *farm.Farm, st farm.Status) FarmBrief {
	b := FarmBrief{Name: st.Farm, State: "stopped", Ready: st.Ready(), Time: st.Time, Failovers: len(f.Failovers())}
	switch {
	case st.Terminating:
		b.State = "terminating"
	case st.Launched:
		b.State = "launched"
	}
	for _, r := range st.Roles {
		b.Running += r.Counts[farm.StateRunning]
		b.Desired += r.Desired
		for _, s := range r.Servers {
			if s.Health.Status == farm.HealthUnhealthy && s.State != farm.StateTerminated {
				b.Unhealthy++
			}
		}
	}
	return b
}

// farmPage builds the page of f; events are the newest first.
func farmPage(ctx context.Context, f *farm.Farm, events []farm.Event, maxFailures int) FarmPage {
	st := f.Status()
	p := FarmPage{FarmBrief: brief(f, st)}
	for _, r := range st.Roles {
		rv := RoleView{Name: r.Name, Desired: r.Desired, Min: r.Min, Max: r.Max, Counts: map[string]int{},
			Launching: r.Launching, Ready: r.Ready(), Note: r.Note}
		for s, n := range r.Counts {
			if n > 0 {
				rv.Counts[string(s)] = n
			}
		}
		p.Roles = append(p.Roles, rv)
		for _, s := range r.Servers {
			sv := ServerView{ID: s.ID, Role: s.Role, Index: s.Index, State: string(s.State), Zone: s.Zone,
				PrivateIP: s.PrivateIP, PublicIP: s.PublicIP, Health: string(s.Health.Status), Master: s.Master,
				Protected: s.Protected, Reason: s.Reason, UpAt: s.UpAt}
			for _, c := range s.Health.Checks {
				sv.Checks = append(sv.Checks, checkLine(c))
			}
			p.Servers = append(p.Servers, sv)
		}
		hist := f.ScalingHistory(r.Name)
		rs := RoleScaling{Role: r.Name, Since: firstLaunch(r.Servers)}
		for _, h := range hist {
			rs.Records = append(rs.Records, ScalingStep{Time: h.Time, From: h.From, To: h.To, Min: h.Min, Max: h.Max,
				Origin: string(h.Origin), Reason: h.Reason})
		}
		p.Scaling = append(p.Scaling, rs)
	}
	for _, ev := range events {
		v := EventView{Seq: ev.Seq, Time: ev.Time, Type: string(ev.Type), Role: ev.Role, Reason: ev.Reason, Params: ev.Params}
		if ev.Server != nil {
			v.Server = ev.Server.ID
		}
		p.Events = append(p.Events, v)
	}
	if log := f.ScriptingLog(); log == nil {
		p.ScriptingOff = true
	} else if entries, err := log.Query(ctx, scripting.LogQuery{Farm: st.Farm, FailuresOnly: true, Limit: maxFailures}); err == nil {
		for _, e := range entries {
			p.ScriptFailures = append(p.ScriptFailures, ScriptFailure{Time: e.Started, Role: e.Role, Server: e.Server,
				Event: e.Event, Script: e.Script, Version: e.Version, ExitCode: e.ExitCode, TimedOut: e.TimedOut,
				Error: e.Err, Stderr: clip(e.Stderr, 400)})
		}
	}
	for _, r := range f.Spec().Roles {
		if r.Backup == nil {
			continue
		}
		p.BackupRoles++
		bs, err := f.Backups(ctx, r.Name)
		if err != nil {
			p.BackupErrors = append(p.BackupErrors, fmt.Sprintf("role %s: %v", r.Name, err))
			continue
		}
		for _, b := range bs[:min(len(bs), backupsPerRole)] {
			p.Backups = append(p.Backups, BackupView{Role: b.Role, Seq: b.Seq, Status: b.Status, Method: b.Method,
				Server: b.Server, ID: b.ID, Started: b.Started, Finished: b.Finished, Stuck: b.Stuck, Error: b.Err})
		}
	}
	if ds, err := f.Drills(ctx); err != nil {
		p.DrillsError = err.Error()
	} else {
		for _, d := range slices.Backward(ds) {
			p.Drills = append(p.Drills, d)
			if len(p.Drills) == drillsShown {
				break
			}
		}
	}
	fos := f.Failovers()
	for _, fo := range slices.Backward(fos) {
		p.Failovers = append(p.Failovers, FailoverView{Role: fo.Role, Reason: fo.Reason, OldMaster: fo.OldMaster,
			NewMaster: fo.NewMaster, Detected: fo.Detected, Announced: fo.Announced,
			Duration: fo.Announced.Sub(fo.Detected), Fenced: fo.Fenced})
	}
	return p
}

func firstLaunch(servers []farm.Server) time.Time {
	var t time.Time
	for _, s := range servers {
		if !s.LaunchedAt.IsZero() && (t.IsZero() || s.LaunchedAt.Before(t)) {
			t = s.LaunchedAt
		}
	}
	return t
}

func checkLine(c farm.CheckState) string {
	s := c.Name + ": " + string(c.Status)
	if c.LastError != "" {
		s += ": " + c.LastError
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
