package rackspace_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/rackspace"
)

func launchSpec(token string, count int) provider.LaunchSpec {
	return provider.LaunchSpec{
		Token: token, Count: count, Image: testImage, InstanceType: testFlavor, Zone: "az1",
		Tags: map[string]string{provider.TagFarm: "web", provider.TagRole: "app", provider.TagSlot: "0"},
	}
}

func newKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " farmer@laptop"
}

func serverIDs(servers []provider.Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.ID
	}
	slices.Sort(out)
	return out
}

func TestALaunchOfManyServersIsOneCreateCall(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	got, err := p.Launch(context.Background(), launchSpec("t-many", 5))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("Launch returned %d servers, want 5", len(got))
	}
	if n := srv.Calls("POST /servers"); n != 1 {
		t.Fatalf("POST /servers called %d times, want 1 (min_count/max_count)", n)
	}
	// One listing looks for an earlier launch, one sees what the scheduler did.
	if n := srv.Calls("GET /servers/detail"); n != 2 {
		t.Fatalf("GET /servers/detail called %d times, want 2", n)
	}
	for i, s := range got {
		if want := "web-app-"; !strings.HasPrefix(s.Name, want) || !strings.HasSuffix(s.Name, "-"+string(rune('1'+i))) {
			t.Errorf("server %d is named %q, want %s<token hash>-%d", i, s.Name, want, i+1)
		}
		if s.Tags[provider.TagToken] != "t-many" || s.Tags[provider.TagFarm] != "web" {
			t.Errorf("server %s has tags %v", s.ID, s.Tags)
		}
	}
}

func TestALostCreateAnswerNeitherFailsNorDuplicatesTheLaunch(t *testing.T) {
	for _, count := range []int{1, 3} {
		t.Run(map[int]string{1: "one server", 3: "three servers"}[count], func(t *testing.T) {
			srv := newCloud(t, nil)
			p := newProvider(t, passwordOptions(srv))
			spec := launchSpec("t-lost", count)
			srv.DropNextCreates(1)
			first, err := p.Launch(context.Background(), spec)
			if err != nil {
				t.Fatalf("Launch whose create answer was dropped: %v", err)
			}
			again, err := p.Launch(context.Background(), spec)
			if err != nil {
				t.Fatalf("Launch retried with the same token: %v", err)
			}
			if len(first) != count || !slices.Equal(serverIDs(first), serverIDs(again)) {
				t.Fatalf("first launch %v, retried launch %v; want the same %d servers", serverIDs(first), serverIDs(again), count)
			}
			if n := srv.Calls("POST /servers"); n != 1 {
				t.Fatalf("POST /servers called %d times, want 1", n)
			}
			if ids := srv.Servers(); len(ids) != count {
				t.Fatalf("the cloud holds %d servers, want %d", len(ids), count)
			}
		})
	}
}

func TestAZoneWithoutCapacityFailsTheLaunchAndKeepsNothing(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	srv.SetCapacity("az1", 2)
	_, err := p.Launch(context.Background(), launchSpec("t-full", 3))
	if !errors.Is(err, provider.InsufficientCapacity) {
		t.Fatalf("Launch of 3 into a zone with room for 2: %v, want InsufficientCapacity", err)
	}
	if !strings.Contains(err.Error(), "No valid host") || !strings.Contains(err.Error(), `"az1"`) {
		t.Fatalf("error %q should name the zone and Nova's fault", err)
	}
	srv.Settle()
	if ids := srv.Servers(); len(ids) != 0 {
		t.Fatalf("servers %v are left after a failed launch", ids)
	}
	// Another zone still works, and so does a launch that fits.
	spec := launchSpec("t-other-zone", 3)
	spec.Zone = "az2"
	if got, err := p.Launch(context.Background(), spec); err != nil || len(got) != 3 {
		t.Fatalf("Launch into az2: %d servers, %v", len(got), err)
	}
	if got, err := p.Launch(context.Background(), launchSpec("t-fits", 2)); err != nil || len(got) != 2 {
		t.Fatalf("Launch of 2 into az1: %d servers, %v", len(got), err)
	}
}

