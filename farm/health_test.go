package farm

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/provider/fake"
)

func loopbackServer(id string) Server {
	return Server{ID: id, Role: "app", Index: 1, PrivateIP: "127.0.0.1", PublicIP: "127.0.0.1", Zone: "z"}
}

func TestBuiltInChecksAgainstLoopbackServers(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // an sshd look-alike: banner, then close
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "SSH-2.0-OpenSSH_9.2p1\r\n")
			c.Close()
		}
	}()
	srv := loopbackServer("i-1")

	if err := (&TCPCheck{Port: port}).Check(ctx, srv); err != nil {
		t.Fatalf("tcp check of an open port: %v", err)
	}
	srv.SSHAddress = ln.Addr().String()
	if err := (&SSHCheck{}).Check(ctx, srv); err != nil {
		t.Fatalf("ssh check of a banner: %v", err)
	}
	ln.Close()
	wg.Wait()
	if err := (&TCPCheck{Host: "%internal_ip%", Port: port}).Check(ctx, srv); err == nil {
		t.Fatal("tcp check of a closed port passed")
	}
	if err := (&SSHCheck{}).Check(ctx, srv); err == nil {
		t.Fatal("ssh check of a closed port passed")
	}

	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	}))
	defer web.Close()
	base := strings.Replace(web.URL, "127.0.0.1", "%internal_ip%", 1)
	tests := []struct {
		name   string
		url    string
		expect int
		want   string
	}{
		{"a 2xx passes by default", base + "/?code=204", 0, ""},
		{"a 5xx fails by default", base + "/?code=503", 0, "status 503, want 2xx"},
		{"an expected status must match", base + "/?code=200", 201, "status 200, want 201"},
		{"a redirect is a status like the others", base + "/?code=302", 302, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&HTTPCheck{URL: tt.url, ExpectStatus: tt.expect}).Check(ctx, srv)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if err := (&CommandCheck{Command: "true"}).Check(ctx, srv); err == nil {
		t.Fatal("a command check without a runner passed")
	}
}

// sickList is a HealthCheck that fails for the servers it lists.
type sickList struct {
	mu   sync.Mutex
	sick map[string]bool
}

func (s *sickList) set(id string, sick bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sick[id] = sick
}

func (s *sickList) Check(_ context.Context, srv Server) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sick[srv.ID] {
		return fmt.Errorf("%s does not answer", srv.ID)
	}
	return nil
}

func checkedSpec(action HealthAction, check HealthCheck) Spec {
	spec := appSpec(2, 2)
	spec.Roles[0].HealthAction = action
	spec.Roles[0].HealthChecks = []HealthCheckSpec{{Name: "app", Check: check, Interval: 10 * time.Second, FailureThreshold: 3, RecoveryThreshold: 2}}
	return spec
}

// probe runs the health checks n times, one interval apart.
func (r *rig) probe(n int) {
	for range n {
		r.checkHealth()
		r.clk.Advance(10 * time.Second)
	}
}

func TestUnhealthyServersAreReplaced(t *testing.T) {
	checks := &sickList{sick: map[string]bool{}}
	r := upRig(t, checkedSpec(HealthReplace, checks), nil, fake.Options{})
	sick := r.farm.Servers("app")[0]
	checks.set(sick.ID, true)
	r.probe(2)
	if got, _ := r.farm.Server(sick.ID); got.Health.Status != HealthUnknown || got.Health.Checks[0].Failures != 2 {
		t.Fatalf("after 2 failures: %+v", got.Health)
	}
	r.probe(1)
	evs := r.rec.of(CheckFailed)
	if len(evs) != 1 || evs[0].Server.ID != sick.ID || evs[0].Params["check"] != "app" || evs[0].Params["failures"] != "3" {
		t.Fatalf("CheckFailed = %+v", evs)
	}
	r.tick(0) // BeforeHostTerminate, then terminate
	r.tick(0) // the cloud lists it gone
	got, _ := r.farm.Server(sick.ID)
	if got.State != StateTerminated || !strings.HasPrefix(got.Reason, `unhealthy: check "app" failed 3 times`) {
		t.Fatalf("sick server: %s %q", got.State, got.Reason)
	}
	if n := r.rec.count(BeforeHostTerminate); n != 1 {
		t.Fatalf("BeforeHostTerminate fired %d times for the sick server", n)
	}
	r.tick(30 * time.Second)
	if got := r.running("app"); len(got) != 2 {
		t.Fatalf("running = %v after the replacement", got)
	}
}

