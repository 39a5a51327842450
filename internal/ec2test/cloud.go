package ec2test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// instance is one EC2 instance of the in-memory cloud.
type instance struct {
	id, image, instanceType, zone, keyName, subnet string
	groups                                         []string
	state                                          string
	privateIP, publicIP                            string
	launched                                       time.Time
	tags                                           map[string]string
	userData                                       []byte
	reservation                                    *reservation
	launchIndex                                    int
	rootVolume                                     string
	console                                        string
	hostKey                                        string
	reboots                                        int
	n                                              int // launch ordinal, for addresses
	hidden                                         int // DescribeInstances answers still to leave it out of
}

// reservation is what one RunInstances made; its ClientToken maps to it.
type reservation struct {
	id        string
	token     string
	params    string // the request's parameters without ClientToken, for IdempotentParameterMismatch
	instances []*instance
}

type keyPair struct {
	name, fingerprint, id, material string
}

type volume struct {
	id, zone, instance, device string
	size                       int
	created                    time.Time
	tags                       map[string]string
}

type snapshot struct {
	id, volume, status, description string
	size                            int
	started                         time.Time
	tags                            map[string]string
	deleted                         bool
}

// Instance is a copy of one instance's state, for tests to inspect.
type Instance struct {
	ID, ImageID, InstanceType, Zone string
	// State is EC2's state name: pending, running, shutting-down,
	// terminated, stopping or stopped.
	State               string
	PrivateIP, PublicIP string
	KeyName, SubnetID   string
	SecurityGroupIDs    []string
	ReservationID       string
	ClientToken         string
	LaunchTime          time.Time
	Tags                map[string]string
	UserData            []byte
	RootVolumeID        string
	// HostKey is the ed25519 host key the instance's console printed, as an
	// authorized_keys line; empty until the instance is running.
	HostKey string
	Reboots int
}

func (in *instance) export() Instance {
	return Instance{
		ID: in.id, ImageID: in.image, InstanceType: in.instanceType, Zone: in.zone,
		State: in.state, PrivateIP: in.privateIP, PublicIP: in.publicIP,
		KeyName: in.keyName, SubnetID: in.subnet, SecurityGroupIDs: slices.Clone(in.groups),
		ReservationID: in.reservation.id, ClientToken: in.reservation.token,
		LaunchTime: in.launched, Tags: maps.Clone(in.tags), UserData: slices.Clone(in.userData),
		RootVolumeID: in.rootVolume, HostKey: in.hostKey, Reboots: in.reboots,
	}
}

// Instances returns every instance the cloud holds, terminated ones
// included until Purge, in launch order.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Instance, 0, len(s.instances))
	for _, in := range s.instances {
		out = append(out, in.export())
	}
	return out
}

// Live returns the instances that are not shutting down or terminated.
func (s *Server) Live() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Instance
	for _, in := range s.instances {
		if in.state != "shutting-down" && in.state != "terminated" {
			out = append(out, in.export())
		}
	}
	return out
}

// Instance returns one instance and whether the cloud knows it.
func (s *Server) Instance(id string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.byID[id]
	if !ok {
		return Instance{}, false
	}
	return in.export(), true
}

// SetConsoleOutput replaces an instance's console output.
func (s *Server) SetConsoleOutput(id, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.byID[id]; ok {
		in.console = text
	}
}

// SetState puts an instance into an EC2 state directly (for example
// "stopped", or "terminated" as if it crashed and AWS retired it).
func (s *Server) SetState(id, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := stateCodes[state]; !known {
		panic(fmt.Sprintf("ec2test: unknown state %q", state))
	}
	if in, ok := s.byID[id]; ok {
		in.state = state
	}
}

// Purge forgets terminated instances, as EC2 does about an hour after they
// terminate: they are no longer listed and their IDs become unknown.
func (s *Server) Purge() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.instances = slices.DeleteFunc(s.instances, func(in *instance) bool {
		if in.state == "terminated" {
			delete(s.byID, in.id)
			return true
		}
		return false
	})
}

// AddLoadBalancer creates a classic load balancer with no instances.
func (s *Server) AddLoadBalancer(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.lbs[name]; !ok {
		s.lbs[name] = []string{}
	}
}

