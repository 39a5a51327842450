package farm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
)

func TestChooseDrillVictims(t *testing.T) {
	srv := func(id, role, zone string, index int, master bool) drillCandidate {
		return drillCandidate{DrillServer: DrillServer{ID: id, Role: role, Zone: zone, Index: index, Master: master}, InService: true}
	}
	healthy := []drillRole{
		{Name: "app", Min: 2, Desired: 4, InService: 4},
		{Name: "db", Min: 1, Desired: 2, InService: 2, NeedsMaster: true},
	}
	servers := []drillCandidate{
		srv("a4", "app", "z2", 4, false), srv("a1", "app", "z1", 1, false),
		srv("a2", "app", "z2", 2, false), srv("a3", "app", "z1", 3, false),
		srv("d1", "db", "z1", 1, true), srv("d2", "db", "z2", 2, false),
	}
	tests := []struct {
		name    string
		spec    DrillSpec
		roles   []drillRole
		servers []drillCandidate
		want    []string // victim IDs; nil: refused
		err     string
	}{
		{"half of a role's servers are killed, lowest indexes first",
			DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.5, MaxVictims: 2}, healthy, servers, []string{"a1", "a2"}, ""},
		{"a fraction rounds up to a whole server",
			DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.1}, healthy, servers, []string{"a1"}, ""},
		{"a fraction of a database role takes the master last",
			DrillSpec{Kind: DrillServers, Role: "db", Fraction: 0.5}, healthy, servers, []string{"d2"}, ""},
		{"the master drill kills the master",
			DrillSpec{Kind: DrillMaster, Role: "db"}, healthy, servers, []string{"d1"}, ""},
		{"a zone drill kills every server in the zone within the blast radius",
			DrillSpec{Kind: DrillZone, Zone: "z2", MaxVictims: 3}, healthy, servers, []string{"a2", "a4", "d2"}, ""},
		{"a drill past its blast radius is refused",
			DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.5}, healthy, servers, nil, "more than its blast radius of 1"},
		{"a drill that would leave a role below its minimum is refused",
			DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.75, MaxVictims: 5}, healthy, servers, nil, `leave role "app" with 1 servers in service, below its minimum of 2`},
		{"a zone drill below a role's minimum is refused",
			DrillSpec{Kind: DrillZone, Zone: "z1", MaxVictims: 5},
			[]drillRole{{Name: "app", Min: 3, Desired: 4, InService: 4}, {Name: "db", Min: 1, Desired: 2, InService: 2, NeedsMaster: true}},
			servers, nil, `role "app" with 2 servers in service, below its minimum of 3`},
		{"a farm with a role short of servers is refused",
			DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.25},
			[]drillRole{{Name: "app", Min: 2, Desired: 4, InService: 3}}, servers, nil, "not healthy: role \"app\" has 3 of 4 servers in service"},
		{"a farm with a role not ready is refused",
			DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.25},
			[]drillRole{{Name: "app", Min: 2, Desired: 4, InService: 4, Unready: "has servers initializing"}}, servers, nil, "not healthy"},
		{"servers out of service are not chosen",
			DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.25}, healthy,
			append([]drillCandidate{{DrillServer: DrillServer{ID: "a0", Role: "app", Index: 0}}}, servers...), []string{"a1"}, ""},
		{"a master drill on a role without a master is refused",
			DrillSpec{Kind: DrillMaster, Role: "app"}, healthy, servers, nil, "has no master"},
		{"an unknown role is refused",
			DrillSpec{Kind: DrillServers, Role: "web", Fraction: 0.5}, healthy, servers, nil, `no role "web"`},
		{"a fraction above one is refused",
			DrillSpec{Kind: DrillServers, Role: "app", Fraction: 1.5}, healthy, servers, nil, "not in (0, 1]"},
		{"a zone with no server is refused",
			DrillSpec{Kind: DrillZone, Zone: "z9"}, healthy, servers, nil, `no server in service in zone "z9"`},
		{"an unknown kind is refused",
			DrillSpec{Kind: "flood"}, healthy, servers, nil, "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseDrillVictims(tt.spec, tt.roles, tt.servers)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("chooseVictims = %v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("chooseVictims: %v", err)
			}
			var ids []string
			for _, v := range got {
				ids = append(ids, v.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("victims %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestScheduledDrillsAreRefusedOnAFarmNotRunning(t *testing.T) {
	r := newRig(t, appSpec(1, 3), nil, fake.Options{})
	got := make(chan error, 1)
	waiters := r.clk.Waiters()
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan error, 1)
	go func() {
		done <- r.farm.DrillEvery(ctx, DrillSpec{Kind: DrillServers, Role: "app", Fraction: 0.5}, time.Hour,
			func(_ DrillReport, err error) { got <- err })
	}()
	r.clk.BlockUntil(waiters + 1)
	r.advance(time.Hour)
	if err := <-got; err == nil || !strings.Contains(err.Error(), "the farm is not running") {
		t.Fatalf("scheduled drill: %v", err)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("DrillEvery = %v", err)
	}
}
