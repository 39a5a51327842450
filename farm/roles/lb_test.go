package roles_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/lbtest"
	"go.uber.org/goleak"
)

// requirePrograms skips a test whose programs are missing, and fails it
// under CI, where .ci/run installs them.
func requirePrograms(t *testing.T, programs ...string) {
	t.Helper()
	var missing []string
	for _, p := range programs {
		if _, err := lookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "needs " + strings.Join(missing, ", ") + " (apt-get install -y haproxy nginx squid memcached socat)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func TestHAProxyDrainsWhileTheFarmScales(t *testing.T) {
	requirePrograms(t, lbtest.Programs...)
	res := runLB(t, lbtest.Options{Kind: "haproxy", Port: 18490, LBPort: 18491})
	if res.Fallbacks != 0 {
		t.Errorf("%d configuration reloads: the runtime API should have done everything", res.Fallbacks)
	}
}

func TestNginxLBDrainsWhileTheFarmScales(t *testing.T) {
	requirePrograms(t, "nginx")
	runLB(t, lbtest.Options{Kind: "nginx", Port: 18492, LBPort: 18493})
}

func runLB(t *testing.T, o lbtest.Options) lbtest.Result {
	t.Helper()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o.Dir, o.Log = t.TempDir(), t.Logf
	res, err := lbtest.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("requests=%d planned_failed=%d crash_failed=%d scale_events=%d errors=%q", res.Requests, res.PlannedFailed, res.CrashFailed, res.ScaleEvents, res.Errors)
	if res.Requests < 100 {
		t.Errorf("only %d requests went through the load balancer", res.Requests)
	}
	if res.PlannedFailed != 0 {
		t.Errorf("%d requests failed during the scale-out and scale-in: %q\n%s", res.PlannedFailed, res.Errors, res.LBLog)
	}
	if res.ScaleEvents != 3 {
		t.Errorf("scale events %d, want 3", res.ScaleEvents)
	}
	return res
}
