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
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first interrupt terminates the farm; a second one quits at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// settings are the command line.
type settings struct {
	testServers bool
	noSSHD      bool
	crashDB     bool

	region, profile     string
	image, instanceType string
	securityGroup       string
	elb                 string
	zone                string
	dns, tsigKeyFile    string
	sshUser, sshKeyFile string
	privateIP           bool

	serve        bool
	readyTimeout time.Duration
	verbose      bool
}

func parseFlags(args []string, stderr io.Writer) (*settings, error) {
	c := &settings{}
	fs := flag.NewFlagSet("webfarm-ec2", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.testServers, "test-servers", false, "run against an EC2 API test server and a local OpenSSH sshd instead of AWS")
	fs.BoolVar(&c.crashDB, "crash-db", false, "with -test-servers: crash the database master once the farm is up, and show the failover")
	fs.BoolVar(&c.noSSHD, "no-sshd", false, "with -test-servers: run without sshd, hence without scripts, even when it is installed")
	fs.StringVar(&c.region, "region", "", "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's)")
	fs.StringVar(&c.profile, "profile", "", "shared-config profile (default: AWS_PROFILE, else \"default\")")
	fs.StringVar(&c.image, "image", "", "AMI of a Debian or Ubuntu image in the region (the scripts use apt-get)")
	fs.StringVar(&c.instanceType, "instance-type", "t3.micro", "EC2 instance type")
	fs.StringVar(&c.securityGroup, "security-group", "", "security group for the servers; it must let TCP 22 in from this machine (default: the VPC's default group)")
	fs.StringVar(&c.elb, "elb", "", "classic ELB the app64 servers join (optional)")
	fs.StringVar(&c.zone, "zone", "", "DNS zone of the farm's names db.ZONE and int-app64.ZONE (default farm.test)")
	fs.StringVar(&c.dns, "dns", "", "where the names live: route53:HOSTED_ZONE_ID, or rfc2136:HOST:PORT with -tsig-key (default: in memory, printed only)")
	fs.StringVar(&c.tsigKeyFile, "tsig-key", "", "TSIG key file written by tsig-keygen, for -dns rfc2136:...")
	fs.StringVar(&c.sshUser, "ssh-user", "ubuntu", "login user of the image; scripts run as root through sudo unless it is root")
	fs.StringVar(&c.sshKeyFile, "ssh-key", "", "private key the farm logs in with (OpenSSH format, no passphrase); default: a new ed25519 key for this run")
	fs.BoolVar(&c.privateIP, "private-ip", false, "log in over the servers' private IPs (when this runs inside their VPC)")
	fs.BoolVar(&c.serve, "serve", false, "keep the farm running (scaling, self-healing) until interrupted, then terminate it")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 20*time.Minute, "how long to wait for every server to be up")
	fs.BoolVar(&c.verbose, "v", false, "log the controller's and the driver's steps to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.zone == "" {
		c.zone = "farm.test"
	}
	return c, nil
}

// run is main without the exit: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "webfarm-ec2:", err)
		return 2
	}
	var s *session
	if c.testServers {
		var cleanup func()
		s, cleanup, err = testSession(ctx, c, stdout, stderr)
		if cleanup != nil {
			defer cleanup()
		}
	} else {
		var missing []string
		s, missing, err = awsSession(ctx, c, stdout, stderr)
		if len(missing) > 0 {
			printNeeds(stderr, missing)
			return 2
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "webfarm-ec2:", err)
		return 1
	}
	if err := s.run(ctx); err != nil {
		fmt.Fprintln(stderr, "webfarm-ec2:", err)
		return 1
	}
	return 0
}

// printNeeds says what a run on EC2 needs, and how to try the example
// without it.
func printNeeds(w io.Writer, missing []string) {
	fmt.Fprintf(w, `webfarm-ec2 runs a farm on Amazon EC2 and cannot start:
  - %s

What a run on EC2 needs:
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

Try it here without an account (an EC2 API test server and a local sshd):
  go run ./examples/webfarm-ec2 -test-servers
`, strings.Join(missing, "\n  - "))
}
