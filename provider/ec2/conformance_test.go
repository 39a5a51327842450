package ec2_test

import (
	"context"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/ec2"
	"github.com/farmhand/farmhand/provider/providertest"
)

// newProvider starts an ec2test server and a driver pointed at it, with
// retries fast enough for tests.
func newProvider(t *testing.T, opts *ec2test.Options) (*ec2.Provider, *ec2test.Server) {
	t.Helper()
	srv := ec2test.New(t, opts)
	cfg := srv.Config()
	p, err := ec2.New(context.Background(), ec2.Options{
		AWSConfig:       &cfg,
		Endpoint:        srv.URL,
		RetryMaxBackoff: time.Millisecond,
	})
	if err != nil {
		t.Fatalf("ec2.New: %v", err)
	}
	return p, srv
}

func TestConformance(t *testing.T) {
	providertest.RunConformanceTests(t, providertest.Harness{
		New: func(t *testing.T) (provider.Provider, func()) {
			p, srv := newProvider(t, nil)
			return p, srv.Settle
		},
		Image:        "ami-0123456789abcdef0",
		InstanceType: "t3.micro",
		PageSize:     5,
	})
}
