package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/internal/sshdtest"
)

// TestMain runs the program's main when the test binary is started as the
// program (see TestTheProgramExitsTwoWithoutAStackTrace), so that a test
// sees its real exit status.
func TestMain(m *testing.M) {
	if os.Getenv("RACKSPACE_EXAMPLE_RUN_MAIN") == "1" {
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
		`launching farm "webfarm" in DFW`,
		`BeforeHostUp script "mysql-install" v1 on db/`,
		"| would run: apt-get -y install mysql-server",
		"| I am a db at 127.2.",
		`HostUp script "haproxy-install" v1 on lb/`,
		"| would run: apt-get -y install haproxy",
		"|     server-template app 6 int-app64.farm.test:80 check resolvers farm init-addr none",
		"| I am a lb: HAProxy balances int-app64.farm.test on port 80",
		`HostUp script "apache-install" v1 on app64/`,
		"| would run: apt-get -y install apache2",
		"DNS db.farm.test. A → 127.2.",
		"DNS www.farm.test. A → 127.2.",
		"over SSH: /proc/loadavg ",
		"scaling app64 on load1: ",
		"event FarmTerminated",
		"DNS names left in memory: 0",
		"POST /v2.0/tokens 1",
		"POST /os-keypairs ", // once per concurrent first launch: a 409 says it exists
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(out, "| I am a app64, and I have apache installed now\n"); n != 2 {
		t.Errorf("the apache script reported from %d app servers, want 2", n)
	}
	if n := strings.Count(out, ": exit 0 in "); n != 4 {
		t.Errorf("%d scripts exited 0, want 4 (db, lb, two app64)", n)
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
		"DNS db.farm.test. A → 127.2.",
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

// noOpenStack empties the environment of OpenStack and Rackspace settings.
func noOpenStack(t *testing.T) []string {
	t.Helper()
	var list []string
	for _, name := range []string{"OS_AUTH_URL", "OS_USERNAME", "RAX_USERNAME", "OS_USER_ID", "OS_PASSWORD", "OS_API_KEY",
		"RAX_API_KEY", "OS_PROJECT_ID", "OS_TENANT_ID", "OS_PROJECT_NAME", "OS_TENANT_NAME", "OS_USER_DOMAIN_NAME",
		"OS_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME",
		"OS_APPLICATION_CREDENTIAL_SECRET", "OS_TOKEN", "OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_REGION_NAME",
		"RAX_REGION", "OS_INTERFACE"} {
		t.Setenv(name, "")
		list = append(list, name+"=")
	}
	return list
}

func TestWithoutCredentialsItSaysWhatItNeedsAndExitsTwo(t *testing.T) {
	noOpenStack(t)
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		missing []string
	}{
		{"nothing given", nil, nil, []string{"no credentials", "no machine image"}},
		{"an image but no credentials", nil, []string{"-image", "img"}, []string{"no credentials"}},
		{"an API key without a user name", map[string]string{"OS_API_KEY": "k3y-never-printed-42"}, []string{"-image", "img"},
			[]string{"Username is empty; API-key authentication needs it"}},
		{"an rfc2136 server without a key", nil, []string{"-dns", "rfc2136:127.0.0.1:53"}, []string{"needs -tsig-key FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runExample(t, tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing (the message goes to stderr)", out)
			}
			for _, want := range append(tt.missing, "OS_USERNAME", "OS_API_KEY", "OS_REGION_NAME", "OS_CLOUD",
				"clouds.yaml", "OS_AUTH_URL", "HAProxy", "-test-servers") {
				if !strings.Contains(errOut, want) {
					t.Errorf("message lacks %q:\n%s", want, errOut)
				}
			}
			if strings.Contains(errOut, "k3y-never-printed-42") {
				t.Errorf("the message shows the API key:\n%s", errOut)
			}
		})
	}
}

// TestCloudModeLogsInWithTheEnvironmentsCredentials points the environment
// at the test cloud and builds the real run's session: the credentials are
// found, the login works, and the farm installs for real.
func TestCloudModeLogsInWithTheEnvironmentsCredentials(t *testing.T) {
	noOpenStack(t)
	cloud := novatest.New(t, &novatest.Options{Regions: []string{"ORD"}, NoAvailabilityZones: true})
	t.Setenv("OS_AUTH_URL", cloud.IdentityV2URL())
	t.Setenv("OS_USERNAME", novatest.DefaultUsername)
	t.Setenv("OS_API_KEY", novatest.DefaultAPIKey)
	c, err := parseFlags([]string{"-image", "img", "-ssh-user", "ubuntu"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	s, missing, err := cloudSession(context.Background(), c, &out, io.Discard)
	if err != nil || len(missing) > 0 {
		t.Fatalf("cloudSession: %v, missing %q", err, missing)
	}
	if got := s.spec.Variables["install_cmd"]; !strings.Contains(got, "apt-get -y install") || strings.HasPrefix(got, "echo") {
		t.Errorf("install_cmd %q, want the real apt-get", got)
	}
	app, _ := s.spec.Role("app64")
	if len(app.Scripts) == 0 || app.Scripts[0].RunAs != "root" {
		t.Errorf("app64 scripts %+v, want them run as root through sudo for user ubuntu", app.Scripts)
	}
	if s.spec.Location != "ORD" || !strings.Contains(out.String(), "region ORD") {
		t.Errorf("location %q, output %q; want the account's region ORD", s.spec.Location, out.String())
	}
	if n := cloud.Calls("POST /v2.0/tokens"); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	if n := cloud.Calls("POST /servers"); n != 0 {
		t.Errorf("building the session created %d servers, want none", n)
	}
}

// TestTheProgramExitsTwoWithoutAStackTrace runs main itself, in a child
// process, to see the exit status the shell sees.
func TestTheProgramExitsTwoWithoutAStackTrace(t *testing.T) {
	env := noOpenStack(t)
	cmd := exec.Command(os.Args[0]) // no arguments: main parses them
	cmd.Env = append(os.Environ(), append(env, "RACKSPACE_EXAMPLE_RUN_MAIN=1")...)
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
