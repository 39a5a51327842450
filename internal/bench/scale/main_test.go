package main

import (
	"errors"
	"io"
	"os"
	"regexp"
	"testing"
)

// The README's command, with two ticks per size: both sizes tick and
// print their line. Whether the figures meet their targets is the
// benchmark's verdict on a quiet machine, not this test's.
func TestTwoTicks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds farms of 1,000 and 10,000 fake servers (-short)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	runErr := run(2, 2, "", "")
	os.Stdout = old
	w.Close()
	out := string(<-done)
	if runErr != nil && !errors.Is(runErr, errMissed) {
		t.Fatalf("%v\n%s", runErr, out)
	}
	for _, n := range []string{"1000", "10000"} {
		if !regexp.MustCompile(`(?m)^scale servers=` + n + ` tick_ms=[\d.]+ heap_mb=[\d.]+$`).MatchString(out) {
			t.Fatalf("no line for %s servers in:\n%s", n, out)
		}
	}
}
