package providertest

import (
	"errors"
	"maps"
	"net"
	"slices"

	"github.com/farmhand/farmhand/provider"
)

type conformanceCase struct {
	name string
	run  func(e *env)
}

var cases = []conformanceCase{
	{"launch returns Count servers with the spec's tags, zone and image", testLaunch},
	{"a launch repeated with the same token returns the same servers and launches none", testIdempotentLaunch},
	{"a launch retried after its answer was lost launches nothing new", testLostAnswer},
	{"distinct tokens launch distinct servers", testDistinctTokens},
	{"an invalid launch spec fails with InvalidArgument and launches nothing", testInvalidSpec},
	{"list by farm tag sees only that farm's servers", testListByTag},
	{"list by role tag narrows to that role", testListByRole},
	{"following pages visits every server exactly once", testPages},
	{"get of an unknown server fails with NotFound", testGetUnknown},
	{"get returns what launch returned", testGetMatchesLaunch},
	{"servers go from pending to running after settle and have an IP", testStates},
	{"terminate is idempotent, also for unknown servers", testTerminateIdempotent},
	{"terminated servers are listed as gone or not at all", testTerminatedListed},
	{"terminate of one server leaves the others running", testTerminateOne},
	{"reboot of an unknown server fails with NotFound", testRebootUnknown},
	{"reboot of a running server keeps it", testRebootRunning},
	{"zones are listed and launches land in the zone asked for", testZones},
	{"tags are never nil and results share no memory with the caller", testNoAliasing},
}

func testLaunch(e *env) {
	spec := e.spec("app", 3)
	got := e.launch(spec)
	if len(got) != 3 {
		e.t.Fatalf("Launch returned %d servers, want 3", len(got))
	}
	seen := map[string]bool{}
	for _, s := range got {
		if s.ID == "" || seen[s.ID] {
			e.t.Fatalf("server ID %q is empty or repeated in %v", s.ID, ids(got))
		}
		seen[s.ID] = true
		for k, v := range spec.Tags {
			if s.Tags[k] != v {
				e.t.Errorf("server %s: tag %q = %q, want %q", s.ID, k, s.Tags[k], v)
			}
		}
		if s.Zone != spec.Zone {
			e.t.Errorf("server %s: zone %q, want %q", s.ID, s.Zone, spec.Zone)
		}
		if s.Image != "" && s.Image != spec.Image {
			e.t.Errorf("server %s: image %q, want %q", s.ID, s.Image, spec.Image)
		}
		if s.State != provider.StatePending && s.State != provider.StateRunning {
			e.t.Errorf("server %s: state %q just after launch, want pending or running", s.ID, s.State)
		}
		if s.LaunchedAt.IsZero() {
			e.t.Errorf("server %s: LaunchedAt is zero", s.ID)
		}
	}
}

func testIdempotentLaunch(e *env) {
	spec := e.spec("app", 2)
	first := e.launch(spec)
	second := e.launch(spec)
	if !slices.Equal(ids(first), ids(second)) {
		e.t.Fatalf("second Launch with token %q returned %v, first returned %v", spec.Token, ids(second), ids(first))
	}
	if all := e.listAll(e.farmTags()); len(all) != 2 {
		e.t.Fatalf("after two launches with one token the farm has %d servers %v, want 2", len(all), ids(all))
	}
}

func testLostAnswer(e *env) {
	spec := e.spec("db", 1)
	_ = e.launch(spec) // the caller never sees this answer
	e.settle()
	again := e.launch(spec)
	all := e.listAll(e.farmTags())
	if len(all) != 1 || len(again) != 1 || again[0].ID != all[0].ID {
		e.t.Fatalf("retried launch returned %v and the farm holds %v; want the one server of the first launch", ids(again), ids(all))
	}
}

func testDistinctTokens(e *env) {
	a := e.launch(e.spec("app", 1))
	b := e.launch(e.spec("app", 1))
	if a[0].ID == b[0].ID {
		e.t.Fatalf("two launches with different tokens returned the same server %s", a[0].ID)
	}
	if all := e.listAll(e.farmTags()); len(all) != 2 {
		e.t.Fatalf("farm holds %d servers, want 2", len(all))
	}
}

