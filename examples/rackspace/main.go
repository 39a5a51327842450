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
//
// What is Rackspace's is in this directory: its flags and credentials
// (cloud.go), its test server (testservers.go) and the HAProxy lb role
// (farm.go). The run itself, the scripts and the db and app64 roles are
// shared with the other web farm examples, in examples/internal/webfarm.
package main

import (
	"flag"

	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/provider/rackspace"
)

func main() { webfarm.Main(program()) }

// program is the web farm on Rackspace or OpenStack.
func program() *webfarm.Program {
	return &webfarm.Program{
		Name:      "rackspace",
		Title:     "Rackspace or OpenStack",
		TestCloud: "a Keystone + Nova test server",
		SSHUser:   "root",
		Needs:     needs,
		Cloud:     &rackspaceCloud{},
	}
}

// rackspaceCloud is the Rackspace part of the program: its flags, and the
// credentials Check finds in the environment.
type rackspaceCloud struct {
	region, image, flavor string

	opts rackspace.Options
}

func (c *rackspaceCloud) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.region, "region", "", "region, such as DFW, ORD, IAD, LON (default: OS_REGION_NAME or RAX_REGION, else the account's default)")
	fs.StringVar(&c.image, "image", "", "image ID of a Debian or Ubuntu image (the scripts use apt-get)")
	fs.StringVar(&c.flavor, "flavor", "general1-1", "flavor ID (Rackspace: general1-1, ...; OpenStack: your cloud's)")
	fs.Lookup("zone").Usage = "DNS zone of the farm's names db.ZONE, int-app64.ZONE and www.ZONE (default farm.test)"
	fs.Lookup("ssh-user").Usage = "login user of the image (Rackspace: root; Ubuntu cloud images: ubuntu); scripts run as root through sudo unless it is root"
}

// needs is what a run on Rackspace or OpenStack needs.
const needs = `What a run on Rackspace needs (API-key login, Keystone v2.0 with RAX-KSKEY):
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
`