func TestRebootThenReplace(t *testing.T) {
	checks := &sickList{sick: map[string]bool{}}
	r := upRig(t, checkedSpec(HealthRebootThenReplace, checks), nil, fake.Options{})
	sick := r.farm.Servers("app")[0]
	checks.set(sick.ID, true)
	r.probe(3)
	r.tick(0)
	reboots := func() int {
		n := 0
		for _, c := range r.cloud.Calls() {
			if c.Op == fake.OpReboot && c.Args == sick.ID {
				n++
			}
		}
		return n
	}
	if n := reboots(); n != 1 {
		t.Fatalf("%d reboots of the sick server, want 1", n)
	}
	if got, _ := r.farm.Server(sick.ID); got.State != StateRunning || got.Health.RebootedAt.IsZero() {
		t.Fatalf("after the reboot: %s %+v", got.State, got.Health)
	}
	// It comes back: RebootComplete, then CheckRecovered after 2 passes.
	checks.set(sick.ID, false)
	r.probe(2)
	if r.rec.count(RebootComplete) != 1 || r.rec.count(CheckRecovered) != 1 {
		t.Fatalf("events: %v", r.rec.types())
	}
	if got, _ := r.farm.Server(sick.ID); got.Health.Status != HealthHealthy || got.State != StateRunning {
		t.Fatalf("after recovery: %s %+v", got.State, got.Health)
	}
	// Sick again: rebooted once more (it was healthy in between).
	checks.set(sick.ID, true)
	r.probe(3)
	r.tick(0)
	if n := reboots(); n != 2 {
		t.Fatalf("%d reboots of the sick server, want 2", n)
	}
	// And failing right after that reboot: replaced.
	r.probe(3)
	r.tick(0)
	r.tick(0)
	got, _ := r.farm.Server(sick.ID)
	if got.State != StateTerminated || !strings.Contains(got.Reason, "still fails after a reboot") {
		t.Fatalf("server after failing past a reboot: %s %q\n%v", got.State, got.Reason, r.rec.types())
	}
}

func TestReportOnlyHealthActionKeepsTheServer(t *testing.T) {
	checks := &sickList{sick: map[string]bool{}}
	r := upRig(t, checkedSpec(HealthReport, checks), nil, fake.Options{})
	sick := r.farm.Servers("app")[0]
	checks.set(sick.ID, true)
	r.probe(5)
	r.tick(0)
	if r.rec.count(CheckFailed) != 1 {
		t.Fatalf("CheckFailed fired %d times, want once per episode", r.rec.count(CheckFailed))
	}
	if got, _ := r.farm.Server(sick.ID); got.State != StateRunning || got.Health.Status != HealthUnhealthy {
		t.Fatalf("reported server: %s %s", got.State, got.Health.Status)
	}
	if n := len(liveAtCloud(r.cloud, "app")); n != 2 {
		t.Fatalf("%d live servers; report must not replace", n)
	}
}

func TestHTTPHealthCheckAgainstALoopbackServer(t *testing.T) {
	var mu sync.Mutex
	down := map[string]bool{}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if down[r.URL.Query().Get("id")] {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer web.Close()
	spec := appSpec(2, 2)
	spec.Roles[0].HealthChecks = []HealthCheckSpec{{
		Name: "web", Kind: "http", URL: web.URL + "/health?id=%server_id%&ip=%internal_ip%", ExpectStatus: 200,
		Interval: 10 * time.Second, FailureThreshold: 2,
	}}
	r := upRig(t, spec, nil, fake.Options{})
	sick := r.farm.Servers("app")[1]
	mu.Lock()
	down[sick.ID] = true
	mu.Unlock()
	r.probe(2)
	evs := r.rec.of(CheckFailed)
	if len(evs) != 1 || evs[0].Server.ID != sick.ID || !strings.Contains(evs[0].Params["error"], "status 503, want 200") {
		t.Fatalf("CheckFailed = %+v", evs)
	}
	r.tick(0)
	r.tick(0)
	r.tick(30 * time.Second)
	if got, _ := r.farm.Server(sick.ID); got.State != StateTerminated {
		t.Fatalf("sick server is %s", got.State)
	}
	if got := r.running("app"); len(got) != 2 {
		t.Fatalf("running = %v", got)
	}
}

func TestTCPHealthCheckAgainstALoopbackListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	spec := appSpec(1, 1)
	spec.Roles[0].HealthChecks = []HealthCheckSpec{{Kind: "tcp", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, FailureThreshold: 1}}
	spec.Roles[0].HealthAction = HealthReport
	r := upRig(t, spec, nil, fake.Options{})
	r.checkHealth()
	if s := r.farm.Servers("app")[0]; s.Health.Status != HealthHealthy {
		t.Fatalf("health with the listener open: %+v", s.Health)
	}
	ln.Close()
	wg.Wait()
	r.clk.Advance(DefaultCheckInterval)
	r.checkHealth()
	s := r.farm.Servers("app")[0]
	if s.Health.Status != HealthUnhealthy || !strings.Contains(s.Health.Checks[0].LastError, "connection refused") {
		t.Fatalf("health with the listener closed: %+v", s.Health)
	}
}

func TestACheckThatHangsTimesOut(t *testing.T) {
	hang := HealthCheckFunc(func(ctx context.Context, _ Server) error {
		<-ctx.Done()
		return nil // ignores the context's error: the farm still knows
	})
	spec := appSpec(1, 1)
	spec.Roles[0].HealthChecks = []HealthCheckSpec{{Name: "hang", Check: hang, Timeout: 3 * time.Second, FailureThreshold: 1}}
	spec.Roles[0].HealthAction = HealthReport
	r := upRig(t, spec, nil, fake.Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.farm.CheckHealth(r.ctx)
	}()
	r.clk.BlockUntil(1)
	r.clk.Advance(3 * time.Second)
	<-done
	if s := r.farm.Servers("app")[0]; s.Health.Checks[0].LastError != "check timed out after 3s" {
		t.Fatalf("health: %+v", s.Health)
	}
}
