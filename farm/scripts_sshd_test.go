package farm

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// oneHostKey tells the same host key for every server: all the farm's
// servers are one real sshd in this test.
type oneHostKey string

func (k oneHostKey) HostKeys(context.Context, string) ([]string, error) {
	return []string{string(k)}, nil
}

// sshdCloud is the fake cloud with every server's sshd declared reachable:
// the test's dialler takes each connection to one real sshd.
type sshdCloud struct{ *fake.Provider }

func (sshdCloud) SSHReachable(string) error { return nil }

// TestScriptsRunOnARealOpenSSHServer runs a farm whose servers are all
// reached at one real OpenSSH sshd on loopback: the fake cloud's addresses
// (127.100.x.y:22) are dialled at the sshd instead, and the sshd's host key
// is what the farm's host key source reports, so the host key check is real.
func TestScriptsRunOnARealOpenSSHServer(t *testing.T) {
	noLeaks(t)
	sshd := sshdtest.Start(t, nil)
	hk, err := scripting.NewHostKeys(&scripting.HostKeysOptions{
		Source: oneHostKey(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshd.HostKeys[0])))),
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		dialled []string
	)
	lib := scripting.NewLibrary(nil)
	if _, err := lib.Save(scripting.Script{Name: "hello", Body: `echo "I am a %role_name% #$FARM_INSTANCE_INDEX"`}); err != nil {
		t.Fatal(err)
	}
	log := scripting.NewMemoryLog(0)
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 2, Max: 2,
		Scripts:      []ScriptBinding{{Event: HostUp, Script: "hello"}},
		HealthChecks: []HealthCheckSpec{{Kind: "command", Command: "test -r /proc/loadavg"}},
	}}}
	r := makeRigOver(t, spec, &Options{Scripting: &ScriptingOptions{
		Library: lib, Log: log, User: sshd.User,
		SSH: scripting.ExecutorOptions{
			Signers:  []ssh.Signer{sshd.ClientSigner},
			HostKeys: hk,
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				dialled = append(dialled, addr)
				mu.Unlock()
				var d net.Dialer
				return d.DialContext(ctx, network, sshd.Addr)
			},
			DialTimeout: 10 * time.Second,
		},
	}}, fake.Options{BootTime: 30 * time.Second}, clock.NewFake(t0), func(p *fake.Provider) provider.Provider { return sshdCloud{p} })
	sr := &scriptRig{rig: r, log: log}
	sr.upAll()

	es := sr.entries(scripting.LogQuery{Event: "HostUp"})
	if len(es) != 2 {
		t.Fatalf("%d HostUp entries: %+v", len(es), es)
	}
	for _, e := range es {
		s, _ := r.farm.Server(e.Server)
		if want := "I am a app #" + strconv.Itoa(s.Index); strings.TrimSpace(e.Stdout) != want || e.Addr != s.PrivateIP+":22" {
			t.Fatalf("entry %+v, want %q at %s:22", e, want, s.PrivateIP)
		}
	}
	id := r.farm.Servers("app")[0].ID
	out, err := r.farm.Exec(r.ctx, id, "cat /proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(out)); len(f) != 5 {
		t.Fatalf("/proc/loadavg over SSH: %q", out)
	}
	r.checkHealth()
	if s, _ := r.farm.Server(id); s.Health.Status != HealthHealthy {
		t.Fatalf("command check over real SSH: %+v", s.Health)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialled) == 0 || !strings.HasPrefix(dialled[0], "127.100.") {
		t.Fatalf("dialled %v, want the servers' private addresses", dialled)
	}
}
