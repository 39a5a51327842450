package scaling

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Trace is a recorded load curve: the role's total load over time, as read
// by [ReadTrace].
type Trace struct {
	// Start is the time of the first point for a trace with RFC 3339 times;
	// zero for a trace of second offsets.
	Start time.Time
	// Points are in strictly increasing Offset order; the first is at 0.
	Points []TracePoint
}

// TracePoint is one line of a trace.
type TracePoint struct {
	// Offset is the time since the trace's first point.
	Offset time.Duration
	// Load is the role's total load at that time (the sum of the servers'
	// load averages, requests per second, …); 0 when Missing.
	Load float64
	// Missing is set for a line whose load is empty: the measurement failed
	// or was not taken. A replay treats it as a failed metric, which blocks
	// scale-in until a real datapoint comes.
	Missing bool
}

// ReadTrace reads a CSV trace: lines of "time,load", where time is an
// RFC 3339 timestamp or a number of seconds from any origin, the same form
// on every line, strictly increasing. An empty load ("600," or "600") is a
// missing datapoint ([TracePoint.Missing]), a gap in the recording. A first
// line whose load is not a number is a header; lines starting with '#' are
// comments. Errors name the line and the value.
func ReadTrace(r io.Reader) (*Trace, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	tr := &Trace{}
	var (
		relative, absolute bool
		first              time.Time
		firstSec           float64
		lastOffset         time.Duration
		lastLine           int
	)
	for rec := 0; ; rec++ {
		fields, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		timeText, loadText := strings.TrimSpace(fields[0]), ""
		if len(fields) > 1 {
			loadText = strings.TrimSpace(fields[1])
		}
		missing := loadText == ""
		if missing && !looksLikeTime(timeText) {
			return nil, fmt.Errorf("trace line %d: %q has no load and no time, want time,load", line, strings.Join(fields, ","))
		}
		var load float64
		if !missing {
			var lerr error
			load, lerr = strconv.ParseFloat(loadText, 64)
			if lerr != nil && rec == 0 && !looksLikeTime(timeText) {
				continue // header
			}
			if lerr != nil || math.IsNaN(load) || math.IsInf(load, 0) || load < 0 {
				return nil, fmt.Errorf("trace line %d: load %q is not a non-negative number", line, loadText)
			}
		}
		var offset time.Duration
		if sec, err := strconv.ParseFloat(timeText, 64); err == nil && !math.IsNaN(sec) && !math.IsInf(sec, 0) {
			if absolute {
				return nil, fmt.Errorf("trace line %d: time %q is seconds but earlier lines are RFC 3339", line, timeText)
			}
			if !relative {
				relative, firstSec = true, sec
			}
			offset = time.Duration((sec - firstSec) * float64(time.Second))
		} else {
			at, err := time.Parse(time.RFC3339Nano, timeText)
			if err != nil {
				return nil, fmt.Errorf("trace line %d: time %q is neither RFC 3339 nor seconds", line, timeText)
			}
			if relative {
				return nil, fmt.Errorf("trace line %d: time %q is RFC 3339 but earlier lines are seconds", line, timeText)
			}
			if !absolute {
				absolute, first = true, at
				tr.Start = at
			}
			offset = at.Sub(first)
		}
		if len(tr.Points) > 0 && offset <= lastOffset {
			return nil, fmt.Errorf("trace line %d: time %q is not after line %d's", line, timeText, lastLine)
		}
		tr.Points = append(tr.Points, TracePoint{Offset: offset, Load: load, Missing: missing})
		lastOffset, lastLine = offset, line
	}
	known := 0
	for _, p := range tr.Points {
		if !p.Missing {
			known++
		}
	}
	if known == 0 {
		return nil, errors.New("trace: no data lines")
	}
	return tr, nil
}

func looksLikeTime(s string) bool {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return true
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// Duration is how long the trace covers: up to its last point plus the
// spacing before that point, so that a day of 5-minute points lasts 24 h.
func (t *Trace) Duration() time.Duration {
	n := len(t.Points)
	if n < 2 {
		return 0
	}
	return t.Points[n-1].Offset + (t.Points[n-1].Offset - t.Points[n-2].Offset)
}

// LoadAt returns the load in force at offset: that of the last point at or
// before it (the first point's before the trace starts). In a gap (the
// point in force is Missing) it returns 0; use [Trace.PointAt] to tell.
func (t *Trace) LoadAt(offset time.Duration) float64 {
	return t.PointAt(offset).Load
}

// PointAt returns the point in force at offset: the last point at or
// before it (the first point before the trace starts). Its Missing field
// says whether offset falls in a gap of the recording.
func (t *Trace) PointAt(offset time.Duration) TracePoint {
	if len(t.Points) == 0 {
		return TracePoint{Missing: true}
	}
	i := sort.Search(len(t.Points), func(i int) bool { return t.Points[i].Offset > offset })
	if i == 0 {
		return t.Points[0]
	}
	return t.Points[i-1]
}
