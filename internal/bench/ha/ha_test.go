package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/etcdtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(controllerEnv) != "" {
		os.Exit(controllerMain())
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// A short run of the benchmark: three controller processes, one killed
// with SIGKILL; its farms are taken over within two TTLs, with no double
// action and no server launched twice.
func TestKilledControllerIsTakenOver(t *testing.T) {
	etcdtest.Require(t)
	c := config{controllers: 3, farms: 9, servers: 90, ttl: 3 * time.Second, tick: 500 * time.Millisecond, limit: 2 * time.Minute}
	r, err := run(context.Background(), c)
	if err != nil {
		for _, out := range r.controllerOut {
			t.Log(out)
		}
		t.Fatal(err)
	}
	t.Log(r.line(c))
	if r.moved == 0 {
		t.Fatal("the killed controller owned no farm")
	}
	if r.takeover > 2*c.ttl {
		t.Errorf("takeover took %v, more than two TTLs (%v)", r.takeover, 2*c.ttl)
	}
	for _, d := range r.doubles {
		t.Errorf("double action: %v", d)
	}
	if r.running != c.servers || r.launched != c.servers {
		t.Errorf("%d servers running, %d launched; want %d of each", r.running, r.launched, c.servers)
	}
}
