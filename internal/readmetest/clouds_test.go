package readmetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/internal/ec2test"
	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/provider/ec2"
	"github.com/farmhand/farmhand/provider/rackspace"
	"github.com/farmhand/farmhand/scripting"
)

// readmeShop returns the README's shop.yaml and its three scripts, with
// the file the install script touches and the web check tests moved into
// dir: one sshd answers for every server, as the user running the test,
// whose home directory is not the test's to write.
func readmeShop(t *testing.T, dir string) (farm.Spec, *scripting.Library) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "apache-ready")
	yaml := strings.ReplaceAll(block(t, string(b), "## A farm in Go", "yaml"), "apache-ready", ready)
	file := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := farm.LoadFile(file)
	if err != nil {
		t.Fatalf("the README's shop.yaml: %v", err)
	}
	for i := range spec.Roles { // Nova needs a flavor; the README's db has none
		if spec.Roles[i].InstanceType == "" {
			spec.Roles[i].InstanceType = "m1.small"
		}
	}
	lib := scripting.NewLibrary(nil)
	for _, s := range []scripting.Script{
		{Name: "install-apache", Body: `echo "installing apache on %role_name% #%instance_index%" && touch ` + ready},
		{Name: "reconnect-db", Body: `echo "database master is now %event_internal_ip%"`},
		{Name: "promote-mysql", Body: `echo "promoted %server_id%"`},
	} {
		if _, err := lib.Save(s); err != nil {
			t.Fatal(err)
		}
	}
	return spec, lib
}

// ranScripts records the scripts' results.
type ranScripts struct {
	mu  sync.Mutex
	out []string
}

func (r *ranScripts) add(_ farm.Event, res scripting.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, res.Stdout)
}

func (r *ranScripts) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.out, "")
}

// shopOptions are the farm's options for the test clouds: scripts over
// the one sshd, each server's host key read from its console.
func shopOptions(sshd *sshdtest.Server, lib *scripting.Library, ran *ranScripts) *farm.Options {
	return &farm.Options{
		TickInterval: 200 * time.Millisecond,
		SSHPublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshd.ClientSigner.PublicKey()))),
		Scripting: &farm.ScriptingOptions{
			Library: lib, User: sshd.User, Port: sshd.Port, OnResult: ran.add,
			SSH: scripting.ExecutorOptions{Signers: []ssh.Signer{sshd.ClientSigner}, DialTimeout: 10 * time.Second, Dial: sshd.Dial},
		},
	}
}

// runShop launches f, waits until it is ready and returns each role's
// servers by zone.
func runShop(t *testing.T, ctx context.Context, f *farm.Farm, settle func()) map[string]map[string]int {
	t.Helper()
	stopSettle := make(chan struct{})
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		for {
			select {
			case <-stopSettle:
				return
			case <-time.After(50 * time.Millisecond):
				settle()
			}
		}
	}()
	defer func() { close(stopSettle); <-settled }()
	f.Subscribe(func(ev farm.Event) { t.Log(ev) })
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	defer func() { stop(); <-done }()
	if err := f.Launch(ctx); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if err := f.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v\n%+v", err, f.Status())
	}
	zones := map[string]map[string]int{}
	for _, s := range append(f.Servers("db"), f.Servers("app64")...) {
		if zones[s.Role] == nil {
			zones[s.Role] = map[string]int{}
		}
		zones[s.Role][s.Zone]++
	}
	return zones
}

