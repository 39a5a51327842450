package main

import (
	"io"
	"os"
	"regexp"
	"testing"

	"github.com/farmhand/farmhand/internal/sshdtest"
)

// stdout runs fn and returns what it printed.
func stdout(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	runErr := fn()
	os.Stdout = old
	w.Close()
	out := string(<-done)
	if runErr != nil {
		t.Fatalf("%v\n%s", runErr, out)
	}
	return out
}

// A small run of the README's command prints the farmhand line with every
// host answering.
func TestSmallRun(t *testing.T) {
	sshdtest.Require(t)
	out := stdout(t, func() error { return run(4, 4, 1, false) })
	if !regexp.MustCompile(`(?m)^fanout hosts=4 ok=4 width=4 kex=\S+ wall_ms=\d+ cpu_ms=\d+$`).MatchString(out) {
		t.Fatalf("output:\n%s", out)
	}
}
