package webfarm

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/farmhand/farmhand/farm"
)

// Timeline is the farm's public timeline (farm.Timeline: events and
// script results as they happen, with the time since the start) and a
// line of counts. Its methods are safe for concurrent use.
type Timeline struct {
	*farm.Timeline
}

func newTimeline(w io.Writer) *Timeline {
	return &Timeline{farm.NewTimeline(w, nil)}
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

// indent prefixes every line of s with spaces, for output under a line of
// the timeline.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "          | " + strings.ReplaceAll(s, "\n", "\n          | ") + "\n"
}
