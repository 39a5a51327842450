package farm

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
)

func masters(f *Farm, role string) []string {
	var out []string
	for _, s := range f.Servers(role) {
		if s.Master {
			out = append(out, s.ID)
		}
	}
	return out
}

func TestADatabaseRoleHasItsMasterWhenWaitReadyAndSettleReturn(t *testing.T) {
	spec := Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "db", Image: "img", Min: 2, Max: 2, Database: &DatabaseSpec{}},
		{Name: "app", Image: "img", Min: 1, Max: 1},
	}}
	t.Run("WaitReady", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newBubbleRig(t, spec, nil, fake.Options{})
			ctx, stop := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- r.farm.Run(ctx) }()
			if err := r.farm.Launch(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.farm.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
			if m := masters(r.farm, "db"); len(m) != 1 {
				t.Errorf("masters right after WaitReady: %v, want one", m)
			}
			if st, _ := r.farm.Status().Role("db"); !st.NeedsMaster {
				t.Error("the database role's status does not say it needs a master")
			}
			stop()
			<-done
		})
	})
	t.Run("Settle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newBubbleRig(t, spec, nil, fake.Options{})
			if err := r.farm.Launch(r.ctx); err != nil {
				t.Fatal(err)
			}
			for range 20 {
				r.tick(10 * time.Second) // reconciles, then Settle
				if st, _ := r.farm.Status().Role("db"); st.Counts[StateRunning] == 2 {
					break
				}
			}
			if m := masters(r.farm, "db"); len(m) != 1 {
				t.Errorf("masters right after Settle: %v, want one", m)
			}
		})
	})
}

func TestRoleReadinessWaitsForTheMaster(t *testing.T) {
	running := func(master bool) Server { return Server{State: StateRunning, Master: master} }
	tests := []struct {
		name string
		role RoleStatus
		want bool
	}{
		{"a role without a master to choose is ready at its count",
			RoleStatus{Desired: 1, Counts: map[ServerState]int{StateRunning: 1}, Servers: []Server{running(false)}}, true},
		{"a database role at its count with no master is not ready",
			RoleStatus{Desired: 2, NeedsMaster: true, Counts: map[ServerState]int{StateRunning: 2}, Servers: []Server{running(false), running(false)}}, false},
		{"a database role at its count with its master is ready",
			RoleStatus{Desired: 2, NeedsMaster: true, Counts: map[ServerState]int{StateRunning: 2}, Servers: []Server{running(false), running(true)}}, true},
		{"a database role scaled to nothing needs no master",
			RoleStatus{Desired: 0, NeedsMaster: true, Counts: map[ServerState]int{}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.role.Ready(); got != tt.want {
				t.Fatalf("Ready = %v, want %v", got, tt.want)
			}
		})
	}
}
