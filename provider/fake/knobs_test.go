package fake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

func TestLaunchRetriedAfterLostAnswerLaunchesOnce(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	p.LoseNext(fake.OpLaunch, 1, provider.Unavailable)
	if _, err := p.Launch(ctx, spec("tok", 2)); !errors.Is(err, provider.Unavailable) {
		t.Fatalf("first launch: %v, want Unavailable", err)
	}
	if n := len(p.Servers()); n != 2 {
		t.Fatalf("the lost launch made %d servers, want 2", n)
	}
	got := mustLaunch(t, p, spec("tok", 2))
	if !slices.Equal(serverIDs(got), []string{"i-000001", "i-000002"}) {
		t.Fatalf("retry returned %v", serverIDs(got))
	}
	if n := len(p.Servers()); n != 2 {
		t.Fatalf("the retry made the count %d, want 2", n)
	}
}

func TestFailNext(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    fake.Op
		call  func(p *fake.Provider) error
		code  provider.Code
		times int
	}{
		{"launch fails twice with capacity errors", fake.OpLaunch, func(p *fake.Provider) error {
			_, err := p.Launch(ctx, spec(fmt.Sprint(time.Now().UnixNano()), 1))
			return err
		}, provider.InsufficientCapacity, 2},
		{"list is throttled once", fake.OpList, func(p *fake.Provider) error {
			_, err := p.List(ctx, provider.ListOptions{})
			return err
		}, provider.Throttled, 1},
		{"terminate is unavailable three times", fake.OpTerminate, func(p *fake.Provider) error {
			return p.Terminate(ctx, "i-000001")
		}, provider.Unavailable, 3},
		{"zones are denied once", fake.OpZones, func(p *fake.Provider) error {
			_, err := p.Zones(ctx)
			return err
		}, provider.PermissionDenied, 1},
		{"every operation fails with OpAll", fake.OpAll, func(p *fake.Provider) error {
			_, err := p.Get(ctx, "i-000001")
			return err
		}, provider.Unavailable, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newCloud(t, fake.Options{})
			mustLaunch(t, p, spec("seed", 1))
			p.FailNext(tc.op, tc.times, tc.code)
			for i := range tc.times {
				if err := tc.call(p); !errors.Is(err, tc.code) {
					t.Fatalf("call %d: %v, want %v", i+1, err, tc.code)
				}
			}
			if err := tc.call(p); err != nil {
				t.Fatalf("call after the injected faults: %v", err)
			}
		})
	}
}

func failurePattern(seed int64, fraction float64, n int) string {
	p := fake.New(fake.Options{Seed: seed})
	defer p.Close()
	p.FailRate(fake.OpList, fraction, provider.Throttled)
	var b strings.Builder
	for range n {
		if _, err := p.List(ctx, provider.ListOptions{}); err != nil {
			b.WriteByte('x')
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

func TestFailRateIsDeterministic(t *testing.T) {
	a := failurePattern(7, 0.3, 1000)
	if b := failurePattern(7, 0.3, 1000); a != b {
		t.Fatal("the same seed gave different failure patterns")
	}
	if c := failurePattern(8, 0.3, 1000); a == c {
		t.Fatal("different seeds gave the same failure pattern")
	}
	if n := strings.Count(a, "x"); n < 250 || n > 350 {
		t.Fatalf("%d of 1000 calls failed at a rate of 0.3", n)
	}
	if n := strings.Count(failurePattern(7, 0, 100), "x"); n != 0 {
		t.Fatalf("rate 0 failed %d calls", n)
	}
	if n := strings.Count(failurePattern(7, 1, 100), "x"); n != 100 {
		t.Fatalf("rate 1 failed %d of 100 calls", n)
	}
}

func TestLatencyWaitsOnTheClock(t *testing.T) {
	p, clk := newCloud(t, fake.Options{})
	p.SetLatency(fake.OpZones, 3*time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := p.Zones(ctx)
		done <- err
	}()
	clk.BlockUntil(1)
	clk.Advance(2 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Zones returned (%v) before its latency passed", err)
	default:
	}
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := p.Zones(cctx)
		done <- err
	}()
	clk.BlockUntil(1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want context.Canceled", err)
	}
}

func TestCallsAreRecorded(t *testing.T) {
	p, clk := newCloud(t, fake.Options{})
	mustLaunch(t, p, spec("t", 1))
	clk.Advance(time.Minute)
	p.FailNext(fake.OpGet, 1, provider.Throttled)
	_, _ = p.Get(ctx, "i-000001")
	calls := p.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls recorded, want 2: %+v", len(calls), calls)
	}
	if c := calls[0]; c.Op != fake.OpLaunch || !strings.Contains(c.Args, "token=t") || !c.Time.Equal(epoch) || c.Err != nil {
		t.Errorf("first call %+v", c)
	}
	if c := calls[1]; c.Op != fake.OpGet || c.Args != "i-000001" || !c.Time.Equal(epoch.Add(time.Minute)) || !errors.Is(c.Err, provider.Throttled) {
		t.Errorf("second call %+v", c)
	}
	p.ResetCalls()
	if n := len(p.Calls()); n != 0 {
		t.Fatalf("%d calls after ResetCalls", n)
	}
}