func testInvalidSpec(e *env) {
	for _, c := range []struct {
		name   string
		change func(*provider.LaunchSpec)
	}{
		{"count zero", func(s *provider.LaunchSpec) { s.Count = 0 }},
		{"negative count", func(s *provider.LaunchSpec) { s.Count = -1 }},
		{"empty token", func(s *provider.LaunchSpec) { s.Token = "" }},
		{"empty image", func(s *provider.LaunchSpec) { s.Image = "" }},
	} {
		spec := e.spec("app", 1)
		c.change(&spec)
		_, err := e.p.Launch(e.ctx, spec)
		expectCode(e.t, "Launch with "+c.name, err, provider.InvalidArgument)
	}
	if all := e.listAll(e.farmTags()); len(all) != 0 {
		e.t.Fatalf("invalid launches left servers %v", ids(all))
	}
}

func testListByTag(e *env) {
	mine := e.launch(e.spec("app", 2))
	other := e.spec("app", 1)
	other.Tags[provider.TagFarm] = e.farm + "-other"
	theirs := e.launch(other)
	got := e.listAll(e.farmTags())
	if !slices.Equal(ids(got), ids(mine)) {
		e.t.Fatalf("List by farm tag returned %v, want %v (the other farm has %v)", ids(got), ids(mine), ids(theirs))
	}
	for _, s := range got {
		if s.Tags[provider.TagFarm] != e.farm {
			e.t.Fatalf("server %s listed for farm %q carries farm tag %q", s.ID, e.farm, s.Tags[provider.TagFarm])
		}
	}
}

func testListByRole(e *env) {
	apps := e.launch(e.spec("app", 2))
	e.launch(e.spec("db", 1))
	tags := e.farmTags()
	tags[provider.TagRole] = "app"
	if got := e.listAll(tags); !slices.Equal(ids(got), ids(apps)) {
		e.t.Fatalf("List by farm and role app returned %v, want %v", ids(got), ids(apps))
	}
}

func testPages(e *env) {
	n := 2*e.h.PageSize + 1
	want := ids(e.launch(e.spec("app", n)))
	opts := provider.ListOptions{Tags: e.farmTags(), PageSize: e.h.PageSize}
	seen := map[string]int{}
	pages := 0
	for {
		page, err := e.p.List(e.ctx, opts)
		if err != nil {
			e.t.Fatalf("List page %d: %v", pages+1, err)
		}
		pages++
		if len(page.Servers) > e.h.PageSize {
			e.t.Fatalf("page %d holds %d servers, more than PageSize %d", pages, len(page.Servers), e.h.PageSize)
		}
		for _, s := range page.Servers {
			seen[s.ID]++
		}
		if page.NextPageToken == "" {
			break
		}
		if pages > n+1 {
			e.t.Fatalf("more than %d pages for %d servers: paging does not end", n+1, n)
		}
		opts.PageToken = page.NextPageToken
	}
	if pages < 3 {
		e.t.Errorf("%d servers with PageSize %d came in %d pages, want at least 3", n, e.h.PageSize, pages)
	}
	for id, k := range seen {
		if k != 1 {
			e.t.Errorf("server %s was listed %d times", id, k)
		}
	}
	if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, want) {
		e.t.Fatalf("pages listed %v, want %v", got, want)
	}
}

func testGetUnknown(e *env) {
	_, err := e.p.Get(e.ctx, e.h.UnknownID)
	expectCode(e.t, "Get of unknown server "+e.h.UnknownID, err, provider.NotFound)
}

func testGetMatchesLaunch(e *env) {
	launched := e.launch(e.spec("app", 1))[0]
	got := e.get(launched.ID)
	if got.ID != launched.ID || got.Zone != launched.Zone || got.Tags[provider.TagFarm] != e.farm {
		e.t.Fatalf("Get returned %+v, Launch returned %+v", got, launched)
	}
}

func testStates(e *env) {
	launched := e.launch(e.spec("app", 2))
	e.settle()
	for _, l := range launched {
		s := e.get(l.ID)
		if s.State != provider.StateRunning {
			e.t.Fatalf("server %s is %q after settle, want running", s.ID, s.State)
		}
		if s.PrivateIP == "" && s.PublicIP == "" {
			e.t.Fatalf("running server %s has no IP", s.ID)
		}
		for _, ip := range []string{s.PrivateIP, s.PublicIP} {
			if ip != "" && net.ParseIP(ip) == nil {
				e.t.Fatalf("server %s: IP %q does not parse", s.ID, ip)
			}
		}
	}
}

