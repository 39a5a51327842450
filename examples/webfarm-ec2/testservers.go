package main

import (
	"context"
	"strings"
	"time"

	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/provider/ec2"
)

// testImage is the AMI the test farm boots; ec2test accepts any
// well-formed ID.
const testImage = "ami-0a1b2c3d4e5f60718"

// testLoadBalancer is the classic ELB the test cloud holds.
const testLoadBalancer = "webfarm-www"

// TestServers starts ec2test, an EC2 API server in this process whose
// instances get 127.1.x.y addresses and print the test sshd's host key on
// their consoles, and sets the farm up on it.
func (c *ec2Cloud) TestServers(ctx context.Context, s *webfarm.Session) error {
	srv := ec2test.Start(&ec2test.Options{LoopbackIPs: true, Images: []string{testImage}, HostKey: s.HostKey})
	s.Cleanup(srv.Close)
	srv.AddLoadBalancer(testLoadBalancer)
	s.Out.Printf("test EC2 API: %s (region %s, zones %s)\n", srv.URL, srv.Options().Region, strings.Join(srv.Options().Zones, " "))

	// Nothing moves by itself at ec2test: time passing is a Settle.
	s.Every(100*time.Millisecond, srv.Settle)

	cfg := srv.Config()
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: &cfg, Logger: s.Logger, KeyNamePrefix: "webfarm-"})
	if err != nil {
		return err
	}
	s.Provider = p
	s.Farm.Location, s.Farm.Image, s.Farm.InstanceType = srv.Options().Region, testImage, "t3.micro"
	s.Spec = webFarm(s.Farm, testLoadBalancer)
	s.Crash = func(id string) {
		srv.SetState(id, "terminated") // as if AWS retired the instance
	}
	s.Ready = func(t *webfarm.Timeline) {
		ids, _ := srv.LoadBalancerInstances(testLoadBalancer)
		t.Printf("ELB %s: %d instances registered %v\n", testLoadBalancer, len(ids), ids)
	}
	s.Done = func(t *webfarm.Timeline) { t.PrintCounts("EC2 API calls", srv.Counts()) }
	return nil
}
