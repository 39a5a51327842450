package farm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
)

func TestParsePositionReadsGTIDListsAndNumbers(t *testing.T) {
	tests := []struct {
		name, out string
		want      int64
		err       string
	}{
		{"one GTID gives its sequence number", "0-1-57\n", 57, ""},
		{"several domains add up", "0-1-57,1-3-12", 69, ""},
		{"the last non-empty line counts", "warming up\n0-2-9\n\n", 9, ""},
		{"a plain integer is taken as is", "  4711 ", 4711, ""},
		{"empty output is position zero", "\n", 0, ""},
		{"a negative number is refused", "-3", 0, "negative"},
		{"a malformed GTID is refused", "0-1", 0, "neither a number nor a GTID list"},
		{"a non-numeric GTID part is refused", "0-x-5", 0, "non-numeric"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePosition(tc.out)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParsePosition(%q) = %d, %v; want %d", tc.out, got, err, tc.want)
			}
		})
	}
}

func TestChooseMasterPrefersTheMostAdvancedReplica(t *testing.T) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	replica := func(id, zone string, h HealthStatus, up int) Server {
		return Server{ID: id, Role: "db", State: StateRunning, Zone: zone, Health: Health{Status: h}, UpAt: at(up), LaunchedAt: at(up - 1)}
	}
	old := Server{ID: "i-old", Role: "db", Zone: "z-a", State: StateRunning, Master: true}
	tests := []struct {
		name    string
		servers []Server
		pos     map[string]int64
		exclude []string
		want    string
	}{
		{"the most advanced replica beats one in the old master's zone",
			[]Server{replica("i-1", "z-a", HealthHealthy, 1), replica("i-2", "z-b", HealthUnknown, 5)},
			map[string]int64{"i-1": 10, "i-2": 12}, nil, "i-2"},
		{"a replica with a known position beats one without",
			[]Server{replica("i-1", "z-a", HealthHealthy, 1), replica("i-2", "z-b", HealthHealthy, 5)},
			map[string]int64{"i-2": 0}, nil, "i-2"},
		{"equal positions fall back to the zone rule",
			[]Server{replica("i-1", "z-b", HealthHealthy, 1), replica("i-2", "z-a", HealthHealthy, 5)},
			map[string]int64{"i-1": 7, "i-2": 7}, nil, "i-2"},
		{"the next most advanced is taken when the first one's promotion failed",
			[]Server{replica("i-1", "z-b", HealthHealthy, 1), replica("i-2", "z-b", HealthHealthy, 2), replica("i-3", "z-b", HealthHealthy, 3)},
			map[string]int64{"i-1": 3, "i-2": 9, "i-3": 8}, []string{"i-2"}, "i-3"},
		{"an unhealthy replica never qualifies however advanced",
			[]Server{replica("i-1", "z-b", HealthUnhealthy, 1), replica("i-2", "z-b", HealthHealthy, 2)},
			map[string]int64{"i-1": 100, "i-2": 1}, nil, "i-2"},
		{"the old master is never chosen even with the highest position",
			[]Server{old, replica("i-2", "z-b", HealthHealthy, 2)},
			map[string]int64{"i-old": 100, "i-2": 1}, nil, "i-2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := map[string]bool{}
			for _, id := range tc.exclude {
				ex[id] = true
			}
			got, ok := chooseMaster(tc.servers, old, ex, tc.pos)
			if !ok || got.ID != tc.want {
				t.Fatalf("chose %q (%v), want %q", got.ID, ok, tc.want)
			}
		})
	}
}