// LoadBalancerInstances returns the instances registered with a load
// balancer, sorted, and whether it exists.
func (s *Server) LoadBalancerInstances(name string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, ok := s.lbs[name]
	return slices.Sorted(slices.Values(ids)), ok
}

// Snapshot is a copy of one snapshot's state.
type Snapshot struct {
	ID, VolumeID, Status, Description string
	Tags                              map[string]string
	Deleted                           bool
}

// Snapshots returns every snapshot ever created, deleted ones flagged.
func (s *Server) Snapshots() []Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Snapshot
	for _, sn := range s.snapshots {
		out = append(out, Snapshot{ID: sn.id, VolumeID: sn.volume, Status: sn.status, Description: sn.description, Tags: maps.Clone(sn.tags), Deleted: sn.deleted})
	}
	return out
}

// KeyPairs returns the names of the imported key pairs, sorted.
func (s *Server) KeyPairs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.keyPairs))
}

// Settle moves everything in a transition on, as time passing would:
// pending instances run (with a public IP, and a console that prints their
// new host key between cloud-init's markers), shutting-down ones terminate
// (their root volumes are deleted), stopping ones stop, pending snapshots
// complete. Nothing moves by itself, so tests are deterministic.
func (s *Server) Settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.instances {
		switch in.state {
		case "pending":
			in.state = "running"
			in.publicIP = s.publicIP(in)
			in.hostKey = s.opts.HostKey
			if in.hostKey == "" {
				in.hostKey = newHostKey()
			}
			in.console = bootConsole(in)
		case "shutting-down":
			in.state = "terminated"
			in.publicIP = ""
			delete(s.volumes, in.rootVolume)
		case "stopping":
			in.state = "stopped"
		}
	}
	for _, sn := range s.snapshots {
		if sn.status == "pending" {
			sn.status = "completed"
		}
	}
}

func (s *Server) publicIP(in *instance) string {
	if s.opts.LoopbackIPs {
		return ""
	}
	return fmt.Sprintf("198.18.%d.%d", in.n/250, in.n%250+1)
}

func (s *Server) privateIP(n int) string {
	if s.opts.LoopbackIPs {
		return fmt.Sprintf("127.1.%d.%d", n/250, n%250+1)
	}
	return fmt.Sprintf("10.0.%d.%d", n/250, n%250+1)
}

func newHostKey() string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

// bootConsole is what an Amazon Linux instance prints to its console while
// cloud-init runs: kernel lines, then the host key fingerprints and keys
// between cloud-init's markers. EC2 keeps \r\n line ends.
func bootConsole(in *instance) string {
	host := "ip-" + strings.ReplaceAll(in.privateIP, ".", "-")
	fp := "SHA256:unknown"
	if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(in.hostKey)); err == nil {
		fp = ssh.FingerprintSHA256(k)
	}
	lines := []string{
		"[    0.000000] Linux version 6.1.0-amzn (mockbuild@ec2test) #1 SMP",
		"[    1.234567] systemd[1]: Detected virtualization amazon.",
		"Cloud-init v. 23.1 running 'init' at " + in.launched.Format(time.RFC1123) + ". Up 5.12 seconds.",
		"ci-info: ++++++++++++++++++++++++++++++++++++++Net device info++++++++++++++++++++++++++++++++++++++",
		"ci-info: | eth0 | True | " + in.privateIP + " | 255.255.255.0 | global |",
		"<14>" + in.launched.Format(time.Stamp) + " cloud-init: #############################################################",
		"<14>" + in.launched.Format(time.Stamp) + " cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----",
		"<14>" + in.launched.Format(time.Stamp) + " cloud-init: 256 " + fp + " root@" + host + " (ED25519)",
		"<14>" + in.launched.Format(time.Stamp) + " cloud-init: -----END SSH HOST KEY FINGERPRINTS-----",
		"<14>" + in.launched.Format(time.Stamp) + " cloud-init: #############################################################",
		"-----BEGIN SSH HOST KEY KEYS-----",
		in.hostKey + " root@" + host,
		"-----END SSH HOST KEY KEYS-----",
		"Cloud-init v. 23.1 finished at " + in.launched.Format(time.RFC1123) + ". Datasource DataSourceEc2.  Up 12.34 seconds",
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}
