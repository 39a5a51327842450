package rackspace_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/rackspace"
)

// Launching and listing a role's servers. The example runs against
// novatest, a local server speaking Keystone and Nova; against Rackspace
// itself leave out IdentityEndpoint and give your own username and API key.
func Example() {
	cloud := novatest.Start(&novatest.Options{Regions: []string{"DFW"}})
	defer cloud.Close()
	ctx := context.Background()

	p, err := rackspace.New(ctx, rackspace.Options{
		IdentityEndpoint: cloud.IdentityV2URL(),
		Username:         novatest.DefaultUsername,
		APIKey:           novatest.DefaultAPIKey,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name(), p.Region())

	spec := provider.LaunchSpec{
		Token: "web/app/launch-1", Count: 2, Image: "debian-12", InstanceType: "general1-1", Zone: "az1",
		Tags:     map[string]string{provider.TagFarm: "web", provider.TagRole: "app"},
		UserData: []byte("#!/bin/sh\napt-get install -y apache2\n"),
	}
	servers, err := p.Launch(ctx, spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range servers {
		fmt.Println("launched", s.Name, s.State, s.Zone)
	}
	again, _ := p.Launch(ctx, spec) // same token: nothing new
	fmt.Println("relaunch returned", len(again), "servers; creates:", cloud.Calls("POST /servers"))

	cloud.Settle() // the test cloud finishes booting
	all, err := provider.ListAll(ctx, p, map[string]string{provider.TagFarm: "web"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range all {
		fmt.Println("listed", s.Name, s.State, s.Tags[provider.TagRole])
	}
	// Output:
	// rackspace DFW
	// launched web-app-6a863c260e-1 pending az1
	// launched web-app-6a863c260e-2 pending az1
	// relaunch returned 2 servers; creates: 1
	// listed web-app-6a863c260e-2 running app
	// listed web-app-6a863c260e-1 running app
}

// A zone without capacity fails the launch with InsufficientCapacity, so
// the caller can try another zone.
func Example_insufficientCapacity() {
	cloud := novatest.Start(nil)
	defer cloud.Close()
	cloud.SetCapacity("az1", 0)
	ctx := context.Background()
	p, err := rackspace.New(ctx, rackspace.Options{
		IdentityEndpoint: cloud.IdentityV3URL(),
		Username:         novatest.DefaultUsername, Password: novatest.DefaultPassword,
		ProjectName: novatest.DefaultProjectName, ProjectDomainName: "Default",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	spec := provider.LaunchSpec{
		Token: "db-1", Count: 1, Image: "debian-12", InstanceType: "m1.large",
		Tags: map[string]string{provider.TagFarm: "web", provider.TagRole: "db"},
	}
	for _, zone := range []string{"az1", "az2"} {
		spec.Zone = zone
		spec.Token = "db-1-" + zone
		servers, err := p.Launch(ctx, spec)
		if errors.Is(err, provider.InsufficientCapacity) {
			fmt.Println(zone, "is full")
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("launched in", servers[0].Zone)
		break
	}
	// Output:
	// az1 is full
	// launched in az2
}

// As hands out gophercloud's compute client for calls the portable API
// does not make.
func ExampleProvider_As() {
	cloud := novatest.Start(nil)
	defer cloud.Close()
	p, err := rackspace.New(context.Background(), rackspace.Options{
		IdentityEndpoint: cloud.IdentityV2URL(), Username: novatest.DefaultUsername, APIKey: novatest.DefaultAPIKey,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var compute *gophercloud.ServiceClient
	fmt.Println(p.As(&compute), compute.Type)
	// Output:
	// true compute
}
