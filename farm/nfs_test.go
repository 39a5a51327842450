package farm

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/farmhand/farmhand/dnsupdate"
)

func nfsSpec() Spec {
	return Spec{Name: "shop", Roles: []RoleSpec{
		{Name: "files", Image: "img-nfs", Min: 1, Max: 1,
			NFS: &NFSSpec{Export: "/srv/shared"},
			DNS: []DNSName{{Name: "nfs.example.test", Select: DNSSelectMaster, TTL: 10 * time.Second}}},
		{Name: "app", Image: "img-app", Min: 2, Max: 2, DependsOn: []string{"files"},
			Scripts: []ScriptBinding{{Event: NFSServerChanged, Script: "remount"}}},
	}}
}

func TestAReplacedNFSServerTakesItsNameAlong(t *testing.T) {
	spec := nfsSpec()
	spec.Roles[1].Scripts = nil
	r, mem, calls := failoverRig(t, spec, nil)
	old, n := master(r.farm, "files")
	if n != 1 || !slices.Equal(lookup(mem, "nfs.example.test"), []string{old.PrivateIP}) {
		t.Fatalf("nfs server %s (%d), nfs.example.test = %v", old.ID, n, lookup(mem, "nfs.example.test"))
	}
	r.cloud.Crash(old.ID)
	r.tick(time.Second) // gone; the replacement launches
	r.quiet()
	if got := lookup(mem, "nfs.example.test"); !slices.Equal(got, []string{old.PrivateIP}) {
		t.Fatalf("nfs.example.test = %v before the replacement is up; want it left alone", got)
	}
	r.tick(30 * time.Second)
	r.quiet()
	cur, n := master(r.farm, "files")
	if n != 1 || cur.ID == old.ID {
		t.Fatalf("nfs server = %s (%d)\n%s", cur.ID, n, serverLines(r.farm.Servers("files")))
	}
	if got := lookup(mem, "nfs.example.test"); !slices.Equal(got, []string{cur.PrivateIP}) {
		t.Fatalf("nfs.example.test = %v, want %s", got, cur.PrivateIP)
	}
	evs := r.rec.of(NFSServerChanged)
	if len(evs) != 1 {
		t.Fatalf("NFSServerChanged fired %d times", len(evs))
	}
	p := evs[0].Params
	if evs[0].Role != "files" || evs[0].Server.ID != cur.ID || p["nfs_name"] != "nfs.example.test" || p["nfs_export"] != "/srv/shared" ||
		p["old_master_ip"] != old.PrivateIP || p["new_master_ip"] != cur.PrivateIP {
		t.Fatalf("NFSServerChanged = %+v", evs[0])
	}
	if n := r.rec.count(NewDBMaster); n != 0 {
		t.Fatalf("NewDBMaster fired %d times for an NFS role", n)
	}
	if c := calls.list(); len(c) != 0 {
		t.Fatalf("an NFS role ran scripts %v", c)
	}
}

// TestNFSRemountEndToEnd runs remount scripts over SSH on the client role's
// servers when the NFS server is replaced.
func TestNFSRemountEndToEnd(t *testing.T) {
	noLeaks(t)
	mem := dnsupdate.NewMemory(nil)
	lf := startLiveFarm(t, nfsSpec(), map[string]string{
		"remount": `echo "mount -t nfs %nfs_name%:%nfs_export% /mnt/shared # %new_master_ip% was %old_master_ip%" > remounted`,
	}, func(o *Options) { o.DNS = mem })
	f := lf.farm
	old, _ := master(f, "files")
	if err := lf.cloud.Crash(old.ID); err != nil {
		t.Fatal(err)
	}
	ev := lf.waitEvent(NFSServerChanged, 20*time.Second)
	cur, _ := f.Server(ev.Server.ID)
	if got := lookup(mem, "nfs.example.test"); !slices.Equal(got, []string{cur.PrivateIP}) || cur.ID == old.ID {
		t.Fatalf("nfs.example.test = %v, want the new server %s at %s", got, cur.ID, cur.PrivateIP)
	}
	want := "mount -t nfs nfs.example.test:/srv/shared /mnt/shared # " + cur.PrivateIP + " was " + old.PrivateIP
	for _, app := range f.Servers("app") {
		if got := lf.waitFile(app.ID, "remounted", 10*time.Second); got != want {
			t.Fatalf("app %s remount script wrote %q, want %q", app.ID, got, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Settle(ctx); err != nil {
		t.Fatal(err)
	}
}
