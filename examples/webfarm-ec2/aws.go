package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/dnsupdate/route53"
	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/provider/ec2"
)

// Check loads the AWS SDK's default chain, with -region and -profile, and
// says what a run on EC2 lacks: a region, credentials, an image. It reads
// the environment and the shared files, and asks the credential providers
// (no instance metadata when AWS_EC2_METADATA_DISABLED=true).
func (c *ec2Cloud) Check(ctx context.Context) (missing []string) {
	var opts []func(*config.LoadOptions) error
	if c.region != "" {
		opts = append(opts, config.WithRegion(c.region))
	}
	if c.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return []string{fmt.Sprintf("the AWS configuration does not load: %v", err)}
	}
	c.cfg = cfg
	if cfg.Region == "" {
		missing = append(missing, "no AWS region: set AWS_REGION or -region")
	}
	if cfg.Credentials == nil {
		missing = append(missing, "no AWS credentials")
	} else {
		credCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := cfg.Credentials.Retrieve(credCtx)
		cancel()
		if err != nil {
			missing = append(missing, "no usable AWS credentials; the SDK says:\n      "+oneLine(err.Error()))
		}
	}
	if c.image == "" {
		missing = append(missing, "no machine image: set -image ami-... (a Debian or Ubuntu AMI of the region)")
	}
	return missing
}

// Connect sets the farm up on EC2. Nothing is launched yet.
func (c *ec2Cloud) Connect(ctx context.Context, s *webfarm.Session) error {
	var groups []string
	if c.securityGroup != "" {
		groups = []string{c.securityGroup}
	}
	p, err := ec2.New(ctx, ec2.Options{AWSConfig: &c.cfg, SecurityGroupIDs: groups, KeyNamePrefix: "webfarm-", Logger: s.Logger})
	if err != nil {
		return err
	}
	s.Out.Printf("AWS region %s; %s\n", c.cfg.Region, s.KeyNote)
	s.Provider = p
	s.Farm.Location, s.Farm.Image, s.Farm.InstanceType = c.cfg.Region, c.image, c.instanceType
	s.Spec = webFarm(s.Farm, c.elb)
	return nil
}

// route53 keeps the farm's names in a Route 53 hosted zone:
// -dns route53:HOSTED_ZONE_ID.
func (c *ec2Cloud) route53(zoneID string) (dnsupdate.Updater, error) {
	r, err := route53.New(c.cfg, route53.Options{HostedZoneID: zoneID, Comment: "farmhand webfarm-ec2"})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// oneLine keeps the first line of an error: the SDK's credential errors
// list every provider it tried.
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
