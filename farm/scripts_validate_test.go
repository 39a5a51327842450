package farm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

func bindingSpec(bs ...ScriptBinding) Spec {
	return Spec{Name: "shop", Events: []string{"Deploy"}, Roles: []RoleSpec{
		{Name: "db", Image: "img", Min: 1, Max: 1},
		{Name: "app", Image: "img", Min: 1, Max: 2, Scripts: bs},
	}}
}

func TestValidateScriptBindings(t *testing.T) {
	tests := []struct {
		name string
		b    ScriptBinding
		want string // the whole message of the only error
	}{
		{"an empty event is refused", ScriptBinding{Script: "s"},
			`role "app": scripts[0] ("s"): event is empty`},
		{"the manual event is reserved", ScriptBinding{Event: ManualEvent, Script: "s"},
			`role "app": scripts[0] ("s"): event "Manual" is reserved for scripts run on demand`},
		{"an event neither built in nor declared is refused", ScriptBinding{Event: "Release", Script: "s"},
			`role "app": scripts[0] ("s"): event "Release" is neither a built-in event nor declared in the farm's events (events: [Release])`},
		{"a misspelt built-in event is refused with a suggestion", ScriptBinding{Event: "HostUpp", Script: "s"},
			`role "app": scripts[0] ("s"): event "HostUpp" is not a built-in event; did you mean "HostUp"?`},
		{"a misspelt custom event is refused with a suggestion", ScriptBinding{Event: "Deplyo", Script: "s"},
			`role "app": scripts[0] ("s"): event "Deplyo" is not declared in the farm's events; did you mean "Deploy"?`},
		{"an empty script is refused", ScriptBinding{Event: HostUp},
			`role "app": scripts[0]: script is empty`},
		{"a negative version is refused", ScriptBinding{Event: HostUp, Script: "s", Version: -1},
			`role "app": scripts[0] ("s"): version -1 < 0 (0 means the latest)`},
		{"an unknown target is refused", ScriptBinding{Event: HostUp, Script: "s", Target: "cluster"},
			`role "app": scripts[0] ("s"): target "cluster" is not "server", "role", "roles" or "farm"`},
		{"target server needs an event about a server", ScriptBinding{Event: "Deploy", Script: "s", Target: TargetServer},
			`role "app": scripts[0] ("s"): target "server": event "Deploy" is not about a server`},
		{"target server cannot reach a server that is gone", ScriptBinding{Event: HostDown, Script: "s", Target: TargetServer},
			`role "app": scripts[0] ("s"): target "server": the server is gone when HostDown fires`},
		{"target roles needs roles", ScriptBinding{Event: HostUp, Script: "s", Target: TargetRoles},
			`role "app": scripts[0] ("s"): target "roles" needs roles`},
		{"roles are only for target roles", ScriptBinding{Event: HostUp, Script: "s", Roles: []string{"db"}},
			`role "app": scripts[0] ("s"): roles [db] is only for target "roles", not "server"`},
		{"an unknown role is refused", ScriptBinding{Event: HostUp, Script: "s", Target: TargetRoles, Roles: []string{"web"}},
			`role "app": scripts[0] ("s"): roles names unknown role "web"`},
		{"blocking is only for the blocking events", ScriptBinding{Event: HostUp, Script: "s", Blocking: true},
			`role "app": scripts[0] ("s"): blocking is only for HostInit, BeforeHostUp and BeforeHostTerminate, not "HostUp"`},
		{"a negative timeout is refused", ScriptBinding{Event: HostUp, Script: "s", Timeout: -time.Second},
			`role "app": scripts[0] ("s"): timeout -1s is negative`},
		{"a run_as that is no user name is refused", ScriptBinding{Event: HostUp, Script: "s", RunAs: "root; rm"},
			`role "app": scripts[0] ("s"): run_as "root; rm" is not a user name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fes := FieldErrors(bindingSpec(tc.b).Validate())
			if len(fes) != 1 || fes[0].Error() != tc.want {
				t.Fatalf("errors %v\nwant   %s", fes, tc.want)
			}
		})
	}
}

func TestValidateAcceptsGoodBindings(t *testing.T) {
	spec := bindingSpec(
		ScriptBinding{Event: HostInit, Script: "s", Blocking: true, Timeout: time.Minute, RunAs: "deploy"},
		ScriptBinding{Event: "Deploy", Script: "s", Target: TargetRoles, Roles: []string{"db", "app"}, Order: 2},
		ScriptBinding{Event: HostDown, Script: "s", Target: TargetFarm},
		ScriptBinding{Event: NewDBMaster, Script: "s", Version: 3},
	)
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
}

// newWithLibrary calls New with scripting on and a library holding
// scripts (name → body).
func newWithLibrary(t *testing.T, spec Spec, scripts map[string]string) error {
	t.Helper()
	lib := scripting.NewLibrary(nil)
	for _, name := range sortedKeys(scripts) {
		if _, err := lib.Save(scripting.Script{Name: name, Body: scripts[name]}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := scripting.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	cloud := fake.New(fake.Options{})
	f, err := New(spec, cloud, &Options{Scripting: &ScriptingOptions{Library: lib, Key: key}})
	if err == nil {
		f.Close()
	}
	return err
}

func TestNewChecksBindingsAgainstTheLibrary(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		scripts map[string]string
		want    string // "" for no error
	}{
		{"a script the library lacks is refused",
			bindingSpec(ScriptBinding{Event: HostUp, Script: "setup"}), nil,
			`role "app": scripts[0]: script "setup" is not in the scripting library`},
		{"a version the library lacks is refused",
			bindingSpec(ScriptBinding{Event: HostUp, Script: "setup", Version: 2}), map[string]string{"setup": "true"},
			`role "app": scripts[0]: script "setup" version 2 is not in the scripting library`},
		{"an unknown variable names the variable and the script",
			bindingSpec(ScriptBinding{Event: HostUp, Script: "setup"}), map[string]string{"setup": "echo %colour% %role_name%"},
			`role "app": scripts[0]: script "setup" v1 uses unknown variable %colour% on HostUp: define it in the farm's or the role's variables (server variables override those)`},
		{"event variables need an event about a server",
			bindingSpec(ScriptBinding{Event: FarmLaunched, Script: "setup"}), map[string]string{"setup": "echo %event_internal_ip%"},
			`role "app": scripts[0]: script "setup" v1 uses unknown variable %event_internal_ip% on FarmLaunched: define it in the farm's or the role's variables (server variables override those)`},
		{"a role variable must exist on every target role",
			func() Spec {
				s := bindingSpec(ScriptBinding{Event: HostUp, Script: "setup", Target: TargetFarm})
				s.Roles[1].Variables = map[string]string{"colour": "red"}
				return s
			}(), map[string]string{"setup": "echo %colour%"},
			`role "app": scripts[0]: script "setup" v1 uses unknown variable %colour% on HostUp: define it in the farm's or the role's variables (server variables override those)`},
		{"a user variable may not take a built-in name",
			func() Spec {
				s := bindingSpec()
				s.Variables = map[string]string{"role_name": "x"}
				return s
			}(), nil,
			`variable "role_name" is reserved for a built-in script variable`},
		{"a user variable scripts cannot refer to is refused",
			func() Spec {
				s := bindingSpec()
				s.Variables = map[string]string{"DB_HOST": "x"}
				return s
			}(), nil,
			`variable "DB_HOST" cannot be used in scripts as %DB_HOST%: a name is a lower-case letter, then lower-case letters, digits and '_', at least 2 characters, not ending in '_'`},
		{"percent signs of date, printf and awk are not variables",
			bindingSpec(ScriptBinding{Event: HostUp, Script: "setup"}), map[string]string{"setup": `date +%Y%m%d_%H%M%S; printf "%s%s\n" a %role_name%; awk '{printf "%d%%"}'`}, ""},
		{"farm and role variables, built-ins and event parameters are known",
			func() Spec {
				s := bindingSpec(
					ScriptBinding{Event: HostUp, Script: "setup"},
					ScriptBinding{Event: CheckFailed, Script: "alert"},
				)
				s.Variables = map[string]string{"site": "example.com"}
				s.Roles[1].Variables = map[string]string{"colour": "red"}
				return s
			}(), map[string]string{
				"setup": "echo %site% %colour% %event_name% %event_server_id% %instance_index% %farm_id%",
				"alert": "echo %check% failed %failures% times: %error%",
			}, ""},
		{"custom events leave their parameters to the time they fire",
			bindingSpec(ScriptBinding{Event: "Deploy", Script: "deploy"}), map[string]string{"deploy": "echo %release%"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := newWithLibrary(t, tc.spec, tc.scripts)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			fes := FieldErrors(err)
			if len(fes) != 1 || fes[0].Error() != tc.want {
				t.Fatalf("error %v\nwant  %s", err, tc.want)
			}
		})
	}
}

func TestNewRefusesBindingsWithoutScripting(t *testing.T) {
	_, err := New(bindingSpec(ScriptBinding{Event: HostUp, Script: "s"}), fake.New(fake.Options{}), nil)
	if err == nil || !strings.Contains(err.Error(), `role "app" binds scripts, but Options.Scripting is nil`) {
		t.Fatalf("error %v", err)
	}
}

func TestScriptingMethodsWithoutScriptingSaySo(t *testing.T) {
	f, err := New(bindingSpec(), fake.New(fake.Options{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Exec(t.Context(), "i-1", "true"); !errors.Is(err, ErrNoScripting) {
		t.Fatalf("Exec: %v", err)
	}
	if _, err := f.ExecuteScript(t.Context(), scripting.ScriptRef{Name: "s"}, OnFarm(), nil); !errors.Is(err, ErrNoScripting) {
		t.Fatalf("ExecuteScript: %v", err)
	}
	if f.ScriptingLog() != nil {
		t.Fatal("ScriptingLog is not nil")
	}
}

func TestScriptBindingsLoadFromYAML(t *testing.T) {
	spec, err := ParseYAML([]byte(`
name: shop
roles:
  - name: db
    image: img
    min: 1
    max: 1
  - name: app
    image: img
    min: 1
    max: 2
    scripts:
      - event: HostInit
        script: install
        version: 2
        blocking: true
        timeout: 5m
        run_as: deploy
      - event: NewDBMaster
        script: reconnect
        target: roles
        roles: [app, db]
        order: 1
`), "farm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := spec.Roles[1].Scripts
	want := []ScriptBinding{
		{Event: HostInit, Script: "install", Version: 2, Blocking: true, Timeout: 5 * time.Minute, RunAs: "deploy"},
		{Event: NewDBMaster, Script: "reconnect", Target: TargetRoles, Roles: []string{"app", "db"}, Order: 1},
	}
	if len(got) != 2 || got[0].Event != want[0].Event || got[0].Timeout != want[0].Timeout || got[0].RunAs != "deploy" ||
		got[0].Version != 2 || !got[0].Blocking || got[1].Target != TargetRoles || strings.Join(got[1].Roles, ",") != "app,db" || got[1].Order != 1 {
		t.Fatalf("bindings %+v\nwant     %+v", got, want)
	}

	_, err = ParseYAML([]byte(`
name: shop
roles:
  - name: app
    image: img
    min: 1
    max: 2
    scripts:
      - event: HostUp
        script: hello
        blocking: true
`), "farm.yaml")
	if err == nil || err.Error() != `farm.yaml:11: role "app": scripts[0] ("hello"): blocking is only for HostInit, BeforeHostUp and BeforeHostTerminate, not "HostUp"` {
		t.Fatalf("error %v", err)
	}
}
