package farm

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

func TestBoundScriptRunsOnHostUpWithItsVariables(t *testing.T) {
	spec := Spec{Name: "shop", Location: "fake-1", Variables: map[string]string{"greeting": "hello"},
		Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 3,
			Scripts: []ScriptBinding{{Event: HostUp, Script: "hello"}}}}}
	r := newScriptRig(t, spec, map[string]string{
		"hello": `echo "%greeting%, I am a %role_name% #%instance_index% of %farm_name% in %cloud_location%; env $FARM_ROLE_NAME"`,
	}, nil)
	r.upAll()
	got := outputs(r.entries(scripting.LogQuery{Farm: "shop", Event: "HostUp"}))
	slices.Sort(got)
	app := r.farm.Servers("app")
	want := []string{
		"app/" + app[0].ID + ": hello, I am a app #1 of shop in fake-1; env app",
		"app/" + app[1].ID + ": hello, I am a app #2 of shop in fake-1; env app",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("log outputs:\n%q\nwant\n%q", got, want)
	}
}

func TestLogEntriesCarryFarmRoleServerEventScriptAndVersion(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1,
		Scripts: []ScriptBinding{{Event: HostInit, Script: "setup", Version: 1}}}}}
	r := newScriptRig(t, spec, map[string]string{"setup": "echo v1"}, nil)
	if _, err := r.lib.Save(scripting.Script{Name: "setup", Body: "echo v2"}); err != nil {
		t.Fatal(err)
	}
	r.upAll()
	es := r.entries(scripting.LogQuery{Farm: "shop"})
	if len(es) != 1 {
		t.Fatalf("log has %d entries, want 1: %+v", len(es), es)
	}
	e := es[0]
	srv := r.farm.Servers("app")[0]
	if e.Farm != "shop" || e.Role != "app" || e.Server != srv.ID || e.Event != "HostInit" ||
		e.Script != "setup" || e.Version != 1 || e.ExitCode != 0 || strings.TrimSpace(e.Stdout) != "v1" || e.Addr != srv.SSHAddress {
		t.Fatalf("entry = %+v, server %s at %s", e, srv.ID, srv.SSHAddress)
	}
}

func TestCustomEventParametersReachTheScript(t *testing.T) {
	spec := Spec{Name: "shop", Events: []string{"Deploy"}, Roles: []RoleSpec{
		{Name: "app", Image: "img", Min: 2, Max: 2, Scripts: []ScriptBinding{{Event: "Deploy", Script: "deploy"}}},
		{Name: "db", Image: "img", Min: 1, Max: 1},
	}}
	r := newScriptRig(t, spec, map[string]string{
		"deploy": `echo "%event_name% %release% on %role_name% ($FARM_RELEASE)"`,
	}, nil)
	r.upAll()
	if err := r.farm.FireEvent(r.ctx, "Deploy", map[string]string{"release": "v1.2"}); err != nil {
		t.Fatal(err)
	}
	r.settle()
	got := outputs(r.entries(scripting.LogQuery{Event: "Deploy"}))
	app := r.farm.Servers("app")
	want := []string{
		"app/" + app[0].ID + ": Deploy v1.2 on app (v1.2)",
		"app/" + app[1].ID + ": Deploy v1.2 on app (v1.2)",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("outputs %q, want %q (a custom event's default target is the binding's role)", got, want)
	}
}

func TestCustomEventWithoutAParameterTheScriptNeedsRunsNothing(t *testing.T) {
	spec := Spec{Name: "shop", Events: []string{"Deploy"}, Roles: []RoleSpec{
		{Name: "app", Image: "img", Min: 1, Max: 1, Scripts: []ScriptBinding{{Event: "Deploy", Script: "deploy"}}},
	}}
	r := newScriptRig(t, spec, map[string]string{"deploy": `echo %release%`}, nil)
	r.upAll()
	before := r.dial.count()
	if err := r.farm.FireEvent(r.ctx, "Deploy", nil); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if n := r.dial.count(); n != before {
		t.Fatalf("%d connections were made for a script with an unknown variable", n-before)
	}
	if es := r.entries(scripting.LogQuery{Event: "Deploy"}); len(es) != 0 {
		t.Fatalf("log entries for a script that could not render: %+v", es)
	}
}

