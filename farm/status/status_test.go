package status_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/status"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanup) - 1; i >= 0; i-- {
		cleanup[i]()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// site is a farm on the fake cloud (with live SSH and a fake clock) that
// has scaled 2 → 4 → 3, lost a server and run a failing script, and its
// status pages served on loopback under /status/.
type site struct {
	f    *farm.Farm
	srv  *httptest.Server
	base string // the status pages' URL, ending in "/"
	// steps are the desired counts after each scaling action, with
	// their times.
	steps []step
}

type step struct {
	at    time.Time
	count int
}

var (
	siteOnce sync.Once
	shared   *site
	siteErr  error
	cleanup  []func()
)

// theSite builds the site once per package; TestMain's goleak check runs
// after stopSite.
func theSite(t *testing.T) *site {
	t.Helper()
	siteOnce.Do(func() { shared, siteErr = buildSite() })
	if siteErr != nil {
		t.Fatal(siteErr)
	}
	return shared
}

func buildSite() (*site, error) {
	ctx := context.Background()
	clk := clock.NewFake(start)
	dir, err := tempDir()
	if err != nil {
		return nil, err
	}
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 30 * time.Second, SSH: &fake.SSHOptions{Dir: dir}})
	cleanup = append(cleanup, func() { cloud.Close() })
	lib := scripting.NewLibrary(nil)
	lib.Save(scripting.Script{Name: "hello", Body: "echo hello"})
	lib.Save(scripting.Script{Name: "dump", Body: "echo dump-2026-03-02"})
	lib.Save(scripting.Script{Name: "configure", Body: "echo 'config file missing' >&2; exit 4"})
	key, err := scripting.GenerateKey("status-test")
	if err != nil {
		return nil, err
	}
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{
		{Name: "app", Image: "img-app", Min: 1, Max: 6, Desired: 2, Zones: []string{"fake-1a", "fake-1b"},
			Scripts: []farm.ScriptBinding{{Event: farm.HostUp, Script: "hello"}, {Event: farm.HostUp, Script: "configure"}}},
		{Name: "db", Image: "img-db", Min: 1, Max: 1,
			Backup: &farm.BackupSpec{Interval: 24 * time.Hour, Keep: 3, Script: "dump", From: farm.BackupFromAny}},
	}}
	f, err := farm.New(spec, cloud, &farm.Options{Clock: clk, Scripting: &farm.ScriptingOptions{Library: lib, Key: key,
		SSH: scripting.ExecutorOptions{DialTimeout: 10 * time.Second}}})
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { f.Close() })
	h := status.NewHandler(&status.Options{Title: "shop's farms"})
	stop, err := h.Watch(f)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, stop)
	if _, err := h.Watch(f); err == nil {
		return nil, fmt.Errorf("a second Watch of farm shop was accepted")
	}
	s := &site{f: f}
	tick := func(d time.Duration) error {
		clk.Advance(d)
		_ = f.Reconcile(ctx)
		return f.Settle(ctx)
	}
	settleUntil := func(cond func() bool) error {
		for range 20 {
			if cond() {
				return nil
			}
			if err := tick(10 * time.Second); err != nil {
				return err
			}
		}
		return fmt.Errorf("farm never settled:\n%s", f.Status())
	}
	ready := func() bool { return f.Status().Ready() }
	if err := f.Launch(ctx); err != nil {
		return nil, err
	}
	if err := settleUntil(ready); err != nil {
		return nil, err
	}
	for _, n := range []int{4, 3} {
		if err := tick(5 * time.Minute); err != nil {
			return nil, err
		}
		s.steps = append(s.steps, step{at: clk.Now(), count: n})
		if err := f.SetDesired("app", n); err != nil {
			return nil, err
		}
		if err := settleUntil(ready); err != nil {
			return nil, err
		}
	}
	// A crash, replaced.
	for _, srv := range f.Servers("app") {
		if srv.State == farm.StateRunning {
			if err := cloud.Crash(srv.ID); err != nil {
				return nil, err
			}
			break
		}
	}
	if err := tick(10 * time.Second); err != nil {
		return nil, err
	}
	if err := settleUntil(ready); err != nil {
		return nil, err
	}
	if _, err := f.BackupNow(ctx, "db"); err != nil {
		return nil, err
	}
	// A drill kills one app server; the farm heals while the clock moves.
	type drillResult struct {
		rep farm.DrillReport
		err error
	}
	done := make(chan drillResult, 1)
	go func() {
		rep, err := f.Drill(ctx, farm.DrillSpec{Kind: farm.DrillServers, Role: "app", Fraction: 0.3,
			Kill: func(_ context.Context, id string) error { return cloud.Crash(id) }, Timeout: time.Minute})
		done <- drillResult{rep, err}
	}()
	var drilled drillResult
	for drilled.rep.Seq == 0 && drilled.err == nil {
		select {
		case drilled = <-done:
		case <-time.After(20 * time.Millisecond):
			if err := tick(time.Second); err != nil {
				return nil, err
			}
		}
	}
	if drilled.err != nil {
		return nil, fmt.Errorf("drill: %w", drilled.err)
	}
	if err := settleUntil(ready); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/status/", http.StripPrefix("/status", h))
	s.srv = httptest.NewServer(mux) // 127.0.0.1
	cleanup = append(cleanup, s.srv.Close)
	s.base = s.srv.URL + "/status/"
	return s, nil
}

