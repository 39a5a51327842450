package ec2_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/provider"
)

func TestHostKeysComeFromTheConsoleOnceCloudInitPrintedThem(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	s, err := p.Launch(ctx, spec("hostkeys", 1, ""))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := p.HostKeys(ctx, s[0].ID)
	if err != nil || keys == nil || len(keys) != 0 {
		t.Fatalf("HostKeys of a booting instance = %v, %v; want an empty slice and no error", keys, err)
	}
	srv.Settle()
	keys, err = p.HostKeys(ctx, s[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := srv.Instance(s[0].ID)
	if len(keys) != 1 || keys[0] != in.HostKey {
		t.Fatalf("HostKeys = %q, want the key the console printed %q", keys, in.HostKey)
	}
	out, err := p.ConsoleOutput(ctx, s[0].ID)
	if err != nil || !strings.Contains(out, "-----BEGIN SSH HOST KEY KEYS-----") {
		t.Fatalf("ConsoleOutput = %q, %v; want the decoded console with cloud-init's block", out, err)
	}
	if err := p.Reboot(ctx, s[0].ID); err != nil {
		t.Fatal(err)
	}
	if again, err := p.HostKeys(ctx, s[0].ID); err != nil || !slices.Equal(again, keys) {
		t.Fatalf("HostKeys after a reboot = %q, %v; want %q", again, err, keys)
	}
	_, err = p.HostKeys(ctx, "i-0fffffffffffffff0")
	expectCode(t, err, provider.NotFound)
}

func TestSnapshotsOfAServersVolumes(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, &ec2test.Options{PageSize: 2})
	s, err := p.Launch(ctx, spec("db", 1, srv.Options().Zones[2]))
	if err != nil {
		t.Fatal(err)
	}
	vols, err := p.Volumes(ctx, s[0].ID)
	if err != nil {
		t.Fatalf("Volumes: %v", err)
	}
	if len(vols) != 1 {
		t.Fatalf("Volumes = %+v, want the root volume", vols)
	}
	v := vols[0]
	if v.ServerID != s[0].ID || v.Device != "/dev/xvda" || v.SizeGiB != 8 || v.Zone != srv.Options().Zones[2] || v.Tags[provider.TagFarm] != "shop" {
		t.Fatalf("root volume %+v: want attached to %s at /dev/xvda, 8 GiB, zone %s, tagged with the farm", v, s[0].ID, srv.Options().Zones[2])
	}
	backupTags := map[string]string{provider.TagFarm: "shop", "farmhand:backup": "db"}
	var made []string
	for i := range 5 {
		tags := backupTags
		if i == 4 {
			tags = map[string]string{provider.TagFarm: "shop", "farmhand:backup": "other"}
		}
		snap, err := p.CreateSnapshot(ctx, v.ID, tags)
		if err != nil {
			t.Fatalf("CreateSnapshot %d: %v", i, err)
		}
		if snap.ID == "" || snap.VolumeID != v.ID || snap.State != "pending" || snap.Tags["farmhand:backup"] != tags["farmhand:backup"] || snap.StartedAt.IsZero() {
			t.Fatalf("CreateSnapshot returned %+v", snap)
		}
		if i < 4 {
			made = append(made, snap.ID)
		}
	}
	srv.Settle()
	before := srv.Count("DescribeSnapshots")
	list, err := p.ListSnapshots(ctx, backupTags)
	if err != nil {
		t.Fatalf("ListSnapshots: %v", err)
	}
	var got []string
	for _, sn := range list {
		got = append(got, sn.ID)
		if sn.State != "completed" {
			t.Errorf("snapshot %s is %q after settle, want completed", sn.ID, sn.State)
		}
	}
	if !slices.Equal(got, made) {
		t.Fatalf("ListSnapshots = %v, want %v", got, made)
	}
	if n := srv.Count("DescribeSnapshots") - before; n != 2 {
		t.Fatalf("%d DescribeSnapshots calls for 4 snapshots in pages of 2, want 2", n)
	}
	for _, id := range []string{made[0], made[0], "snap-0fffffffffffffff0", "snap-bogus"} {
		if err := p.DeleteSnapshot(ctx, id); err != nil {
			t.Fatalf("DeleteSnapshot(%s): %v", id, err)
		}
	}
	if list, _ := p.ListSnapshots(ctx, backupTags); len(list) != 3 {
		t.Fatalf("%d snapshots after deleting one of 4, want 3", len(list))
	}
	_, err = p.CreateSnapshot(ctx, "vol-0fffffffffffffff0", backupTags)
	expectCode(t, err, provider.NotFound)
}

func TestLoadBalancerRegistration(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	srv.AddLoadBalancer("web")
	s, err := p.Launch(ctx, spec("lb", 3, ""))
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := s[0].ID, s[1].ID, s[2].ID
	steps := []struct {
		name    string
		do      func() error
		want    []string
		wantErr provider.Code
	}{
		{"register two", func() error { return p.Register(ctx, "web", a, b) }, []string{a, b}, 0},
		{"register one again with a third", func() error { return p.Register(ctx, "web", b, c) }, []string{a, b, c}, 0},
		{"deregister one", func() error { return p.Deregister(ctx, "web", a) }, []string{b, c}, 0},
		{"deregister one not registered", func() error { return p.Deregister(ctx, "web", a) }, []string{b, c}, 0},
		{"deregister with an unknown instance in the batch", func() error { return p.Deregister(ctx, "web", b, "i-0fffffffffffffff0") }, []string{c}, 0},
		{"register at a missing load balancer", func() error { return p.Register(ctx, "nope", a) }, []string{c}, provider.NotFound},
		{"deregister at a missing load balancer", func() error { return p.Deregister(ctx, "nope", a, b) }, []string{c}, provider.NotFound},
		{"register an unknown instance", func() error { return p.Register(ctx, "web", "i-0fffffffffffffff0") }, []string{c}, provider.NotFound},
	}
	for _, st := range steps {
		err := st.do()
		if st.wantErr != 0 {
			if provider.CodeOf(err) != st.wantErr {
				t.Fatalf("%s: error %v, want %v", st.name, err, st.wantErr)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, _ := srv.LoadBalancerInstances("web")
		want := slices.Sorted(slices.Values(st.want))
		if !slices.Equal(got, want) {
			t.Fatalf("%s: registered %v, want %v", st.name, got, want)
		}
	}
	if err := p.Register(ctx, "web"); err != nil {
		t.Fatalf("Register of nothing: %v", err)
	}
	t.Logf("ELB calls: register %d, deregister %d", srv.Count("RegisterInstancesWithLoadBalancer"), srv.Count("DeregisterInstancesFromLoadBalancer"))
}

func TestZonesAreTheRegionsAvailabilityZones(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, &ec2test.Options{Region: "eu-test-2", Zones: []string{"eu-test-2a", "eu-test-2b"}})
	zones, err := p.Zones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(zones, []string{"eu-test-2a", "eu-test-2b"}) {
		t.Fatalf("Zones = %v", zones)
	}
	if p.Region() != "eu-test-2" {
		t.Fatalf("Region = %q", p.Region())
	}
	call := srv.Calls("DescribeAvailabilityZones")[0]
	if fmt.Sprint(call.Params["Filter.1.Name"], call.Params["Filter.2.Name"]) != "[state] [zone-type]" {
		t.Fatalf("DescribeAvailabilityZones filters %v", call.Params)
	}
}

func TestHasLoadBalancerAsksELB(t *testing.T) {
	ctx := context.Background()
	p, srv := newProvider(t, nil)
	srv.AddLoadBalancer("web")
	if ok, err := p.HasLoadBalancer(ctx, "web"); !ok || err != nil {
		t.Fatalf("HasLoadBalancer(web) = %v, %v; want true", ok, err)
	}
	if ok, err := p.HasLoadBalancer(ctx, "nope"); ok || err != nil {
		t.Fatalf("HasLoadBalancer(nope) = %v, %v; want false with no error", ok, err)
	}
	srv.FailNext("DescribeLoadBalancers", 1, "AccessDenied")
	if ok, err := p.HasLoadBalancer(ctx, "web"); ok || !errors.Is(err, provider.PermissionDenied) {
		t.Fatalf("HasLoadBalancer refused by ELB = %v, %v; want PermissionDenied", ok, err)
	}
	if n := srv.Counts()["DescribeLoadBalancers"]; n != 3 {
		t.Fatalf("%d DescribeLoadBalancers calls, want 3", n)
	}
}