func TestFailingBlockingHostInitScriptFailsAndReplacesTheServer(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1,
		Scripts: []ScriptBinding{
			{Event: HostInit, Script: "install", Blocking: true},
			{Event: HostUp, Script: "hello"},
		}}}}
	// The fake numbers servers i-000001, i-000002, ...: the first one fails.
	r := newScriptRig(t, spec, map[string]string{
		"install": `[ "%server_id%" != i-000001 ] || { echo "no disk" >&2; exit 3; }`,
		"hello":   `echo up`,
	}, nil)
	r.upAll()

	failed := r.rec.of(HostInitFailed)
	if len(failed) != 1 || failed[0].Server.ID != "i-000001" {
		t.Fatalf("HostInitFailed events: %+v", failed)
	}
	if want := `script "install" v1 failed on app/i-000001: exit status 3`; !strings.Contains(failed[0].Reason, want) {
		t.Fatalf("reason %q does not contain %q", failed[0].Reason, want)
	}
	if strings.Contains(failed[0].Reason, "no disk") {
		t.Fatalf("reason %q holds the script's output", failed[0].Reason)
	}
	for _, s := range r.cloud.Servers() {
		if s.ID == "i-000001" && !s.State.Gone() {
			t.Fatalf("the failed server is %s at the cloud, want it terminated", s.State)
		}
	}
	running := r.running("app")
	if len(running) != 1 || running[0] == "i-000001" {
		t.Fatalf("running app servers %v, want one replacement", running)
	}
	ups := outputs(r.entries(scripting.LogQuery{Event: "HostUp"}))
	if want := []string{"app/" + running[0] + ": up"}; !slices.Equal(ups, want) {
		t.Fatalf("HostUp scripts ran %q, want %q (never on the failed server)", ups, want)
	}
	fails := r.entries(scripting.LogQuery{FailuresOnly: true})
	if len(fails) != 1 || fails[0].Server != "i-000001" || fails[0].ExitCode != 3 || strings.TrimSpace(fails[0].Stderr) != "no disk" {
		t.Fatalf("failures in the log: %+v", fails)
	}
}

func TestFailingBlockingScriptKeepsTheServerWhenTheRoleSaysKeep(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1, OnInitFailure: InitFailureKeep,
		Scripts: []ScriptBinding{{Event: BeforeHostUp, Script: "check", Blocking: true}}}}}
	r := newScriptRig(t, spec, map[string]string{"check": `[ "%server_id%" != i-000001 ]`}, nil)
	r.upAll()
	s, ok := r.farm.Server("i-000001")
	if !ok || s.State != StateFailed {
		t.Fatalf("first server = %+v, want it kept in state Failed", s)
	}
	if got := r.running("app"); len(got) != 1 {
		t.Fatalf("running = %v, want one replacement", got)
	}
}

func TestFailingNonBlockingScriptIsOnlyLogged(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1,
		Scripts: []ScriptBinding{{Event: HostInit, Script: "install"}}}}}
	r := newScriptRig(t, spec, map[string]string{"install": `exit 7`}, nil)
	r.upAll()
	if n := r.rec.count(HostInitFailed); n != 0 {
		t.Fatalf("%d HostInitFailed events for a non-blocking script", n)
	}
	if got := r.running("app"); !slices.Equal(got, []string{"i-000001"}) {
		t.Fatalf("running = %v, want the first server", got)
	}
	fails := r.entries(scripting.LogQuery{FailuresOnly: true})
	if len(fails) != 1 || fails[0].ExitCode != 7 || fails[0].Event != "HostInit" {
		t.Fatalf("failures in the log: %+v", fails)
	}
}

