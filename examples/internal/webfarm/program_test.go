package webfarm_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/examples/internal/webfarm/webfarmtest"
	"github.com/farmhand/farmhand/internal/netguard"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(netguard.Guarded(m)) }

// fakeCloud is a Cloud on provider/fake. Its servers have loopback
// addresses (127.100.x.y) and no sshd: the app role has no SSH health
// check, and a script run fails at once without dialling.
type fakeCloud struct {
	image      string
	connectErr error
	// zones records the argument of -dns zonefile:ARG.
	zones []string
}

func (c *fakeCloud) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.image, "image", "", "image of the fake cloud")
	fs.Lookup("private-ip").Usage = "reworded by the cloud"
}

func (c *fakeCloud) Check(context.Context) (missing []string) {
	if c.image == "" {
		missing = append(missing, "no machine image: set -image")
	}
	return missing
}

func (c *fakeCloud) Connect(ctx context.Context, s *webfarm.Session) error {
	if c.connectErr != nil {
		return c.connectErr
	}
	s.Out.Printf("fake cloud; %s\n", s.KeyNote)
	c.setUp(s, fake.New(fake.Options{BootTime: -1}), c.image)
	return nil
}

func (c *fakeCloud) TestServers(ctx context.Context, s *webfarm.Session) error {
	p := fake.New(fake.Options{BootTime: 100 * time.Millisecond})
	s.Cleanup(func() { p.Close() })
	c.setUp(s, p, "test-image")
	s.Crash = func(id string) { p.Crash(id) }
	s.Ready = func(t *webfarm.Timeline) { t.Printf("the fake cloud is ready\n") }
	s.Done = func(t *webfarm.Timeline) { t.PrintCounts("servers", map[string]int{"launched": len(p.Servers())}) }
	return nil
}

func (c *fakeCloud) setUp(s *webfarm.Session, p *fake.Provider, image string) {
	s.Provider = p
	s.Farm.Location, s.Farm.Image, s.Farm.InstanceType = "fake-1", image, "small"
	app := webfarm.AppRole(s.Farm)
	app.HealthChecks = nil
	s.Spec = webfarm.Spec(s.Farm, webfarm.DBRole(s.Farm), app)
}

func (c *fakeCloud) zonefile(arg string) (dnsupdate.Updater, error) {
	if arg == "bad" {
		return nil, errors.New("no such zone file")
	}
	c.zones = append(c.zones, arg)
	return dnsupdate.NewMemory(nil), nil
}

func newProgram(c *fakeCloud) *webfarm.Program {
	return &webfarm.Program{
		Name:      "fakefarm",
		Title:     "a fake cloud",
		TestCloud: "an in-memory cloud",
		SSHUser:   "admin",
		Needs:     "What a run on the fake cloud needs:\n  image   -image NAME\n",
		DNS:       []webfarm.DNSKind{{Name: "zonefile", Arg: "PATH", New: c.zonefile}},
		Cloud:     c,
	}
}

func TestATestRunLaunchesCrashesTheMasterAndTerminates(t *testing.T) {
	code, out, errOut := webfarmtest.Run(t, newProgram(&fakeCloud{}), "-test-servers", "-no-sshd", "-crash-db")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"-no-sshd: the farm runs without scripts",
		`launching farm "webfarm" in fake-1: db (1..2 × test-image small, DNS db.farm.test); app64 (2..6 × test-image small, DNS int-app64.farm.test, scaling on load1)`,
		`farm "webfarm" is ready`,
		"DNS db.farm.test. A → 127.100.",
		"the fake cloud is ready",
		"no verdict",
		"crashing the database master db/",
		"failover of role db: ",
		"status:\n",
		`farm "webfarm" terminated in `,
		"DNS names left in memory: 0",
		"servers: launched 4", // db, two app64, the new db master
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", out)
	}
}

func TestWithoutCrashDBTheMasterIsLeftAlone(t *testing.T) {
	code, out, _ := webfarmtest.Run(t, newProgram(&fakeCloud{}), "-test-servers", "-no-sshd")
	if code != 0 || strings.Contains(out, "crashing") || !strings.Contains(out, "servers: launched 3") {
		t.Fatalf("exit %d; want 0, no crash and 3 servers:\n%s", code, out)
	}
}

