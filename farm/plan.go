package farm

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/farmhand/farmhand/provider"
)

// This file holds the controller's decisions as pure functions: given what
// the cloud reports and what the role wants, what to launch and what to
// terminate. They take values and return values; reconcile.go carries them
// out.

// planServer is a server as the planner sees it.
type planServer struct {
	Server
	// replace is set when health checks want the server replaced.
	replace string
	// leaving is true when the server is already on its way out
	// (termination decided in an earlier tick).
	leaving bool
	// kept is true for a Failed server kept for inspection.
	kept bool
}

// roleInput is everything planRole looks at.
type roleInput struct {
	spec    RoleSpec // defaults applied
	desired int
	servers []planServer
	// inflight holds the indexes of launches whose outcome is unknown (the
	// call failed in a way that may have launched). They count as servers.
	inflight []int
	// inflightZones counts inflight servers per zone.
	inflightZones map[string]int
	zones         []string
	avoided       map[string]bool
	// waitingFor names a dependency role that is not up yet; no launches
	// while set.
	waitingFor string
	// backoffUntil pauses launches after an error retrying does not fix.
	backoffUntil time.Time
	// maxLaunching caps servers launching at once (0: no cap).
	maxLaunching int
	// terminating is set while the whole farm terminates: everything goes,
	// protected and kept servers included.
	terminating bool
	now         time.Time
}

// launchPlan is one Launch call: len(indexes) servers in one zone.
type launchPlan struct {
	zone    string
	indexes []int
}

// termination is a decision to remove a server.
type termination struct {
	id     string
	reason string
	// fail marks the server Failed first (it is broken, not surplus).
	fail bool
	// graceful runs the BeforeHostTerminate hooks first.
	graceful bool
}

// rolePlan is planRole's answer.
type rolePlan struct {
	launches     []launchPlan
	terminations []termination
	// note says why the role is not where it wants to be, for Status.
	note string
}

// planRole decides one role's actions for this tick.
func planRole(in roleInput) rolePlan {
	var plan rolePlan
	// Pointers into in.servers: a role at its count copies no Server.
	live := make([]*Server, 0, len(in.servers))
	for i := range in.servers {
		s := &in.servers[i]
		if s.State == StateTerminated || s.leaving {
			continue
		}
		switch {
		case s.State == StateFailed:
			if !s.kept || in.terminating {
				plan.terminations = append(plan.terminations, termination{id: s.ID, reason: s.Reason})
			}
		case s.CloudState == provider.StateStopped || s.CloudState == provider.StateStopping || s.CloudState == provider.StateFailed:
			plan.terminations = append(plan.terminations, termination{id: s.ID, fail: true,
				reason: fmt.Sprintf("cloud reports the server %s", s.CloudState)})
		case s.State == StatePending && in.now.Sub(s.LaunchedAt) > in.spec.LaunchTimeout:
			plan.terminations = append(plan.terminations, termination{id: s.ID, fail: true,
				reason: fmt.Sprintf("launch timeout: still pending after %s", in.spec.LaunchTimeout)})
		case s.replace != "":
			plan.terminations = append(plan.terminations, termination{id: s.ID, graceful: s.State == StateRunning, reason: s.replace})
		default:
			live = append(live, &s.Server)
		}
	}

	have := len(live) + len(in.inflight)
	switch {
	case have > in.desired:
		n := min(have-in.desired, len(live))
		reason := fmt.Sprintf("scale-in: %d servers, desired %d", have, in.desired)
		if in.terminating {
			reason = "farm terminated"
		}
		candidates := make([]Server, len(live))
		for i, s := range live {
			candidates[i] = *s
		}
		for _, v := range ChooseVictims(candidates, n, in.spec.TerminationPolicy) {
			plan.terminations = append(plan.terminations, termination{id: v.ID, graceful: v.State == StateRunning, reason: reason})
		}
	case have < in.desired:
		need := in.desired - have
		switch {
		case in.terminating:
			return plan
		case in.waitingFor != "":
			plan.note = fmt.Sprintf("waiting for role %q to be up", in.waitingFor)
			return plan
		case in.now.Before(in.backoffUntil):
			plan.note = fmt.Sprintf("launches paused until %s after an error", in.backoffUntil.Format(time.RFC3339))
			return plan
		}
		if in.maxLaunching > 0 {
			launching := len(in.inflight)
			for _, s := range live {
				if s.State != StateRunning {
					launching++
				}
			}
			need = min(need, max(0, in.maxLaunching-launching))
		}
		counts := map[string]int{}
		for _, s := range live {
			counts[s.Zone]++
		}
		for z, n := range in.inflightZones {
			counts[z] += n
		}
		zones := spreadZones(in.spec.ZoneStrategy, in.zones, counts, in.avoided, need)
		if need > 0 && len(zones) == 0 {
			plan.note = "every zone is cooling off after capacity errors"
		}
		used := map[int]bool{}
		for _, i := range in.inflight {
			used[i] = true
		}
		for _, s := range in.servers {
			if s.State != StateTerminated {
				used[s.Index] = true
			}
		}
		indexes := freeIndexes(used, len(zones))
		plan.launches = groupByZone(zones, indexes)
	}
	return plan
}

