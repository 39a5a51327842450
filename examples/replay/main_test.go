package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestReplayOfTheSampleDayMatchesThePureModel(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, defaults()); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"replaying the sample day: 288 points over 24h0m0s",
		"2024-03-11 07:26  2 → 3  load   4.55  load1 avg 2.27 > 2.00 for 2 datapoints: +1 (2 → 3)",
		"2024-03-11 20:21  3 → 2  load   1.79  load1 avg 0.60 < 0.80 for 2 datapoints: -1 (3 → 2)",
		"  13:00  12  12  12 ████████████   load  17.25",
		"farm on the fake cloud: actions=14 up=4 down=10 server-hours=147.5 peak=12 low=2",
		"pure model (scaling.Simulate): actions=14 up=4 down=10 server-hours=147.5 peak=12 low=2",
		"cost at 0.10 per server-hour (farm.Cost): 14.76 over the trace, 0.20/h at the end",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`replayed 24h0m0s in [0-9.]+m?s of wall time \(\d+x real time\), 2880 ticks`).MatchString(text) {
		t.Errorf("output lacks the wall time line")
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}

func TestReplayReadsATraceOfSecondOffsets(t *testing.T) {
	// Two hours: quiet, a burst of load for 40 minutes, quiet again.
	var csv strings.Builder
	csv.WriteString("# seconds,load\n")
	for m := 0; m < 120; m += 5 {
		load := 1.0
		if m >= 30 && m < 70 {
			load = 12
		}
		fmt.Fprintf(&csv, "%d,%g\n", m*60, load)
	}
	path := filepath.Join(t.TempDir(), "burst.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	c := defaults()
	c.trace, c.hourly = path, false
	c.cooldownDown = 5 * time.Minute
	var out bytes.Buffer
	if err := run(&out, c); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	m := regexp.MustCompile(`farm on the fake cloud: actions=(\d+) up=(\d+) down=(\d+) server-hours=([\d.]+) peak=(\d+) low=(\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no summary:\n%s", text)
	}
	if m[2] == "0" || m[3] == "0" || m[5] == "2" || m[6] != "2" {
		t.Fatalf("want a scale-out during the burst and back to 2 after it:\n%s", text)
	}
	if strings.Contains(text, "capacity by hour") {
		t.Errorf("-hourly=false printed the hourly capacity")
	}
}

func TestReplayRejectsABadTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(path, []byte("0,1\n60,lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := defaults()
	c.trace = path
	err := run(&bytes.Buffer{}, c)
	if err == nil || !strings.Contains(err.Error(), "bad.csv") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error = %v, want one naming the file and line 2", err)
	}
}

func TestReplayRejectsABadPolicy(t *testing.T) {
	c := defaults()
	c.min, c.max = 5, 3
	if err := run(&bytes.Buffer{}, c); err == nil || !strings.Contains(err.Error(), "min 5 > max 3") {
		t.Fatalf("error = %v", err)
	}
	c = defaults()
	c.upBy = "lots"
	if err := run(&bytes.Buffer{}, c); err == nil || !strings.Contains(err.Error(), `up_by "lots"`) {
		t.Fatalf("error = %v", err)
	}
}

func TestReplayMakesNoScaleInDuringAGapInTheTrace(t *testing.T) {
	// Busy for an hour, then two hours with no datapoints, then quiet: the
	// farm must keep its servers through the gap and scale in after it.
	var csv strings.Builder
	csv.WriteString("time,load\n")
	for m := 0; m < 240; m += 5 {
		switch {
		case m < 60:
			fmt.Fprintf(&csv, "%d,%d\n", m*60, 12)
		case m < 180:
			fmt.Fprintf(&csv, "%d,\n", m*60)
		default:
			fmt.Fprintf(&csv, "%d,%d\n", m*60, 1)
		}
	}
	path := filepath.Join(t.TempDir(), "gap.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	c := defaults()
	c.trace = path
	var out bytes.Buffer
	if err := run(&out, c); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "48 points over 4h0m0s, 24 missing (no scale-in while the metric is missing)") {
		t.Errorf("header does not count the gap:\n%s", text)
	}
	// Actions are "  2024-01-01 HH:MM  a → b  load ...": in the gap
	// (01:00 to 03:00) no action may lower the count; after it one must.
	re := regexp.MustCompile(`(?m)^  2024-01-01 (\d\d):(\d\d) +(\d+) → (\d+) +load +(\S+)`)
	var inGap, after int
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		var h, from, to int
		fmt.Sscan(m[1], &h)
		fmt.Sscan(m[3], &from)
		fmt.Sscan(m[4], &to)
		switch {
		case h >= 1 && h < 3:
			if to < from {
				t.Errorf("scale-in during the gap: %s", m[0])
			}
			if m[5] != "missing" {
				t.Errorf("action in the gap does not say the load is missing: %s", m[0])
			}
			inGap++
		case h >= 3 && to < from:
			after++
		}
	}
	if after == 0 {
		t.Errorf("no scale-in after the gap")
	}
	if !strings.Contains(text, "  02:00 ") || !regexp.MustCompile(`(?m)^  02:00 .* load missing$`).MatchString(text) {
		t.Errorf("hourly capacity does not show the gap")
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}
