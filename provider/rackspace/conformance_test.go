package rackspace_test

import (
	"context"
	"testing"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/providertest"
	"github.com/farmhand/farmhand/provider/rackspace"
)

const (
	testImage  = "6b2a3f0c-debian-12"
	testFlavor = "general1-1"
	unknownID  = "00000000-0000-4000-8000-00000000dead"
)

// newCloud starts a test cloud with the image and flavor the tests use.
func newCloud(t *testing.T, opts *novatest.Options) *novatest.Server {
	t.Helper()
	var o novatest.Options
	if opts != nil {
		o = *opts
	}
	o.Images = append(o.Images, testImage)
	o.Flavors = append(o.Flavors, testFlavor)
	return novatest.New(t, &o)
}

// apiKeyOptions authenticates as Rackspace does: Keystone v2.0 with
// RAX-KSKEY:apiKeyCredentials.
func apiKeyOptions(srv *novatest.Server) rackspace.Options {
	o := srv.Options()
	return rackspace.Options{IdentityEndpoint: srv.IdentityV2URL(), Username: o.Username, APIKey: o.APIKey}
}

// passwordOptions authenticates with Keystone v3, user and project by name.
func passwordOptions(srv *novatest.Server) rackspace.Options {
	o := srv.Options()
	return rackspace.Options{
		IdentityEndpoint: srv.IdentityV3URL(),
		Username:         o.Username, Password: o.Password, UserDomainName: o.Domain,
		ProjectName: o.ProjectName, ProjectDomainName: o.Domain,
	}
}

func newProvider(t *testing.T, opts rackspace.Options) *rackspace.Provider {
	t.Helper()
	p, err := rackspace.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("rackspace.New: %v", err)
	}
	return p
}

// tokenOf returns the token the provider's compute client sends.
func tokenOf(t *testing.T, p *rackspace.Provider) string {
	t.Helper()
	var c *gophercloud.ServiceClient
	if !p.As(&c) || c == nil {
		t.Fatal("As(**gophercloud.ServiceClient) handed out nothing")
	}
	return c.Token()
}

func harness(options func(*novatest.Server) rackspace.Options) providertest.Harness {
	return providertest.Harness{
		New: func(t *testing.T) (provider.Provider, func()) {
			srv := newCloud(t, &novatest.Options{Regions: []string{"DFW", "ORD"}})
			return newProvider(t, options(srv)), srv.Settle
		},
		Image:        testImage,
		InstanceType: testFlavor,
		UnknownID:    unknownID,
	}
}

func TestConformanceWithRackspaceAPIKey(t *testing.T) {
	providertest.RunConformanceTests(t, harness(apiKeyOptions))
}

func TestConformanceWithKeystoneV3Password(t *testing.T) {
	providertest.RunConformanceTests(t, harness(passwordOptions))
}
