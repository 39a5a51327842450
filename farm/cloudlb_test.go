package farm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

func TestTheFakeCreatesALoadBalancerTheSpecNames(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 2, LoadBalancer: "www"}}}
	r := newRig(t, spec, nil, fake.Options{})
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	for range 5 {
		r.tick(30 * time.Second)
	}
	if got := r.cloud.Registered("www"); len(got) != 2 {
		t.Fatalf("registered %v, want both servers", got)
	}
}

func TestLaunchRefusesALoadBalancerTheCloudLacks(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "app", Image: "img", Min: 2, Max: 2, LoadBalancer: "www"},
		{Name: "api", Image: "img", Min: 1, Max: 1, LoadBalancer: "own"},
	}}
	cloud := lacksLB{fake.New(fake.Options{})}
	defer cloud.Close()
	f, err := New(spec, cloud, &Options{LoadBalancers: map[string]Backends{"own": nopBackends{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = f.Launch(context.Background())
	if err == nil || !strings.Contains(err.Error(), `role "app": load_balancer "www": provider "fake" has no load balancer of that name`) {
		t.Fatalf("Launch: %v", err)
	}
	if strings.Contains(err.Error(), `"own"`) {
		t.Fatalf("a load balancer of Options.LoadBalancers was looked up: %v", err)
	}
	for _, c := range cloud.Calls() {
		if c.Op == fake.OpLaunch {
			t.Fatalf("a refused Launch called the cloud to launch: %v", c)
		}
	}
}

// lacksLB is the fake as a real cloud that has no load balancer yet.
type lacksLB struct{ *fake.Provider }

func (lacksLB) HasLoadBalancer(ctx context.Context, name string) (bool, error) { return false, nil }

var _ provider.LoadBalancer = lacksLB{}

// nopBackends is a program's own load balancer that accepts every set.
type nopBackends struct{}

func (nopBackends) SetBackends(context.Context, string, []Server) error { return nil }
