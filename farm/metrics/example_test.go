package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/metrics"
	"github.com/farmhand/farmhand/provider/fake"
)

// A farm's metrics at /metrics, scraped once its servers are up.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cloud := fake.New(fake.Options{BootTime: 50 * time.Millisecond})
	defer cloud.Close()

	c := metrics.New(nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 4, Desired: 2}}}
	f, err := farm.New(spec, c.Provider(cloud), &farm.Options{TickInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	stop, _ := c.Watch(f)
	defer stop()
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- f.Run(runCtx) }()
	defer func() { stopRun(); <-done }()
	f.Launch(ctx)
	f.WaitReady(ctx)
	f.SetDesired("app", 3)
	f.WaitReady(ctx)
	f.Settle(ctx)

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `farmhand_servers{farm="shop",role="app",state="Running"}`) ||
			strings.HasPrefix(line, "farmhand_scaling_actions_total") ||
			strings.HasPrefix(line, "farmhand_role_desired_servers") {
			fmt.Println(line)
		}
	}
	// Output:
	// farmhand_role_desired_servers{farm="shop",role="app"} 3
	// farmhand_scaling_actions_total{direction="up",farm="shop",reason="program",role="app"} 1
	// farmhand_servers{farm="shop",role="app",state="Running"} 3
}