func TestLaunchWaitsForTheSchedulerBeforeAnswering(t *testing.T) {
	srv := newCloud(t, nil)
	clk := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	o := apiKeyOptions(srv)
	o.Clock = clk
	p := newProvider(t, o)
	srv.DelaySchedule(true)
	srv.SetCapacity("az1", 0)

	type launched struct {
		servers []provider.Server
		err     error
	}
	done := make(chan launched, 1)
	go func() {
		s, err := p.Launch(context.Background(), launchSpec("t-sched", 1))
		done <- launched{s, err}
	}()
	clk.BlockUntil(1) // polling: the server is still "scheduling"
	srv.Settle()      // the scheduler finds no host
	clk.Advance(2 * time.Second)
	r := <-done
	if !errors.Is(r.err, provider.InsufficientCapacity) {
		t.Fatalf("Launch: %v, want InsufficientCapacity once the scheduler gave up", r.err)
	}

	// A scheduler that never decides: Launch returns the pending server
	// after ScheduleTimeout.
	srv.SetCapacity("az1", -1)
	go func() {
		s, err := p.Launch(context.Background(), launchSpec("t-slow", 1))
		done <- launched{s, err}
	}()
	polls := 0
	for finished := false; !finished; {
		select {
		case r = <-done:
			finished = true
		case <-time.After(time.Millisecond):
			if _, waiting := clk.NextDeadline(); waiting {
				clk.Advance(2 * time.Second)
				polls++
			}
		}
	}
	if polls != 30 {
		t.Errorf("Launch polled the scheduler %d times in its 60 s, want 30 (every 2 s)", polls)
	}
	if r.err != nil || len(r.servers) != 1 || r.servers[0].State != provider.StatePending {
		t.Fatalf("Launch with a slow scheduler: %v, %v; want one pending server", r.servers, r.err)
	}
}

func TestQuotaRefusalsAreQuotaExceededAndMinCountIsHonoured(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	srv.SetQuota(2)
	_, err := p.Launch(context.Background(), launchSpec("t-over", 3))
	if !errors.Is(err, provider.QuotaExceeded) {
		t.Fatalf("Launch of 3 with a quota of 2: %v, want QuotaExceeded", err)
	}
	spec := launchSpec("t-some", 3)
	spec.MinCount = 1
	got, err := p.Launch(context.Background(), spec)
	if err != nil || len(got) != 2 {
		t.Fatalf("Launch of 1..3 with a quota of 2: %d servers, %v; want 2", len(got), err)
	}
}

