package farm

import (
	"fmt"
	"maps"
	"strings"
	"time"
)

// Status is a snapshot of the farm.
type Status struct {
	// Farm is the farm's name.
	Farm string
	// Time is when the snapshot was taken, on the farm's clock.
	Time time.Time
	// Launched is true between Launch and Terminate.
	Launched bool
	// Terminating is true while and after Terminate runs.
	Terminating bool
	// Roles holds one entry per role, in spec order.
	Roles []RoleStatus
	// Orphans are the IDs of servers that carry the farm's tag but name a
	// role the spec does not have. The farm leaves them alone, except that
	// Terminate removes them.
	Orphans []string
	// LastError is the last reconciliation's error, empty after a clean one.
	LastError string
}

// RoleStatus is a snapshot of one role.
type RoleStatus struct {
	// Name is the role's name.
	Name string
	// Desired is the count the farm works towards, within the bounds in
	// force Min and Max (a schedule window's, if one is open).
	Desired, Min, Max int
	// Counts holds the number of servers in each state.
	Counts map[ServerState]int
	// Launching counts servers asked of the cloud that no answer or
	// listing has shown yet.
	Launching int
	// Servers are the role's servers by index, terminated ones included
	// while the cloud lists them.
	Servers []Server
	// AvoidedZones are cooling off after a capacity error.
	AvoidedZones []string
	// Note says why the role is not at its desired count, if the
	// controller knows (waiting for a dependency, zones cooling off).
	Note string
	// LastError is the last launch error of the role.
	LastError string
	// NeedsMaster is set for a database or NFS role: it is ready only once
	// one of its servers in service is marked master.
	NeedsMaster bool
	// Rollout is the role's rollout under way or last ended (see
	// [Farm.Apply]); nil when it had none.
	Rollout *Rollout
}

// Role returns the named role's status.
func (s Status) Role(name string) (RoleStatus, bool) {
	for _, r := range s.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return RoleStatus{}, false
}

// Ready reports whether every role has exactly its desired number of
// servers Running, and none Pending, Initializing, PendingTerminate or
// launching. Failed and Terminated servers do not count.
func (s Status) Ready() bool {
	for _, r := range s.Roles {
		if !r.Ready() {
			return false
		}
	}
	return true
}

// Ready reports whether the role has exactly its desired number of servers
// Running and none on the way in or out, and, for a database or NFS role
// with servers, its master.
func (r RoleStatus) Ready() bool {
	return r.Counts[StateRunning] == r.Desired && r.Counts[StatePending] == 0 &&
		r.Counts[StateInitializing] == 0 && r.Counts[StatePendingTerminate] == 0 && r.Launching == 0 &&
		(!r.NeedsMaster || r.Desired == 0 || r.hasMaster())
}

// hasMaster reports whether a server of the role in service is marked
// master.
func (r RoleStatus) hasMaster() bool {
	for _, s := range r.Servers {
		if s.Master && s.State == StateRunning {
			return true
		}
	}
	return false
}

// String formats the status as a small table, one line per role and one
// per server.
func (s Status) String() string {
	var b strings.Builder
	state := "stopped"
	switch {
	case s.Terminating:
		state = "terminating"
	case s.Launched:
		state = "launched"
	}
	fmt.Fprintf(&b, "farm %s (%s)\n", s.Farm, state)
	for _, r := range s.Roles {
		fmt.Fprintf(&b, "  role %-10s desired %d (min %d, max %d):", r.Name, r.Desired, r.Min, r.Max)
		for _, st := range States {
			if n := r.Counts[st]; n > 0 {
				fmt.Fprintf(&b, " %d %s", n, st)
			}
		}
		if r.Launching > 0 {
			fmt.Fprintf(&b, " %d launching", r.Launching)
		}
		b.WriteByte('\n')
		for _, srv := range r.Servers {
			health := "-" // the role has no checks
			if len(srv.Health.Checks) > 0 {
				health = string(srv.Health.Status)
			}
			fmt.Fprintf(&b, "    %s/%d  %-10s %-16s %-15s %-8s %s", r.Name, srv.Index, srv.ID, srv.State, srv.PrivateIP, srv.Zone, health)
			if srv.Reason != "" {
				fmt.Fprintf(&b, "  (%s)", srv.Reason)
			}
			b.WriteByte('\n')
		}
		if r.Note != "" {
			fmt.Fprintf(&b, "    note: %s\n", r.Note)
		}
		if r.Rollout != nil {
			fmt.Fprintf(&b, "    rollout: %s\n", r.Rollout.statusLine())
		}
	}
	return b.String()
}

// Status returns a snapshot of the farm.
func (f *Farm) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statusLocked()
}

func (f *Farm) statusLocked() Status {
	now := f.clk.Now()
	st := Status{
		Farm: f.spec.Name, Time: now, Launched: f.launched, Terminating: f.terminating,
		Orphans: sortedKeys(f.orphans), LastError: f.lastErr,
	}
	byRole := map[string][]Server{}
	for _, r := range f.records {
		byRole[r.srv.Role] = append(byRole[r.srv.Role], r.srv.Clone())
	}
	for _, name := range f.order {
		rs := f.roles[name]
		servers := byRole[name]
		sortServers(servers)
		counts := map[ServerState]int{}
		for _, s := range servers {
			counts[s.State]++
		}
		launching := 0
		for _, in := range rs.inflight {
			launching += len(in.indexes)
		}
		var avoided []string
		for _, z := range sortedZones(rs.avoided) {
			if now.Before(rs.avoided[z]) {
				avoided = append(avoided, z)
			}
		}
		st.Roles = append(st.Roles, RoleStatus{
			Name: name, Desired: rs.desired, Min: rs.min, Max: rs.max,
			Counts: maps.Clone(counts), Launching: launching, Servers: servers,
			AvoidedZones: avoided, Note: rs.note, LastError: rs.lastErr,
			NeedsMaster: rs.spec.primaryRole(), Rollout: f.rolloutStatusLocked(name),
		})
	}
	return st
}
