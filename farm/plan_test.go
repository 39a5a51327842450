package farm

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider"
)

// srv builds a planner server: id, index, zone, state, launched minutes
// after t0.
func srv(id string, index int, zone string, state ServerState, minute int) planServer {
	cloud := provider.StateRunning
	if state == StatePending {
		cloud = provider.StatePending
	}
	return planServer{Server: Server{
		ID: id, Role: "app", Index: index, Zone: zone, State: state, CloudState: cloud,
		LaunchedAt: t0.Add(time.Duration(minute) * time.Minute),
	}}
}

func describePlan(p rolePlan) string {
	var parts []string
	for _, l := range p.launches {
		parts = append(parts, fmt.Sprintf("launch %s %v", l.zone, l.indexes))
	}
	for _, t := range p.terminations {
		s := "terminate " + t.id
		if t.fail {
			s += " failed"
		}
		if t.graceful {
			s += " graceful"
		}
		parts = append(parts, s+" ("+t.reason+")")
	}
	if p.note != "" {
		parts = append(parts, "note: "+p.note)
	}
	return strings.Join(parts, "; ")
}

func TestPlanRole(t *testing.T) {
	zones := []string{"a", "b", "c"}
	base := func() roleInput {
		return roleInput{
			spec:    RoleSpec{Name: "app", Image: "img", Min: 0, Max: 10}.withDefaults(),
			zones:   zones,
			avoided: map[string]bool{}, inflightZones: map[string]int{},
			now: t0.Add(time.Hour),
		}
	}
	tests := []struct {
		name  string
		setup func(*roleInput)
		want  string
	}{
		{"an empty role launches its desired count spread over the zones", func(in *roleInput) {
			in.desired = 4
		}, "launch a [1 4]; launch b [2]; launch c [3]"},
		{"a role at its desired count does nothing", func(in *roleInput) {
			in.desired = 2
			in.servers = []planServer{srv("i-1", 1, "a", StateRunning, 0), srv("i-2", 2, "b", StateRunning, 1)}
		}, ""},
		{"new servers go to the zones with the fewest", func(in *roleInput) {
			in.desired = 4
			in.servers = []planServer{srv("i-1", 1, "a", StateRunning, 0), srv("i-2", 2, "a", StateRunning, 1)}
		}, "launch b [3]; launch c [4]"},
		{"an avoided zone gets nothing", func(in *roleInput) {
			in.desired = 3
			in.avoided["b"] = true
		}, "launch a [1 3]; launch c [2]"},
		{"every zone avoided means no launch and a note", func(in *roleInput) {
			in.desired = 1
			in.avoided = map[string]bool{"a": true, "b": true, "c": true}
		}, "note: every zone is cooling off after capacity errors"},
		{"the ordered strategy fills the first usable zone", func(in *roleInput) {
			in.desired = 3
			in.spec.ZoneStrategy = ZoneOrdered
			in.avoided["a"] = true
		}, "launch b [1 2 3]"},
		{"indexes reuse the lowest free ones", func(in *roleInput) {
			in.desired = 3
			in.servers = []planServer{srv("i-2", 2, "a", StateRunning, 0)}
		}, "launch b [1]; launch c [3]"},
		{"inflight launches count as servers and keep their indexes", func(in *roleInput) {
			in.desired = 3
			in.inflight = []int{1, 2}
			in.inflightZones = map[string]int{"a": 1, "b": 1}
		}, "launch c [3]"},
		{"a surplus is terminated oldest first, gracefully when running", func(in *roleInput) {
			in.desired = 1
			in.servers = []planServer{srv("i-1", 1, "a", StateRunning, 5), srv("i-2", 2, "b", StateRunning, 1), srv("i-3", 3, "c", StateRunning, 3)}
		}, "terminate i-2 graceful (scale-in: 3 servers, desired 1); terminate i-3 graceful (scale-in: 3 servers, desired 1)"},
		{"newest-first terminates the latest launches", func(in *roleInput) {
			in.desired = 2
			in.spec.TerminationPolicy = NewestFirst
			in.servers = []planServer{srv("i-1", 1, "a", StateRunning, 5), srv("i-2", 2, "b", StateRunning, 1), srv("i-3", 3, "c", StateRunning, 3)}
		}, "terminate i-1 graceful (scale-in: 3 servers, desired 2)"},
		{"a stopped server fails and is replaced in its zone in the same tick", func(in *roleInput) {
			in.desired = 2
			stopped := srv("i-1", 1, "a", StateRunning, 0)
			stopped.CloudState = provider.StateStopped
			in.servers = []planServer{stopped, srv("i-2", 2, "b", StateRunning, 0)}
		}, "launch a [3]; terminate i-1 failed (cloud reports the server stopped)"},
		{"a launch past its timeout fails and is retried", func(in *roleInput) {
			in.desired = 1
			in.spec.LaunchTimeout = 10 * time.Minute
			in.servers = []planServer{srv("i-1", 1, "a", StatePending, 0)}
		}, "launch a [2]; terminate i-1 failed (launch timeout: still pending after 10m0s)"},
		{"a pending server within its timeout is waited for", func(in *roleInput) {
			in.desired = 1
			in.spec.LaunchTimeout = 2 * time.Hour
			in.servers = []planServer{srv("i-1", 1, "a", StatePending, 0)}
		}, ""},
		{"an unhealthy server is replaced gracefully", func(in *roleInput) {
			in.desired = 1
			sick := srv("i-1", 1, "a", StateRunning, 0)
			sick.replace = "unhealthy: check failed"
			in.servers = []planServer{sick}
		}, "launch a [2]; terminate i-1 graceful (unhealthy: check failed)"},
		{"a failed server is terminated unless kept", func(in *roleInput) {
			in.desired = 1
			failed := srv("i-1", 1, "a", StateFailed, 0)
			failed.Reason = "initialisation failed"
			kept := srv("i-2", 2, "b", StateFailed, 0)
			kept.kept = true
			in.servers = []planServer{failed, kept}
		}, "launch a [3]; terminate i-1 (initialisation failed)"},
		{"servers already leaving are neither counted nor terminated again", func(in *roleInput) {
			in.desired = 1
			leaving := srv("i-1", 1, "a", StatePendingTerminate, 0)
			leaving.leaving = true
			in.servers = []planServer{leaving}
		}, "launch a [2]"},
		{"a dependency not up holds launches back", func(in *roleInput) {
			in.desired = 2
			in.waitingFor = "db"
		}, `note: waiting for role "db" to be up`},
		{"a dependency does not hold back scale-in", func(in *roleInput) {
			in.desired = 0
			in.waitingFor = "db"
			in.servers = []planServer{srv("i-1", 1, "a", StateRunning, 0)}
		}, "terminate i-1 graceful (scale-in: 1 servers, desired 0)"},
		{"a launch back-off holds launches back", func(in *roleInput) {
			in.desired = 1
			in.backoffUntil = in.now.Add(time.Minute)
		}, "note: launches paused until 2026-03-01T13:01:00Z after an error"},
		{"max parallel launches caps what is launching", func(in *roleInput) {
			in.desired = 5
			in.maxLaunching = 2
			in.servers = []planServer{srv("i-1", 1, "a", StatePending, 59)}
		}, "launch b [2]"},
		{"pending servers go before running ones at scale-in", func(in *roleInput) {
			in.desired = 1
			in.servers = []planServer{srv("i-1", 1, "a", StateRunning, 0), srv("i-2", 2, "b", StatePending, 59)}
		}, "terminate i-2 (scale-in: 2 servers, desired 1)"},
		{"a terminating farm removes protected and kept servers too", func(in *roleInput) {
			in.terminating = true
			p := srv("i-1", 1, "a", StateRunning, 0)
			p.Protected = true
			kept := srv("i-2", 2, "b", StateFailed, 0)
			kept.kept, kept.Reason = true, "initialisation failed"
			in.servers = []planServer{p, kept}
		}, "terminate i-2 (initialisation failed); terminate i-1 graceful (farm terminated)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.setup(&in)
			if got := describePlan(planRole(in)); got != tt.want {
				t.Fatalf("plan\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestChooseVictims(t *testing.T) {
	mk := func(id, zone string, minute int, mods ...func(*Server)) Server {
		s := Server{ID: id, Zone: zone, State: StateRunning, LaunchedAt: t0.Add(time.Duration(minute) * time.Minute),
			Health: Health{Status: HealthHealthy}}
		for _, m := range mods {
			m(&s)
		}
		return s
	}
	protected := func(s *Server) { s.Protected = true }
	master := func(s *Server) { s.Master = true }
	pending := func(s *Server) { s.State = StatePending }
	unhealthy := func(s *Server) { s.Health.Status = HealthUnhealthy }
	tests := []struct {
		name    string
		servers []Server
		n       int
		policy  TerminationPolicy
		want    []string
	}{
		{"oldest first by default", []Server{mk("i-1", "a", 3), mk("i-2", "b", 1), mk("i-3", "c", 2)}, 2, "", []string{"i-2", "i-3"}},
		{"newest first when asked", []Server{mk("i-1", "a", 3), mk("i-2", "b", 1), mk("i-3", "c", 2)}, 2, NewestFirst, []string{"i-1", "i-3"}},
		{"the fullest zone loses first", []Server{mk("i-1", "a", 1), mk("i-2", "b", 2), mk("i-3", "b", 3)}, 1, OldestFirst, []string{"i-2"}},
		{"zones are rebalanced as victims are picked", []Server{mk("i-1", "a", 1), mk("i-2", "b", 2), mk("i-3", "b", 3), mk("i-4", "a", 4)}, 2, OldestFirst, []string{"i-1", "i-2"}},
		{"protected servers go only when nothing else is left", []Server{mk("i-1", "a", 1, protected), mk("i-2", "b", 2)}, 2, OldestFirst, []string{"i-2", "i-1"}},
		{"a database master is protected", []Server{mk("i-1", "a", 1, master), mk("i-2", "a", 2), mk("i-3", "b", 3)}, 1, OldestFirst, []string{"i-2"}},
		{"servers not yet in service go first", []Server{mk("i-1", "a", 1), mk("i-2", "b", 9, pending)}, 1, OldestFirst, []string{"i-2"}},
		{"unhealthy servers go before healthy ones", []Server{mk("i-1", "a", 1), mk("i-2", "b", 9, unhealthy)}, 1, OldestFirst, []string{"i-2"}},
		{"ties are broken by ID", []Server{mk("i-2", "a", 1), mk("i-1", "b", 1)}, 1, OldestFirst, []string{"i-1"}},
		{"asking for more than there are returns all", []Server{mk("i-1", "a", 1)}, 3, OldestFirst, []string{"i-1"}},
		{"asking for none returns none", []Server{mk("i-1", "a", 1)}, 0, OldestFirst, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.servers)
			var got []string
			for _, s := range ChooseVictims(tt.servers, tt.n, tt.policy) {
				got = append(got, s.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("victims = %v, want %v", got, tt.want)
			}
			for i := range in {
				if in[i].ID != tt.servers[i].ID {
					t.Fatal("ChooseVictims reordered its input")
				}
			}
		})
	}
}

func TestSpreadZones(t *testing.T) {
	tests := []struct {
		name     string
		strategy ZoneStrategy
		counts   map[string]int
		avoided  map[string]bool
		n        int
		want     []string
	}{
		{"even spreads round the zones in order", ZoneEven, nil, nil, 4, []string{"a", "b", "c", "a"}},
		{"even fills the emptiest zone first", ZoneEven, map[string]int{"a": 2, "b": 1}, nil, 2, []string{"c", "b"}},
		{"even skips avoided zones", ZoneEven, nil, map[string]bool{"a": true}, 3, []string{"b", "c", "b"}},
		{"ordered uses the first usable zone", ZoneOrdered, map[string]int{"a": 5}, map[string]bool{"a": true}, 2, []string{"b", "b"}},
		{"no usable zone gives nothing", ZoneEven, nil, map[string]bool{"a": true, "b": true, "c": true}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spreadZones(tt.strategy, []string{"a", "b", "c"}, tt.counts, tt.avoided, tt.n)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("zones = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLaunchTokensAreDeterministicAndDistinct(t *testing.T) {
	a := launchToken("shop", "app", []int{1, 2}, 1)
	if a != launchToken("shop", "app", []int{1, 2}, 1) {
		t.Fatal("the same launch gave two tokens")
	}
	if len(a) > 64 {
		t.Fatalf("token %q is longer than EC2's 64 characters", a)
	}
	others := []string{
		launchToken("shop", "app", []int{1, 2}, 2),
		launchToken("shop", "app", []int{1}, 1),
		launchToken("shop", "db", []int{1, 2}, 1),
		launchToken("shop2", "app", []int{1, 2}, 1),
	}
	for _, o := range others {
		if o == a {
			t.Fatalf("distinct launches share token %s", a)
		}
	}
}

func TestAssignIndexesFollowsIDOrder(t *testing.T) {
	servers := []provider.Server{{ID: "i-9"}, {ID: "i-3"}, {ID: "i-5"}}
	got := assignIndexes(servers, []int{4, 7})
	want := map[string]int{"i-3": 4, "i-5": 7, "i-9": 0}
	for id, idx := range want {
		if got[id] != idx {
			t.Fatalf("assignIndexes = %v, want %v", got, want)
		}
	}
	if idx := parseIndexes("3,4,5"); !slices.Equal(idx, []int{3, 4, 5}) {
		t.Fatalf("parseIndexes = %v", idx)
	}
	if idx := parseIndexes("3,x"); idx != nil {
		t.Fatalf("parseIndexes of a malformed tag = %v", idx)
	}
}
