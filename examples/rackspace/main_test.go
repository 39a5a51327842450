package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/examples/internal/webfarm/webfarmtest"
	"github.com/farmhand/farmhand/internal/novatest"
)

func TestMain(m *testing.M) { webfarmtest.RunMain(m, main) }

func TestTheWebFarm(t *testing.T) {
	webfarmtest.Test(t, webfarmtest.Example{
		Program:  program,
		CleanEnv: noOpenStack,
		IPPrefix: "127.2.",
		Output: []string{
			`launching farm "webfarm" in DFW`,
			`HostUp script "haproxy-install" v1 on lb/`,
			"| would run: apt-get -y install haproxy",
			"|     server-template app 6 int-app64.farm.test:80 check resolvers farm init-addr none",
			"| I am a lb: HAProxy balances int-app64.farm.test on port 80",
			"DNS www.farm.test. A → 127.2.",
			"POST /v2.0/tokens 1",
			"POST /os-keypairs ", // once per concurrent first launch: a 409 says it exists
		},
		Scripts: 4, // db, lb, two app64
	})
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
		{"a kind of DNS Rackspace does not offer", nil, []string{"-dns", "route53:Z1"}, []string{`-dns "route53:Z1": want rfc2136:HOST:PORT`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errOut := webfarmtest.Run(t, program(), tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing (the message goes to stderr)", out)
			}
			for _, want := range append(tt.missing, "rackspace runs a farm on Rackspace or OpenStack and cannot start",
				"OS_USERNAME", "OS_API_KEY", "OS_REGION_NAME", "OS_CLOUD", "clouds.yaml", "OS_AUTH_URL", "HAProxy",
				"go run ./examples/rackspace -test-servers") {
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
	var out strings.Builder
	s, missing, err := program().Prepare(context.Background(), []string{"-image", "img", "-ssh-user", "ubuntu"}, &out, io.Discard)
	if err != nil || len(missing) > 0 {
		t.Fatalf("Prepare: %v, missing %q", err, missing)
	}
	defer s.Close()
	if got := s.Spec.Variables["install_cmd"]; !strings.Contains(got, "apt-get -y install") || strings.HasPrefix(got, "echo") {
		t.Errorf("install_cmd %q, want the real apt-get", got)
	}
	if got := s.Spec.Variables["haproxy_cfg"]; got != "/etc/haproxy/haproxy.cfg" {
		t.Errorf("haproxy_cfg %q, want HAProxy's own file", got)
	}
	app, _ := s.Spec.Role("app64")
	if len(app.Scripts) == 0 || app.Scripts[0].RunAs != "root" {
		t.Errorf("app64 scripts %+v, want them run as root through sudo for user ubuntu", app.Scripts)
	}
	if lb, ok := s.Spec.Role("lb"); !ok || len(lb.Scripts) == 0 || lb.DNS[0].Address != "public" {
		t.Errorf("lb role %+v, want HAProxy installed and www's name on the public address", lb)
	}
	if s.Spec.Location != "ORD" || !strings.Contains(out.String(), "region ORD") {
		t.Errorf("location %q, output %q; want the account's region ORD", s.Spec.Location, out.String())
	}
	if n := cloud.Calls("POST /v2.0/tokens"); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}
	if n := cloud.Calls("POST /servers"); n != 0 {
		t.Errorf("building the session created %d servers, want none", n)
	}
}
