package fake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

var ctx = context.Background()

func newCloud(t *testing.T, opts fake.Options) (*fake.Provider, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(epoch)
	opts.Clock = clk
	p := fake.New(opts)
	t.Cleanup(func() { p.Close() })
	return p, clk
}

func spec(token string, count int) provider.LaunchSpec {
	return provider.LaunchSpec{
		Token: token, Count: count, Image: "img-1", InstanceType: "small",
		Tags: map[string]string{provider.TagFarm: "shop", provider.TagRole: "app"},
	}
}

func mustLaunch(t *testing.T, p *fake.Provider, s provider.LaunchSpec) []provider.Server {
	t.Helper()
	got, err := p.Launch(ctx, s)
	if err != nil {
		t.Fatalf("Launch(%s): %v", s.Token, err)
	}
	return got
}

func mustGet(t *testing.T, p *fake.Provider, id string) provider.Server {
	t.Helper()
	s, err := p.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return s
}

func serverIDs(servers []provider.Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.ID
	}
	return out
}

func TestLaunchIsDeterministic(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	got := mustLaunch(t, p, spec("a", 2))
	got = append(got, mustLaunch(t, p, spec("b", 1))...)
	for i, want := range []struct{ id, priv, pub, zone string }{
		{"i-000001", "127.100.0.1", "203.0.113.1", "fake-1a"},
		{"i-000002", "127.100.0.2", "203.0.113.2", "fake-1a"},
		{"i-000003", "127.100.0.3", "203.0.113.3", "fake-1b"},
	} {
		s := got[i]
		if s.ID != want.id || s.PrivateIP != want.priv || s.PublicIP != want.pub || s.Zone != want.zone {
			t.Errorf("server %d = %s %s %s %s, want %s %s %s %s", i, s.ID, s.PrivateIP, s.PublicIP, s.Zone, want.id, want.priv, want.pub, want.zone)
		}
		if !s.LaunchedAt.Equal(epoch) || s.Image != "img-1" || s.InstanceType != "small" || s.Name != "app" {
			t.Errorf("server %d = %+v", i, s)
		}
	}
}

func TestBootTime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bootTime time.Duration
		advance  time.Duration
		want     provider.State
	}{
		{"a new server is pending", 0, 0, provider.StatePending},
		{"it is still pending just before the default boot time", 0, fake.DefaultBootTime - time.Nanosecond, provider.StatePending},
		{"it is running at the default boot time", 0, fake.DefaultBootTime, provider.StateRunning},
		{"a configured boot time is honoured", time.Minute, 59 * time.Second, provider.StatePending},
		{"a configured boot time ends", time.Minute, time.Minute, provider.StateRunning},
		{"a negative boot time means running at once", -1, 0, provider.StateRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clk := newCloud(t, fake.Options{BootTime: tc.bootTime})
			s := mustLaunch(t, p, spec("t", 1))[0]
			clk.Advance(tc.advance)
			if got := mustGet(t, p, s.ID).State; got != tc.want {
				t.Fatalf("state %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLaunchValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*provider.LaunchSpec)
		wantMsg string
	}{
		{"an empty token is refused", func(s *provider.LaunchSpec) { s.Token = "" }, "token is empty"},
		{"a zero count is refused", func(s *provider.LaunchSpec) { s.Count = 0 }, "count 0 < 1"},
		{"a min count above count is refused", func(s *provider.LaunchSpec) { s.MinCount = 5 }, "min count 5"},
		{"a negative min count is refused", func(s *provider.LaunchSpec) { s.MinCount = -1 }, "min count -1"},
		{"an empty image is refused", func(s *provider.LaunchSpec) { s.Image = "" }, "image is empty"},
		{"an unknown zone is refused", func(s *provider.LaunchSpec) { s.Zone = "mars-1a" }, `zone "mars-1a"`},
		{"an empty tag key is refused", func(s *provider.LaunchSpec) { s.Tags[""] = "x" }, "empty key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newCloud(t, fake.Options{})
			s := spec("t", 2)
			tc.change(&s)
			_, err := p.Launch(ctx, s)
			if !errors.Is(err, provider.InvalidArgument) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want InvalidArgument mentioning %q", err, tc.wantMsg)
			}
			if n := len(p.Servers()); n != 0 {
				t.Fatalf("%d servers launched", n)
			}
		})
	}
}

func TestLaunchTokens(t *testing.T) {
	p, clk := newCloud(t, fake.Options{})
	first := mustLaunch(t, p, spec("tok", 2))
	clk.Advance(fake.DefaultBootTime)
	again := mustLaunch(t, p, spec("tok", 2))
	if !slices.Equal(serverIDs(first), serverIDs(again)) {
		t.Fatalf("same token gave %v then %v", serverIDs(first), serverIDs(again))
	}
	if again[0].State != provider.StateRunning {
		t.Fatalf("a repeated launch reports state %q, want the servers' current state running", again[0].State)
	}
	changed := spec("tok", 3)
	if _, err := p.Launch(ctx, changed); !errors.Is(err, provider.AlreadyExists) {
		t.Fatalf("token reused for another spec: %v, want AlreadyExists", err)
	}
	if n := len(p.Servers()); n != 2 {
		t.Fatalf("%d servers, want 2", n)
	}
}

