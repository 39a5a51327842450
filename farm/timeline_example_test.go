package farm_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
)

// A timeline prints the farm's events as they happen, with the seconds
// since it started; failures print like any other event. (With scripting
// on, give ScriptingOptions.OnResult the timeline's ScriptResult too.)
func ExampleTimeline() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 30 * time.Second})
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{
		{Name: "db", Image: "img-db", Min: 1, Max: 1},
		{Name: "app", Image: "img-app", Min: 1, Max: 2, DependsOn: []string{"db"}},
	}}
	f, err := farm.New(spec, cloud, &farm.Options{Clock: clk})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	tl := farm.NewTimeline(os.Stdout, &farm.TimelineOptions{Clock: clk})
	f.Subscribe(tl.Event)

	f.Launch(ctx)
	for range 3 {
		clk.Advance(30 * time.Second)
		f.Reconcile(ctx)
		f.Settle(ctx)
	}
	tl.Printf("ready: %v\n", f.Status().Ready())
	// Output:
	//   0.00s  event FarmLaunched                                    farm launched
	//  30.00s  event HostUp             db/i-000001 (127.100.0.1)    initialised
	//  90.00s  event HostUp             app/i-000002 (127.100.0.2)   initialised
	//  90.00s  ready: true
}
