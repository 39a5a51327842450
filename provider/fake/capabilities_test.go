package fake_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

func TestHostKeysAndConsole(t *testing.T) {
	p, clk := newCloud(t, fake.Options{Seed: 3})
	s := mustLaunch(t, p, spec("t", 1))[0]
	if keys, err := p.HostKeys(ctx, s.ID); err != nil || len(keys) != 0 {
		t.Fatalf("HostKeys while pending = %v, %v; want none", keys, err)
	}
	if out, _ := p.ConsoleOutput(ctx, s.ID); strings.Contains(out, "SSH HOST KEY") {
		t.Fatalf("console shows host keys while pending:\n%s", out)
	}
	clk.Advance(fake.DefaultBootTime)
	keys, err := p.HostKeys(ctx, s.ID)
	if err != nil || len(keys) != 1 || !strings.HasPrefix(keys[0], "ssh-ed25519 AAAA") {
		t.Fatalf("HostKeys = %v, %v", keys, err)
	}
	out, err := p.ConsoleOutput(ctx, s.ID)
	if err != nil || !strings.Contains(out, "-----BEGIN SSH HOST KEY KEYS-----\n"+keys[0]) {
		t.Fatalf("console output lacks the host key:\n%s", out)
	}

	same, sclk := newCloud(t, fake.Options{Seed: 3})
	mustLaunch(t, same, spec("t", 1))
	sclk.Advance(fake.DefaultBootTime)
	if other, _ := same.HostKeys(ctx, s.ID); len(other) != 1 || other[0] != keys[0] {
		t.Fatalf("the same seed gave host keys %v, want %v", other, keys)
	}
	diff, dclk := newCloud(t, fake.Options{Seed: 4})
	mustLaunch(t, diff, spec("t", 1))
	dclk.Advance(fake.DefaultBootTime)
	if other, _ := diff.HostKeys(ctx, s.ID); len(other) != 1 || other[0] == keys[0] {
		t.Fatalf("another seed gave host keys %v, want one different key", other)
	}
	for name, call := range map[string]func() error{
		"HostKeys":      func() error { _, err := p.HostKeys(ctx, "i-777777"); return err },
		"ConsoleOutput": func() error { _, err := p.ConsoleOutput(ctx, "i-777777"); return err },
		"Volumes":       func() error { _, err := p.Volumes(ctx, "i-777777"); return err },
	} {
		if err := call(); !errors.Is(err, provider.NotFound) {
			t.Errorf("%s of an unknown server: %v, want NotFound", name, err)
		}
	}
}

func TestSnapshots(t *testing.T) {
	p, clk := newCloud(t, fake.Options{})
	s := mustLaunch(t, p, spec("t", 1))[0]
	vols, err := p.Volumes(ctx, s.ID)
	if err != nil || len(vols) != 1 || vols[0].ServerID != s.ID || vols[0].Zone != s.Zone {
		t.Fatalf("Volumes = %+v, %v", vols, err)
	}
	snap, err := p.CreateSnapshot(ctx, vols[0].ID, map[string]string{"farm": "shop", "kind": "daily"})
	if err != nil || snap.State != "completed" || snap.VolumeID != vols[0].ID || !snap.StartedAt.Equal(epoch) {
		t.Fatalf("CreateSnapshot = %+v, %v", snap, err)
	}
	clk.Advance(time.Hour)
	if _, err := p.CreateSnapshot(ctx, vols[0].ID, map[string]string{"farm": "shop"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.ListSnapshots(ctx, map[string]string{"kind": "daily"}); len(got) != 1 || got[0].ID != snap.ID {
		t.Fatalf("ListSnapshots(kind=daily) = %+v", got)
	}
	if got, _ := p.ListSnapshots(ctx, map[string]string{"farm": "shop"}); len(got) != 2 {
		t.Fatalf("ListSnapshots(farm=shop) = %d snapshots, want 2", len(got))
	}
	for range 2 {
		if err := p.DeleteSnapshot(ctx, snap.ID); err != nil {
			t.Fatalf("DeleteSnapshot: %v", err)
		}
	}
	if got, _ := p.ListSnapshots(ctx, nil); len(got) != 1 {
		t.Fatalf("%d snapshots after delete, want 1", len(got))
	}
	if _, err := p.CreateSnapshot(ctx, "vol-999999", nil); !errors.Is(err, provider.NotFound) {
		t.Fatalf("snapshot of unknown volume: %v", err)
	}
	if err := p.Terminate(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if vols, err := p.Volumes(ctx, s.ID); err != nil || len(vols) != 0 {
		t.Fatalf("Volumes of terminated server = %v, %v; want none", vols, err)
	}
}

func TestLoadBalancer(t *testing.T) {
	p, _ := newCloud(t, fake.Options{LoadBalancers: []string{"web"}})
	servers := mustLaunch(t, p, spec("t", 3))
	a, b, c := servers[0].ID, servers[1].ID, servers[2].ID
	if err := p.Register(ctx, "nope", a); !errors.Is(err, provider.NotFound) {
		t.Fatalf("Register with unknown load balancer: %v", err)
	}
	if err := p.Register(ctx, "web", a, "i-999999"); !errors.Is(err, provider.InvalidArgument) || len(p.Registered("web")) != 0 {
		t.Fatalf("Register with an unknown server: %v, registered %v", err, p.Registered("web"))
	}
	for range 2 {
		if err := p.Register(ctx, "web", b, a, c); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Registered("web"); !slices.Equal(got, []string{a, b, c}) {
		t.Fatalf("Registered = %v", got)
	}
	if err := p.Deregister(ctx, "web", b, "i-999999"); err != nil {
		t.Fatal(err)
	}
	if err := p.Crash(c); err != nil {
		t.Fatal(err)
	}
	if got := p.Registered("web"); !slices.Equal(got, []string{a}) {
		t.Fatalf("Registered after deregister and crash = %v, want [%s]", got, a)
	}
	p.CreateLoadBalancer("api")
	if err := p.Register(ctx, "api", a); err != nil || p.Registered("nope") != nil {
		t.Fatalf("Register with a created load balancer: %v", err)
	}
}

func TestHasLoadBalancerCreatesTheName(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	s := mustLaunch(t, p, spec("t", 1))
	if err := p.Register(ctx, "www", s[0].ID); !errors.Is(err, provider.NotFound) {
		t.Fatalf("Register before it was asked for: %v", err)
	}
	if ok, err := p.HasLoadBalancer(ctx, "www"); !ok || err != nil {
		t.Fatalf("HasLoadBalancer = %v, %v", ok, err)
	}
	if err := p.Register(ctx, "www", s[0].ID); err != nil || len(p.Registered("www")) != 1 {
		t.Fatalf("Register after it was asked for: %v, registered %v", err, p.Registered("www"))
	}
	if ok, err := p.HasLoadBalancer(ctx, ""); ok || !errors.Is(err, provider.InvalidArgument) {
		t.Fatalf("HasLoadBalancer of an empty name = %v, %v", ok, err)
	}
}
