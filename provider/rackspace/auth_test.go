package rackspace_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/rackspace"
)

// listWorks fails the test unless the provider can list servers.
func listWorks(t *testing.T, p *rackspace.Provider) {
	t.Helper()
	if _, err := p.List(context.Background(), provider.ListOptions{}); err != nil {
		t.Fatalf("List after authenticating: %v", err)
	}
}

func TestEveryWayToAuthenticateReachesCompute(t *testing.T) {
	for _, c := range []struct {
		name     string
		options  func(srv *novatest.Server) rackspace.Options
		route    string
		wantName string
	}{
		{"Rackspace API key over Keystone v2.0", apiKeyOptions, "POST /v2.0/tokens", "rackspace"},
		{"password over Keystone v2.0", func(srv *novatest.Server) rackspace.Options {
			o := srv.Options()
			return rackspace.Options{IdentityEndpoint: srv.IdentityV2URL(), Username: o.Username, Password: o.Password, ProjectID: o.ProjectID}
		}, "POST /v2.0/tokens", "openstack"},
		{"password over Keystone v3 with the project by name", passwordOptions, "POST /v3/auth/tokens", "openstack"},
		{"password over Keystone v3 with the project by ID", func(srv *novatest.Server) rackspace.Options {
			o := srv.Options()
			return rackspace.Options{IdentityEndpoint: srv.IdentityV3URL(), Username: o.Username, Password: o.Password, ProjectID: o.ProjectID}
		}, "POST /v3/auth/tokens", "openstack"},
		{"application credential over Keystone v3", func(srv *novatest.Server) rackspace.Options {
			o := srv.Options()
			return rackspace.Options{IdentityEndpoint: srv.IdentityV3URL(),
				ApplicationCredentialID: o.AppCredentialID, ApplicationCredentialSecret: o.AppCredentialSecret}
		}, "POST /v3/auth/tokens", "openstack"},
		{"versionless identity endpoint discovers v3", func(srv *novatest.Server) rackspace.Options {
			o := passwordOptions(srv)
			o.IdentityEndpoint = srv.URL + "/"
			return o
		}, "POST /v3/auth/tokens", "openstack"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newCloud(t, nil)
			p := newProvider(t, c.options(srv))
			listWorks(t, p)
			if n := srv.Calls(c.route); n != 1 {
				t.Errorf("%s called %d times, want 1", c.route, n)
			}
			if p.Name() != c.wantName {
				t.Errorf("Name() = %q, want %q", p.Name(), c.wantName)
			}
		})
	}
}

func TestAnExistingKeystoneTokenIsValidatedAndUsed(t *testing.T) {
	srv := newCloud(t, nil)
	token := tokenOf(t, newProvider(t, passwordOptions(srv)))
	p := newProvider(t, rackspace.Options{IdentityEndpoint: srv.IdentityV3URL(), TokenID: token})
	listWorks(t, p)
	if n := srv.Calls("GET /v3/auth/tokens"); n != 1 {
		t.Fatalf("token validation (GET /v3/auth/tokens) called %d times, want 1", n)
	}
}

func TestRackspaceUsesTheDefaultRegionUnlessOneIsNamed(t *testing.T) {
	for _, c := range []struct {
		name, region, want string
	}{
		{"no region means the user's RAX-AUTH:defaultRegion", "", "DFW"},
		{"a named region wins", "ORD", "ORD"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newCloud(t, &novatest.Options{Regions: []string{"DFW", "ORD"}})
			o := apiKeyOptions(srv)
			o.Region = c.region
			p := newProvider(t, o)
			listWorks(t, p)
			if p.Region() != c.want {
				t.Errorf("Region() = %q, want %q", p.Region(), c.want)
			}
			other := map[string]string{"DFW": "ORD", "ORD": "DFW"}[c.want]
			if srv.RegionCalls(c.want) == 0 || srv.RegionCalls(other) != 0 {
				t.Errorf("calls went to %s %d times and to %s %d times, want only %s",
					c.want, srv.RegionCalls(c.want), other, srv.RegionCalls(other), c.want)
			}
		})
	}
}

