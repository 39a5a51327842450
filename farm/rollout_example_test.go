package farm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// A new image rolls out in batches: Plan shows what Apply will do, and
// Apply replaces the servers two at a time, each batch's new servers in
// service (their HostInit script ran over SSH) before its old ones go. An
// image whose HostInit script fails is rolled back.
func Example_rollout() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir, _ := os.MkdirTemp("", "farm-rollout-")
	defer os.RemoveAll(dir)
	cloud := fake.New(fake.Options{BootTime: 50 * time.Millisecond, SSH: &fake.SSHOptions{Dir: dir}})
	defer cloud.Close()

	lib := scripting.NewLibrary(nil)
	lib.Save(scripting.Script{Name: "boot", Body: `case "%image_id%" in bad-*) echo "no app on %image_id%" >&2; exit 1;; esac`})
	key, _ := scripting.GenerateKey("example")
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "app", Image: "app-v1", Min: 3, Max: 6,
		Scripts: []farm.ScriptBinding{{Event: farm.HostInit, Script: "boot", Blocking: true}},
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
	f.Subscribe(func(ev farm.Event) {
		switch ev.Type {
		case farm.RolloutStarted, farm.RolloutBatchDone, farm.RolloutFinished:
			fmt.Printf("%s: %s\n", ev.Type, ev.Reason)
		case farm.RolloutBatchFailed, farm.RollbackStarted, farm.RollbackFinished:
			// The reason names the failed server, whichever failed first.
			fmt.Printf("%s (HostInit failed: %v)\n", ev.Type, strings.Contains(ev.Reason, `HostInit hook: script "boot" v1 failed`))
		}
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- f.Run(runCtx) }()
	defer func() { stop(); <-done }()
	f.Launch(ctx)
	f.WaitReady(ctx)

	next := f.Spec()
	next.Roles[0].Image = "app-v2"
	plan, _ := f.Plan(next)
	fmt.Print(plan)
	_, err = f.Apply(ctx, next, &farm.ApplyOptions{BatchSize: 2})
	f.Settle(ctx)
	fmt.Println("apply app-v2:", err)

	next.Roles[0].Image = "bad-v3"
	_, err = f.Apply(ctx, next, &farm.ApplyOptions{BatchSize: 2})
	f.Settle(ctx)
	fmt.Println("apply bad-v3:", errors.Is(err, farm.ErrRolloutFailed))
	ro := f.Rollouts()[0]
	fmt.Println(ro.Phase, "to", ro.To, "images", runningImages(f))
	// Output:
	// farm "shop": 1 role changes
	// ~ role app
	//     image: app-v1 -> app-v2 (replace 3 servers in batches)
	// RolloutStarted: replacing 3 servers of app-v1 with app-v2, 2 at a time, keeping 3 in service
	// RolloutBatchDone: batch 1: 2 servers of app-v2 in service
	// RolloutBatchDone: batch 2: 1 server of app-v2 in service
	// RolloutFinished: every server runs app-v2 (3 servers replaced)
	// apply app-v2: <nil>
	// RolloutStarted: replacing 3 servers of app-v2 with bad-v3, 2 at a time, keeping 3 in service
	// RolloutBatchFailed (HostInit failed: true)
	// RollbackStarted (HostInit failed: true)
	// RollbackFinished (HostInit failed: true)
	// apply bad-v3: true
	// rolled-back to app-v2 images [app-v2 app-v2 app-v2]
}

// runningImages lists the images of a farm's servers in service.
func runningImages(f *farm.Farm) []string {
	var out []string
	for _, s := range f.Servers("") {
		if s.State == farm.StateRunning {
			out = append(out, s.Image)
		}
	}
	return out
}
