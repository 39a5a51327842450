package roles_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/bindtest"
	"github.com/farmhand/farmhand/internal/mariadbtest"
)

// TestMariaDBFailoverLosesNoAcknowledgedWrite runs the preset on the fake
// cloud: real mariadbd processes on the fake servers' loopback addresses,
// started by the preset's scripts over SSH, and the master's name in a real
// BIND. The master is SIGKILLed while a writer commits through the name.
func TestMariaDBFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	mariadbtest.Require(t)
	bindtest.RequireNamed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	var logger *slog.Logger
	if os.Getenv("MARIADBTEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r, err := mariadbtest.StartFarm(ctx, mariadbtest.FarmOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer func() { t.Logf("failed scripts:\n%s", r.FailedScripts(ctx)) }()
	t.Logf("farm replicating after %s", time.Since(start))
	old, _ := r.Master()
	res, err := r.CrashMaster(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("acked=%d lost=%d resumed=%s failover=%+v", res.Acked, len(res.Lost), res.WritesResumed, res.Failover)
	if len(res.Lost) != 0 {
		t.Errorf("acknowledged rows lost: %v", res.Lost)
	}
	if res.MaxWritable > 1 {
		t.Errorf("%d writable masters at once", res.MaxWritable)
	}
	fo := res.Failover
	// The farm replaces the unhealthy old master meanwhile: its fence
	// script may be cut short, and the farm then terminates it.
	if (fo.Fenced != "script" && fo.Fenced != "terminated") || len(fo.Positions) != 2 {
		t.Errorf("failover = %+v, want the old master fenced and two positions read", fo)
	}
	if best := fo.Positions[fo.NewMaster]; best < fo.Positions[otherReplica(fo.Positions, fo.NewMaster)] {
		t.Errorf("promoted %s at %d, behind another replica: %v", fo.NewMaster, best, fo.Positions)
	}
	if ip, err := r.Resolve(ctx); err != nil || ip != fo.NewMasterIP {
		t.Errorf("%s = %s (%v), want the new master %s", r.Name, ip, err, fo.NewMasterIP)
	}
	if len(res.Sources) != 1 {
		t.Errorf("surviving replicas = %v, want one replicating from %s", res.Sources, fo.NewMasterIP)
	}
	if fo.OldMaster != old.ID {
		t.Errorf("failover of %s, want %s", fo.OldMaster, old.ID)
	}
}

func otherReplica(pos map[string]int64, not string) string {
	for id := range pos {
		if id != not {
			return id
		}
	}
	return not
}