func TestAnExpiredTokenIsRenewedOnce(t *testing.T) {
	for _, c := range []struct {
		name    string
		options func(*novatest.Server) rackspace.Options
		route   string
	}{
		{"Rackspace API key", apiKeyOptions, "POST /v2.0/tokens"},
		{"Keystone v3 password", passwordOptions, "POST /v3/auth/tokens"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newCloud(t, nil)
			p := newProvider(t, c.options(srv))
			listWorks(t, p)
			srv.ExpireTokens()
			listWorks(t, p)
			if n := srv.Calls(c.route); n != 2 {
				t.Fatalf("%s called %d times, want 2 (login, then once after the 401)", c.route, n)
			}
			if n := srv.Calls("GET /servers/detail"); n != 3 {
				t.Fatalf("GET /servers/detail called %d times, want 3 (ok, 401, retried)", n)
			}
		})
	}
}

func TestCloudsYAMLEntriesAuthenticate(t *testing.T) {
	srv := newCloud(t, &novatest.Options{Regions: []string{"DFW", "ORD"}})
	o := srv.Options()
	dir := t.TempDir()
	file := filepath.Join(dir, "clouds.yaml")
	yaml := fmt.Sprintf(`clouds:
  farm-password:
    auth:
      auth_url: %[1]s
      username: %[2]s
      password: %[3]s
      project_name: %[4]s
      user_domain_name: %[5]s
      project_domain_name: %[5]s
    region_name: ORD
    interface: public
    identity_api_version: 3
  farm-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: %[1]s
      application_credential_id: %[6]s
      application_credential_secret: %[7]s
    region_name: DFW
`, srv.IdentityV3URL(), o.Username, o.Password, o.ProjectName, o.Domain, o.AppCredentialID, o.AppCredentialSecret)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// The environment must not steer the parser.
	for _, v := range []string{"OS_CLOUD", "OS_REGION_NAME", "OS_INTERFACE", "OS_CLIENT_CONFIG_FILE"} {
		t.Setenv(v, "")
	}
	for _, c := range []struct {
		cloud, region string
	}{
		{"farm-password", "ORD"},
		{"farm-appcred", "DFW"},
	} {
		t.Run(c.cloud, func(t *testing.T) {
			p := newProvider(t, rackspace.Options{Cloud: c.cloud, CloudsFile: file})
			listWorks(t, p)
			if p.Region() != c.region {
				t.Fatalf("Region() = %q, want %q from clouds.yaml", p.Region(), c.region)
			}
		})
	}
	t.Run("an unknown entry is an invalid argument naming it", func(t *testing.T) {
		_, err := rackspace.New(context.Background(), rackspace.Options{Cloud: "nope", CloudsFile: file})
		if err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("New with an unknown cloud: %v", err)
		}
	})
}

