package ec2_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/ec2"
)

// With an AWS account: credentials and region come from the environment
// (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_REGION), the
// shared files or the instance's IAM role.
func ExampleNew() {
	ctx := context.Background()
	p, err := ec2.New(ctx, ec2.Options{
		Region:           "us-east-1",
		SecurityGroupIDs: []string{"sg-0123456789abcdef0"},
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	zones, err := p.Zones(ctx)
	if err != nil {
		log.Fatal(err) // PermissionDenied without ec2:DescribeAvailabilityZones
	}
	fmt.Println(zones)
}

// Without an account, the driver runs against internal/ec2test, a server
// that speaks EC2's Query API on loopback.
func Example_testServer() {
	ctx := context.Background()
	srv := ec2test.Start(nil)
	defer srv.Close()
	cfg := srv.Config()
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: &cfg})
	if err != nil {
		log.Fatal(err)
	}
	tags := map[string]string{provider.TagFarm: "shop", provider.TagRole: "app"}
	servers, err := p.Launch(ctx, provider.LaunchSpec{
		Token: "shop-app-1", Count: 3, Image: "ami-0123456789abcdef0", InstanceType: "t3.micro",
		Zone: "us-test-1b", Tags: tags, UserData: []byte("#!/bin/sh\nyum -y install httpd\n"),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(servers), "servers", servers[0].State, "in", servers[0].Zone)

	srv.Settle() // time passes: the instances boot
	all, err := provider.ListAll(ctx, p, map[string]string{provider.TagFarm: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range all {
		fmt.Println(s.State, s.Tags[provider.TagRole], s.InstanceType)
	}
	fmt.Println("RunInstances calls:", srv.Count("RunInstances"))
	// Output:
	// 3 servers pending in us-test-1b
	// running app t3.micro
	// running app t3.micro
	// running app t3.micro
	// RunInstances calls: 1
}

// Errors carry a provider.Code; EC2's own error stays reachable.
func Example_errors() {
	ctx := context.Background()
	srv := ec2test.Start(nil)
	defer srv.Close()
	srv.SetCapacity("us-test-1a", 0)
	cfg := srv.Config()
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: &cfg})
	if err != nil {
		log.Fatal(err)
	}
	_, err = p.Launch(ctx, provider.LaunchSpec{Token: "t1", Count: 2, Image: "ami-0123456789abcdef0", Zone: "us-test-1a"})
	fmt.Println(errors.Is(err, provider.InsufficientCapacity), provider.IsRetryable(err))
	var apiErr interface{ ErrorCode() string }
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.ErrorCode())
	}
	// Output:
	// true false
	// InsufficientInstanceCapacity
}

// As hands out the SDK's client for calls the portable API does not make.
func ExampleProvider_As() {
	ctx := context.Background()
	srv := ec2test.Start(nil)
	defer srv.Close()
	cfg := srv.Config()
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: &cfg})
	if err != nil {
		log.Fatal(err)
	}
	var client *awsec2.Client
	if p.As(&client) {
		out, err := client.DescribeAvailabilityZones(ctx, &awsec2.DescribeAvailabilityZonesInput{})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(out.AvailabilityZones), "zones")
	}
	// Output:
	// 3 zones
}