func TestBlockingBeforeHostTerminateRunsBeforeTheServerGoes(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2, Desired: 2,
		Scripts: []ScriptBinding{{Event: BeforeHostTerminate, Script: "drain", Blocking: true}}}}}
	r := newScriptRig(t, spec, map[string]string{"drain": `echo "draining %server_id%"`}, nil)
	r.upAll()
	if err := r.farm.SetDesired("app", 1); err != nil {
		t.Fatal(err)
	}
	r.tick(10 * time.Second)
	r.tick(10 * time.Second)
	es := r.entries(scripting.LogQuery{Event: "BeforeHostTerminate"})
	if len(es) != 1 || strings.TrimSpace(es[0].Stdout) != "draining "+es[0].Server {
		t.Fatalf("BeforeHostTerminate entries: %+v", es)
	}
	gone, _ := r.farm.Server(es[0].Server)
	if gone.State != StateTerminated {
		t.Fatalf("drained server is %s", gone.State)
	}
}

func TestBindingTargetsReachTheirServers(t *testing.T) {
	spec := Spec{Name: "shop", Events: []string{"Reload"}, Roles: []RoleSpec{
		{Name: "db", Image: "img", Min: 1, Max: 1},
		{Name: "app", Image: "img", Min: 2, Max: 2, Scripts: []ScriptBinding{
			{Event: "Reload", Script: "mine", Target: TargetRole},
			{Event: "Reload", Script: "theirs", Target: TargetRoles, Roles: []string{"db"}},
			{Event: "Reload", Script: "all", Target: TargetFarm},
		}},
		{Name: "cache", Image: "img", Min: 1, Max: 1},
	}}
	r := newScriptRig(t, spec, map[string]string{"mine": "echo mine", "theirs": "echo theirs", "all": "echo all"}, nil)
	r.upAll()
	if err := r.farm.FireEvent(r.ctx, "Reload", nil); err != nil {
		t.Fatal(err)
	}
	r.settle()
	roles := func(script string) []string {
		var out []string
		for _, e := range r.entries(scripting.LogQuery{Script: script}) {
			out = append(out, e.Role)
		}
		slices.Sort(out)
		return out
	}
	for script, want := range map[string][]string{
		"mine":   {"app", "app"},
		"theirs": {"db"},
		"all":    {"app", "app", "cache", "db"},
	} {
		if got := roles(script); !slices.Equal(got, want) {
			t.Errorf("script %q ran on roles %v, want %v", script, got, want)
		}
	}
}

func TestServerEventsFireOnlyTheirRolesBindings(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "db", Image: "img", Min: 1, Max: 1, Scripts: []ScriptBinding{{Event: HostUp, Script: "db-up"}}},
		{Name: "app", Image: "img", Min: 1, Max: 1, Scripts: []ScriptBinding{
			{Event: HostUp, Script: "app-up"},
			// target "role" reaches app's servers, but only for app's own HostUp.
			{Event: HostUp, Script: "app-peers", Target: TargetRole},
		}},
	}}
	r := newScriptRig(t, spec, map[string]string{"db-up": "echo db", "app-up": "echo app", "app-peers": "echo %event_role_name%"}, nil)
	r.upAll()
	got := outputs(r.entries(scripting.LogQuery{Event: "HostUp"}))
	slices.Sort(got)
	db, app := r.farm.Servers("db")[0].ID, r.farm.Servers("app")[0].ID
	want := []string{"app/" + app + ": app", "app/" + app + ": app", "db/" + db + ": db"}
	if !slices.Equal(got, want) {
		t.Fatalf("HostUp outputs %q, want %q", got, want)
	}
}

