package main

import (
	"context"
	"time"

	"github.com/farmhand/farmhand/examples/internal/webfarm"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/internal/novatest"
	"github.com/farmhand/farmhand/provider/rackspace"
	"github.com/farmhand/farmhand/scripting"
)

// The test cloud's image and flavor IDs.
const (
	testImage  = "debian-12-bookworm"
	testFlavor = "general1-1"
	testRegion = "DFW"
)

// TestServers starts novatest, a Keystone + Nova server in this process
// shaped like Rackspace (API-key login, no availability zones) whose
// servers get 127.2.x.y addresses and print the test sshd's host key on
// their consoles, and sets the farm up on it, with HAProxy's configuration
// printed instead of written.
func (c *rackspaceCloud) TestServers(ctx context.Context, s *webfarm.Session) error {
	cloud := novatest.Start(&novatest.Options{
		Regions: []string{testRegion}, NoAvailabilityZones: true, LoopbackIPs: true,
		Images: []string{testImage}, Flavors: []string{testFlavor}, HostKey: s.HostKey,
	})
	s.Cleanup(cloud.Close)
	s.Out.Printf("test cloud: Keystone v2.0 at %s, Nova at %s\n", cloud.IdentityV2URL(), cloud.ComputeURL(testRegion))

	// Nothing moves by itself at novatest: time passing is a Settle.
	s.Every(100*time.Millisecond, cloud.Settle)

	// Rackspace's API-key login, against the test cloud's identity.
	p, err := rackspace.New(ctx, rackspace.Options{
		IdentityEndpoint: cloud.IdentityV2URL(),
		Username:         novatest.DefaultUsername,
		APIKey:           novatest.DefaultAPIKey,
		Logger:           s.Logger,
	})
	if err != nil {
		return err
	}
	s.Provider = p
	s.Farm.Location, s.Farm.Image, s.Farm.InstanceType = p.Region(), testImage, testFlavor
	s.Spec = webFarm(s.Farm, haproxy{
		config:  "/dev/stdout",
		reload:  "echo would run: systemctl reload haproxy",
		address: farm.DNSPrivate,
	})
	s.Scripts = []scripting.Script{haproxyInstall}
	s.Crash = func(id string) {
		// Deleted behind the farm's back, as from the control panel.
		if err := p.Terminate(context.WithoutCancel(ctx), id); err != nil {
			s.Out.Printf("crash: %v\n", err)
		}
	}
	s.Done = func(t *webfarm.Timeline) { t.PrintCounts("API calls", cloud.AllCalls()) }
	return nil
}
