package roles_test

import (
	"testing"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// readmeCatalog is the README's "Roles from the catalog" snippet, as
// written there.
func readmeCatalog(cloud provider.Provider, key *scripting.KeyPair) (*farm.Farm, error) {
	lib := scripting.NewLibrary(nil)
	spec := farm.Spec{Name: "shop"}
	lb, backends := roles.HAProxy(roles.HAProxyOptions{Role: farm.RoleSpec{Image: "debian-12"}})
	app := roles.App(roles.AppOptions{Role: farm.RoleSpec{Image: "debian-12", Max: 6}}) // behind load balancer "www"
	// Apply adds the roles to spec and saves their scripts in lib.
	if err := roles.Apply(&spec, lib, app, lb); err != nil {
		return nil, err
	}
	f, err := farm.New(spec, cloud, &farm.Options{
		Scripting:     &farm.ScriptingOptions{Library: lib, Key: key},
		LoadBalancers: map[string]farm.Backends{backends.Name(): backends},
	})
	if err != nil {
		return nil, err
	}
	backends.Bind(f) // HAProxy's servers follow app's, through its runtime API
	return f, nil
}

func TestReadmeCatalog(t *testing.T) {
	key, err := scripting.GenerateKey("readme")
	if err != nil {
		t.Fatal(err)
	}
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	f, err := readmeCatalog(cloud, key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sp := f.Spec()
	if len(sp.Roles) != 2 || sp.Roles[0].Name != "app" || sp.Roles[0].LoadBalancer != "www" || sp.Roles[0].Max != 6 || sp.Roles[1].Name != "lb" {
		t.Fatalf("roles %+v", sp.Roles)
	}
	if st := f.BackendsStatus(); len(st) != 1 || st[0].Name != "www" || len(st[0].Roles) != 1 || st[0].Roles[0] != "app" {
		t.Fatalf("backends %+v", st)
	}
}