func TestBadOptionsFailBeforeAnyCall(t *testing.T) {
	srv := newCloud(t, nil)
	for _, c := range []struct {
		name string
		opts rackspace.Options
		want string
	}{
		{"no credentials at all", rackspace.Options{Username: "u"}, "no credentials"},
		{"an API key and a password", rackspace.Options{Username: "u", APIKey: "k", Password: "p", IdentityEndpoint: srv.IdentityV3URL()}, "APIKey and Password"},
		{"an API key without a username", rackspace.Options{APIKey: "k"}, "Username is empty"},
		{"a password without an identity endpoint", rackspace.Options{Username: "u", Password: "p"}, "IdentityEndpoint is empty"},
		{"an unknown key method", rackspace.Options{Username: "u", APIKey: "k", SSHKeyMethod: "telepathy"}, `SSHKeyMethod "telepathy"`},
		{"an unknown interface", rackspace.Options{Username: "u", APIKey: "k", Interface: "servicenet"}, `Interface "servicenet"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rackspace.New(context.Background(), c.opts)
			if !errors.Is(err, provider.InvalidArgument) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want InvalidArgument mentioning %q", err, c.want)
			}
		})
	}
	if n := len(srv.AllCalls()); n != 0 {
		t.Fatalf("bad options made %d kinds of calls, want none", n)
	}
}

func TestRejectedCredentialsArePermissionDenied(t *testing.T) {
	srv := newCloud(t, nil)
	o := srv.Options()
	for _, c := range []struct {
		name   string
		opts   rackspace.Options
		secret string
	}{
		{"wrong API key", rackspace.Options{IdentityEndpoint: srv.IdentityV2URL(), Username: o.Username, APIKey: "wrong-api-key-1234"}, "wrong-api-key-1234"},
		{"wrong password", rackspace.Options{IdentityEndpoint: srv.IdentityV3URL(), Username: o.Username, Password: "wrong-password-5678", ProjectName: o.ProjectName}, "wrong-password-5678"},
		{"wrong application credential secret", rackspace.Options{IdentityEndpoint: srv.IdentityV3URL(), ApplicationCredentialID: o.AppCredentialID, ApplicationCredentialSecret: "wrong-secret-9abc"}, "wrong-secret-9abc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := rackspace.New(context.Background(), c.opts)
			if !errors.Is(err, provider.PermissionDenied) {
				t.Fatalf("New: %v, want PermissionDenied", err)
			}
			if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), c.secret) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestOptionsFromEnvReadsTheClientVariables(t *testing.T) {
	for _, v := range []string{"OS_AUTH_URL", "OS_USERNAME", "OS_USER_ID", "OS_PASSWORD", "OS_API_KEY", "RAX_API_KEY",
		"RAX_USERNAME", "OS_PROJECT_ID", "OS_TENANT_ID", "OS_PROJECT_NAME", "OS_TENANT_NAME", "OS_USER_DOMAIN_NAME",
		"OS_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME",
		"OS_APPLICATION_CREDENTIAL_SECRET", "OS_TOKEN", "OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_REGION_NAME",
		"RAX_REGION", "OS_INTERFACE"} {
		t.Setenv(v, "")
	}
	t.Run("Rackspace", func(t *testing.T) {
		t.Setenv("OS_USERNAME", "farmer")
		t.Setenv("OS_API_KEY", "k3y")
		t.Setenv("OS_PASSWORD", "ignored-when-an-api-key-is-set")
		t.Setenv("RAX_REGION", "LON")
		o := rackspace.OptionsFromEnv()
		if o.Username != "farmer" || o.APIKey != "k3y" || o.Password != "" || o.Region != "LON" {
			t.Fatalf("OptionsFromEnv = %v", o)
		}
	})
	t.Run("Keystone", func(t *testing.T) {
		t.Setenv("OS_AUTH_URL", "https://keystone.example.com:5000/v3")
		t.Setenv("OS_USERNAME", "farmer")
		t.Setenv("OS_PASSWORD", "pw")
		t.Setenv("OS_PROJECT_NAME", "farm")
		t.Setenv("OS_USER_DOMAIN_NAME", "Default")
		t.Setenv("OS_REGION_NAME", "RegionOne")
		o := rackspace.OptionsFromEnv()
		if o.IdentityEndpoint != "https://keystone.example.com:5000/v3" || o.Password != "pw" ||
			o.ProjectName != "farm" || o.UserDomainName != "Default" || o.Region != "RegionOne" {
			t.Fatalf("OptionsFromEnv = %v", o)
		}
	})
	t.Run("clouds.yaml wins", func(t *testing.T) {
		t.Setenv("OS_CLOUD", "mycloud")
		t.Setenv("OS_PASSWORD", "pw")
		o := rackspace.OptionsFromEnv()
		if o.Cloud != "mycloud" || o.Password != "" {
			t.Fatalf("OptionsFromEnv = %v", o)
		}
	})
}
