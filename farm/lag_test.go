package farm

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

// laggyList is a fake cloud whose listings lag: for the first hideFor
// listings it shows only the lowest-ID server of each launch (token), as
// an eventually consistent cloud may.
type laggyList struct {
	*fake.Provider
	mu      sync.Mutex
	hideFor int
}

func (l *laggyList) List(ctx context.Context, opts provider.ListOptions) (provider.Page, error) {
	page, err := l.Provider.List(ctx, opts)
	if err != nil {
		return page, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if opts.PageToken == "" && l.hideFor > 0 {
		l.hideFor--
	}
	if l.hideFor == 0 {
		return page, nil
	}
	first := map[string]string{} // token → lowest ID of its launch
	for _, s := range l.Provider.Servers() {
		tok := s.Tags[provider.TagToken]
		if id, ok := first[tok]; !ok || s.ID < id {
			first[tok] = s.ID
		}
	}
	shown := page.Servers[:0:0]
	for _, s := range page.Servers {
		if first[s.Tags[provider.TagToken]] == s.ID {
			shown = append(shown, s)
		}
	}
	page.Servers = shown
	return page, nil
}

func TestALaunchListedInPartsIsNotLaunchedAgain(t *testing.T) {
	cases := []struct {
		name string
		// lost is how many Launch answers the cloud loses (each call
		// takes effect).
		lost int
	}{
		{"every answer of the launch is lost while the cloud lists it server by server", 1000},
		{"the first call's answers are lost and a later retry's answer arrives", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { testLaunchListedInParts(t, tc.lost) })
		})
	}
}

func testLaunchListedInParts(t *testing.T, lost int) {
	const want = 3
	cloud := fake.New(fake.Options{BootTime: 30 * time.Second})
	defer cloud.Close()
	lag := &laggyList{Provider: cloud, hideFor: 4}
	spec := appSpec(want, want)
	spec.Roles[0].ZoneStrategy = ZoneOrdered // one launch of three servers
	f, err := New(spec, lag, &Options{TickInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	cloud.LoseNext(fake.OpLaunch, lost, provider.Unavailable)

	check := func(when string) {
		t.Helper()
		servers := cloud.Servers()
		tokens := map[string]bool{}
		for _, s := range servers {
			tokens[s.Tags[provider.TagToken]] = true
		}
		if len(servers) > want || len(tokens) != 1 {
			t.Fatalf("%s: %d servers from %d launches at the cloud, want %d from one", when, len(servers), len(tokens), want)
		}
		held := map[int]string{}
		for _, s := range f.Servers("app") {
			if s.State == StateTerminated {
				continue
			}
			if other, dup := held[s.Index]; dup {
				t.Fatalf("%s: index %d held by %s and %s", when, s.Index, other, s.ID)
			}
			held[s.Index] = s.ID
		}
		st, _ := f.Status().Role("app")
		if n := len(held) + st.Launching; n > want {
			t.Fatalf("%s: %d servers known and %d launching, more than the %d desired", when, len(held), st.Launching, want)
		}
	}
	f.Launch(ctx) // its error depends on the lost answers
	check("after Launch")
	for tick := 1; tick <= 8; tick++ {
		time.Sleep(10 * time.Second)
		f.Reconcile(ctx)
		if err := f.Settle(ctx); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("tick %d", tick))
	}
	if !f.Status().Ready() {
		t.Fatalf("not ready:\n%s", f.Status())
	}
	var indexes []int
	for _, s := range f.Servers("app") {
		if s.Adopted {
			t.Errorf("server %s taken as adopted; its launch was this controller's", s.ID)
		}
		indexes = append(indexes, s.Index)
	}
	sort.Ints(indexes)
	if len(indexes) != want || indexes[0] != 1 || indexes[1] != 2 || indexes[2] != 3 {
		t.Fatalf("indexes %v, want [1 2 3]", indexes)
	}
	checkNoDuplicates(t, f, cloud)
}
