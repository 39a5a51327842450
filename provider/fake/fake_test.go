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
		{"i-000001", "10.0.0.1", "203.0.113.1", "fake-1a"},
		{"i-000002", "10.0.0.2", "203.0.113.2", "fake-1a"},
		{"i-000003", "10.0.0.3", "203.0.113.3", "fake-1b"},
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
