package fake_test

import (
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/provider/providertest"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, providertest.Harness{
		New: func(t *testing.T) (provider.Provider, func()) {
			clk := clock.NewFake(epoch)
			p := fake.New(fake.Options{Clock: clk, PageSize: 3})
			t.Cleanup(func() { p.Close() })
			return p, func() { clk.Advance(fake.DefaultBootTime) }
		},
		Image:        "ami-fake",
		InstanceType: "m1.small",
		UnknownID:    "i-999999",
	})
}
