package providertest_test

import (
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/provider/providertest"
)

// TestConformance, in a driver's own test file, runs the suite against the
// driver. Here the driver is the fake cloud; its settle function advances
// the fake clock past the boot time.
func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, providertest.Harness{
		New: func(t *testing.T) (provider.Provider, func()) {
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			p := fake.New(fake.Options{Clock: clk})
			t.Cleanup(func() { p.Close() })
			return p, func() { clk.Advance(fake.DefaultBootTime) }
		},
		Image:        "ami-fake",
		InstanceType: "m1.small",
		UnknownID:    "i-999999",
	})
}