func TestZoneCapacity(t *testing.T) {
	for _, tc := range []struct {
		name      string
		zone      string
		count     int
		minCount  int
		wantCode  provider.Code // Unknown: success
		wantCount int
		wantZone  string
	}{
		{name: "a launch over capacity fails and launches nothing", zone: "fake-1a", count: 3, wantCode: provider.InsufficientCapacity},
		{name: "a launch within capacity succeeds", zone: "fake-1a", count: 2, wantCount: 2, wantZone: "fake-1a"},
		{name: "a min count launches what fits", zone: "fake-1a", count: 5, minCount: 1, wantCount: 2, wantZone: "fake-1a"},
		{name: "an unlimited zone takes any launch", zone: "fake-1b", count: 9, wantCount: 9, wantZone: "fake-1b"},
		{name: "a launch without zone goes where it fits", count: 3, wantCount: 3, wantZone: "fake-1b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newCloud(t, fake.Options{})
			p.SetZoneCapacity("fake-1a", 2)
			p.SetZoneCapacity("fake-1c", 0)
			s := spec("t", tc.count)
			s.Zone, s.MinCount = tc.zone, tc.minCount
			got, err := p.Launch(ctx, s)
			if tc.wantCode != provider.Unknown {
				if !errors.Is(err, tc.wantCode) || len(p.Servers()) != 0 {
					t.Fatalf("err %v and %d servers, want %v and none", err, len(p.Servers()), tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantCount || got[0].Zone != tc.wantZone {
				t.Fatalf("launched %d in %s, want %d in %s", len(got), got[0].Zone, tc.wantCount, tc.wantZone)
			}
		})
	}
}

func TestCapacityIsFreedByTermination(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	p.SetZoneCapacity("fake-1a", 1)
	s := spec("one", 1)
	s.Zone = "fake-1a"
	first := mustLaunch(t, p, s)[0]
	s.Token = "two"
	if _, err := p.Launch(ctx, s); !errors.Is(err, provider.InsufficientCapacity) {
		t.Fatalf("second launch into a full zone: %v", err)
	}
	if err := p.Terminate(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	mustLaunch(t, p, s)
	p.SetZoneCapacity("fake-1a", -1)
	s.Token, s.Count = "three", 10
	mustLaunch(t, p, s)
}

func TestListPages(t *testing.T) {
	p, _ := newCloud(t, fake.Options{PageSize: 4})
	mustLaunch(t, p, spec("a", 10))
	other := spec("b", 2)
	other.Tags = map[string]string{provider.TagFarm: "other"}
	mustLaunch(t, p, other)

	var sizes []int
	opts := provider.ListOptions{Tags: map[string]string{provider.TagFarm: "shop"}, PageSize: 100}
	for {
		page, err := p.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Servers))
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	if !slices.Equal(sizes, []int{4, 4, 2}) {
		t.Fatalf("page sizes %v, want [4 4 2] (Options.PageSize caps the caller's hint)", sizes)
	}
	page, err := p.List(ctx, provider.ListOptions{PageSize: 5})
	if err != nil || len(page.Servers) != 4 {
		t.Fatalf("List with hint 5: %d servers, %v; want the cap 4", len(page.Servers), err)
	}
	page, err = p.List(ctx, provider.ListOptions{PageSize: 3})
	if err != nil || len(page.Servers) != 3 {
		t.Fatalf("List with hint 3: %d servers, %v", len(page.Servers), err)
	}
	if _, err := p.List(ctx, provider.ListOptions{PageToken: "bogus"}); !errors.Is(err, provider.InvalidArgument) {
		t.Fatalf("bogus page token: %v, want InvalidArgument", err)
	}
}

func TestTerminatedServersVanishAfterAnHour(t *testing.T) {
	p, clk := newCloud(t, fake.Options{})
	s := mustLaunch(t, p, spec("t", 1))[0]
	if err := p.Terminate(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, p, s.ID)
	if got.State != provider.StateTerminated || got.PrivateIP != "" {
		t.Fatalf("terminated server: %+v", got)
	}
	clk.Advance(fake.TerminatedRetention - time.Second)
	if all, _ := provider.ListAll(ctx, p, nil); len(all) != 1 {
		t.Fatalf("a server terminated %v ago is not listed", fake.TerminatedRetention-time.Second)
	}
	clk.Advance(time.Second)
	if _, err := p.Get(ctx, s.ID); !errors.Is(err, provider.NotFound) {
		t.Fatalf("Get an hour after termination: %v, want NotFound", err)
	}
	if all, _ := provider.ListAll(ctx, p, nil); len(all) != 0 {
		t.Fatalf("List an hour after termination: %v", serverIDs(all))
	}
	if err := p.Reboot(ctx, s.ID); !errors.Is(err, provider.NotFound) {
		t.Fatalf("Reboot of a vanished server: %v, want NotFound", err)
	}
	if all := p.Servers(); len(all) != 1 || all[0].State != provider.StateTerminated {
		t.Fatalf("Servers() = %+v, want the vanished server, terminated", all)
	}
}

func TestChaos(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(p *fake.Provider, id string) error
		want provider.State
	}{
		{"a crashed server is terminated", (*fake.Provider).Crash, provider.StateTerminated},
		{"a stopped server is stopped", (*fake.Provider).Stop, provider.StateStopped},
		{"a failed server is failed", (*fake.Provider).Fail, provider.StateFailed},
		{"a hung server is still running at the cloud", (*fake.Provider).Hang, provider.StateRunning},
		{"a started server boots again", func(p *fake.Provider, id string) error {
			if err := p.Stop(id); err != nil {
				return err
			}
			return p.Start(id)
		}, provider.StatePending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clk := newCloud(t, fake.Options{})
			s := mustLaunch(t, p, spec("t", 1))[0]
			clk.Advance(fake.DefaultBootTime)
			if err := tc.act(p, s.ID); err != nil {
				t.Fatal(err)
			}
			if got := mustGet(t, p, s.ID).State; got != tc.want {
				t.Fatalf("state %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChaosOnUnknownAndGoneServers(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	s := mustLaunch(t, p, spec("t", 1))[0]
	if err := p.Crash(s.ID); err != nil {
		t.Fatal(err)
	}
	for name, act := range map[string]func(string) error{
		"Crash": p.Crash, "Stop": p.Stop, "Fail": p.Fail, "Hang": p.Hang, "Start": p.Start,
		"ChangeIP": func(id string) error { _, _, err := p.ChangeIP(id); return err },
		"SetLoad":  func(id string) error { return p.SetLoad(id, 1, 1, 1) },
	} {
		if err := act("i-424242"); !errors.Is(err, provider.NotFound) {
			t.Errorf("%s of an unknown server: %v, want NotFound", name, err)
		}
		if err := act(s.ID); !errors.Is(err, provider.InvalidArgument) {
			t.Errorf("%s of a crashed server: %v, want InvalidArgument", name, err)
		}
	}
}

func TestChangeIP(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	s := mustLaunch(t, p, spec("t", 2))[0]
	priv, pub, err := p.ChangeIP(s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if priv == s.PrivateIP || pub == s.PublicIP {
		t.Fatalf("ChangeIP kept an address: %s %s -> %s %s", s.PrivateIP, s.PublicIP, priv, pub)
	}
	got := mustGet(t, p, s.ID)
	if got.PrivateIP != priv || got.PublicIP != pub {
		t.Fatalf("Get says %s %s, ChangeIP said %s %s", got.PrivateIP, got.PublicIP, priv, pub)
	}
}

func TestAddressesAreUniqueAmongLiveServers(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	// More servers than one public /24 holds, with churn.
	for round := range 4 {
		got := mustLaunch(t, p, spec(fmt.Sprint("r", round), 200))
		if round%2 == 0 {
			if err := p.Terminate(ctx, serverIDs(got[:150])...); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]string{}
	for _, s := range p.Servers() {
		if s.State.Gone() {
			continue
		}
		for _, ip := range []string{s.PrivateIP, s.PublicIP} {
			if ip == "" {
				t.Fatalf("live server %s lacks an address", s.ID)
			}
			if other, dup := seen[ip]; dup {
				t.Fatalf("address %s is held by %s and %s", ip, other, s.ID)
			}
			seen[ip] = s.ID
		}
	}
}

func TestConcurrentLaunchesNeverDuplicate(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			// Four callers per token.
			if _, err := p.Launch(ctx, spec(fmt.Sprint("tok", i%10), 2)); err != nil {
				t.Error(err)
			}
			_, _ = provider.ListAll(ctx, p, nil)
		})
	}
	wg.Wait()
	if n := len(p.Servers()); n != 20 {
		t.Fatalf("%d servers for 10 tokens of 2, want 20", n)
	}
}

func TestLoad(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	s := mustLaunch(t, p, spec("t", 1))[0]
	if err := p.SetLoad(s.ID, 2, 1.5, 1); err != nil {
		t.Fatal(err)
	}
	l1, l5, l15, err := p.Load(s.ID)
	if err != nil || l1 != 2 || l5 != 1.5 || l15 != 1 {
		t.Fatalf("Load = %v %v %v %v", l1, l5, l15, err)
	}
}

func TestCancelledContext(t *testing.T) {
	p, _ := newCloud(t, fake.Options{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Launch(cctx, spec("t", 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Launch with a cancelled context: %v", err)
	}
	if len(p.Servers()) != 0 {
		t.Fatal("a cancelled launch made servers")
	}
	if p.Name() != "fake" || p.As(new(any)) {
		t.Fatal("Name or As")
	}
}