func TestNewDBMasterRunsTheBindingsOfEveryRole(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "db", Image: "img", Min: 2, Max: 2, Scripts: []ScriptBinding{
			{Event: NewDBMaster, Script: "promote", Target: TargetServer},
			{Event: NewDBMaster, Script: "follow"}, // default target: the role
		}},
		{Name: "app", Image: "img", Min: 2, Max: 2, Scripts: []ScriptBinding{
			{Event: NewDBMaster, Script: "reconnect"},
		}},
	}}
	r := newScriptRig(t, spec, map[string]string{
		"promote":   "echo promoted",
		"follow":    "echo follow %event_server_id%",
		"reconnect": "echo db is %event_internal_ip% was %old_master%",
	}, nil)
	r.upAll()
	master := r.farm.Servers("db")[1]
	r.farm.mu.Lock()
	r.farm.emitLocked(r.farm.serverEventLocked(NewDBMaster, r.farm.records[master.ID], "promoted", map[string]string{"old_master": "i-x"}))
	r.farm.mu.Unlock()
	r.settle()

	if got := outputs(r.entries(scripting.LogQuery{Script: "promote"})); !slices.Equal(got, []string{"db/" + master.ID + ": promoted"}) {
		t.Errorf("promote ran %q, want on the master only", got)
	}
	if got := r.entries(scripting.LogQuery{Script: "follow"}); len(got) != 2 || strings.TrimSpace(got[0].Stdout) != "follow "+master.ID {
		t.Errorf("follow ran %q, want on both db servers", outputs(got))
	}
	got := outputs(r.entries(scripting.LogQuery{Script: "reconnect"}))
	app := r.farm.Servers("app")
	want := []string{
		"app/" + app[0].ID + ": db is " + master.PrivateIP + " was i-x",
		"app/" + app[1].ID + ": db is " + master.PrivateIP + " was i-x",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("reconnect ran %q, want %q", got, want)
	}
}

func TestBindingsOfOneEventRunInOrder(t *testing.T) {
	spec := Spec{Name: "shop", Events: []string{"Ping"}, Roles: []RoleSpec{
		{Name: "app", Image: "img", Min: 1, Max: 1, Scripts: []ScriptBinding{
			{Event: HostUp, Script: "third", Order: 3},
			{Event: HostUp, Script: "first", Order: 1},
			{Event: HostUp, Script: "second", Order: 2},
			{Event: "Ping", Script: "b", Order: 2},
		}},
		{Name: "db", Image: "img", Min: 1, Max: 1, Scripts: []ScriptBinding{
			{Event: "Ping", Script: "a", Order: 1},
			{Event: "Ping", Script: "c", Order: 2},
		}},
	}}
	// Each script sleeps a little so that a wrong order could not hide.
	r := newScriptRig(t, spec, map[string]string{
		"first": "sleep 0.2; echo 1", "second": "echo 2", "third": "echo 3",
		"a": "sleep 0.2; echo a", "b": "sleep 0.1; echo b", "c": "echo c",
	}, nil)
	r.upAll()
	if err := r.farm.FireEvent(r.ctx, "Ping", nil); err != nil {
		t.Fatal(err)
	}
	r.settle()
	var got []string
	for _, e := range r.entries(scripting.LogQuery{}) {
		got = append(got, e.Script)
	}
	// Ping's bindings: order 1 first, then order 2 by role order (app
	// before db in the spec).
	want := []string{"first", "second", "third", "a", "b", "c"}
	if !slices.Equal(got, want) {
		t.Fatalf("scripts ran in the order %v, want %v", got, want)
	}
}

func TestBindingTimeoutStopsTheScript(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1,
		Scripts: []ScriptBinding{{Event: HostUp, Script: "slow", Timeout: 300 * time.Millisecond}}}}}
	r := newScriptRig(t, spec, map[string]string{"slow": "echo started; sleep 30; echo finished"}, func(o *Options) {
		o.Scripting.SSH.KillGrace = 200 * time.Millisecond
	})
	start := time.Now()
	r.upAll()
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("the farm took %v with a timed-out script", d)
	}
	es := r.entries(scripting.LogQuery{Script: "slow"})
	if len(es) != 1 || !es[0].TimedOut || strings.TrimSpace(es[0].Stdout) != "started" {
		t.Fatalf("entries: %+v", es)
	}
	if d := es[0].Finished.Sub(es[0].Started); d > 10*time.Second {
		t.Fatalf("timed-out script ran %v", d)
	}
}