// spreadZones returns the zone of each of n new servers (fewer when every
// zone is avoided). counts holds the role's servers per zone. "even" puts
// each server in the usable zone with the fewest servers, the earlier zone
// on a tie; "ordered" puts all in the first usable zone.
func spreadZones(strategy ZoneStrategy, zones []string, counts map[string]int, avoided map[string]bool, n int) []string {
	var usable []string
	for _, z := range zones {
		if !avoided[z] {
			usable = append(usable, z)
		}
	}
	if len(usable) == 0 || n <= 0 {
		return nil
	}
	out := make([]string, 0, n)
	if strategy == ZoneOrdered {
		for range n {
			out = append(out, usable[0])
		}
		return out
	}
	c := make(map[string]int, len(usable))
	for _, z := range usable {
		c[z] = counts[z]
	}
	for range n {
		best := usable[0]
		for _, z := range usable[1:] {
			if c[z] < c[best] {
				best = z
			}
		}
		c[best]++
		out = append(out, best)
	}
	return out
}

// freeIndexes returns the n lowest indexes from 1 that are not used.
func freeIndexes(used map[int]bool, n int) []int {
	out := make([]int, 0, n)
	for i := 1; len(out) < n; i++ {
		if !used[i] {
			out = append(out, i)
		}
	}
	return out
}

// groupByZone pairs zones[i] with indexes[i] and makes one launch per
// zone, in the order zones first appear.
func groupByZone(zones []string, indexes []int) []launchPlan {
	var out []launchPlan
	pos := map[string]int{}
	for i, z := range zones {
		j, ok := pos[z]
		if !ok {
			j = len(out)
			pos[z] = j
			out = append(out, launchPlan{zone: z})
		}
		out[j].indexes = append(out[j].indexes, indexes[i])
	}
	return out
}

// ChooseVictims picks n of a role's servers to remove when it shrinks, in
// the order they should go. It is a pure function; scaling uses it to
// explain a scale-in before carrying it out. The rules, in order:
//
//  1. Protected servers and database masters go last, only when nothing
//     else is left.
//  2. Servers not yet in service (Pending, Initializing) go before Running
//     ones.
//  3. Unhealthy servers go before the others.
//  4. Servers in the zone that has the most of the given servers go first,
//     which keeps the role balanced over its zones.
//  5. By policy: the earliest LaunchedAt first (OldestFirst, the default)
//     or the latest first (NewestFirst).
//  6. The lower ID first, so that the choice is deterministic.
//
// It returns min(n, len(servers)) servers; servers is not modified.
func ChooseVictims(servers []Server, n int, policy TerminationPolicy) []Server {
	n = min(n, len(servers))
	if n <= 0 {
		return nil
	}
	left := slices.Clone(servers)
	zoneCount := map[string]int{}
	for _, s := range left {
		zoneCount[s.Zone]++
	}
	rank := func(s Server) [3]int {
		var r [3]int
		if s.Protected || s.Master {
			r[0] = 1
		}
		if s.State == StateRunning {
			r[1] = 1
		}
		if s.Health.Status != HealthUnhealthy {
			r[2] = 1
		}
		return r
	}
	better := func(a, b Server) bool {
		ra, rb := rank(a), rank(b)
		for i := range ra {
			if ra[i] != rb[i] {
				return ra[i] < rb[i]
			}
		}
		if zoneCount[a.Zone] != zoneCount[b.Zone] {
			return zoneCount[a.Zone] > zoneCount[b.Zone]
		}
		if !a.LaunchedAt.Equal(b.LaunchedAt) {
			if policy == NewestFirst {
				return a.LaunchedAt.After(b.LaunchedAt)
			}
			return a.LaunchedAt.Before(b.LaunchedAt)
		}
		return a.ID < b.ID
	}
	out := make([]Server, 0, n)
	for range n {
		best := 0
		for i := 1; i < len(left); i++ {
			if better(left[i], left[best]) {
				best = i
			}
		}
		v := left[best]
		out = append(out, v)
		zoneCount[v.Zone]--
		left = append(left[:best], left[best+1:]...)
	}
	return out
}

// sortedZones returns the keys of a zone set in order.
func sortedZones(m map[string]time.Time) []string {
	out := make([]string, 0, len(m))
	for z := range m {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}
