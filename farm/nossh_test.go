package farm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// A fake cloud made without SSH endpoints has no sshd anywhere: scripts,
// commands and SSH checks on its servers fail at once, say how to give the
// cloud endpoints, and dial nothing.
func TestWithoutFakeSSHNothingIsDialledAndTheErrorSaysWhatToDo(t *testing.T) {
	noLeaks(t)
	lib := scripting.NewLibrary(nil)
	if _, err := lib.Save(scripting.Script{Name: "hello", Body: "echo hello"}); err != nil {
		t.Fatal(err)
	}
	key, err := scripting.GenerateKey("farm-test")
	if err != nil {
		t.Fatal(err)
	}
	dc := &dialCounter{}
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1,
		HealthChecks: []HealthCheckSpec{{Kind: "ssh"}}}}}
	r := newRig(t, spec, &Options{Scripting: &ScriptingOptions{
		Library: lib, Key: key, SSH: scripting.ExecutorOptions{Dial: dc.dial},
	}}, fake.Options{})
	if err := r.farm.Launch(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.tick(time.Minute)
	r.tick(time.Minute)
	srvs := r.farm.Servers("app")
	if len(srvs) != 1 || !strings.HasPrefix(srvs[0].PrivateIP, "127.") {
		t.Fatalf("servers %+v, want one with a loopback private address", srvs)
	}
	id := srvs[0].ID

	_, execErr := r.farm.Exec(r.ctx, id, "true")
	_, scriptErr := r.farm.ExecuteScript(r.ctx, scripting.ScriptRef{Name: "hello"}, OnServers(id), nil)
	checkErr := r.farm.roles["app"].checks[0].Check(r.ctx, srvs[0])
	for what, err := range map[string]error{"Exec": execErr, "ExecuteScript": scriptErr, "ssh check": checkErr} {
		if !errors.Is(err, fake.ErrNoSSH) || !strings.Contains(err.Error(), "fake.Options{SSH: &fake.SSHOptions{}}") {
			t.Errorf("%s: %v, want an error wrapping fake.ErrNoSSH that names fake.Options{SSH: ...}", what, err)
		}
	}
	if n := dc.count(); n != 0 {
		t.Fatalf("%d dials, want none", n)
	}
}