func TestExecuteScriptOnFarmRoleAndServer(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "app", Image: "img", Min: 2, Max: 2, Variables: map[string]string{"tier": "web"}},
		{Name: "db", Image: "img", Min: 1, Max: 1, Variables: map[string]string{"tier": "data"}},
	}}
	r := newScriptRig(t, spec, map[string]string{"hello": `echo "%role_name% %tier% %note%"`}, nil)
	r.upAll()
	ref := scripting.ScriptRef{Name: "hello"}
	db := r.farm.Servers("db")[0].ID
	tests := []struct {
		name   string
		target ScriptTarget
		want   []string // roles, sorted
	}{
		{"the farm runs on every server", OnFarm(), []string{"app", "app", "db"}},
		{"a role runs on its servers", OnRoles("app"), []string{"app", "app"}},
		{"a server runs on it alone", OnServers(db), []string{"db"}},
		{"a union counts each server once", ScriptTarget{Roles: []string{"db"}, Servers: []string{db}}, []string{"db"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var roles, lines []string
			sum, err := r.farm.ExecuteScript(r.ctx, ref, tc.target, &ExecuteOptions{
				Vars: map[string]string{"note": "now"},
				OnResult: func(res scripting.Result) {
					roles = append(roles, res.Target.Role)
					lines = append(lines, strings.TrimSpace(res.Stdout))
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(roles)
			if !slices.Equal(roles, tc.want) || sum.Targets != len(tc.want) || sum.OK != len(tc.want) {
				t.Fatalf("ran on %v (summary %v), want %v", roles, sum, tc.want)
			}
			for _, l := range lines {
				if l != "app web now" && l != "db data now" {
					t.Fatalf("output %q", l)
				}
			}
		})
	}
	manual := r.entries(scripting.LogQuery{Event: ManualEvent})
	if len(manual) != 7 {
		t.Fatalf("%d log entries with event %q, want 7", len(manual), ManualEvent)
	}
	if got := r.res.lines(); len(got) != 7 || got[0] != "Manual hello v1 on "+manual[0].Role+"/"+manual[0].Server+": ok" {
		t.Fatalf("OnResult got %q", got)
	}
}

func TestExecuteScriptRefusesBadRequestsBeforeConnecting(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 2}}}
	r := newScriptRig(t, spec, map[string]string{"hello": "echo hi", "needs": "echo %colour% %size%"}, nil)
	r.upAll()
	before := r.dial.count()
	tests := []struct {
		name   string
		ref    scripting.ScriptRef
		target ScriptTarget
		want   []string
	}{
		{"an unknown variable names the variables and the script", scripting.ScriptRef{Name: "needs"}, OnFarm(), []string{`"needs"`, "colour", "size"}},
		{"an unknown script is refused", scripting.ScriptRef{Name: "nope"}, OnFarm(), []string{"nope", "not found"}},
		{"an unknown version is refused", scripting.ScriptRef{Name: "hello", Version: 4}, OnFarm(), []string{"hello", "version"}},
		{"an unknown role is refused", scripting.ScriptRef{Name: "hello"}, OnRoles("web"), []string{`no role "web"`}},
		{"an unknown server is refused", scripting.ScriptRef{Name: "hello"}, OnServers("i-9"), []string{`no server "i-9"`}},
		{"an empty target is refused", scripting.ScriptRef{Name: "hello"}, ScriptTarget{}, []string{"selects nothing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.farm.ExecuteScript(r.ctx, tc.ref, tc.target, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if n := r.dial.count() - before; n != 0 {
		t.Fatalf("%d connections made for refused requests", n)
	}
	if es := r.entries(scripting.LogQuery{Event: ManualEvent}); len(es) != 0 {
		t.Fatalf("log entries: %+v", es)
	}
}

func TestRunScriptRunsForAnEventOnOneServer(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "db", Image: "img", Min: 2, Max: 2}}}
	r := newScriptRig(t, spec, map[string]string{
		"promote": `echo "%event_name% %event_server_id% from %old_master%"; [ "%old_master%" != bad ] || exit 4`,
		"plain":   `echo plain %role_name%`,
	}, nil)
	r.upAll()
	id := r.farm.Servers("db")[1].ID
	res, err := r.farm.RunScript(r.ctx, id, scripting.ScriptRef{Name: "promote"}, string(NewDBMaster), map[string]string{"old_master": "i-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(res.Stdout); got != "NewDBMaster "+id+" from i-1" {
		t.Fatalf("stdout %q", got)
	}
	res, err = r.farm.RunScript(r.ctx, id, scripting.ScriptRef{Name: "promote"}, string(NewDBMaster), map[string]string{"old_master": "bad"})
	var se *ScriptError
	if !errors.As(err, &se) || res.ExitCode != 4 || se.Result.ExitCode != 4 {
		t.Fatalf("failing script: res %+v err %v", res, err)
	}
	if res, err := r.farm.RunScript(r.ctx, id, scripting.ScriptRef{Name: "plain"}, "", nil); err != nil || strings.TrimSpace(res.Stdout) != "plain db" {
		t.Fatalf("on demand: %q %v", res.Stdout, err)
	}
	if es := r.entries(scripting.LogQuery{Event: "NewDBMaster"}); len(es) != 2 {
		t.Fatalf("%d NewDBMaster entries", len(es))
	}
	if es := r.entries(scripting.LogQuery{Event: ManualEvent}); len(es) != 1 || es[0].Script != "plain" {
		t.Fatalf("manual entries %+v", es)
	}
}