func TestTheREADMEFarmFileRunsOnEC2AndOpenStackTestServers(t *testing.T) {
	sshd := sshdtest.Start(t, nil)
	hostKey := sshd.HostKeyLine()

	t.Run("ec2", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		spec, lib := readmeShop(t, t.TempDir())
		for i := range spec.Roles { // EC2 refuses IDs that are not ami-<hex>, as the README's are
			spec.Roles[i].Image = map[string]string{"ami-db": "ami-0db00000", "ami-app": "ami-0a0a0a0a"}[spec.Roles[i].Image]
		}
		srv := ec2test.New(t, &ec2test.Options{LoopbackIPs: true, HostKey: hostKey})
		cfg := srv.Config()
		p, err := ec2.New(ctx, ec2.Options{AWSConfig: &cfg, Endpoint: srv.URL, RetryMaxBackoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ran := &ranScripts{}
		f, err := farm.New(spec, p, shopOptions(sshd, lib, ran))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		defer f.Close()
		// ELB www does not exist: refused before any instance launches.
		err = f.Launch(ctx)
		if err == nil || !strings.Contains(err.Error(), `role "app64": load_balancer "www": provider "ec2" has no load balancer of that name`) {
			t.Fatalf("Launch without ELB www: %v", err)
		}
		if n := srv.Counts()["RunInstances"]; n != 0 {
			t.Fatalf("the refused Launch made %d RunInstances calls", n)
		}

		srv.AddLoadBalancer("www")
		zones := runShop(t, ctx, f, srv.Settle)
		want := map[string]map[string]int{"db": {"us-test-1a": 1}, "app64": {"us-test-1a": 1, "us-test-1b": 1}}
		if !sameCounts(zones, want) {
			t.Fatalf("servers by role and zone %v, want %v", zones, want)
		}
		if ids, _ := srv.LoadBalancerInstances("www"); len(ids) != 2 {
			t.Fatalf("ELB www has %v, want the two app64 instances", ids)
		}
		if out := ran.String(); strings.Count(out, "installing apache on app64") != 2 {
			t.Fatalf("scripts printed %q, want the install on both app64 servers", out)
		}
	})

	t.Run("openstack", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		spec, lib := readmeShop(t, t.TempDir())
		cloud := novatest.New(t, &novatest.Options{LoopbackIPs: true, HostKey: hostKey, Zones: []string{"nova-1", "nova-2", "nova-3"}})
		p, err := rackspace.New(ctx, rackspace.Options{
			IdentityEndpoint: cloud.IdentityV2URL(), Username: novatest.DefaultUsername, APIKey: novatest.DefaultAPIKey,
		})
		if err != nil {
			t.Fatal(err)
		}
		ran := &ranScripts{}
		// OpenStack has no load balancer the farm can register with: www
		// must be one of the program's own.
		_, err = farm.New(spec, p, shopOptions(sshd, lib, ran))
		if err == nil || !strings.Contains(err.Error(), `role "app64": load_balancer "www"`) {
			t.Fatalf("New without Options.LoadBalancers: %v", err)
		}
		if ids := cloud.Servers(); len(ids) != 0 {
			t.Fatalf("the refused farm created servers %v", ids)
		}
		opts := shopOptions(sshd, lib, ran)
		www := &backends{}
		opts.LoadBalancers = map[string]farm.Backends{"www": www}
		f, err := farm.New(spec, p, opts)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		defer f.Close()
		zones := runShop(t, ctx, f, cloud.Settle)
		want := map[string]map[string]int{"db": {"nova-1": 1}, "app64": {"nova-1": 1, "nova-2": 1}}
		if !sameCounts(zones, want) {
			t.Fatalf("servers by role and zone %v, want %v", zones, want)
		}
		if out := ran.String(); strings.Count(out, "installing apache on app64") != 2 {
			t.Fatalf("scripts printed %q, want the install on both app64 servers", out)
		}
		deadline := time.Now().Add(20 * time.Second)
		for www.count() != 2 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := www.count(); n != 2 {
			t.Fatalf("the program's load balancer www has %d backends, want 2", n)
		}
	})
}

func sameCounts(got, want map[string]map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for role, zones := range want {
		if len(got[role]) != len(zones) {
			return false
		}
		for z, n := range zones {
			if got[role][z] != n {
				return false
			}
		}
	}
	return true
}

// backends is a program's own load balancer: it keeps the last set.
type backends struct {
	mu      sync.Mutex
	servers []farm.Server
}

func (b *backends) SetBackends(_ context.Context, _ string, servers []farm.Server) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.servers = servers
	return nil
}

func (b *backends) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.servers)
}
