package ec2_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/internal/ec2test"
)

// farmOverEC2 runs a farm with one role "app" (0..200 servers) over the
// EC2 driver and an ec2test server, on a fake clock.
func farmOverEC2(t *testing.T, opts *ec2test.Options) (*farm.Farm, *ec2test.Server, *clock.Fake) {
	t.Helper()
	p, srv := newProvider(t, opts)
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{Name: "app", Image: testImage, InstanceType: "t3.micro", Min: 0, Max: 200}}}
	f, err := farm.New(spec, p, &farm.Options{Clock: clk, TickInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Launch(context.Background()); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	return f, srv, clk
}

// tick moves the farm's clock on and reconciles once.
func tick(t *testing.T, f *farm.Farm, clk *clock.Fake) {
	t.Helper()
	clk.Advance(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Reconcile(ctx); err != nil {
		t.Logf("reconcile: %v", err)
	}
	if err := f.Settle(ctx); err != nil {
		t.Fatalf("settle: %v", err)
	}
}

func TestFarmScalingZeroToAHundredCostsOneRunInstancesPerZone(t *testing.T) {
	f, srv, clk := farmOverEC2(t, nil)
	zones := len(srv.Options().Zones)
	if err := f.SetDesired("app", 100); err != nil {
		t.Fatal(err)
	}
	srv.ResetCalls()
	tick(t, f, clk)
	calls := srv.Counts()
	if calls["RunInstances"] > zones {
		t.Errorf("scaling 0 → 100 took %d RunInstances calls over %d zones, want at most one per zone", calls["RunInstances"], zones)
	}
	if calls["DescribeInstances"] != 1 {
		t.Errorf("the scale-up tick made %d DescribeInstances calls, want 1", calls["DescribeInstances"])
	}
	if n := len(srv.Live()); n != 100 {
		t.Fatalf("%d instances at EC2 after the scale-up tick, want 100", n)
	}
	t.Logf("scale-up tick: %v", calls)
	srv.Settle()
	for i := range 3 {
		srv.ResetCalls()
		tick(t, f, clk)
		calls := srv.Counts()
		if calls["DescribeInstances"] != 1 || calls["RunInstances"] != 0 || calls["TerminateInstances"] != 0 {
			t.Errorf("steady tick %d made %v, want one DescribeInstances and nothing else", i+1, calls)
		}
	}
	st, _ := f.Status().Role("app")
	if st.Counts[farm.StateRunning] != 100 {
		t.Fatalf("role app: %v, want 100 running", st.Counts)
	}
	perZone := map[string]int{}
	for _, in := range srv.Live() {
		perZone[in.Zone]++
	}
	for z, n := range perZone {
		if n < 33 || n > 34 {
			t.Errorf("zone %s holds %d of 100 servers, want an even spread %v", z, n, perZone)
		}
	}
}

func TestFarmListsInPagesAtOneCallPerPage(t *testing.T) {
	f, srv, clk := farmOverEC2(t, &ec2test.Options{PageSize: 25})
	if err := f.SetDesired("app", 100); err != nil {
		t.Fatal(err)
	}
	tick(t, f, clk)
	srv.Settle()
	srv.ResetCalls()
	tick(t, f, clk)
	if n := srv.Count("DescribeInstances"); n != 4 {
		t.Fatalf("a tick over 100 servers in pages of 25 made %d DescribeInstances calls, want 4", n)
	}
}

func TestFarmSteersAwayFromAZoneWithoutCapacity(t *testing.T) {
	f, srv, clk := farmOverEC2(t, nil)
	full := srv.Options().Zones[0]
	srv.SetCapacity(full, 0)
	if err := f.SetDesired("app", 30); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tick(t, f, clk)
	}
	live := srv.Live()
	if len(live) != 30 {
		t.Fatalf("%d instances at EC2, want 30", len(live))
	}
	for _, in := range live {
		if in.Zone == full {
			t.Fatalf("instance %s landed in %s, which has no capacity", in.ID, full)
		}
	}
	fullCalls := 0
	for _, c := range srv.Calls("RunInstances") {
		if c.Params["Placement.AvailabilityZone"][0] == full {
			fullCalls++
		}
	}
	if fullCalls != 1 {
		t.Errorf("%d RunInstances calls to the full zone, want 1 (then it cools off)", fullCalls)
	}
	st, _ := f.Status().Role("app")
	t.Logf("RunInstances calls: %d (%d to the full zone); avoided zones %v", srv.Count("RunInstances"), fullCalls, st.AvoidedZones)
	if len(st.AvoidedZones) != 1 || st.AvoidedZones[0] != full {
		t.Errorf("avoided zones %v, want [%s]", st.AvoidedZones, full)
	}
}

func TestFarmDoesNotLaunchAgainWhileEC2ListsNewInstancesLate(t *testing.T) {
	f, srv, clk := farmOverEC2(t, nil)
	srv.DelayVisibility(3)
	if err := f.SetDesired("app", 12); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		tick(t, f, clk)
		srv.Settle()
	}
	if n := len(srv.Instances()); n != 12 {
		t.Fatalf("%d instances at EC2 after 5 ticks with listings 3 answers late, want 12", n)
	}
	if n := srv.Count("RunInstances"); n > len(srv.Options().Zones) {
		t.Fatalf("%d RunInstances calls, want at most one per zone", n)
	}
}

func TestFarmLaunchRefusesAnELBThatDoesNotExist(t *testing.T) {
	p, srv := newProvider(t, nil)
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{Name: "app", Image: testImage, InstanceType: "t3.micro", Min: 2, Max: 4, LoadBalancer: "www"}}}
	f, err := farm.New(spec, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = f.Launch(context.Background())
	if err == nil || !strings.Contains(err.Error(), `role "app": load_balancer "www": provider "ec2" has no load balancer of that name`) {
		t.Fatalf("Launch with no ELB www: %v", err)
	}
	calls := srv.Counts()
	if calls["DescribeLoadBalancers"] != 1 || calls["RunInstances"] != 0 {
		t.Fatalf("a refused Launch made %v, want one DescribeLoadBalancers and no RunInstances", calls)
	}

	srv.AddLoadBalancer("www")
	if err := f.Launch(context.Background()); err != nil {
		t.Fatalf("Launch once ELB www exists: %v", err)
	}
}
