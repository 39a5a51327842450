package farm

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// DrillKind says what a drill kills.
type DrillKind string

const (
	// DrillServers kills a fraction of a role's servers in service.
	DrillServers DrillKind = "servers"
	// DrillMaster kills a database (or NFS) role's master.
	DrillMaster DrillKind = "master"
	// DrillZone kills every server in service in one zone, of every role.
	DrillZone DrillKind = "zone"
)

// DefaultDrillTimeout bounds how long a drill waits for the farm to heal.
const DefaultDrillTimeout = 15 * time.Minute

// DrillSpec says what a drill kills; see [Farm.Drill].
type DrillSpec struct {
	Kind DrillKind
	// Role is the role of a DrillServers or DrillMaster drill.
	Role string
	// Fraction is the share of the role's servers in service a
	// DrillServers drill kills, rounded up: 0.5 of 3 is 2.
	Fraction float64
	// Zone is the zone of a DrillZone drill.
	Zone string
	// MaxVictims is the blast radius: a drill that would kill more
	// servers is refused. 0 means 1.
	MaxVictims int
	// Kill kills one server; nil terminates it through the provider. A
	// test on the fake cloud may pass its Crash, to kill without asking.
	Kill func(ctx context.Context, serverID string) error `json:"-"`
	// Timeout bounds the wait for the farm to heal; 0 means
	// DefaultDrillTimeout.
	Timeout time.Duration
}

// DrillServer is a server a drill killed or that replaced one.
type DrillServer struct {
	ID     string `json:"id"`
	Role   string `json:"role"`
	Zone   string `json:"zone,omitempty"`
	Index  int    `json:"index"`
	Master bool   `json:"master,omitempty"`
}

// String is "role/id (#index in zone)", with ", master" for a master.
func (s DrillServer) String() string {
	m := ""
	if s.Master {
		m = ", master"
	}
	return fmt.Sprintf("%s/%s (#%d in %s%s)", s.Role, s.ID, s.Index, s.Zone, m)
}

// DrillPlan is what a drill would kill: [Farm.PlanDrill]'s dry run.
type DrillPlan struct {
	Kind       DrillKind
	Role, Zone string
	Fraction   float64
	MaxVictims int
	Victims    []DrillServer
}

// String says what the drill would kill.
func (p DrillPlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "drill %s: kill %d server(s) (blast radius %d)\n", p.describe(), len(p.Victims), p.MaxVictims)
	for _, v := range p.Victims {
		fmt.Fprintf(&b, "  kill %s\n", v)
	}
	return b.String()
}

func (p DrillPlan) describe() string {
	switch p.Kind {
	case DrillServers:
		return fmt.Sprintf("%g of role %s", p.Fraction, p.Role)
	case DrillMaster:
		return fmt.Sprintf("the master of role %s", p.Role)
	case DrillZone:
		return fmt.Sprintf("every server in zone %s", p.Zone)
	}
	return string(p.Kind)
}

// drillRole is one role as the victims' choice sees it.
type drillRole struct {
	Name         string
	Min, Desired int
	InService    int
	NeedsMaster  bool
	Unready      string // why the role is not healthy; empty when it is
}

// drillCandidate is one server in service as the victims' choice sees it.
type drillCandidate struct {
	DrillServer
	InService bool
}

// chooseDrillVictims returns the servers a drill kills, or why it is refused:
// the farm is not healthy, the drill would kill more than its blast
// radius, or it would leave a role below its minimum in service.
func chooseDrillVictims(spec DrillSpec, roles []drillRole, servers []drillCandidate) ([]DrillServer, error) {
	for _, r := range roles {
		if r.Unready != "" {
			return nil, fmt.Errorf("farm: drill refused: the farm is not healthy: role %q %s", r.Name, r.Unready)
		}
		if r.InService < r.Desired {
			return nil, fmt.Errorf("farm: drill refused: the farm is not healthy: role %q has %d of %d servers in service", r.Name, r.InService, r.Desired)
		}
	}
	byRole := map[string]drillRole{}
	for _, r := range roles {
		byRole[r.Name] = r
	}
	radius := max(spec.MaxVictims, 1)
	var inService []drillCandidate
	for _, s := range servers {
		if s.InService {
			inService = append(inService, s)
		}
	}
	slices.SortFunc(inService, func(a, b drillCandidate) int {
		if c := strings.Compare(a.Role, b.Role); c != 0 {
			return c
		}
		return a.Index - b.Index
	})
	var victims []DrillServer
	switch spec.Kind {
	case DrillServers:
		if _, ok := byRole[spec.Role]; !ok {
			return nil, fmt.Errorf("farm: drill: no role %q", spec.Role)
		}
		if spec.Fraction <= 0 || spec.Fraction > 1 {
			return nil, fmt.Errorf("farm: drill: fraction %g is not in (0, 1]", spec.Fraction)
		}
		var mine []DrillServer
		for _, s := range inService {
			if s.Role == spec.Role && !s.Master {
				mine = append(mine, s.DrillServer)
			}
		}
		for _, s := range inService {
			if s.Role == spec.Role && s.Master {
				mine = append(mine, s.DrillServer) // a master last
			}
		}
		n := int(math.Ceil(spec.Fraction*float64(len(mine)) - 1e-9))
		if n == 0 {
			return nil, fmt.Errorf("farm: drill: role %q has no server in service", spec.Role)
		}
		victims = mine[:n]
	case DrillMaster:
		r, ok := byRole[spec.Role]
		if !ok {
			return nil, fmt.Errorf("farm: drill: no role %q", spec.Role)
		}
		if !r.NeedsMaster {
			return nil, fmt.Errorf("farm: drill: role %q has no master (not a database or NFS role)", spec.Role)
		}
		for _, s := range inService {
			if s.Role == spec.Role && s.Master {
				victims = append(victims, s.DrillServer)
			}
		}
		if len(victims) == 0 {
			return nil, fmt.Errorf("farm: drill refused: role %q has no master in service", spec.Role)
		}
	case DrillZone:
		if spec.Zone == "" {
			return nil, fmt.Errorf("farm: drill: a zone drill needs a zone")
		}
		for _, s := range inService {
			if s.Zone == spec.Zone {
				victims = append(victims, s.DrillServer)
			}
		}
		if len(victims) == 0 {
			return nil, fmt.Errorf("farm: drill: no server in service in zone %q", spec.Zone)
		}
	default:
		return nil, fmt.Errorf("farm: drill: unknown kind %q (want servers, master or zone)", spec.Kind)
	}
	if len(victims) > radius {
		return nil, fmt.Errorf("farm: drill refused: it would kill %d servers, more than its blast radius of %d (MaxVictims)", len(victims), radius)
	}
	killed := map[string]int{}
	for _, v := range victims {
		killed[v.Role]++
	}
	for _, r := range roles {
		if left := r.InService - killed[r.Name]; killed[r.Name] > 0 && left < r.Min {
			return nil, fmt.Errorf("farm: drill refused: it would leave role %q with %d servers in service, below its minimum of %d", r.Name, left, r.Min)
		}
	}
	return victims, nil
}