func TestARealRunThatLacksSomethingSaysWhatAndExitsTwo(t *testing.T) {
	tests := []struct {
		name    string
		cloud   *fakeCloud
		args    []string
		missing []string
	}{
		{"the cloud's own check", &fakeCloud{}, nil, []string{"no machine image: set -image"}},
		{"every missing thing at once", &fakeCloud{}, []string{"-dns", "rfc2136:127.0.0.1:53", "-ssh-key", "/nonexistent/key"},
			[]string{"no machine image", "-dns rfc2136:127.0.0.1:53 needs -tsig-key FILE", "-ssh-key: open /nonexistent/key"}},
		{"an unknown kind of DNS names the kinds there are", &fakeCloud{}, []string{"-image", "i", "-dns", "bogus:x"},
			[]string{`-dns "bogus:x": want zonefile:PATH or rfc2136:HOST:PORT`}},
		{"the cloud's kind of DNS failing names -dns", &fakeCloud{}, []string{"-image", "i", "-dns", "zonefile:bad"},
			[]string{"-dns zonefile:bad: no such zone file"}},
		{"an unreadable TSIG key", &fakeCloud{}, []string{"-image", "i", "-dns", "rfc2136:127.0.0.1:53", "-tsig-key", "/nonexistent/farm.key"},
			[]string{"-tsig-key: open /nonexistent/farm.key"}},
		{"the driver refusing incomplete credentials", &fakeCloud{connectErr: fmt.Errorf("%w: Username is empty", provider.InvalidArgument)},
			[]string{"-image", "i"}, []string{"Username is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := webfarmtest.Run(t, newProgram(tt.cloud), tt.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing on stdout\nstderr:\n%s", code, out, errOut)
			}
			for _, want := range append(tt.missing, "fakefarm runs a farm on a fake cloud and cannot start:\n  - ",
				"\n\nWhat a run on the fake cloud needs:\n  image   -image NAME\n\n",
				"Try it here without an account (an in-memory cloud and a local sshd):\n  go run ./examples/fakefarm -test-servers\n") {
				if !strings.Contains(errOut, want) {
					t.Errorf("message lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

func TestARunThatFailsExitsOne(t *testing.T) {
	code, _, errOut := webfarmtest.Run(t, newProgram(&fakeCloud{connectErr: errors.New("connection refused")}), "-image", "i")
	if code != 1 || errOut != "fakefarm: connection refused\n" {
		t.Fatalf("exit %d, stderr %q; want 1 and the error", code, errOut)
	}
}

func TestTheCommandLine(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"-h shows the shared flags and the cloud's", []string{"-h"}, 0, "-image string"},
		{"the cloud may reword a shared flag", []string{"-h"}, 0, "reworded by the cloud"},
		{"-dns lists the cloud's kinds", []string{"-h"}, 0, "where the names live: zonefile:PATH, or rfc2136:HOST:PORT with -tsig-key"},
		{"-ssh-user defaults to the cloud's user", []string{"-h"}, 0, `(default "admin")`},
		{"an argument is refused", []string{"-image", "i", "extra"}, 2, `fakefarm: unexpected argument "extra"`},
		{"an unknown flag is refused", []string{"-nope"}, 2, "fakefarm: flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := webfarmtest.Run(t, newProgram(&fakeCloud{}), tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d; want %d and %q in:\n%s", code, tt.wantCode, tt.want, errOut)
			}
		})
	}
}

