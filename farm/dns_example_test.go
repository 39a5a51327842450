package farm_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
)

// A database role with a replica fails over when its master crashes: the
// replica becomes master, db.example.com moves to it and NewDBMaster
// fires. The fake cloud and clock are driven by hand; dnsupdate.Memory
// stands in for the DNS server.
func ExampleDatabaseSpec() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cloud := fake.New(fake.Options{Clock: clk, BootTime: 30 * time.Second})
	defer cloud.Close()
	dns := dnsupdate.NewMemory(nil)

	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{
		Name: "db", Image: "img-mysql", Min: 2, Max: 2,
		Database: &farm.DatabaseSpec{}, // a promote script needs Options.Scripting
		DNS:      []farm.DNSName{{Name: "db.example.com", Select: farm.DNSSelectMaster, TTL: 30 * time.Second}},
	}}}
	f, err := farm.New(spec, cloud, &farm.Options{Clock: clk, DNS: dns})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	announced := make(chan farm.Event, 1)
	f.Subscribe(func(ev farm.Event) {
		if ev.Type == farm.NewDBMaster {
			announced <- ev
		}
	})

	// master returns the role's master and whether db.example.com points
	// at it.
	master := func() (farm.Server, bool) {
		for _, s := range f.Servers("db") {
			if s.Master {
				rs, _ := dns.Lookup("db.example.com", "A")
				return s, slices.Equal(rs.Values, []string{s.PrivateIP})
			}
		}
		return farm.Server{}, false
	}
	f.Launch(ctx)
	clk.Advance(30 * time.Second) // the servers boot
	f.Reconcile(ctx)
	f.WaitReady(ctx)
	f.SyncDNS(ctx) // waits for the first master to be chosen
	old, follows := master()
	fmt.Println("db.example.com follows the master:", follows)

	cloud.Crash(old.ID)
	clk.Advance(time.Second)
	f.Reconcile(ctx) // the listing shows the master gone
	ev := <-announced
	f.Settle(ctx)
	now, follows := master()
	fmt.Println("new master:", now.ID != old.ID && ev.Server.ID == now.ID)
	fmt.Println("db.example.com follows the master:", follows)
	fmt.Println("NewDBMaster old_master_id is the crashed one:", ev.Params["old_master_id"] == old.ID)
	fo := f.Failovers()[0]
	fmt.Println("timeline in order:", !fo.Promoted.Before(fo.Detected) && !fo.DNSSet.Before(fo.Promoted) && !fo.Announced.Before(fo.DNSSet))
	// Output:
	// db.example.com follows the master: true
	// new master: true
	// db.example.com follows the master: true
	// NewDBMaster old_master_id is the crashed one: true
	// timeline in order: true
}
