package provrpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/provrpc"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/provider/providertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serve(t *testing.T, p provider.Provider) *provrpc.Client {
	t.Helper()
	srv, err := provrpc.Serve(p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := provrpc.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close()
	})
	return c
}

// The served fake keeps every promise of the driver contract.
func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, providertest.Harness{
		New: func(t *testing.T) (provider.Provider, func()) {
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			p := fake.New(fake.Options{Clock: clk, PageSize: 3})
			t.Cleanup(func() { p.Close() })
			return serve(t, p), func() { clk.Advance(fake.DefaultBootTime) }
		},
		Image:        "ami-fake",
		InstanceType: "m1.small",
		UnknownID:    "i-999999",
	})
}

func TestErrorCodesAndContextCrossTheWire(t *testing.T) {
	p := fake.New(fake.Options{})
	defer p.Close()
	c := serve(t, p)
	ctx := context.Background()
	p.FailNext(fake.OpLaunch, 1, provider.InsufficientCapacity)
	_, err := c.Launch(ctx, provider.LaunchSpec{Token: "t", Count: 1, Image: "ami"})
	if provider.CodeOf(err) != provider.InsufficientCapacity {
		t.Fatalf("Launch error %v has code %v, want InsufficientCapacity", err, provider.CodeOf(err))
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Zones(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Zones with a done context: %v", err)
	}
}
