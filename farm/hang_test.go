package farm

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/internal/stall"
	"github.com/farmhand/farmhand/provider/ec2"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
)

// The tests in this file run on the real clock against servers that accept
// and never answer (internal/stall): a cloud API, a DNS server over TCP,
// an SSH port. They check that the step gives up by its own deadline with
// an error that names it; the bounds they wait are generous (a loaded
// machine), far below what a hang would take.

// returnsWithin runs fn and fails the test when it has not returned after
// d.
func returnsWithin[T any](t *testing.T, what string, d time.Duration, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("%s has not returned after %s", what, d)
		panic("unreachable")
	}
}

func TestATickReturnsWhenTheCloudAPINeverAnswers(t *testing.T) {
	for _, tt := range []struct {
		name     string
		endpoint func(t *testing.T) string
	}{
		{"an HTTP server that never responds", func(t *testing.T) string { return stall.HTTP(t) }},
		{"a TCP listener that accepts and holds", func(t *testing.T) string { return "http://" + stall.Listen(t).Addr() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			p, err := ec2.New(t.Context(), ec2.Options{
				Endpoint: tt.endpoint(t),
				AWSConfig: &aws.Config{Region: "us-east-1",
					Credentials: credentials.NewStaticCredentialsProvider("AKIDSTALL", "stall-secret", "")},
			})
			if err != nil {
				t.Fatal(err)
			}
			f, err := New(Spec{Name: "stalled", Roles: []RoleSpec{{Name: "app", Image: "ami-1", Min: 1, Max: 1}}}, p,
				&Options{StepTimeout: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			err = returnsWithin(t, "Reconcile", 30*time.Second, func() error { return f.Reconcile(ctx) })
			if err == nil || !strings.Contains(err.Error(), "list zones") || !strings.Contains(err.Error(), "no answer within 500ms") {
				t.Fatalf("Reconcile: %v; want the zone listing named, with no answer within 500ms", err)
			}
			if ctx.Err() != nil {
				t.Fatal("the caller's deadline ended the tick, not the farm's own")
			}
			returnsWithin(t, "Close", 10*time.Second, f.Close)
		})
	}
}

// stalledDB is a farm with a database role whose master name lives on a
// DNS server that never answers, and whose servers are reached over SSH at
// a real sshd, or, for the dials stallDials lets through, at an SSH port
// that accepts and never speaks.
type stalledDB struct {
	f          *Farm
	cloud      *fake.Provider
	sshStall   *stall.Listener
	dnsStall   *stall.Listener
	stallDials atomic.Int32 // dials still to send to sshStall; -1: all
}

func newStalledDB(t *testing.T, sshd *sshdtest.Server, promoteTimeout time.Duration) *stalledDB {
	s := &stalledDB{sshStall: stall.Listen(t), dnsStall: stall.Listen(t)}
	s.cloud = fake.New(fake.Options{BootTime: 10 * time.Millisecond})
	t.Cleanup(func() { s.cloud.Close() })
	hk, err := scripting.NewHostKeys(&scripting.HostKeysOptions{
		Source: oneHostKey(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshd.HostKeys[0])))),
	})
	if err != nil {
		t.Fatal(err)
	}
	lib := scripting.NewLibrary(nil)
	if _, err := lib.Save(scripting.Script{Name: "promote", Body: "echo promoted"}); err != nil {
		t.Fatal(err)
	}
	upd, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: s.dnsStall.Addr(), Zone: "farm.test",
		Timeout: 300 * time.Millisecond, Attempts: 2, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "shop", Roles: []RoleSpec{{Name: "db", Image: "img", Min: 3, Max: 3,
		Database: &DatabaseSpec{PromoteScript: "promote", PromoteTimeout: promoteTimeout},
		DNS:      []DNSName{{Name: "db.farm.test", Select: DNSSelectMaster}},
	}}}
	// sshdCloud: every server has an sshd, reached by the dialler below.
	s.f, err = New(spec, sshdCloud{s.cloud}, &Options{
		StepTimeout: 2 * time.Second,
		DNS:         upd,
		DNSVerify:   &DNSVerify{Servers: []string{s.dnsStall.Addr()}, Timeout: 3 * time.Second},
		Scripting: &ScriptingOptions{Library: lib, User: sshd.User, SSH: scripting.ExecutorOptions{
			Signers: []ssh.Signer{sshd.ClientSigner}, HostKeys: hk, DialTimeout: 3 * time.Second,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				addr := sshd.Addr
				if n := s.stallDials.Load(); n < 0 || n > 0 && s.stallDials.CompareAndSwap(n, n-1) {
					addr = s.sshStall.Addr()
				}
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.f.Close() })
	return s
}

// waitFor reconciles until cond holds, or fails the test after two minutes.
func (s *stalledDB) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after two minutes: %+v", what, s.f.Servers(""))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_ = s.f.Reconcile(ctx)
		cancel()
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *stalledDB) master() (Server, bool) {
	for _, srv := range s.f.Servers("db") {
		if srv.Master && srv.State == StateRunning {
			return srv, true
		}
	}
	return Server{}, false
}