func TestARealRunIsSetUpFromTheFlags(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	key, err := scripting.GenerateKey("mine")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tsigFile := filepath.Join(t.TempDir(), "farm.key")
	if err := os.WriteFile(tsigFile, []byte(`key "farm-key" { algorithm hmac-sha256; secret "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM="; };`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string)
	}{
		{"by default the names stay in memory and a key is made for the run", nil,
			func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string) {
				if _, ok := s.Options.DNS.(*dnsupdate.Memory); !ok {
					t.Errorf("DNS %T, want names in memory", s.Options.DNS)
				}
				if !strings.Contains(out, "SSH key made for this run") || !strings.HasSuffix(s.Options.Scripting.Key.AuthorizedKey, " farmhand-fakefarm") {
					t.Errorf("output %q, key %q; want a key made for the run, named for the program", out, s.Options.Scripting.Key.AuthorizedKey)
				}
			}},
		{"-ssh-key is read and named, never printed", []string{"-ssh-key", keyFile},
			func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string) {
				if s.KeyNote != "SSH key "+keyFile || !strings.HasPrefix(key.AuthorizedKey, s.Options.Scripting.Key.AuthorizedKey+" ") {
					t.Errorf("key note %q, key %q; want the file's key", s.KeyNote, s.Options.Scripting.Key.AuthorizedKey)
				}
				if strings.Contains(out, "PRIVATE KEY") {
					t.Errorf("the output shows the private key:\n%s", out)
				}
			}},
		{"rfc2136 with a TSIG key publishes the names", []string{"-dns", "rfc2136:127.0.0.1:53", "-tsig-key", tsigFile},
			func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string) {
				if _, ok := s.Options.DNS.(*dnsupdate.RFC2136); !ok {
					t.Errorf("DNS %T, want RFC 2136 updates", s.Options.DNS)
				}
			}},
		{"the cloud's kind of DNS gets its argument", []string{"-dns", "zonefile:/var/zones/farm"},
			func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string) {
				if len(c.zones) != 1 || c.zones[0] != "/var/zones/farm" {
					t.Errorf("zonefile got %q, want [/var/zones/farm]", c.zones)
				}
			}},
		{"a login user other than root runs the scripts through sudo", []string{"-ssh-user", "ubuntu"},
			func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string) {
				if db, _ := s.Spec.Role("db"); len(db.Scripts) == 0 || db.Scripts[0].RunAs != "root" || s.Options.Scripting.User != "ubuntu" {
					t.Errorf("db scripts %+v, user %q; want them run as root through sudo, logged in as ubuntu", db.Scripts, s.Options.Scripting.User)
				}
			}},
		{"root runs the scripts itself", []string{"-ssh-user", "root"},
			func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string) {
				if db, _ := s.Spec.Role("db"); len(db.Scripts) == 0 || db.Scripts[0].RunAs != "" {
					t.Errorf("db scripts %+v, want them run as root without sudo", db.Scripts)
				}
			}},
		{"the farm installs for real and logs in over public IPs", []string{"-zone", "example.com"},
			func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string) {
				if got := s.Spec.Variables["install_cmd"]; strings.HasPrefix(got, "echo") || s.Spec.Variables["db_name"] != "db.example.com" {
					t.Errorf("variables %v, want the real apt-get and db.example.com", s.Spec.Variables)
				}
				if !s.Options.Scripting.UsePublicIP || s.Spec.Location != "fake-1" {
					t.Errorf("public IP %v, location %q", s.Options.Scripting.UsePublicIP, s.Spec.Location)
				}
			}},
		{"-private-ip logs in over private IPs", []string{"-private-ip"},
			func(t *testing.T, s *webfarm.Session, c *fakeCloud, out string) {
				if s.Options.Scripting.UsePublicIP {
					t.Errorf("logins over public IPs despite -private-ip")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeCloud{}
			var out strings.Builder
			s, missing, err := newProgram(c).Prepare(context.Background(), append([]string{"-image", "i"}, tt.args...), &out, io.Discard)
			if err != nil || len(missing) > 0 {
				t.Fatalf("Prepare: %v, missing %q", err, missing)
			}
			defer s.Close()
			tt.check(t, s, c, out.String())
		})
	}
}

func TestCloseRunsTheCleanupsLastFirstAndOnce(t *testing.T) {
	s := &webfarm.Session{}
	var order []string
	s.Cleanup(func() { order = append(order, "server") })
	ticks := make(chan struct{}, 100)
	s.Every(time.Millisecond, func() { ticks <- struct{}{} })
	s.Cleanup(func() { order = append(order, "sshd") })
	<-ticks // Every calls its function
	s.Close()
	s.Close()
	if strings.Join(order, " ") != "sshd server" {
		t.Errorf("cleanups ran %q, want sshd, then server, once each", order)
	}
	// goleak (TestMain) checks that Close ended Every's goroutine.
}