// rankSpec is a database role of three with a fence and a position
// script, whose health check fails for the servers in sick.
func rankSpec(mu *sync.Mutex, sick map[string]bool) Spec {
	spec := dbSpec(3)
	spec.Roles[0].Database.FenceScript = "fence"
	spec.Roles[0].Database.PositionScript = "position"
	spec.Roles[0].HealthAction = HealthReport
	spec.Roles[0].HealthChecks = []HealthCheckSpec{{Name: "probe", Interval: time.Second, FailureThreshold: 2,
		Check: HealthCheckFunc(func(ctx context.Context, s Server) error {
			mu.Lock()
			defer mu.Unlock()
			if sick[s.ID] {
				return errors.New("mariadbd does not answer")
			}
			return nil
		})}}
	return spec
}

func TestTheMostAdvancedReplicaIsPromotedAfterTheOldMasterIsFenced(t *testing.T) {
	for _, fenceFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("fence script fails=%v", fenceFails), func(t *testing.T) {
			var mu sync.Mutex
			sick := map[string]bool{}
			r, mem, calls := failoverRig(t, rankSpec(&mu, sick), nil)
			stop := masterWatch(t, r.farm, "db")
			defer stop()
			old, _ := master(r.farm, "db")
			var replicas []Server
			for _, s := range r.farm.Servers("db") {
				if !s.Master {
					replicas = append(replicas, s)
				}
			}
			// The replica the zone and age rules would pick is behind.
			first, _ := chooseMaster(replicas, old, nil, nil)
			var ahead Server
			for _, s := range replicas {
				if s.ID != first.ID {
					ahead = s
				}
			}
			var probes []string
			r.farm.dns.runPosition = func(ctx context.Context, id, script string, params map[string]string) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				probes = append(probes, id)
				if id == ahead.ID {
					return "0-1-42\n", nil
				}
				return "0-1-41\n", nil
			}
			if fenceFails {
				calls.mu.Lock()
				calls.fail[old.ID] = errors.New("ssh: connection refused")
				calls.mu.Unlock()
			}
			mu.Lock()
			sick[old.ID] = true
			mu.Unlock()
			for range 3 {
				r.clk.Advance(time.Second)
				r.checkHealth()
			}
			r.quiet()
			m, n := master(r.farm, "db")
			if n != 1 || m.ID != ahead.ID {
				t.Fatalf("master = %s (%d masters), want the most advanced replica %s", m.ID, n, ahead.ID)
			}
			want := []string{
				fmt.Sprintf("fence %s NewDBMaster %s->", old.ID, old.ID),
				fmt.Sprintf("promote %s NewDBMaster %s->%s", ahead.ID, old.ID, ahead.ID),
			}
			if got := calls.list(); !slices.Equal(got, want) {
				t.Fatalf("scripts = %v, want %v (the fence first)", got, want)
			}
			mu.Lock()
			slices.Sort(probes)
			gotProbes := slices.Clone(probes)
			mu.Unlock()
			wantProbes := []string{replicas[0].ID, replicas[1].ID}
			slices.Sort(wantProbes)
			if !slices.Equal(gotProbes, wantProbes) {
				t.Fatalf("positions read on %v, want the replicas %v", gotProbes, wantProbes)
			}
			if got := lookup(mem, "db.example.test"); !slices.Equal(got, []string{ahead.PrivateIP}) {
				t.Fatalf("db.example.test = %v, want %s", got, ahead.PrivateIP)
			}
			fos := r.farm.Failovers()
			if len(fos) != 1 {
				t.Fatalf("Failovers = %+v", fos)
			}
			wantFence := "script"
			if fenceFails {
				wantFence = "terminated"
			}
			if fo := fos[0]; fo.Fenced != wantFence || fo.Positions[ahead.ID] != 42 || fo.Positions[first.ID] != 41 {
				t.Fatalf("failover = %+v, want fenced %q and the positions", fo, wantFence)
			}
			_, err := r.cloud.Get(r.ctx, old.ID)
			gone := err != nil
			if !gone {
				cs, _ := r.cloud.Get(r.ctx, old.ID)
				gone = cs.State == provider.StateTerminated
			}
			if fenceFails != gone {
				t.Fatalf("old master terminated at the cloud = %v, want %v", gone, fenceFails)
			}
		})
	}
}
