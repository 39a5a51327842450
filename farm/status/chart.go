package status

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH             = 720, 220
	padLeft, padRight          = 44, 16
	padTop, padBottom          = 16, 34
	plotW                      = chartW - padLeft - padRight
	plotH                      = chartH - padTop - padBottom
	chartTimeLayout            = "15:04:05"
	chartDateTimeLayout        = "Jan 2 15:04"
	chartLongSpan              = 24 * time.Hour
	chartBackground, lineColor = "#fbfbfd", "#2563eb"
)

// capacityChart draws a role's desired count over time as an SVG step
// line, from since (or its first scaling record, if earlier) to now. Each record is a marked
// step (class "step", with data-time and data-count) so that the chart
// can be read back. It returns "" for a role with no history.
func capacityChart(role string, steps []ScalingStep, since, now time.Time) string {
	if len(steps) == 0 {
		return ""
	}
	start := steps[0].Time
	if !since.IsZero() && since.Before(start) {
		start = since
	}
	end := now
	if last := steps[len(steps)-1].Time; end.Before(last) {
		end = last
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Second
		end = start.Add(span)
	}
	top := steps[0].From
	for _, s := range steps {
		top = max(top, s.To, s.Max)
	}
	top = max(top, 1)
	x := func(t time.Time) float64 { return padLeft + float64(plotW)*float64(t.Sub(start))/float64(span) }
	y := func(n int) float64 { return padTop + float64(plotH)*(1-float64(n)/float64(top)) }
	layout := chartTimeLayout
	if span >= chartLongSpan {
		layout = chartDateTimeLayout
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="capacity-chart" data-role="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="desired servers of role %s over time">`,
		html.EscapeString(role), chartW, chartH, chartW, chartH, html.EscapeString(role))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="%s" stroke="#d0d4dc"/>`, chartW, chartH, chartBackground)
	// Horizontal grid lines with their counts.
	for _, n := range gridCounts(top) {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e3e6ec"/>`, padLeft, y(n), chartW-padRight, y(n))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="#555">%d</text>`, padLeft-6, y(n)+4, n)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555">%s</text>`, padLeft, chartH-10, start.Format(layout))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" text-anchor="end" fill="#555">%s</text>`, chartW-padRight, chartH-10, end.Format(layout))
	// The step line: flat until a record, then vertical to its count.
	var d strings.Builder
	fmt.Fprintf(&d, "M%.1f %.1f", x(start), y(steps[0].From))
	for _, s := range steps {
		fmt.Fprintf(&d, " H%.1f V%.1f", x(s.Time), y(s.To))
	}
	fmt.Fprintf(&d, " H%.1f", x(end))
	fmt.Fprintf(&b, `<path class="capacity" d="%s" fill="none" stroke="%s" stroke-width="2.5"/>`, d.String(), lineColor)
	for _, s := range steps {
		fmt.Fprintf(&b, `<circle class="step" data-time="%s" data-count="%d" cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s: %d → %d (%s)</title></circle>`,
			s.Time.Format(time.RFC3339), s.To, x(s.Time), y(s.To), lineColor,
			s.Time.Format(chartDateTimeLayout), s.From, s.To, html.EscapeString(s.Reason))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// gridCounts picks up to five round counts from 0 to top.
func gridCounts(top int) []int {
	step := 1
	for _, s := range []int{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000} {
		step = s
		if top/s <= 4 {
			break
		}
	}
	var out []int
	for n := 0; n <= top; n += step {
		out = append(out, n)
	}
	return out
}