// failMaster launches the farm, waits for its first master and makes the
// cloud lose it.
func (s *stalledDB) failMaster(t *testing.T) Server {
	t.Helper()
	if err := s.f.Launch(t.Context()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	defer func() { t.Logf("first master after %s", time.Since(start).Round(time.Millisecond)) }()
	var old Server
	s.waitFor(t, "first master", func() bool {
		var ok bool
		old, ok = s.master()
		return ok && s.f.Status().Ready()
	})
	if err := s.cloud.Crash(old.ID); err != nil {
		t.Fatal(err)
	}
	return old
}

func TestNoFailoverStepHangs(t *testing.T) {
	sshd := sshdtest.Start(t, nil)

	t.Run("a failover passes a stalled SSH server and a stalled DNS server within their deadlines", func(t *testing.T) {
		s := newStalledDB(t, sshd, 5*time.Second)
		old := s.failMaster(t)
		s.stallDials.Store(1) // the first candidate's SSH port never speaks
		s.waitFor(t, "failover", func() bool { return len(s.f.Failovers()) > 0 })
		fo := s.f.Failovers()[0]
		if fo.OldMaster != old.ID || fo.NewMaster == "" {
			t.Fatalf("failover %+v, want %s replaced", fo, old.ID)
		}
		if len(fo.Skipped) != 1 || !strings.Contains(fo.Skipped[0], "SSH handshake") {
			t.Fatalf("skipped %q; want the candidate whose SSH port stalled, with its deadline", fo.Skipped)
		}
		if s.sshStall.Accepted() == 0 {
			t.Fatal("the stalled SSH port was never dialled")
		}
		if !strings.Contains(fo.Err, s.dnsStall.Addr()) || !fo.DNSSet.IsZero() {
			t.Fatalf("failover error %q; want the DNS move's, naming the stalled server %s", fo.Err, s.dnsStall.Addr())
		}
		t.Logf("skipped: %s; dns: %s", fo.Skipped[0], fo.Err)
	})

	t.Run("Close returns while a failover waits on a stalled SSH server", func(t *testing.T) {
		s := newStalledDB(t, sshd, 10*time.Minute)
		s.failMaster(t)
		s.stallDials.Store(-1)
		s.waitFor(t, "promotion under way", func() bool { return s.sshStall.Accepted() > 0 })
		start := time.Now()
		returnsWithin(t, "Close", 20*time.Second, s.f.Close)
		t.Logf("Close took %s", time.Since(start).Round(time.Millisecond))
		if _, ok := s.master(); ok {
			t.Fatal("a master was set although every promotion stalled")
		}
	})
}

func TestASyncWaitingBehindAStalledDNSWriteGivesUp(t *testing.T) {
	noLeaks(t)
	dnsStall := stall.Listen(t)
	upd, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: dnsStall.Addr(), Zone: "farm.test",
		Timeout: time.Minute, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	f, err := New(Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 1,
		DNS: []DNSName{{Name: "www.farm.test", Select: DNSSelectAll}}}}}, cloud, &Options{DNS: upd})
	if err != nil {
		t.Fatal(err)
	}
	first, stopFirst := context.WithCancel(t.Context())
	firstDone := make(chan error, 1)
	go func() { firstDone <- f.SyncDNS(first) }() // holds the sync, stalled on the server
	deadline := time.Now().Add(30 * time.Second)
	for dnsStall.Accepted() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = returnsWithin(t, "SyncDNS", 30*time.Second, func() error { return f.SyncDNS(ctx) })
	if err == nil || !strings.Contains(err.Error(), "waiting for the sync in progress") {
		t.Fatalf("SyncDNS behind a stalled sync: %v; want it to give up waiting", err)
	}
	stopFirst()
	if err := returnsWithin(t, "the stalled SyncDNS", 30*time.Second, func() error { return <-firstDone }); err == nil {
		t.Fatal("the stalled sync reported no error")
	}
	returnsWithin(t, "Close", 10*time.Second, f.Close)
}

func TestAnEvaluationWaitingBehindAStalledSourceGivesUp(t *testing.T) {
	noLeaks(t)
	src := &scaling.URL{URL: stall.HTTP(t) + "/health", Timeout: time.Minute}
	pol := &ScalingSpec{EvaluationInterval: time.Second, CooldownUp: -1, CooldownDown: -1,
		Thresholds: []ThresholdSpec{{Metric: scaling.MetricURLResponse, UpAbove: ptr(2.0), UpBy: "1", DownBelow: ptr(0.1), DownBy: "1"}}}
	cloud := fake.New(fake.Options{})
	defer cloud.Close()
	f, err := New(Spec{Name: "shop", Roles: []RoleSpec{{Name: "app", Image: "img", Min: 1, Max: 3, Scaling: pol}}}, cloud,
		&Options{MetricSources: map[string][]scaling.Source{"app": {src}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Launch(t.Context()); err != nil {
		t.Fatal(err)
	}
	first, stopFirst := context.WithCancel(t.Context())
	firstDone := make(chan error, 1)
	go func() { firstDone <- f.EvaluateScaling(first) }() // holds the evaluation, its source stalled
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = returnsWithin(t, "EvaluateScaling", 30*time.Second, func() error { return f.EvaluateScaling(ctx) })
	if err == nil || !strings.Contains(err.Error(), "waiting for the evaluation in progress") {
		t.Fatalf("EvaluateScaling behind a stalled one: %v; want it to give up waiting", err)
	}
	stopFirst()
	returnsWithin(t, "the stalled EvaluateScaling", 30*time.Second, func() error { return <-firstDone })
	returnsWithin(t, "Close", 10*time.Second, f.Close)
}
