// Webfarm-ec2 runs the seed article's web farm on Amazon EC2: a MySQL
// database role whose master is always reachable as db.ZONE, and the app64
// role of apache servers configured by the article's OnHostUp script,
// registered with a classic ELB and scaled on their load average.
//
// Try it without an AWS account, against an EC2 API server in the process
// (internal/ec2test) and a real OpenSSH sshd on this machine that answers
// for every instance, so the scripts really run over SSH:
//
//	go run ./examples/webfarm-ec2 -test-servers
//
// On EC2 (see -h, and the message printed when something is missing):
//
//	AWS_REGION=eu-west-1 AWS_PROFILE=farm go run ./examples/webfarm-ec2 \
//		-image ami-0123456789abcdef0 -security-group sg-0123456789abcdef0 \
//		-dns route53:Z0123456789ABC -zone example.com -serve
//
// Add -crash-db to see the database fail over: the master crashes, a new
// one is set up, db's name moves to it and the app servers run their
// reconnect script on NewDBMaster.
//
// It launches the farm, prints each script's result as it comes, the DNS
// names, the load balancer, a load reading over SSH and the scaling
// policy's verdict, then terminates the farm (with -serve, only when
// interrupted) and exits. It exits with status 2 when it lacks what a
// real run needs, and 1 when the run fails.
//
// What is EC2's is in this directory: its flags and credentials (aws.go),
// its test server (testservers.go) and the ELB (farm.go). The run itself,
// the scripts and the db and app64 roles are shared with the other web farm
// examples, in examples/internal/webfarm.
package main

import (
	"flag"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/farmhand/farmhand/examples/internal/webfarm"
)

func main() { webfarm.Main(program()) }

// program is the web farm on EC2.
func program() *webfarm.Program {
	c := &ec2Cloud{}
	return &webfarm.Program{
		Name:      "webfarm-ec2",
		Title:     "Amazon EC2",
		TestCloud: "an EC2 API test server",
		SSHUser:   "ubuntu",
		Needs:     needs,
		DNS:       []webfarm.DNSKind{{Name: "route53", Arg: "HOSTED_ZONE_ID", New: c.route53}},
		Cloud:     c,
	}
}

// ec2Cloud is the EC2 part of the program: its flags, and the AWS
// configuration Check loads.
type ec2Cloud struct {
	region, profile     string
	image, instanceType string
	securityGroup       string
	elb                 string

	cfg aws.Config
}

func (c *ec2Cloud) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.region, "region", "", "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
	fs.StringVar(&c.profile, "profile", "", "shared-config profile (default: AWS_PROFILE, else \"default\")")
	fs.StringVar(&c.image, "image", "", "AMI of a Debian or Ubuntu image in the region (the scripts use apt-get)")
	fs.StringVar(&c.instanceType, "instance-type", "t3.micro", "EC2 instance type")
	fs.StringVar(&c.securityGroup, "security-group", "", "security group for the servers; it must let TCP 22 in from this machine (default: the VPC's default group)")
	fs.StringVar(&c.elb, "elb", "", "classic ELB the app64 servers join (optional)")
	fs.Lookup("private-ip").Usage = "log in over the servers' private IPs (when this runs inside their VPC)"
}

// needs is what a run on EC2 needs.
const needs = `What a run on EC2 needs:
  region        AWS_REGION (or AWS_DEFAULT_REGION, the profile's region, or -region)
  credentials   the AWS SDK's default chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
                (and AWS_SESSION_TOKEN), or AWS_PROFILE / -profile with ~/.aws/credentials,
                ~/.aws/config or SSO (aws sso login), web identity, or the IAM role of the
                instance or task this runs on
  image         -image ami-...: a Debian or Ubuntu AMI of the region (the scripts use apt-get)
  SSH           the farm logs in as -ssh-user (ubuntu) with -ssh-key, or with a key made for
                this run, imported as an EC2 key pair; -security-group must let TCP 22 in from
                this machine; host keys are pinned from each instance's console output, where
                cloud-init prints them (never trusted on first use)
  permissions   ec2:RunInstances, ec2:CreateTags, ec2:DescribeInstances, ec2:TerminateInstances,
                ec2:DescribeAvailabilityZones, ec2:ImportKeyPair, ec2:GetConsoleOutput;
                with -elb: elasticloadbalancing:RegisterInstancesWithLoadBalancer and
                DeregisterInstancesFromLoadBalancer; with -dns route53:...:
                route53:ChangeResourceRecordSets, GetChange, ListResourceRecordSets.
                The full list: go doc github.com/farmhand/farmhand/provider/ec2 ("IAM permissions")
  DNS           optional: -dns route53:HOSTED_ZONE_ID or -dns rfc2136:HOST:PORT -tsig-key FILE,
                with -zone; without it the names are kept in memory and printed
`
