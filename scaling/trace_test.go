package scaling

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadTrace(t *testing.T) {
	cases := []struct {
		name    string
		csv     string
		start   time.Time
		points  []TracePoint
		err     string
		howLong time.Duration
	}{
		{
			name:   "RFC 3339 times with a header",
			csv:    "time,load\n2024-03-11T08:00:00Z,1.5\n2024-03-11T08:05:00Z,2.5\n",
			start:  time.Date(2024, 3, 11, 8, 0, 0, 0, time.UTC),
			points: []TracePoint{{0, 1.5, false}, {5 * time.Minute, 2.5, false}}, howLong: 10 * time.Minute,
		},
		{
			name:   "second offsets without a header",
			csv:    "100,1\n160,2\n220.5,3\n",
			points: []TracePoint{{0, 1, false}, {time.Minute, 2, false}, {120500 * time.Millisecond, 3, false}},
		},
		{
			name:   "comments, blank lines and spaces are ignored",
			csv:    "# a comment\ntime, load\n\n0, 4\n 300 , 5 \n",
			points: []TracePoint{{0, 4, false}, {5 * time.Minute, 5, false}},
		},
		{
			name:   "extra columns are ignored",
			csv:    "time,load,note\n0,1,quiet\n60,9,spike\n",
			points: []TracePoint{{0, 1, false}, {time.Minute, 9, false}},
		},
		{
			name:   "an empty load is a missing datapoint",
			csv:    "time,load\n0,1\n60,\n120\n180,2\n",
			points: []TracePoint{{0, 1, false}, {time.Minute, 0, true}, {2 * time.Minute, 0, true}, {3 * time.Minute, 2, false}},
		},
		{name: "a trace of gaps only is refused", csv: "0,\n60,\n", err: "no data lines"},
		{name: "a line with neither time nor load is refused", csv: "0,1\n,\n", err: `trace line 2: "," has no load and no time`},
		{name: "a bad load names its line", csv: "time,load\n0,1\n60,lots\n", err: `trace line 3: load "lots" is not a non-negative number`},
		{name: "a negative load is refused", csv: "0,-1\n", err: `load "-1"`},
		{name: "a bad first data line is not taken for a header", csv: "0,abc\n60,1\n", err: `trace line 1: load "abc"`},
		{name: "a bad time names its line", csv: "0,1\nnoon,2\n", err: `trace line 2: time "noon" is neither RFC 3339 nor seconds`},
		{name: "mixed time forms are refused", csv: "0,1\n2024-03-11T08:00:00Z,2\n", err: "is RFC 3339 but earlier lines are seconds"},
		{name: "times must increase", csv: "0,1\n60,2\n60,3\n", err: `trace line 3: time "60" is not after line 2's`},
		{name: "an empty trace is refused", csv: "time,load\n", err: "no data lines"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := ReadTrace(strings.NewReader(c.csv))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tr.Start.Equal(c.start) {
				t.Errorf("start %v, want %v", tr.Start, c.start)
			}
			if len(tr.Points) != len(c.points) {
				t.Fatalf("points %v, want %v", tr.Points, c.points)
			}
			for i := range c.points {
				if tr.Points[i] != c.points[i] {
					t.Errorf("point %d = %v, want %v", i, tr.Points[i], c.points[i])
				}
			}
			if c.howLong != 0 && tr.Duration() != c.howLong {
				t.Errorf("duration %s, want %s", tr.Duration(), c.howLong)
			}
		})
	}
}

func TestTraceLoadAt(t *testing.T) {
	tr := &Trace{Points: []TracePoint{{0, 1, false}, {time.Minute, 5, false}, {3 * time.Minute, 2, false}}}
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{-time.Second, 1}, {0, 1}, {59 * time.Second, 1}, {time.Minute, 5}, {2 * time.Minute, 5}, {3 * time.Minute, 2}, {time.Hour, 2}} {
		if got := tr.LoadAt(c.at); got != c.want {
			t.Errorf("LoadAt(%s) = %v, want %v", c.at, got, c.want)
		}
	}
}

func TestTracePointAtTellsAGap(t *testing.T) {
	tr := &Trace{Points: []TracePoint{{0, 1, false}, {time.Minute, 0, true}, {3 * time.Minute, 2, false}}}
	for _, c := range []struct {
		at      time.Duration
		load    float64
		missing bool
	}{{0, 1, false}, {time.Minute, 0, true}, {2 * time.Minute, 0, true}, {3 * time.Minute, 2, false}} {
		if p := tr.PointAt(c.at); p.Load != c.load || p.Missing != c.missing {
			t.Errorf("PointAt(%s) = %+v, want load %v missing %v", c.at, p, c.load, c.missing)
		}
	}
}

func readSampleTrace(t testing.TB) *Trace {
	t.Helper()
	f, err := os.Open("testdata/sample-trace.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ReadTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestSampleTraceIsADay(t *testing.T) {
	tr := readSampleTrace(t)
	if len(tr.Points) != 288 || tr.Duration() != 24*time.Hour {
		t.Fatalf("%d points over %s, want 288 over 24h", len(tr.Points), tr.Duration())
	}
	night, noon, evening := tr.LoadAt(3*time.Hour), tr.LoadAt(12*time.Hour), tr.LoadAt(22*time.Hour)
	if !(noon > 4*night && noon > 4*evening) {
		t.Fatalf("loads night %.2f noon %.2f evening %.2f: want a morning ramp and an evening drop", night, noon, evening)
	}
}
