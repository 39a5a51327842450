package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/store/boltstore"
)

// A farm whose controller keeps its state in one file: the README's
// "A controller you can kill" code, run twice on one file, the second run
// standing for the controller restarted.
func Example_farm() {
	dir, _ := os.MkdirTemp("", "farmhand")
	defer os.RemoveAll(dir)
	cloud := fake.New(fake.Options{BootTime: -1})
	defer cloud.Close()
	spec := farm.Spec{Name: "shop", Roles: []farm.RoleSpec{{Name: "app", Image: "ami-app", Min: 1, Max: 5, Desired: 2}}}
	ctx := context.Background()

	// The first controller stops after setting 4 and before launching; the
	// second keeps the 4 and launches the 2 missing (without a Store it
	// would take the 2 that run as the count).
	for run := 1; run <= 2; run++ {
		db, err := boltstore.Open(filepath.Join(dir, "farmhand.db"), nil) // one file, fsynced on every write
		if err != nil {
			log.Fatal(err) // corrupt, locked by another process, or written by a newer farmhand
		}
		st, err := db.Farm(spec.Name)
		if err != nil {
			log.Fatal(err)
		}
		f, err := farm.New(spec, cloud, &farm.Options{Store: st})
		if err != nil {
			log.Fatal(err)
		}
		f.Launch(ctx) // adopts what runs; the desired counts come from the Store
		if run == 1 {
			f.SetDesired("app", 4) // saved before SetDesired returns
		}
		app, _ := f.Status().Role("app")
		fmt.Printf("run %d: app desired %d, %d servers at the cloud\n", run, app.Desired, len(cloud.Servers()))
		f.Close()
		db.Close()
	}
	// Output:
	// run 1: app desired 4, 2 servers at the cloud
	// run 2: app desired 4, 4 servers at the cloud
}