func TestExecReturnsStdoutAndIsNotLogged(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1}}}
	r := newScriptRig(t, spec, nil, nil)
	r.upAll()
	id := r.farm.Servers("app")[0].ID
	if err := r.cloud.SetLoad(id, 0.5, 0.25, 0.75); err != nil {
		t.Fatal(err)
	}
	out, err := r.farm.Exec(r.ctx, id, "cat proc/loadavg; printf '100%%\\n'")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "0.50 0.25 0.75") || lines[1] != "100%" {
		t.Fatalf("stdout %q", out)
	}
	_, err = r.farm.Exec(r.ctx, id, "echo oops >&2; exit 2")
	var se *ScriptError
	if !errors.As(err, &se) || se.Result.ExitCode != 2 || strings.TrimSpace(se.Result.Stderr) != "oops" {
		t.Fatalf("failing command: %v", err)
	}
	if !strings.Contains(err.Error(), "command failed on app/"+id+": exit status 2") {
		t.Fatalf("error %q", err)
	}
	if _, err := r.farm.Exec(r.ctx, "i-404", "true"); !errors.Is(err, provider.NotFound) {
		t.Fatalf("unknown server: %v", err)
	}
	if es := r.entries(scripting.LogQuery{}); len(es) != 0 {
		t.Fatalf("Exec wrote %d log entries", len(es))
	}
}

func TestCommandHealthCheckRunsOverSSH(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1, HealthAction: HealthReport,
		HealthChecks: []HealthCheckSpec{{Kind: "command", Command: "test ! -e broken", FailureThreshold: 1}}}}}
	r := newScriptRig(t, spec, nil, nil)
	r.upAll()
	r.checkHealth()
	id := r.farm.Servers("app")[0].ID
	if s, _ := r.farm.Server(id); s.Health.Status != HealthHealthy {
		t.Fatalf("health %+v", s.Health)
	}
	if _, err := r.farm.Exec(r.ctx, id, "touch broken"); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(DefaultCheckInterval)
	r.checkHealth()
	if s, _ := r.farm.Server(id); s.Health.Status != HealthUnhealthy || r.rec.count(CheckFailed) != 1 {
		t.Fatalf("health %+v, %d CheckFailed", s.Health, r.rec.count(CheckFailed))
	}
}

