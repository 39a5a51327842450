package cluster

import (
	"hash/fnv"
	"sort"
	"time"
)

// Owner returns the member that should own farm among the live members:
// the one with the highest rendezvous (highest random weight) score for
// the pair, ties broken by the smaller ID. It returns "" when members is
// empty.
//
// Rendezvous hashing moves few farms: when a member leaves, only its own
// farms move (each to the member with the next-highest score), and when
// one joins, only the farms it now scores highest on move to it.
func Owner(members []string, farm string) string {
	best, bestScore := "", uint64(0)
	for _, m := range members {
		s := score(m, farm)
		if best == "" || s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

// score is the rendezvous weight of a member for a farm: FNV-1a over both
// names, then a 64-bit finaliser so that names differing in one byte get
// unrelated weights. It is the same in every process.
func score(member, farm string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(member))
	h.Write([]byte{0})
	h.Write([]byte(farm))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// View is what a member knows of the cluster at one moment.
type View struct {
	// Members are the live members (their registration key exists), with
	// the time this member first saw each.
	Members map[string]time.Time
	// Owners maps a farm to the member whose ownership key it has; a farm
	// no one owns is absent.
	Owners map[string]string
}

// Steps are what a member should do about its farms.
type Steps struct {
	// Acquire lists the farms to take: this member should own them and
	// their key is free (or already this member's).
	Acquire []string
	// Release lists the farms to give up: another member should own them
	// and has been live for the settle time.
	Release []string
}

// Plan decides which farms member me takes and which it gives up, given
// the farms to share, the view, the farms it is acting on (held) and the
// time. A farm is taken only when its key is free or already me's, so two
// members never act on one farm; a farm is given up only to a member that
// has been live for settle, so a member that comes and goes at once does
// not make farms move back and forth. Plan is pure.
func Plan(me string, farms []string, v View, held map[string]bool, now time.Time, settle time.Duration) Steps {
	members := make([]string, 0, len(v.Members))
	for m := range v.Members {
		members = append(members, m)
	}
	sort.Strings(members)
	var s Steps
	if _, live := v.Members[me]; !live {
		// A member whose registration is gone (or not yet seen) takes
		// nothing; what it holds is stopped by its lease, not by a plan.
		return s
	}
	for _, farm := range farms {
		want := Owner(members, farm)
		switch {
		case want == me && !held[farm]:
			if o := v.Owners[farm]; o == "" || o == me {
				s.Acquire = append(s.Acquire, farm)
			}
		case want != me && held[farm]:
			if now.Sub(v.Members[want]) >= settle {
				s.Release = append(s.Release, farm)
			}
		}
	}
	// A held farm no longer in the list is given up too.
	listed := make(map[string]bool, len(farms))
	for _, f := range farms {
		listed[f] = true
	}
	var gone []string
	for f := range held {
		if held[f] && !listed[f] {
			gone = append(gone, f)
		}
	}
	sort.Strings(gone)
	s.Release = append(s.Release, gone...)
	return s
}
