package main

import (
	"context"

	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/provider/rackspace"
	"github.com/farmhand/farmhand/scripting"
)

// Check finds the credentials in the environment
// (rackspace.OptionsFromEnv) and says what a run lacks: credentials, an
// image.
func (c *rackspaceCloud) Check(ctx context.Context) (missing []string) {
	c.opts = rackspace.OptionsFromEnv()
	if c.region != "" {
		c.opts.Region = c.region
	}
	o := c.opts
	if o.APIKey == "" && o.Password == "" && o.ApplicationCredentialSecret == "" && o.TokenID == "" && o.Cloud == "" {
		missing = append(missing, "no credentials: set OS_USERNAME and OS_API_KEY (Rackspace), or OS_CLOUD, or OS_AUTH_URL and the other OS_* variables (OpenStack)")
	}
	if c.image == "" {
		missing = append(missing, "no machine image: set -image IMAGE_ID (a Debian or Ubuntu image)")
	}
	return missing
}

// Connect logs in, to find the compute endpoint, and sets the farm up on
// Rackspace or OpenStack. Nothing is launched yet. Incomplete credentials
// or a region the catalog lacks are provider.InvalidArgument errors, which
// name the field, never a secret.
func (c *rackspaceCloud) Connect(ctx context.Context, s *webfarm.Session) error {
	c.opts.Logger = s.Logger
	p, err := rackspace.New(ctx, c.opts)
	if err != nil {
		return err
	}
	s.Out.Printf("%s region %s; %s\n", p.Name(), p.Region(), s.KeyNote)
	s.Provider = p
	s.Farm.Location, s.Farm.Image, s.Farm.InstanceType = p.Region(), c.image, c.flavor
	s.Spec = webFarm(s.Farm, haproxy{
		config:  "/etc/haproxy/haproxy.cfg",
		reload:  "systemctl reload haproxy",
		address: farm.DNSPublic,
	})
	s.Scripts = []scripting.Script{haproxyInstall}
	return nil
}
