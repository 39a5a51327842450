package cluster

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func farmNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("farm-%02d", i)
	}
	return out
}

func TestOwner(t *testing.T) {
	farms := farmNames(600)
	members := []string{"c1", "c2", "c3"}
	count := map[string]int{}
	for _, f := range farms {
		count[Owner(members, f)]++
	}
	for _, m := range members {
		if count[m] < 150 || count[m] > 250 {
			t.Errorf("member %s owns %d of 600 farms; want about 200: %v", m, count[m], count)
		}
	}
	if got := Owner(nil, "shop"); got != "" {
		t.Errorf("Owner of no members = %q, want empty", got)
	}
	if Owner([]string{"c1", "c2"}, "shop") != Owner([]string{"c2", "c1"}, "shop") {
		t.Error("Owner depends on the order of the members")
	}
}

func TestOwnerMovesOnlyTheFarmsOfAMemberThatLeaves(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 8).Draw(t, "members")
		members := make([]string, n)
		for i := range members {
			members[i] = fmt.Sprintf("m%d", i)
		}
		gone := rapid.IntRange(0, n-1).Draw(t, "gone")
		rest := append(append([]string{}, members[:gone]...), members[gone+1:]...)
		for _, f := range farmNames(100) {
			before, after := Owner(members, f), Owner(rest, f)
			if before != members[gone] && before != after {
				t.Fatalf("farm %s moved from %s to %s when %s left", f, before, after, members[gone])
			}
		}
	})
}

func TestPlan(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	settle := 10 * time.Second
	// Which member each of these farms hashes to among c1, c2.
	farms := farmNames(8)
	var ofC1, ofC2 []string
	for _, f := range farms {
		if Owner([]string{"c1", "c2"}, f) == "c1" {
			ofC1 = append(ofC1, f)
		} else {
			ofC2 = append(ofC2, f)
		}
	}
	if len(ofC1) == 0 || len(ofC2) == 0 {
		t.Fatalf("test farms all hash to one member: c1 %v, c2 %v", ofC1, ofC2)
	}
	set := func(fs []string) map[string]bool {
		m := map[string]bool{}
		for _, f := range fs {
			m[f] = true
		}
		return m
	}
	owners := func(fs []string, who string) map[string]string {
		m := map[string]string{}
		for _, f := range fs {
			m[f] = who
		}
		return m
	}
	cases := []struct {
		name  string
		me    string
		view  View
		held  map[string]bool
		now   time.Time
		farms []string
		want  Steps
	}{
		{
			name:  "a lone member takes every free farm",
			me:    "c1",
			view:  View{Members: map[string]time.Time{"c1": t0}},
			now:   t0,
			farms: farms,
			want:  Steps{Acquire: farms},
		},
		{
			name: "a member takes only the farms that hash to it",
			me:   "c1",
			view: View{Members: map[string]time.Time{"c1": t0, "c2": t0}},
			now:  t0, farms: farms,
			want: Steps{Acquire: ofC1},
		},
		{
			name: "a farm whose key another member holds is not taken",
			me:   "c1",
			view: View{Members: map[string]time.Time{"c1": t0, "c2": t0}, Owners: owners(ofC1, "c2")},
			now:  t0, farms: farms,
			want: Steps{},
		},
		{
			name: "a farm whose key is already this member's is taken back",
			me:   "c1",
			view: View{Members: map[string]time.Time{"c1": t0, "c2": t0}, Owners: owners(ofC1, "c1")},
			now:  t0, farms: farms,
			want: Steps{Acquire: ofC1},
		},
		{
			name: "farms are not handed to a member seen for less than the settle time",
			me:   "c1",
			view: View{Members: map[string]time.Time{"c1": t0, "c2": t0.Add(5 * time.Second)}, Owners: owners(farms, "c1")},
			held: set(farms),
			now:  t0.Add(10 * time.Second), farms: farms,
			want: Steps{},
		},
		{
			name: "farms are handed to a member live for the settle time",
			me:   "c1",
			view: View{Members: map[string]time.Time{"c1": t0, "c2": t0}, Owners: owners(farms, "c1")},
			held: set(farms),
			now:  t0.Add(settle), farms: farms,
			want: Steps{Release: ofC2},
		},
		{
			name: "a member whose registration is gone takes nothing",
			me:   "c1",
			view: View{Members: map[string]time.Time{"c2": t0}},
			now:  t0, farms: farms,
			want: Steps{},
		},
		{
			name: "a held farm no longer listed is given up",
			me:   "c1",
			view: View{Members: map[string]time.Time{"c1": t0}, Owners: map[string]string{"old": "c1"}},
			held: map[string]bool{"old": true},
			now:  t0, farms: nil,
			want: Steps{Release: []string{"old"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Plan(c.me, c.farms, c.view, c.held, c.now, settle)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Plan = %+v, want %+v", got, c.want)
			}
		})
	}
}
