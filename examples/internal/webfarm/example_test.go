package webfarm_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/farmhand/farmhand/examples/internal/webfarm"
)

// A cloud builds the farm from the shared roles and adds what it has: here
// an ELB that the app servers join.
func ExampleSpec() {
	s := webfarm.Shape{
		Name: "webfarm", Location: "eu-west-1",
		Image: "ami-0123456789abcdef0", InstanceType: "t3.micro",
		DNSZone: "example.com", InstallCmd: "apt-get -y install",
		BindScripts: true, Evaluation: time.Minute, WarmUp: 3 * time.Minute,
	}
	app := webfarm.AppRole(s)
	app.LoadBalancer = "www"
	spec := webfarm.Spec(s, webfarm.DBRole(s), app)
	for _, r := range spec.Roles {
		fmt.Printf("%s: %d..%d, DNS %s, scripts %d, load balancer %q\n", r.Name, r.Min, r.Max, r.DNS[0].Name, len(r.Scripts), r.LoadBalancer)
	}
	fmt.Println("db_name =", spec.Variables["db_name"])
	// Output:
	// db: 1..2, DNS db.example.com, scripts 1, load balancer ""
	// app64: 2..6, DNS int-app64.example.com, scripts 2, load balancer "www"
	// db_name = db.example.com
}

// Without what a real run needs, the program says what is missing and
// what a run needs, and exits 2.
func ExampleProgram_Run() {
	p := &webfarm.Program{
		Name:      "fakefarm",
		Title:     "a fake cloud",
		TestCloud: "an in-memory cloud",
		SSHUser:   "root",
		Needs:     "What a run on the fake cloud needs:\n  image   -image NAME",
		Cloud:     &fakeCloud{},
	}
	code := p.Run(context.Background(), nil, os.Stdout, os.Stdout)
	fmt.Println("exit", code)
	// Output:
	// fakefarm runs a farm on a fake cloud and cannot start:
	//   - no machine image: set -image
	//
	// What a run on the fake cloud needs:
	//   image   -image NAME
	//
	// Try it here without an account (an in-memory cloud and a local sshd):
	//   go run ./examples/fakefarm -test-servers
	// exit 2
}
