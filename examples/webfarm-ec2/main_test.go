package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/examples/internal/webfarm/webfarmtest"
)

func TestMain(m *testing.M) { webfarmtest.RunMain(m, main) }

func TestTheWebFarm(t *testing.T) {
	webfarmtest.Test(t, webfarmtest.Example{
		Program:  program,
		CleanEnv: noAWS,
		IPPrefix: "127.1.",
		Output:   []string{"ELB webfarm-www: 2 instances registered", "RunInstances "},
		Scripts:  3, // one db, two app64
	})
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
		{"a kind of DNS EC2 does not offer", []string{"-dns", "dyndns:x"},
			[]string{`-dns "dyndns:x": want route53:HOSTED_ZONE_ID or rfc2136:HOST:PORT`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := webfarmtest.Run(t, program(), tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing (the message goes to stderr)", out)
			}
			for _, want := range append(tt.missing, "webfarm-ec2 runs a farm on Amazon EC2 and cannot start",
				"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "ec2:RunInstances",
				`go doc github.com/farmhand/farmhand/provider/ec2 ("IAM permissions")`, "-ssh-key",
				"go run ./examples/webfarm-ec2 -test-servers") {
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
	var out strings.Builder
	s, missing, err := program().Prepare(context.Background(),
		[]string{"-image", "ami-0123456789abcdef0", "-elb", "www", "-ssh-user", "ubuntu"}, &out, io.Discard)
	if err != nil || len(missing) > 0 {
		t.Fatalf("Prepare: %v, missing %q", err, missing)
	}
	defer s.Close()
	if got := s.Spec.Variables["install_cmd"]; !strings.Contains(got, "apt-get -y install") || strings.HasPrefix(got, "echo") {
		t.Errorf("install_cmd %q, want the real apt-get", got)
	}
	app, _ := s.Spec.Role("app64")
	if len(app.Scripts) == 0 || app.Scripts[0].RunAs != "root" || app.LoadBalancer != "www" {
		t.Errorf("app64: scripts %+v, load balancer %q; want scripts run as root through sudo, and the ELB www", app.Scripts, app.LoadBalancer)
	}
	_, inMemory := s.Options.DNS.(*dnsupdate.Memory)
	if s.Spec.Location != "eu-west-1" || !inMemory || !s.Options.Scripting.UsePublicIP {
		t.Errorf("location %q, memory DNS %v, public IP %v; want eu-west-1, names in memory, logins over public IPs",
			s.Spec.Location, inMemory, s.Options.Scripting.UsePublicIP)
	}
	if !strings.Contains(out.String(), "AWS region eu-west-1; SSH key made for this run") {
		t.Errorf("output %q, want the region and the key", out.String())
	}
	if strings.Contains(out.String(), "secret/never/printed") {
		t.Errorf("the output shows the secret key:\n%s", out.String())
	}
}
