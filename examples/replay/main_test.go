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
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if !regexp.MustCompile(`replayed 24h0m0s in \d+ms of wall time \(\d+x real time\), 2880 ticks`).MatchString(text) {
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
