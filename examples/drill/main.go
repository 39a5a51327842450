// Drill runs a farm drill on farmhand's fake cloud: a farm of app servers
// that answer SSH on loopback, a dry run of the drill, then the drill
// itself, which crashes half of the role's servers and waits for the farm
// to heal, and the report: what was killed, what replaced it, how long
// the farm took to see it and to heal, which scripts failed.
//
//	go run ./examples/drill
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
	"github.com/farmhand/farmhand/store"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "drill:", err)
		os.Exit(1)
	}
}

var spec = farm.Spec{
	Name: "drill",
	Roles: []farm.RoleSpec{{
		Name: "app", Image: "img-app", Min: 2, Max: 6, Desired: 4,
		Scripts: []farm.ScriptBinding{{Event: farm.HostUp, Script: "hello"}},
	}},
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "farmhand-drill-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cloud := fake.New(fake.Options{BootTime: 200 * time.Millisecond, SSH: &fake.SSHOptions{Dir: dir}})
	defer cloud.Close()
	key, err := scripting.GenerateKey("drill")
	if err != nil {
		return err
	}
	lib := scripting.NewLibrary(nil)
	if _, err := lib.Save(scripting.Script{Name: "hello", Body: `echo "app #%instance_index% up"`}); err != nil {
		return err
	}
	// The drill reports are kept in the farm's Store.
	st, err := store.NewMemory().Farm(spec.Name)
	if err != nil {
		return err
	}
	f, err := farm.New(spec, cloud, &farm.Options{
		TickInterval: 100 * time.Millisecond,
		Store:        st,
		Scripting:    &farm.ScriptingOptions{Library: lib, Key: key},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	defer func() { stop(); <-done }()
	if err := f.Launch(ctx); err != nil {
		return err
	}
	if err := f.WaitReady(ctx); err != nil {
		return err
	}
	if err := f.Settle(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "farm is ready: %d app servers\n", len(f.Servers("app")))

	// Half of the role, at most two servers, crashed through the cloud
	// (as a host failure would).
	drill := farm.DrillSpec{
		Kind: farm.DrillServers, Role: "app", Fraction: 0.5, MaxVictims: 2,
		Kill:    func(_ context.Context, id string) error { return cloud.Crash(id) },
		Timeout: 30 * time.Second,
	}
	// A drill that would kill more than its blast radius is refused.
	wide := drill
	wide.Fraction = 1
	if _, err := f.PlanDrill(wide); err != nil {
		fmt.Fprintf(w, "refused: %v\n", err)
	}
	// The dry run.
	plan, err := f.PlanDrill(drill)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "dry run: %s", plan)
	rep, err := f.Drill(ctx, drill)
	if err != nil {
		return err
	}
	fmt.Fprint(w, rep)
	kept, err := f.Drills(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d drill report(s) kept in the store\n", len(kept))
	return nil
}
