package farm_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// Scripts bound to events configure each new server. Here the fake cloud's
// servers answer SSH on loopback, so the script really runs.
func Example_scripts() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, _ := os.MkdirTemp("", "farm-example-")
	defer os.RemoveAll(dir)
	cloud := fake.New(fake.Options{BootTime: 100 * time.Millisecond, SSH: &fake.SSHOptions{Dir: dir}})
	defer cloud.Close()

	lib := scripting.NewLibrary(nil)
	lib.Save(scripting.Script{Name: "hello", Body: `echo "I am a %role_name%, server %instance_index% of farm %farm_name%"`})
	key, _ := scripting.GenerateKey("example")

	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "app", Image: "img", Min: 1, Max: 2,
		Scripts: []farm.ScriptBinding{{Event: farm.HostUp, Script: "hello"}},
	}}}
	f, err := farm.New(spec, cloud, &farm.Options{
		TickInterval: 50 * time.Millisecond,
		Scripting:    &farm.ScriptingOptions{Library: lib, Key: key},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- f.Run(runCtx) }()
	defer func() { stop(); <-done }()

	f.Launch(ctx)
	f.WaitReady(ctx)
	f.Settle(ctx)

	// Run a script now on a role; it is logged with the event "Manual".
	sum, err := f.ExecuteScript(ctx, scripting.ScriptRef{Name: "hello"}, farm.OnRoles("app"), nil)
	fmt.Println("on demand:", sum.OK, "ok", err)

	entries, _ := f.ScriptingLog().Query(ctx, scripting.LogQuery{Farm: "shop"})
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		fmt.Printf("%s %s v%d on %s/%s: %s\n", e.Event, e.Script, e.Version, e.Role, e.Server, strings.TrimSpace(e.Stdout))
	}
	// Output:
	// on demand: 1 ok <nil>
	// HostUp hello v1 on app/i-000001: I am a app, server 1 of farm shop
	// Manual hello v1 on app/i-000001: I am a app, server 1 of farm shop
}
