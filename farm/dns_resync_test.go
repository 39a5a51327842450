package farm

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/provider/fake"
)

func TestThePeriodicDNSSyncRepairsANameAFailedWriteLeftStale(t *testing.T) {
	for _, tt := range []struct {
		name     string
		resync   time.Duration
		repaired bool
	}{
		{"the periodic sync writes the name again", 0, true},
		{"without it the name stays stale until the next event", -1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := dnsupdate.NewMemory(nil)
				spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 2,
					DNS: []DNSName{{Name: "www.farm.test", Select: DNSSelectAll}}}}}
				r := newBubbleRig(t, spec, &Options{DNS: mem, DNSResync: tt.resync}, fake.Options{})
				ctx, stop := context.WithCancel(t.Context())
				done := make(chan error)
				go func() { done <- r.farm.Run(ctx) }()
				defer func() { stop(); <-done }()
				if err := r.farm.Launch(ctx); err != nil {
					t.Fatal(err)
				}
				if err := r.farm.WaitReady(ctx); err != nil {
					t.Fatal(err)
				}
				if err := r.farm.Settle(ctx); err != nil {
					t.Fatal(err)
				}
				if rs, _ := mem.Lookup("www.farm.test", "A"); len(rs.Values) != 1 {
					t.Fatalf("www holds %v, want one address", rs.Values)
				}

				// The write for the second server fails.
				mem.FailNext(1, &dnsupdate.Error{Kind: dnsupdate.ErrUnavailable, Op: "test", Err: errors.New("server down")})
				if err := r.farm.SetDesired("app", 2); err != nil {
					t.Fatal(err)
				}
				if err := r.farm.WaitReady(ctx); err != nil {
					t.Fatal(err)
				}
				if err := r.farm.Settle(ctx); err != nil {
					t.Fatal(err)
				}
				if recs := r.farm.DNSRecords(); recs[0].Err == "" {
					t.Fatalf("the failed write left no error: %+v", recs[0])
				}
				if rs, _ := mem.Lookup("www.farm.test", "A"); len(rs.Values) != 1 {
					t.Fatalf("www holds %v after the failed write, want still one address", rs.Values)
				}

				time.Sleep(DefaultDNSResync + time.Second)
				synctest.Wait()
				rs, _ := mem.Lookup("www.farm.test", "A")
				if repaired := len(rs.Values) == 2; repaired != tt.repaired {
					t.Fatalf("www holds %v a resync interval later; repaired %v, want %v", rs.Values, repaired, tt.repaired)
				}
				if recs := r.farm.DNSRecords(); tt.repaired && recs[0].Err != "" {
					t.Fatalf("the repaired name still shows the error: %+v", recs[0])
				}
			})
		})
	}
}
