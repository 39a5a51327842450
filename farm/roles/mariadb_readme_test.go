package roles_test

import (
	"testing"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// readmeMariaDB is the README's MariaDB snippet, as written there.
func readmeMariaDB(spec *farm.Spec, lib *scripting.Library) error {
	db, scripts, err := roles.MariaDB(roles.MariaDBOptions{Image: "debian-12", MasterName: "db.shop.example", Replicas: 2})
	if err != nil {
		return err
	}
	db.Backup.Window = "01:00-05:00" // daily dumps on a replica, in the farm's time zone; the newest 7 kept
	for _, s := range scripts {
		if _, err := lib.Save(s); err != nil {
			return err
		}
	}
	spec.Roles = append(spec.Roles, db)
	return nil
}

func TestReadmeMariaDB(t *testing.T) {
	spec := farm.Spec{Name: "shop", TimeZone: "Europe/Berlin"}
	lib := scripting.NewLibrary(nil)
	if err := readmeMariaDB(&spec, lib); err != nil {
		t.Fatal(err)
	}
	key, err := scripting.GenerateKey("readme")
	if err != nil {
		t.Fatal(err)
	}
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	f, err := farm.New(spec, cloud, &farm.Options{DNS: dnsupdate.NewMemory(nil), Scripting: &farm.ScriptingOptions{Library: lib, Key: key}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	db := f.Spec().Roles[0]
	if db.Min != 3 || db.Backup.Window != "01:00-05:00" || db.Backup.Keep != 7 || db.Backup.Script != roles.MariaDBBackupScript ||
		db.Database.PositionScript != roles.MariaDBPositionScript || db.Database.FenceScript != roles.MariaDBFenceScript {
		t.Fatalf("role = %+v", db)
	}
}
