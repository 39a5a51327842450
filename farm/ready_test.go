package farm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// readyFarm launches spec on a fake cloud with SSH endpoints, runs it on
// the real clock and returns the farm, the sandbox directory and what
// WaitReady said.
func readyFarm(t *testing.T, spec Spec, scripts map[string]string, sub func(*Farm)) (*Farm, string, error) {
	t.Helper()
	noLeaks(t)
	lib := scripting.NewLibrary(nil)
	for _, name := range sortedKeys(scripts) {
		if _, err := lib.Save(scripting.Script{Name: name, Body: scripts[name]}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := scripting.GenerateKey("ready-test")
	if err != nil {
		t.Fatal(err)
	}
	sandbox := t.TempDir()
	cloud := fake.New(fake.Options{BootTime: 50 * time.Millisecond, SSH: &fake.SSHOptions{Dir: sandbox}})
	f, err := New(spec, cloud, &Options{TickInterval: 100 * time.Millisecond,
		Scripting: &ScriptingOptions{Library: lib, Key: key, SSH: scripting.ExecutorOptions{DialTimeout: 10 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	if sub != nil {
		sub(f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		<-done
		f.Close()
		cloud.Close()
	})
	go func() { done <- f.Run(ctx) }()
	if err := f.Launch(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	return f, sandbox, f.WaitReady(wctx)
}

func TestWaitReadyWaitsForTheHostUpScriptsToFinish(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 2,
		Scripts: []ScriptBinding{{Event: HostUp, Script: "slow"}}}}}
	f, sandbox, err := readyFarm(t, spec, map[string]string{"slow": "sleep 0.5; echo done > hostup"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Servers("app") {
		b, err := os.ReadFile(filepath.Join(sandbox, s.ID, "hostup"))
		if err != nil || strings.TrimSpace(string(b)) != "done" {
			t.Fatalf("server %s: HostUp script not finished when WaitReady returned: %q, %v", s.ID, b, err)
		}
	}
}

func TestWaitReadyNamesEachServerWhoseHostUpScriptFailed(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 2,
		Scripts: []ScriptBinding{{Event: HostUp, Script: "install"}}}}}
	var (
		mu       sync.Mutex
		failures []Event
	)
	f, _, err := readyFarm(t, spec, map[string]string{"install": "echo no apache here >&2; exit 3"}, func(f *Farm) {
		f.SubscribeFailures(func(ev Event) {
			mu.Lock()
			failures = append(failures, ev)
			mu.Unlock()
		})
	})
	var re *ReadyError
	if !errors.As(err, &re) {
		t.Fatalf("WaitReady: %v, want a *ReadyError", err)
	}
	for _, ev := range re.Failures {
		if ev.Type != ScriptFailed || ev.Server == nil || ev.Params["exit_code"] != "3" || ev.Params["script"] != "install" {
			t.Errorf("failure %+v", ev)
		}
	}
	first := re.Failures[0].Server.ID
	if !strings.Contains(err.Error(), `ScriptFailed app/`+first) || !strings.Contains(err.Error(), `HostUp script "install" v1: exit status 3`) {
		t.Errorf("error text %q names neither the server nor the cause", err)
	}
	// Both servers fail: the second failure is reported by the next call.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if len(re.Failures) < 2 {
		err = f.WaitReady(ctx)
		if !errors.As(err, &re) || re.Failures[0].Server.ID == first {
			t.Fatalf("second WaitReady: %v, want the other server's failure", err)
		}
	}
	if err := f.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) < 2 {
		t.Fatalf("SubscribeFailures got %d events, want the two ScriptFailed", len(failures))
	}
	for _, ev := range failures {
		if !ev.Type.Failure() {
			t.Errorf("SubscribeFailures delivered %s", ev.Type)
		}
	}
}

func TestWaitReadyReportsAFailedBlockingScript(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "db", Image: "img", Min: 1, Max: 1,
		Scripts: []ScriptBinding{{Event: HostInit, Script: "setup", Blocking: true}}}}}
	_, _, err := readyFarm(t, spec, map[string]string{"setup": "exit 7"}, nil)
	var re *ReadyError
	if !errors.As(err, &re) || re.Failures[0].Type != HostInitFailed || re.Failures[0].Role != "db" ||
		!strings.Contains(err.Error(), "exit status 7") {
		t.Fatalf("WaitReady: %v, want HostInitFailed of db naming exit status 7", err)
	}
}

func TestRunWithoutLaunchStartsNothingAndStatusSaysStopped(t *testing.T) {
	r := newRig(t, appSpec(2, 3), nil, fake.Options{})
	r.tick(time.Minute)
	r.tick(time.Minute)
	if n := len(r.cloud.Servers()); n != 0 {
		t.Fatalf("%d servers launched before Launch", n)
	}
	st := r.farm.Status()
	if st.Launched || !strings.Contains(st.String(), "(stopped)") || !strings.Contains(st.String(), "call Launch") {
		t.Fatalf("status:\n%s", st)
	}
	if err := r.farm.WaitReady(r.ctx); err == nil || !strings.Contains(err.Error(), "not launched") {
		t.Fatalf("WaitReady before Launch: %v", err)
	}
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(r.cloud.Servers()); n != 2 {
		t.Fatalf("%d servers after Launch, want 2", n)
	}
}

func TestLaunchWithABadDefinitionFailsBeforeAnythingRuns(t *testing.T) {
	spec := appSpec(1, 1)
	spec.Roles[0].Zones = []string{"mars-1a"}
	r := newRig(t, spec, nil, fake.Options{})
	err := r.farm.Launch(r.ctx)
	if err == nil || !strings.Contains(err.Error(), `zone "mars-1a"`) {
		t.Fatalf("Launch: %v", err)
	}
	for _, c := range r.cloud.Calls() {
		if c.Op == fake.OpLaunch {
			t.Fatalf("the cloud got a launch: %+v", c)
		}
	}
	if r.farm.Status().Launched || r.rec.count(FarmLaunched) != 0 {
		t.Fatal("the farm counts as launched after a refused Launch")
	}
}

func TestEventStringIsOneUsefulLine(t *testing.T) {
	s := Server{ID: "i-000002", Role: "app64", PrivateIP: "127.100.0.2"}
	cases := []struct {
		name string
		ev   Event
		want string
	}{
		{"a server event names time, type, role, server, address and reason",
			Event{Type: HostInitFailed, Role: "app64", Server: &s, Time: t0.Add(42 * time.Second), Reason: "exit status 3"},
			"2026-03-01 12:00:42.000 HostInitFailed app64/i-000002 (127.100.0.2): exit status 3"},
		{"a role event names the role",
			Event{Type: ScalingDecision, Role: "app64", Time: t0, Reason: "+1 (2 → 3)"},
			"2026-03-01 12:00:00.000 ScalingDecision app64: +1 (2 → 3)"},
		{"a farm event has no place",
			Event{Type: FarmLaunched, Time: t0, Reason: "farm launched"},
			"2026-03-01 12:00:00.000 FarmLaunched: farm launched"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.ev.String(); got != c.want {
				t.Fatalf("String() = %q, want %q", got, c.want)
			}
		})
	}
}
