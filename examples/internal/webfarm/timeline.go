package webfarm

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/scripting"
)

// Timeline prints events and script results as they happen, with the time
// since the start. Its methods are safe for concurrent use.
type Timeline struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time
	failed int
}

func newTimeline(w io.Writer) *Timeline {
	return &Timeline{w: w, start: time.Now()}
}

// Printf prints a line (format ends with "\n") after the time since the
// start.
func (t *Timeline) Printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%6.2fs  ", time.Since(t.start).Seconds())
	fmt.Fprintf(t.w, format, args...)
}

// PrintCounts prints counts in one line after label, in the order of
// their names: "API calls: GET /servers 3, POST /servers 2".
func (t *Timeline) PrintCounts(label string, counts map[string]int) {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", name, counts[name]))
	}
	t.Printf("%s: %s\n", label, strings.Join(parts, ", "))
}

func (t *Timeline) event(ev farm.Event) {
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
	t.Printf("event %-18s %-28s %s\n", ev.Type, where, ev.Reason)
}

// script prints a script's result with its whole output, indented.
func (t *Timeline) script(ev farm.Event, r scripting.Result) {
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
		indent(r.Stdout+r.Stderr))
}

func (t *Timeline) failedScripts() int {
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