func (s *site) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := s.srv.Client().Get(s.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestJSONViews(t *testing.T) {
	s := theSite(t)
	code, body := s.get(t, "?format=json")
	var idx status.Index
	if err := json.Unmarshal([]byte(body), &idx); code != 200 || err != nil {
		t.Fatalf("index: %d %v\n%s", code, err, body)
	}
	if len(idx.Farms) != 1 || idx.Farms[0].Name != "shop" || idx.Farms[0].Running != 4 || idx.Farms[0].Desired != 4 || !idx.Farms[0].Ready {
		t.Errorf("index = %+v, want shop ready with 4 of 4 running", idx)
	}

	code, body = s.get(t, "farms/shop?format=json")
	var p status.FarmPage
	if err := json.Unmarshal([]byte(body), &p); code != 200 || err != nil {
		t.Fatalf("farm page: %d %v\n%s", code, err, body)
	}
	if len(p.Roles) != 2 || p.Roles[0].Name != "app" || p.Roles[0].Desired != 3 || p.Roles[0].Counts["Running"] != 3 {
		t.Errorf("roles = %+v", p.Roles)
	}
	running, gone := 0, 0
	for _, sv := range p.Servers {
		switch sv.State {
		case "Running":
			running++
			if sv.Zone == "" || sv.PrivateIP == "" || sv.Health == "" {
				t.Errorf("server without zone, address or health: %+v", sv)
			}
		case "Terminated", "Failed":
			gone++
		}
	}
	if running != 4 {
		t.Errorf("%d running servers on the page, want 4", running)
	}
	var steps []int
	for _, rs := range p.Scaling {
		if rs.Role == "app" {
			for _, r := range rs.Records {
				steps = append(steps, r.To)
			}
		}
	}
	if len(steps) != 2 || steps[0] != 4 || steps[1] != 3 {
		t.Errorf("app's scaling history goes to %v, want [4 3]", steps)
	}
	if len(p.ScriptFailures) == 0 || p.ScriptFailures[0].Script != "configure" || p.ScriptFailures[0].ExitCode != 4 ||
		!strings.Contains(p.ScriptFailures[0].Stderr, "config file missing") {
		t.Errorf("script failures = %+v", p.ScriptFailures)
	}
	if len(p.Drills) != 1 || p.Drills[0].Seq != 1 || len(p.Drills[0].Killed) != 1 || len(p.Drills[0].Replacements) != 1 ||
		p.Drills[0].Killed[0].Role != "app" || p.Drills[0].Error != "" {
		t.Errorf("drills = %+v", p.Drills)
	}
	if p.BackupRoles != 1 || len(p.Backups) != 1 || p.Backups[0].Role != "db" || p.Backups[0].Status != "complete" || p.Backups[0].ID != "dump-2026-03-02" {
		t.Errorf("backups = %+v (%d roles)", p.Backups, p.BackupRoles)
	}
	types := map[string]int{}
	for i, ev := range p.Events {
		types[ev.Type]++
		if i > 0 && ev.Seq >= p.Events[i-1].Seq {
			t.Errorf("events not newest first: %d after %d", ev.Seq, p.Events[i-1].Seq)
		}
	}
	if types["HostDown"] < 2 || types["ScalingDecision"] != 2 || types["HostUp"] < 6 {
		t.Errorf("event counts %v", types)
	}
}

func TestPagesAndErrors(t *testing.T) {
	s := theSite(t)
	for _, c := range []struct {
		path, want string
		code       int
	}{
		{"", `href="farms/shop"`, 200},
		{"farms/shop", `class="capacity-chart" data-role="app"`, 200},
		{"farms/shop", `data-count="4"`, 200},
		{"farms/shop", `config file missing`, 200},
		{"farms/shop", `<tr class="drill"><td class="num">1</td><td>servers app`, 200},
		{"farms/nope", `no farm named "nope"`, 404},
		{"farms/shop/roles/app/capacity.svg", `<path class="capacity"`, 200},
		{"farms/shop/roles/db/capacity.svg", `no scaling history`, 404},
		{"farms/shop/roles/web/capacity.svg", `has no role "web"`, 404},
	} {
		code, body := s.get(t, c.path)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("GET %s = %d, want %d with %q:\n%.600s", c.path, code, c.code, c.want, body)
		}
	}
	// No script and nothing fetched from elsewhere.
	_, body := s.get(t, "farms/shop")
	for _, bad := range []string{"<script", "http://", "https://"} {
		if i := strings.Index(body, bad); i >= 0 && !strings.HasPrefix(body[i:], "http://www.w3.org/2000/svg") {
			t.Errorf("the farm page holds %q: %.80s", bad, body[i:])
		}
	}
}

func tempDir() (string, error) {
	dir, err := os.MkdirTemp("", "farm-status-")
	if err == nil {
		cleanup = append(cleanup, func() { os.RemoveAll(dir) })
	}
	return dir, err
}
