package farm

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/scripting"
)

// Timeline prints what a farm does as it happens, one line per event and
// per script run, each after the seconds since the timeline started:
//
//	0.60s  event HostUp             app64/i-000002 (127.100.0.2) initialised
//	0.71s  HostUp script "install-apache" v1 on app64/i-000002: exit 0 in 105ms
//	        | installing apache on app64
//	0.90s  event ScriptFailed       app64/i-000003 (127.100.0.3) HostUp script "install-apache" v1: exit status 1
//
// A script's output follows its line, indented. The examples print their
// runs with it; a program gets the same by handing it the farm's events and
// script results:
//
//	tl := farm.NewTimeline(os.Stdout, nil)
//	f, err := farm.New(spec, cloud, &farm.Options{Scripting: &farm.ScriptingOptions{
//		Library: lib, Key: key, OnResult: tl.ScriptResult,
//	}})
//	f.Subscribe(tl.Event)
//
// Its methods are safe for concurrent use.
type Timeline struct {
	mu     sync.Mutex
	w      io.Writer
	clk    clock.Clock
	start  time.Time
	all    bool
	failed int
}

// TimelineOptions change a Timeline. nil means the defaults.
type TimelineOptions struct {
	// Clock measures the time since the start; nil means the real clock.
	Clock clock.Clock
	// AllEvents prints the routine steps too (BeforeInstanceLaunch,
	// HostInit, BeforeHostUp), which are left out by default to keep the
	// timeline short.
	AllEvents bool
}

// NewTimeline returns a timeline that writes to w and starts now.
func NewTimeline(w io.Writer, opts *TimelineOptions) *Timeline {
	var o TimelineOptions
	if opts != nil {
		o = *opts
	}
	clk := clock.Or(o.Clock)
	return &Timeline{w: w, clk: clk, start: clk.Now(), all: o.AllEvents}
}

// Printf prints a line of the program's own (format ends with "\n") after
// the time since the start.
func (t *Timeline) Printf(format string, args ...any) {
	t.at(time.Time{}, format, args...)
}

// Event prints one line for ev, at the event's time: its type, role,
// server with its private address, and reason. Give it to
// [Farm.Subscribe].
func (t *Timeline) Event(ev Event) {
	if !t.all {
		switch ev.Type {
		case BeforeInstanceLaunch, BeforeHostUp, HostInit:
			return
		}
	}
	t.at(ev.Time, "event %-18s %-28s %s\n", ev.Type, ev.where(), ev.Reason)
}

// at prints a line after the time from the start to when (now when zero).
func (t *Timeline) at(when time.Time, format string, args ...any) {
	if when.IsZero() {
		when = t.clk.Now()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%6.2fs  ", when.Sub(t.start).Seconds())
	fmt.Fprintf(t.w, format, args...)
}

// ScriptResult prints a script's result (exit status or error, duration)
// with its whole output, indented. Give it to ScriptingOptions.OnResult.
func (t *Timeline) ScriptResult(ev Event, r scripting.Result) {
	status := fmt.Sprintf("exit %d", r.ExitCode)
	if r.Err != nil {
		status = r.Err.Error()
	}
	t.mu.Lock()
	if !r.OK() {
		t.failed++
	}
	t.mu.Unlock()
	t.Printf("%s script %q v%d on %s/%s: %s in %s\n%s", ev.Type, r.Script, r.Version,
		r.Target.Role, r.Target.ServerID, status, r.Duration().Round(time.Millisecond),
		indentOutput(r.Stdout+r.Stderr))
}

// FailedScripts returns how many script results it printed that were not
// a success.
func (t *Timeline) FailedScripts() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// indentOutput prefixes every line of s, for output under a line of the
// timeline.
func indentOutput(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "          | " + strings.ReplaceAll(s, "\n", "\n          | ") + "\n"
}
