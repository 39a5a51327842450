package farm

import (
	"strings"
	"testing"
	"time"
)

// rsrv builds a server of role app for the rollout tests.
func rsrv(id, image string, state ServerState, health HealthStatus, minute int) Server {
	return Server{ID: id, Role: "app", Index: int(id[len(id)-1] - '0'), Image: image, InstanceType: "m1",
		State: state, Health: Health{Status: health}, Zone: "a", LaunchedAt: t0.Add(time.Duration(minute) * time.Minute)}
}

func TestNextRolloutStep(t *testing.T) {
	v1, v2 := Build{Image: "v1"}, Build{Image: "v2"}
	rolling := Rollout{Role: "app", Phase: PhaseRolling, From: v1, To: v2, BatchSize: 2, MinHealthy: 2, BatchTimeout: 10 * time.Minute}
	inBatch := rolling
	inBatch.Batch, inBatch.Old, inBatch.Surge, inBatch.Accepted, inBatch.BatchStarted = 1, []string{"s1", "s2"}, 2, []string{"s0"}, t0
	old := []Server{
		rsrv("s1", "v1", StateRunning, HealthHealthy, 1),
		rsrv("s2", "v1", StateRunning, HealthHealthy, 2),
		rsrv("s3", "v1", StateRunning, HealthHealthy, 3),
	}
	with := func(extra ...Server) []Server { return append(append([]Server{}, old...), extra...) }
	tests := []struct {
		name    string
		ro      Rollout
		servers []Server
		gated   bool
		now     time.Time
		want    rolloutStepKind
		old     string // the step's old servers, joined
		reason  string // a part of the reason
	}{
		{name: "a role whose servers all run the new build is done", ro: rolling,
			servers: []Server{rsrv("s4", "v2", StateRunning, HealthHealthy, 4)}, want: stepDone},
		{name: "terminated servers of the old build do not count", ro: rolling,
			servers: []Server{rsrv("s1", "v1", StateTerminated, HealthUnknown, 1)}, want: stepDone},
		{name: "the first batch takes the oldest servers, batch size of them", ro: rolling, servers: old,
			want: stepStartBatch, old: "s1 s2", reason: "batch 1: replacing 2 servers of 3 left on v1"},
		{name: "a batch never takes more servers than are left", ro: rolling, servers: old[2:],
			want: stepStartBatch, old: "s3"},
		{name: "a broken old server goes in the first batch", ro: rolling,
			servers: with(rsrv("s5", "v1", StateInitializing, HealthUnknown, 9)), want: stepStartBatch, old: "s5 s1"},
		{name: "a batch waits while its new servers initialise", ro: inBatch,
			servers: with(rsrv("s4", "v2", StateInitializing, HealthUnknown, 5), rsrv("s5", "v2", StatePending, HealthUnknown, 5)),
			now:     t0.Add(time.Minute), want: stepWait, reason: "0 of 2 new servers ready"},
		{name: "a batch finishes once every new server is running", ro: inBatch,
			servers: with(rsrv("s4", "v2", StateRunning, HealthUnknown, 5), rsrv("s5", "v2", StateRunning, HealthUnknown, 5)),
			now:     t0.Add(time.Minute), want: stepFinishBatch, old: "s1 s2"},
		{name: "with health checks, running is not enough: they must pass", ro: inBatch, gated: true,
			servers: with(rsrv("s4", "v2", StateRunning, HealthHealthy, 5), rsrv("s5", "v2", StateRunning, HealthUnknown, 5)),
			now:     t0.Add(time.Minute), want: stepWait, reason: "1 of 2 new servers ready"},
		{name: "a new server that failed its initialisation fails the batch", ro: inBatch,
			servers: with(Server{ID: "s4", Image: "v2", Index: 4, State: StateFailed, Reason: "HostInit: exit status 1"}),
			now:     t0.Add(time.Minute), want: stepFail, reason: "new server s4 (index 4) failed: HostInit: exit status 1"},
		{name: "a new server failing its health checks fails the batch", ro: inBatch, gated: true,
			servers: with(rsrv("s4", "v2", StateRunning, HealthUnhealthy, 5)),
			now:     t0.Add(time.Minute), want: stepFail, reason: "failed its health checks"},
		{name: "servers accepted before the batch are not its new servers", ro: inBatch,
			servers: with(rsrv("s0", "v2", StateRunning, HealthUnhealthy, 0), rsrv("s4", "v2", StateRunning, HealthUnknown, 5)),
			now:     t0.Add(time.Minute), want: stepWait, reason: "1 of 2 new servers ready"},
		{name: "a batch not ready within its timeout fails", ro: inBatch,
			servers: with(rsrv("s4", "v2", StatePending, HealthUnknown, 5)),
			now:     t0.Add(11 * time.Minute), want: stepFail, reason: "0 of 2 new servers ready after 10m0s"},
		{name: "a batch waits rather than go below the minimum in service", ro: func() Rollout { r := inBatch; r.MinHealthy = 4; return r }(),
			servers: with(rsrv("s4", "v2", StateRunning, HealthUnknown, 5), rsrv("s5", "v2", StateRunning, HealthUnknown, 5)),
			now:     t0.Add(time.Minute), want: stepWait, reason: "3 servers would stay in service, fewer than 4"},
		{name: "a batch held back by the minimum in service fails at its timeout", ro: func() Rollout { r := inBatch; r.MinHealthy = 4; return r }(),
			servers: with(rsrv("s4", "v2", StateRunning, HealthUnknown, 5), rsrv("s5", "v2", StateRunning, HealthUnknown, 5)),
			now:     t0.Add(11 * time.Minute), want: stepFail, reason: "fewer than 4 after 10m0s"},
		{name: "rolling back replaces the new build with the old one", ro: Rollout{Role: "app", Phase: PhaseRollingBack, From: v2, To: v1, BatchSize: 1},
			servers: []Server{rsrv("s1", "v1", StateRunning, HealthHealthy, 1), rsrv("s4", "v2", StateRunning, HealthHealthy, 5)},
			want:    stepStartBatch, old: "s4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nextRolloutStep(tc.ro, tc.servers, tc.gated, tc.now)
			if got.kind != tc.want {
				t.Fatalf("step %s (%s), want %s", got.kind, got.reason, tc.want)
			}
			if tc.old != "" && strings.Join(got.old, " ") != tc.old {
				t.Errorf("old %v, want %s", got.old, tc.old)
			}
			if !strings.Contains(got.reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", got.reason, tc.reason)
			}
		})
	}
}

func TestBatchSize(t *testing.T) {
	tests := []struct {
		name                   string
		size, percent, n, want int
	}{
		{"a size wins over a percentage", 3, 50, 10, 3},
		{"a percentage rounds up", 0, 25, 10, 3},
		{"a small percentage of a small role is one server", 0, 1, 3, 1},
		{"neither means one server at a time", 0, 0, 10, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := batchSize(tc.size, tc.percent, tc.n); got != tc.want {
				t.Errorf("batchSize(%d, %d, %d) = %d, want %d", tc.size, tc.percent, tc.n, got, tc.want)
			}
		})
	}
}