func TestTheSSHKeyIsImportedOnceAsAKeyPair(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	key, other := newKey(t), newKey(t)
	for i, k := range []string{key, key, other} {
		spec := launchSpec("t-key-"+string(rune('a'+i)), 1)
		spec.SSHPublicKey = k
		got, err := p.Launch(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if name := srv.ServerKeyName(got[0].ID); !strings.HasPrefix(name, "farmhand-") {
			t.Fatalf("server booted with key_name %q", name)
		}
	}
	if n := srv.Calls("POST /os-keypairs"); n != 2 {
		t.Fatalf("POST /os-keypairs called %d times for 2 distinct keys, want 2", n)
	}
	// A new provider (a restarted controller) finds the key pair there: the
	// 409 conflict is fine.
	p2 := newProvider(t, apiKeyOptions(srv))
	spec := launchSpec("t-key-restart", 1)
	spec.SSHPublicKey = key
	if _, err := p2.Launch(context.Background(), spec); err != nil {
		t.Fatalf("Launch with a key pair that exists: %v", err)
	}
	if got := srv.Keypairs(); len(got) != 2 {
		t.Fatalf("key pairs %v, want 2", got)
	}
	bad := launchSpec("t-key-bad", 1)
	bad.SSHPublicKey = "not a key"
	if _, err := p.Launch(context.Background(), bad); !errors.Is(err, provider.InvalidArgument) {
		t.Fatalf("Launch with a malformed key: %v, want InvalidArgument", err)
	}
}

func TestTheSSHKeyCanGoInAsAPersonalityFile(t *testing.T) {
	srv := newCloud(t, nil)
	o := apiKeyOptions(srv)
	o.SSHKeyMethod = rackspace.Personality
	p := newProvider(t, o)
	spec := launchSpec("t-personality", 1)
	spec.SSHPublicKey = newKey(t)
	got, err := p.Launch(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	file := string(srv.ServerPersonality(got[0].ID)["/root/.ssh/authorized_keys"])
	if fields := strings.Fields(spec.SSHPublicKey); !strings.HasPrefix(file, fields[0]+" "+fields[1]) {
		t.Fatalf("authorized_keys personality file is %q, want the key", file)
	}
	if srv.Calls("POST /os-keypairs") != 0 || srv.ServerKeyName(got[0].ID) != "" {
		t.Fatal("a key pair was used although the method is personality")
	}
}

func TestUserDataArrivesByteForByte(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	for i, data := range []string{
		"#!/bin/sh\necho hello\n",
		"abcd", // valid base64 itself: must still be encoded
		"#cloud-config\npackages: [apache2]\n",
	} {
		spec := launchSpec("t-ud-"+string(rune('a'+i)), 1)
		spec.UserData = []byte(data)
		got, err := p.Launch(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if ud := string(srv.ServerUserData(got[0].ID)); ud != data {
			t.Fatalf("server got user data %q, want %q", ud, data)
		}
	}
}

func TestACloudWithoutZonesHasTheRegionAsItsOneZone(t *testing.T) {
	srv := newCloud(t, &novatest.Options{Regions: []string{"IAD"}, NoAvailabilityZones: true})
	p := newProvider(t, apiKeyOptions(srv))
	zones, err := p.Zones(context.Background())
	if err != nil || !slices.Equal(zones, []string{"IAD"}) {
		t.Fatalf("Zones = %v, %v; want [IAD]", zones, err)
	}
	spec := launchSpec("t-nozone", 1)
	spec.Zone = "IAD"
	got, err := p.Launch(context.Background(), spec) // novatest fails the test if a zone is sent
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Zone != "IAD" {
		t.Fatalf("server zone %q, want IAD", got[0].Zone)
	}

	o := apiKeyOptions(srv)
	o.Zones = []string{"IAD-1"}
	p2 := newProvider(t, o)
	if zones, err := p2.Zones(context.Background()); err != nil || !slices.Equal(zones, []string{"IAD-1"}) {
		t.Fatalf("Zones with Options.Zones = %v, %v; want [IAD-1]", zones, err)
	}
}

func TestLaunchRefusesBadSpecsBeforeCallingTheCloud(t *testing.T) {
	srv := newCloud(t, nil)
	p := newProvider(t, apiKeyOptions(srv))
	for _, c := range []struct {
		name   string
		change func(*provider.LaunchSpec)
		want   string
	}{
		{"MinCount above Count", func(s *provider.LaunchSpec) { s.MinCount = 3 }, "MinCount 3"},
		{"no flavor", func(s *provider.LaunchSpec) { s.InstanceType = "" }, "InstanceType"},
		{"a token tag that differs from Token", func(s *provider.LaunchSpec) { s.Tags[provider.TagToken] = "other" }, `"other"`},
		{"a tag value over 255 bytes", func(s *provider.LaunchSpec) { s.Tags["note"] = strings.Repeat("x", 256) }, `"note"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := launchSpec("t-bad", 2)
			c.change(&spec)
			_, err := p.Launch(context.Background(), spec)
			if !errors.Is(err, provider.InvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Launch: %v, want InvalidArgument naming %s", err, c.want)
			}
		})
	}
	if n := srv.Calls("GET /servers/detail") + srv.Calls("POST /servers"); n != 0 {
		t.Fatalf("bad specs made %d server calls", n)
	}
	// A flavor the cloud does not know is the cloud's 400.
	spec := launchSpec("t-flavor", 1)
	spec.InstanceType = "no-such-flavor"
	if _, err := p.Launch(context.Background(), spec); !errors.Is(err, provider.InvalidArgument) || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("Launch with an unknown flavor: %v, want InvalidArgument from HTTP 400", err)
	}
}