func testTerminateIdempotent(e *env) {
	s := e.launch(e.spec("app", 1))[0]
	e.settle()
	for i := range 2 {
		if err := e.p.Terminate(e.ctx, s.ID); err != nil {
			e.t.Fatalf("Terminate #%d of %s: %v", i+1, s.ID, err)
		}
	}
	if err := e.p.Terminate(e.ctx, e.h.UnknownID); err != nil {
		e.t.Fatalf("Terminate of unknown server %s: %v", e.h.UnknownID, err)
	}
	if err := e.p.Terminate(e.ctx); err != nil {
		e.t.Fatalf("Terminate of no servers: %v", err)
	}
	e.settle()
	if err := e.p.Terminate(e.ctx, s.ID, e.h.UnknownID); err != nil {
		e.t.Fatalf("Terminate of a gone and an unknown server: %v", err)
	}
}

func testTerminatedListed(e *env) {
	s := e.launch(e.spec("app", 1))[0]
	e.settle()
	if err := e.p.Terminate(e.ctx, s.ID); err != nil {
		e.t.Fatalf("Terminate: %v", err)
	}
	e.settle()
	for _, l := range e.listAll(e.farmTags()) {
		if l.ID == s.ID && !l.State.Gone() {
			e.t.Fatalf("terminated server %s is listed as %q", s.ID, l.State)
		}
	}
	got, err := e.p.Get(e.ctx, s.ID)
	switch {
	case err != nil && !errors.Is(err, provider.NotFound):
		e.t.Fatalf("Get of terminated server: %v, want NotFound or a gone state", err)
	case err == nil && !got.State.Gone():
		e.t.Fatalf("Get of terminated server says %q", got.State)
	}
}

func testTerminateOne(e *env) {
	servers := e.launch(e.spec("app", 3))
	e.settle()
	if err := e.p.Terminate(e.ctx, servers[0].ID); err != nil {
		e.t.Fatalf("Terminate: %v", err)
	}
	e.settle()
	left := live(e.listAll(e.farmTags()))
	if want := ids(servers[1:]); !slices.Equal(ids(left), want) {
		e.t.Fatalf("live servers after terminating %s: %v, want %v", servers[0].ID, ids(left), want)
	}
	for _, s := range left {
		if s.State != provider.StateRunning {
			e.t.Fatalf("server %s is %q, want running", s.ID, s.State)
		}
	}
}

func testRebootUnknown(e *env) {
	err := e.p.Reboot(e.ctx, e.h.UnknownID)
	expectCode(e.t, "Reboot of unknown server "+e.h.UnknownID, err, provider.NotFound)
}

func testRebootRunning(e *env) {
	s := e.launch(e.spec("app", 1))[0]
	e.settle()
	if err := e.p.Reboot(e.ctx, s.ID); err != nil {
		e.t.Fatalf("Reboot of running server %s: %v", s.ID, err)
	}
	e.settle()
	if got := e.get(s.ID); got.State != provider.StateRunning {
		e.t.Fatalf("server %s is %q after reboot and settle, want running", s.ID, got.State)
	}
}

func testZones(e *env) {
	zones := e.zones()
	for i, z := range zones {
		if z == "" || slices.Contains(zones[:i], z) {
			e.t.Fatalf("zones %v hold an empty or repeated name", zones)
		}
	}
	for _, z := range zones {
		spec := e.spec("app", 1)
		spec.Zone = z
		if got := e.launch(spec); got[0].Zone != z {
			e.t.Fatalf("launch into zone %q landed in %q", z, got[0].Zone)
		}
	}
}

func testNoAliasing(e *env) {
	spec := e.spec("app", 1)
	s := e.launch(spec)[0]
	spec.Tags[provider.TagRole] = "changed-after-launch"
	s.Tags[provider.TagRole] = "changed-by-caller"
	got := e.get(s.ID)
	if got.Tags == nil {
		e.t.Fatal("Get returned nil Tags")
	}
	if got.Tags[provider.TagRole] != "app" {
		e.t.Fatalf("role tag is %q after the caller changed its maps, want app", got.Tags[provider.TagRole])
	}
	for _, l := range e.listAll(e.farmTags()) {
		if l.Tags == nil {
			e.t.Fatalf("List returned server %s with nil Tags", l.ID)
		}
	}
}
