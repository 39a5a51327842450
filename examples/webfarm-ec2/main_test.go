package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/sshdtest"
)

// TestMain runs the program's main when the test binary is started as the
// program (see runMain), so that a test sees its real exit status.
func TestMain(m *testing.M) {
	if os.Getenv("WEBFARM_EC2_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// needSSHD skips a test when sshd is missing, and fails it in CI.
func needSSHD(t *testing.T) {
	t.Helper()
	if sshdtest.Available() {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (CI=true): install openssh-server", sshdtest.Binary)
	}
	t.Skipf("%s is not installed: install openssh-server to run the example's scripts over SSH", sshdtest.Binary)
}

func runExample(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var out, errOut strings.Builder
	start := time.Now()
	code = run(ctx, args, &out, &errOut)
	t.Logf("run %q: exit %d in %v", args, code, time.Since(start).Round(time.Millisecond))
	return code, out.String(), errOut.String()
}

func TestOnTheTestServersTheScriptsRunOverSSHAndTheFarmIsTerminated(t *testing.T) {
	needSSHD(t)
	defer goleak.VerifyNone(t)
	code, out, errOut := runExample(t, "-test-servers")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"test sshd: OpenSSH on 0.0.0.0:",
		`BeforeHostUp script "mysql-install" v1 on db/`,
		"| would run: apt-get -y install mysql-server",
		"| I am a db at 127.1.",
		`HostUp script "apache-install" v1 on app64/`,
		"| would run: apt-get -y install apache2",
		"DNS db.farm.test. A → 127.1.",
		"ELB webfarm-www: 2 instances registered",
		"over SSH: /proc/loadavg ",
		"scaling app64 on load1: ",
		"event FarmTerminated",
		"DNS names left in memory: 0",
		"RunInstances ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(out, "| I am a app64, and I have apache installed now\n"); n != 2 {
		t.Errorf("the apache script reported from %d app servers, want 2", n)
	}
	if n := strings.Count(out, ": exit 0 in "); n != 3 {
		t.Errorf("%d scripts exited 0, want 3 (one db, two app64)", n)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
}

func TestACrashedDatabaseMasterIsReplacedAndTheAppServersReconnect(t *testing.T) {
	needSSHD(t)
	defer goleak.VerifyNone(t)
	code, out, errOut := runExample(t, "-test-servers", "-crash-db")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	_, after, ok := strings.Cut(out, "crashing the database master db/")
	if !ok {
		t.Fatalf("no crash in the output:\n%s", out)
	}
	for _, want := range []string{
		"event HostDown",
		"event NewDBMaster",
		`BeforeHostUp script "mysql-install" v1 on db/`,
		"failover of role db: ",
		"DNS db.farm.test. A → 127.1.",
	} {
		if !strings.Contains(after, want) {
			t.Errorf("after the crash, the output lacks %q", want)
		}
	}
	if n := strings.Count(after, `NewDBMaster script "db-reconnect" v1 on app64/`); n != 2 {
		t.Errorf("the reconnect script ran on %d app servers, want 2", n)
	}
	// The name moved: it points at the new master, not the old one.
	crashed, _, _ := strings.Cut(after, "\n") // "i-… (127.1.0.2)"
	_, oldIP, _ := strings.Cut(strings.TrimSuffix(crashed, ")"), "(")
	if oldIP == "" || strings.Contains(after, "DNS db.farm.test. A → "+oldIP+" ") {
		t.Errorf("db.farm.test still points at the crashed master %s", oldIP)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
}

func TestWithoutSSHDTheFarmRunsWithoutScripts(t *testing.T) {
	defer goleak.VerifyNone(t)
	code, out, errOut := runExample(t, "-test-servers", "-no-sshd")
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"the farm runs without scripts", "event HostUp", "no verdict", "event FarmTerminated"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, " script ") {
		t.Errorf("a script ran without sshd:\n%s", out)
	}
}

// noAWS empties the environment of AWS settings and keeps the SDK off the
// network (no instance metadata lookups).
func noAWS(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	env := map[string]string{
		"HOME": home, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": home + "/none", "AWS_SHARED_CREDENTIALS_FILE": home + "/none",
	}
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL"} {
		env[name] = ""
	}
	var list []string
	for k, v := range env {
		t.Setenv(k, v)
		list = append(list, k+"="+v)
	}
	return list
}

func TestWithoutCredentialsItSaysWhatItNeedsAndExitsTwo(t *testing.T) {
	noAWS(t)
	tests := []struct {
		name    string
		args    []string
		missing []string
	}{
		{"nothing given", nil, []string{"no AWS region", "no usable AWS credentials", "no machine image"}},
		{"a region and an image but no credentials", []string{"-region", "eu-west-1", "-image", "ami-0123456789abcdef0"},
			[]string{"no usable AWS credentials"}},
		{"an rfc2136 server without a key", []string{"-region", "eu-west-1", "-dns", "rfc2136:127.0.0.1:53"},
			[]string{"needs -tsig-key FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runExample(t, tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing (the message goes to stderr)", out)
			}
			for _, want := range append(tt.missing, "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "ec2:RunInstances",
				`go doc github.com/farmhand/farmhand/provider/ec2 ("IAM permissions")`, "-ssh-key", "-test-servers") {
				if !strings.Contains(errOut, want) {
					t.Errorf("message lacks %q:\n%s", want, errOut)
				}
			}
			if strings.Contains(errOut, "no AWS region") && slices.Contains(tt.args, "-region") {
				t.Errorf("-region given, yet the message says none:\n%s", errOut)
			}
		})
	}
}