func TestHostKeyPinIsDroppedWhenTheServerIsTerminated(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 0, Max: 1, Desired: 1}}}
	r := newScriptRig(t, spec, nil, nil)
	r.upAll()
	srv := r.farm.Servers("app")[0]
	if _, err := r.farm.Exec(r.ctx, srv.ID, "true"); err != nil {
		t.Fatal(err)
	}
	hk := r.farm.scripts.hostKeys
	if len(hk.Pinned(srv.SSHAddress)) != 1 {
		t.Fatalf("no key pinned for %s after a command ran", srv.SSHAddress)
	}
	if err := r.farm.SetDesired("app", 0); err != nil {
		t.Fatal(err)
	}
	r.tick(10 * time.Second)
	r.tick(10 * time.Second)
	if s, _ := r.farm.Server(srv.ID); s.State != StateTerminated {
		t.Fatalf("server is %s", s.State)
	}
	if keys := hk.Pinned(srv.SSHAddress); len(keys) != 0 {
		t.Fatalf("%d keys still pinned for %s after the server was terminated", len(keys), srv.SSHAddress)
	}
}

func TestHostKeyPinOfAReusedAddressIsReplaced(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 2}}}
	r := newScriptRig(t, spec, nil, nil)
	r.upAll()
	a, b := r.farm.Servers("app")[0], r.farm.Servers("app")[1]
	e := r.farm.scripts
	// Server a was reached at b's address: a key of a's is pinned there.
	e.claim(b.SSHAddress, a.ID)
	keys, err := r.cloud.HostKeys(r.ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.hostKeys.PinAuthorizedKeys(b.SSHAddress, keys...); err != nil {
		t.Fatal(err)
	}
	if _, err := r.farm.Exec(r.ctx, b.ID, "true"); err != nil {
		t.Fatalf("the reused address kept the old server's key: %v", err)
	}
}

func TestBlockingInitScriptWaitsForAServerThatDoesNotAnswerYet(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1,
		Scripts: []ScriptBinding{{Event: HostInit, Script: "install", Blocking: true}}}}}
	r := newScriptRig(t, spec, map[string]string{"install": "echo installed"}, nil)
	// The cloud is too busy to tell the new server's host key, twice.
	r.cloud.FailNext(fake.OpHostKeys, 2, provider.Throttled)
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.settle()
	r.clk.Advance(30 * time.Second) // the server boots
	if err := r.farm.Reconcile(r.ctx); err != nil {
		t.Fatal(err)
	}
	// The hook waits between attempts on the farm's clock.
	deadline := time.Now().Add(10 * time.Second)
	for len(r.running("app")) == 0 && time.Now().Before(deadline) {
		r.clk.Advance(20 * time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	r.settle()
	if got := r.running("app"); len(got) != 1 || r.rec.count(HostInitFailed) != 0 {
		t.Fatalf("running %v, %d HostInitFailed\n%s", got, r.rec.count(HostInitFailed), serverLines(r.farm.Servers("")))
	}
	es := r.entries(scripting.LogQuery{})
	if len(es) != 1 || es[0].ExitCode != 0 {
		t.Fatalf("log %+v, want one successful run (the waiting is not logged)", es)
	}
	n := 0
	for _, c := range r.cloud.Calls() {
		if c.Op == fake.OpHostKeys {
			n++
		}
	}
	if n < 3 {
		t.Fatalf("%d HostKeys calls, want the two failures and a success", n)
	}
}
