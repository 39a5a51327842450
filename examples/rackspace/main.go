// Rackspace runs the seed article's web farm on Rackspace Cloud Servers or
// any OpenStack cloud: a MySQL database role whose master is always
// reachable as db.ZONE, the app64 role of apache servers configured by the
// article's OnHostUp script and scaled on their load average, and, since
// Rackspace has no Elastic Load Balancing, an lb role running HAProxy over
// the app servers' DNS name.
//
// Try it without an account, against a Keystone + Nova server in the process
// (internal/novatest, shaped like Rackspace: API-key login, no availability
// zones) and a real OpenSSH sshd on this machine that answers for every
// server, so the scripts really run over SSH:
//
//	go run ./examples/rackspace -test-servers
//
// On Rackspace (see -h, and the message printed when something is missing):
//
//	OS_USERNAME=farmer OS_API_KEY=... OS_REGION_NAME=ORD go run ./examples/rackspace \
//		-image IMAGE_ID -flavor general1-1 -dns rfc2136:ns1.example.com:53 \
//		-tsig-key farm.key -zone example.com -serve
//
// On another OpenStack cloud, set OS_CLOUD (an entry of clouds.yaml) or
// OS_AUTH_URL and the other OS_* variables instead.
//
// Add -crash-db to see the database fail over: the master crashes, a new
// one is set up, db's name moves to it and the app servers run their
// reconnect script on NewDBMaster.
//
// It launches the farm, prints each script's result as it comes, the DNS
// names, a load reading over SSH and the scaling policy's verdict, then
// terminates the farm (with -serve, only when interrupted) and exits. It
// exits with status 2 when it lacks what a real run needs, and 1 when the
// run fails.
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

	region, image, flavor string
	zone                  string
	dns, tsigKeyFile      string
	sshUser, sshKeyFile   string
	privateIP             bool

	serve        bool
	readyTimeout time.Duration
	verbose      bool
}

func parseFlags(args []string, stderr io.Writer) (*settings, error) {
	c := &settings{}
	fs := flag.NewFlagSet("rackspace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.testServers, "test-servers", false, "run against a Keystone + Nova test server and a local OpenSSH sshd instead of a cloud")
	fs.BoolVar(&c.crashDB, "crash-db", false, "with -test-servers: crash the database master once the farm is up, and show the failover")
	fs.BoolVar(&c.noSSHD, "no-sshd", false, "with -test-servers: run without sshd, hence without scripts, even when it is installed")
	fs.StringVar(&c.region, "region", "", "region, such as DFW, ORD, IAD, LON (default: OS_REGION_NAME or RAX_REGION, else the account's default)")
	fs.StringVar(&c.image, "image", "", "image ID of a Debian or Ubuntu image (the scripts use apt-get)")
	fs.StringVar(&c.flavor, "flavor", "general1-1", "flavor ID (Rackspace: general1-1, ...; OpenStack: your cloud's)")
	fs.StringVar(&c.zone, "zone", "", "DNS zone of the farm's names db.ZONE, int-app64.ZONE and www.ZONE (default farm.test)")
	fs.StringVar(&c.dns, "dns", "", "where the names live: rfc2136:HOST:PORT with -tsig-key (default: in memory, printed only)")
	fs.StringVar(&c.tsigKeyFile, "tsig-key", "", "TSIG key file written by tsig-keygen, for -dns rfc2136:...")
	fs.StringVar(&c.sshUser, "ssh-user", "root", "login user of the image (Rackspace: root; Ubuntu cloud images: ubuntu); scripts run as root through sudo unless it is root")
	fs.StringVar(&c.sshKeyFile, "ssh-key", "", "private key the farm logs in with (OpenSSH format, no passphrase); default: a new ed25519 key for this run")
	fs.BoolVar(&c.privateIP, "private-ip", false, "log in over the servers' private IPs (when this runs inside the cloud's network)")
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
		fmt.Fprintln(stderr, "rackspace:", err)
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
		s, missing, err = cloudSession(ctx, c, stdout, stderr)
		if len(missing) > 0 {
			printNeeds(stderr, missing)
			return 2
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "rackspace:", err)
		return 1
	}
	if err := s.run(ctx); err != nil {
		fmt.Fprintln(stderr, "rackspace:", err)
		return 1
	}
	return 0
}

// printNeeds says what a run on a cloud needs, and how to try the example
// without one.
func printNeeds(w io.Writer, missing []string) {
	fmt.Fprintf(w, `rackspace runs a farm on Rackspace or OpenStack and cannot start:
  - %s

What a run on Rackspace needs (API-key login, Keystone v2.0 with RAX-KSKEY):
  OS_USERNAME     your Rackspace user name (or RAX_USERNAME)
  OS_API_KEY      its API key (or RAX_API_KEY), from the control panel's account settings
  OS_REGION_NAME  DFW, ORD, IAD, LON, SYD or HKG (or RAX_REGION, or -region;
                  default: the account's default region)

What a run on another OpenStack cloud needs (Keystone v3), either:
  OS_CLOUD        an entry of clouds.yaml (./clouds.yaml, ~/.config/openstack/clouds.yaml,
                  /etc/openstack/clouds.yaml, or OS_CLIENT_CONFIG_FILE)
  or OS_AUTH_URL (https://keystone.example.com:5000/v3) with OS_USERNAME, OS_PASSWORD,
                  OS_USER_DOMAIN_NAME and OS_PROJECT_NAME (or OS_PROJECT_ID), or with
                  OS_APPLICATION_CREDENTIAL_ID and OS_APPLICATION_CREDENTIAL_SECRET,
                  and OS_REGION_NAME
                  (an openrc file from Horizon sets these)

And for either:
  image           -image IMAGE_ID: a Debian or Ubuntu image (the scripts use apt-get);
                  -flavor FLAVOR_ID (default general1-1)
  SSH             the farm logs in as -ssh-user (root) with -ssh-key, or with a key made for
                  this run, imported as a Nova key pair; the servers' security groups must let
                  TCP 22 in from this machine; host keys are pinned from each server's console
                  output, where cloud-init prints them (never trusted on first use)
  DNS             optional: -dns rfc2136:HOST:PORT -tsig-key FILE, with -zone; without it the
                  names are kept in memory and printed, and HAProxy cannot resolve int-app64
  load balancer   Rackspace has no Elastic Load Balancing: the farm's lb role runs HAProxy over
                  the name int-app64.ZONE, which the farm keeps pointing at every app server

Try it here without an account (a Keystone + Nova test server and a local sshd):
  go run ./examples/rackspace -test-servers
`, strings.Join(missing, "\n  - "))
}
