package farm_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
)

// A farm on the fake cloud, driven tick by tick on a fake clock: the
// database comes up first, then the app servers that depend on it.
func Example() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 30 * time.Second})
	spec := farm.Spec{
		Name: "shop",
		Roles: []farm.RoleSpec{
			{Name: "db", Image: "img-db", Min: 1, Max: 1},
			{Name: "app", Image: "img-app", Min: 2, Max: 5, DependsOn: []string{"db"}},
		},
	}
	// One provider call at a time keeps the server IDs of this example
	// the same on every run.
	f, err := farm.New(spec, cloud, &farm.Options{Clock: clk, MaxConcurrentCalls: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()

	f.Launch(ctx) // launches db; app waits for it
	for range 3 {
		clk.Advance(30 * time.Second) // servers boot
		f.Reconcile(ctx)              // running → HostInit … HostUp; app launches
		f.Settle(ctx)
	}
	fmt.Print(f.Status())
	// Output:
	// farm shop (launched)
	//   role db         desired 1 (min 1, max 1): 1 Running
	//     db/1  i-000001   Running          127.100.0.1     fake-1a  -
	//   role app        desired 2 (min 2, max 5): 2 Running
	//     app/1  i-000002   Running          127.100.0.2     fake-1a  -
	//     app/2  i-000003   Running          127.100.0.3     fake-1b  -
}

// Subscribers see every event in order; the farm never waits for them.
func ExampleFarm_Subscribe() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 20 * time.Second})
	spec := farm.Spec{Name: "web", Roles: []farm.RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1}}}
	f, _ := farm.New(spec, cloud, &farm.Options{Clock: clk})
	defer f.Close()
	f.Subscribe(func(ev farm.Event) {
		line := ev.Time.Format("15:04:05") + " " + string(ev.Type)
		if ev.Server != nil {
			line += fmt.Sprintf(" %s/%s %s", ev.Role, ev.Server.ID, ev.Server.Zone)
		}
		if ev.Reason != "" {
			line += " (" + ev.Reason + ")"
		}
		fmt.Println(line)
	})

	f.Launch(ctx)
	clk.Advance(20 * time.Second)
	f.Reconcile(ctx)
	f.Settle(ctx)

	// The cloud loses the server; the next tick notices and replaces it.
	cloud.Crash(f.Servers("app")[0].ID)
	clk.Advance(10 * time.Second)
	f.Reconcile(ctx)
	clk.Advance(20 * time.Second)
	f.Reconcile(ctx)
	f.Settle(ctx)
	// Output:
	// 12:00:00 FarmLaunched (farm launched)
	// 12:00:00 BeforeInstanceLaunch (launching servers)
	// 12:00:20 HostInit app/i-000001 fake-1a
	// 12:00:20 BeforeHostUp app/i-000001 fake-1a
	// 12:00:20 HostUp app/i-000001 fake-1a (initialised)
	// 12:00:30 HostDown app/i-000001 fake-1a (cloud reports the server terminated)
	// 12:00:30 BeforeInstanceLaunch (launching servers)
	// 12:00:50 HostInit app/i-000002 fake-1a
	// 12:00:50 BeforeHostUp app/i-000002 fake-1a
	// 12:00:50 HostUp app/i-000002 fake-1a (initialised)
}

// A hook runs synchronously for HostInit, BeforeHostUp and
// BeforeHostTerminate; its error fails the server, which is replaced.
func ExampleHookFunc() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 20 * time.Second})
	first := true
	check := farm.HookFunc(func(ctx context.Context, ev farm.Event) error {
		if ev.Type == farm.BeforeHostUp && first {
			first = false
			return errors.New("smoke test failed")
		}
		return nil
	})
	spec := farm.Spec{Name: "web", Roles: []farm.RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1}}}
	f, _ := farm.New(spec, cloud, &farm.Options{Clock: clk, Hooks: []farm.Hook{check}})
	defer f.Close()

	f.Launch(ctx)
	for range 3 {
		clk.Advance(20 * time.Second)
		f.Reconcile(ctx)
		f.Settle(ctx)
	}
	for _, s := range f.Servers("app") {
		fmt.Println(s.ID, s.State, s.Reason)
	}
	// Output:
	// i-000001 Terminated initialisation failed: BeforeHostUp hook: smoke test failed
	// i-000002 Running
}

// Validation reports every problem at once, naming role, field and value.
func ExampleSpec_Validate() {
	spec := farm.Spec{
		Name: "shop",
		Roles: []farm.RoleSpec{
			{Name: "app64", Image: "ami-1", Min: 5, Max: 3, ZoneStrategy: "random"},
			{Name: "db", Min: 1, Max: 1, DependsOn: []string{"cache"}},
		},
	}
	fmt.Println(spec.Validate())
	// Output:
	// role "app64": min 5 > max 3
	// role "app64": zone_strategy "random" is not "even" or "ordered"
	// role "db": image is empty
	// role "db": depends_on names unknown role "cache"
}

// A farm file's errors carry its name and the line of the field.
func ExampleParseYAML() {
	_, err := farm.ParseYAML([]byte(`name: shop
roles:
  - name: app64
    image: ami-1
    min: 5
    max: 3
    launch_timeout: 10m
    health_checks:
      - kind: http
        url: http://%internal_ip%:8080/health
        expect_status: 999
`), "shop.yaml")
	fmt.Println(err)
	// Output:
	// shop.yaml:5: role "app64": min 5 > max 3
	// shop.yaml:11: role "app64": health check "http": expect_status 999 is not an HTTP status (100..599)
}

// ChooseVictims explains a scale-in before it happens.
func ExampleChooseVictims() {
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	servers := []farm.Server{
		{ID: "i-1", Zone: "a", State: farm.StateRunning, LaunchedAt: t, Master: true},
		{ID: "i-2", Zone: "a", State: farm.StateRunning, LaunchedAt: t.Add(time.Hour)},
		{ID: "i-3", Zone: "b", State: farm.StateRunning, LaunchedAt: t.Add(2 * time.Hour)},
		{ID: "i-4", Zone: "a", State: farm.StateRunning, LaunchedAt: t.Add(3 * time.Hour)},
	}
	for _, v := range farm.ChooseVictims(servers, 2, farm.OldestFirst) {
		fmt.Println(v.ID)
	}
	// Output:
	// i-2
	// i-4
}