// TestAWSModeTakesTheEnvironmentsCredentials builds the real run's session
// from credentials in the environment: nothing is missing, and the farm
// installs for real, through sudo for a user other than root. Building it
// makes no API call.
func TestAWSModeTakesTheEnvironmentsCredentials(t *testing.T) {
	noAWS(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret/never/printed/0123456789abcdefghij")
	c, err := parseFlags([]string{"-image", "ami-0123456789abcdef0", "-elb", "www", "-ssh-user", "ubuntu"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	s, missing, err := awsSession(context.Background(), c, &out, io.Discard)
	if err != nil || len(missing) > 0 {
		t.Fatalf("awsSession: %v, missing %q", err, missing)
	}
	if got := s.spec.Variables["install_cmd"]; !strings.Contains(got, "apt-get -y install") || strings.HasPrefix(got, "echo") {
		t.Errorf("install_cmd %q, want the real apt-get", got)
	}
	app, _ := s.spec.Role("app64")
	if len(app.Scripts) == 0 || app.Scripts[0].RunAs != "root" || app.LoadBalancer != "www" {
		t.Errorf("app64: scripts %+v, load balancer %q; want scripts run as root through sudo, and the ELB www", app.Scripts, app.LoadBalancer)
	}
	if s.spec.Location != "eu-west-1" || s.memoryDNS == nil || !s.opts.Scripting.UsePublicIP {
		t.Errorf("location %q, memory DNS %v, public IP %v; want eu-west-1, names in memory, logins over public IPs",
			s.spec.Location, s.memoryDNS != nil, s.opts.Scripting.UsePublicIP)
	}
	if strings.Contains(out.String(), "secret/never/printed") {
		t.Errorf("the output shows the secret key:\n%s", out.String())
	}
}

// TestTheProgramExitsTwoWithoutAStackTrace runs main itself, in a child
// process, to see the exit status the shell sees.
func TestTheProgramExitsTwoWithoutAStackTrace(t *testing.T) {
	env := noAWS(t)
	cmd := exec.Command(os.Args[0]) // no arguments: main parses them
	cmd.Env = append(os.Environ(), append(env, "WEBFARM_EC2_RUN_MAIN=1")...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v, want status 2\nstderr:\n%s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") || !strings.Contains(s, "cannot start") {
		t.Fatalf("stderr is not the needs message:\n%s", s)
	}
}

// cancelOn is a writer that cancels a context once the output holds a
// string.
type cancelOn struct {
	mu     sync.Mutex
	b      strings.Builder
	s      string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.s) {
		w.cancel()
	}
	return len(p), nil
}

func (w *cancelOn) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestServeRunsUntilInterruptedAndThenTerminatesTheFarm(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	interrupt, stop := context.WithCancel(ctx)
	defer stop()
	out := &cancelOn{s: "serving until interrupted", cancel: stop}
	var errOut strings.Builder
	code := run(interrupt, []string{"-test-servers", "-no-sshd", "-serve"}, out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut.String())
	}
	_, after, ok := strings.Cut(out.String(), "serving until interrupted")
	if !ok || !strings.Contains(after, "interrupted: terminating the farm") || !strings.Contains(after, "event FarmTerminated") {
		t.Fatalf("the farm was not terminated after the interrupt:\n%s", out)
	}
}

func TestBadFlagsExitTwo(t *testing.T) {
	code, _, errOut := runExample(t, "-no-such-flag")
	if code != 2 || !strings.Contains(errOut, "-no-such-flag") {
		t.Fatalf("exit %d, stderr %q; want 2 and the flag named", code, errOut)
	}
}
