package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/bindtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(controllerMain())
	}
	os.Exit(m.Run())
}

// A short run: two cycles of launch, scale-out, scale-in, failover and
// terminate, the controller killed with SIGKILL once in each step.
func TestKilledControllersLoseNothing(t *testing.T) {
	bindtest.RequireNamed(t)
	c := config{points: 10, tick: 100 * time.Millisecond}
	var log strings.Builder
	r, err := run(context.Background(), c, &log)
	t.Log(r.line())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !r.ok() {
		t.Fatalf("%s\n%s", strings.Join(r.failures, "\n"), log.String())
	}
	if r.late == r.points {
		t.Fatal("every kill came after the step had converged")
	}
}
