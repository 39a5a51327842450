package rackspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"golang.org/x/sync/errgroup"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
)

// Provider is the Rackspace / OpenStack driver. It is safe for concurrent
// use.
type Provider struct {
	name    string
	compute *gophercloud.ServiceClient
	volume  *gophercloud.ServiceClient // nil when the catalog has no Cinder v3/v2

	region          string
	zones           []string // Options.Zones
	keyMethod       string
	publicNet       string
	privateNet      string
	scheduleTimeout time.Duration
	maxRetries      int
	maxRetryWait    time.Duration
	clock           clock.Clock
	log             *slog.Logger

	// nameFilter is whether List and Launch narrow listings with Nova's
	// name filter; it is turned off for good when the cloud's filter proves
	// not to be a regular expression.
	nameFilter atomic.Bool

	mu        sync.Mutex
	keys      map[string]bool // key pairs known to exist, by name
	noAZAPI   bool            // os-availability-zone is missing (Rackspace)
	azChecked bool
}

var (
	_ provider.Provider      = (*Provider)(nil)
	_ provider.HostKeyReader = (*Provider)(nil)
	_ provider.ConsoleReader = (*Provider)(nil)
	_ provider.Snapshotter   = (*Provider)(nil)
	_ provider.Retrier       = (*Provider)(nil)
)

// New authenticates and returns a Provider for the options' region. It
// fails with InvalidArgument for incomplete or contradictory options,
// PermissionDenied for rejected credentials, and InvalidArgument when the
// catalog has no compute endpoint in the region.
func New(ctx context.Context, opts Options) (*Provider, error) {
	mode, err := opts.mode()
	if err != nil {
		return nil, provider.NewError(provider.InvalidArgument, "rackspace.New", err)
	}
	sess, err := authenticate(ctx, &opts, mode)
	if err != nil {
		return nil, err
	}
	compute, err := openstack.NewComputeV2(sess.client, sess.endpoint)
	if err != nil {
		return nil, provider.NewError(provider.InvalidArgument, "rackspace.New",
			fmt.Errorf("no compute endpoint for region %q, interface %q in the service catalog: %w",
				sess.endpoint.Region, sess.endpoint.Availability, err))
	}
	volume, err := openstack.NewBlockStorageV3(sess.client, sess.endpoint)
	if err != nil {
		volume, err = openstack.NewBlockStorageV2(sess.client, sess.endpoint)
	}
	if err != nil {
		volume = nil
	}
	p := &Provider{
		name:            "openstack",
		compute:         compute,
		volume:          volume,
		region:          sess.endpoint.Region,
		zones:           slices.Clone(opts.Zones),
		keyMethod:       opts.SSHKeyMethod,
		publicNet:       opts.PublicNetwork,
		privateNet:      opts.PrivateNetwork,
		scheduleTimeout: opts.ScheduleTimeout,
		maxRetries:      opts.MaxRetries,
		maxRetryWait:    opts.MaxRetryWait,
		clock:           clock.Or(opts.Clock),
		log:             opts.Logger,
		keys:            map[string]bool{},
	}
	if sess.apiKey {
		p.name = "rackspace"
	}
	p.nameFilter.Store(!opts.NoNameFilter)
	if p.keyMethod == "" {
		p.keyMethod = KeyPair
	}
	if p.publicNet == "" {
		p.publicNet = "public"
	}
	if p.privateNet == "" {
		p.privateNet = "private"
	}
	switch {
	case p.scheduleTimeout == 0:
		p.scheduleTimeout = 60 * time.Second
	case p.scheduleTimeout < 0:
		p.scheduleTimeout = 0
	}
	switch {
	case p.maxRetries == 0:
		p.maxRetries = 4
	case p.maxRetries < 0:
		p.maxRetries = 0
	}
	if p.maxRetryWait <= 0 {
		p.maxRetryWait = 60 * time.Second
	}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p.log.Debug("connected", "driver", p.name, "region", p.region, "compute", compute.Endpoint, "block_storage", volume != nil)
	return p, nil
}

// Name returns "rackspace" when authenticated with a Rackspace API key and
// "openstack" otherwise.
func (p *Provider) Name() string { return p.name }

// Region returns the region whose endpoints the provider uses.
func (p *Provider) Region() string { return p.region }

// As hands out the compute client: i must be a **gophercloud.ServiceClient.
func (p *Provider) As(i any) bool {
	if c, ok := i.(**gophercloud.ServiceClient); ok {
		*c = p.compute
		return true
	}
	return false
}

// implicitZone names the one zone of a cloud without availability zones
// (the region, as Rackspace's servers carry no zone).
func (p *Provider) implicitZone() string {
	if p.region != "" {
		return p.region
	}
	return "default"
}

// Zones lists the available zones from os-availability-zone. Where the
// cloud has no such API (Rackspace), it returns Options.Zones, or the
// region as the one implicit zone.
func (p *Provider) Zones(ctx context.Context) ([]string, error) {
	const op = "rackspace.Zones"
	var zones []string
	err := p.call(ctx, op, "availability zones", func(ctx context.Context) error {
		pages, err := availabilityzones.List(p.compute).AllPages(ctx)
		if err != nil {
			return err
		}
		all, err := availabilityzones.ExtractAvailabilityZones(pages)
		if err != nil {
			return err
		}
		zones = zones[:0]
		for _, z := range all {
			if z.ZoneState.Available && z.ZoneName != "" && !slices.Contains(zones, z.ZoneName) {
				zones = append(zones, z.ZoneName)
			}
		}
		return nil
	})
	code := provider.CodeOf(err)
	switch {
	case err == nil && len(zones) > 0:
		p.mu.Lock()
		p.azChecked, p.noAZAPI = true, false
		p.mu.Unlock()
		return zones, nil
	case err == nil || code == provider.NotFound || code == provider.PermissionDenied || code == provider.InvalidArgument:
		p.mu.Lock()
		p.azChecked, p.noAZAPI = true, true
		p.mu.Unlock()
		if len(p.zones) > 0 {
			return slices.Clone(p.zones), nil
		}
		return []string{p.implicitZone()}, nil
	}
	return nil, err
}

// Get returns one server; NotFound when Nova does not know it (Nova forgets
// deleted servers).
func (p *Provider) Get(ctx context.Context, id string) (provider.Server, error) {
	const op = "rackspace.Get"
	if id == "" {
		return provider.Server{}, provider.Errorf(provider.InvalidArgument, op, "server ID is empty")
	}
	var s *servers.Server
	err := p.call(ctx, op, "server "+id, func(ctx context.Context) error {
		var err error
		s, err = servers.Get(ctx, p.compute, id).Extract()
		return err
	})
	if err != nil {
		return provider.Server{}, err
	}
	return p.toServer(s), nil
}

// Terminate deletes servers, several at a time (Nova deletes one per call).
// Unknown and already deleted servers are not an error.
func (p *Provider) Terminate(ctx context.Context, ids ...string) error {
	const op = "rackspace.Terminate"
	var g errgroup.Group
	g.SetLimit(8)
	errs := make([]error, len(ids))
	for i, id := range ids {
		if id == "" {
			errs[i] = provider.Errorf(provider.InvalidArgument, op, "server ID %d of %d is empty", i+1, len(ids))
			continue
		}
		g.Go(func() error {
			err := p.call(ctx, op, "server "+id, func(ctx context.Context) error {
				return servers.Delete(ctx, p.compute, id).ExtractErr()
			})
			if err != nil && !errors.Is(err, provider.NotFound) {
				errs[i] = err
			}
			return nil
		})
	}
	_ = g.Wait()
	p.log.DebugContext(ctx, "terminated", "servers", len(ids))
	return errors.Join(errs...)
}

// Reboot soft-reboots a server. A server Nova cannot reboot now (still
// building, already rebooting) gives Unavailable: try again later.
func (p *Provider) Reboot(ctx context.Context, id string) error {
	const op = "rackspace.Reboot"
	if id == "" {
		return provider.Errorf(provider.InvalidArgument, op, "server ID is empty")
	}
	err := p.call(ctx, op, "server "+id, func(ctx context.Context) error {
		return servers.Reboot(ctx, p.compute, id, servers.RebootOpts{Type: servers.SoftReboot}).ExtractErr()
	})
	var pe *provider.Error
	if errors.As(err, &pe) && gophercloud.ResponseCodeIs(err, 409) {
		pe.Code = provider.Unavailable
	}
	return err
}

// mapState turns Nova's status and task state into a provider.State.
func mapState(status, task string) provider.State {
	if task == "deleting" {
		return provider.StateTerminating
	}
	switch status {
	case "BUILD", "REBUILD":
		return provider.StatePending
	case "ACTIVE", "REBOOT", "HARD_REBOOT", "PASSWORD", "RESIZE", "VERIFY_RESIZE",
		"REVERT_RESIZE", "MIGRATING", "RESCUE":
		return provider.StateRunning
	case "ERROR":
		return provider.StateFailed
	case "SHUTOFF", "STOPPED", "SUSPENDED", "PAUSED", "SHELVED", "SHELVED_OFFLOADED":
		return provider.StateStopped
	case "DELETED", "SOFT_DELETED":
		return provider.StateTerminated
	}
	// UNKNOWN (the compute host does not answer) and anything newer: leave
	// the verdict to the farm's health checks rather than replace at once.
	return provider.StateRunning
}

// toServer converts Nova's view of a server.
func (p *Provider) toServer(s *servers.Server) provider.Server {
	out := provider.Server{
		ID:         s.ID,
		Name:       s.Name,
		State:      mapState(s.Status, s.TaskState),
		Zone:       s.AvailabilityZone,
		LaunchedAt: s.Created,
		Tags:       map[string]string{},
	}
	for k, v := range s.Metadata {
		out.Tags[k] = v
	}
	if out.Zone == "" {
		out.Zone = p.implicitZone()
	}
	if id, ok := s.Image["id"].(string); ok {
		out.Image = id
	}
	if id, ok := s.Flavor["id"].(string); ok {
		out.InstanceType = id
	} else if name, ok := s.Flavor["original_name"].(string); ok {
		out.InstanceType = name // microversion 2.47 and later
	}
	out.PrivateIP, out.PublicIP = p.addresses(s)
	return out
}

// addresses picks the private and public IPv4 addresses: the networks named
// PrivateNetwork and PublicNetwork (Rackspace's "private" ServiceNet and
// "public"), else by kind (fixed RFC 1918 or floating) on any network;
// accessIPv4 wins for the public address.
func (p *Provider) addresses(s *servers.Server) (private, public string) {
	type addr struct {
		ip      netip.Addr
		network string
		kind    string
	}
	var all []addr
	names := make([]string, 0, len(s.Addresses))
	for name := range s.Addresses {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		list, _ := s.Addresses[name].([]any)
		for _, item := range list {
			m, _ := item.(map[string]any)
			a, err := netip.ParseAddr(fmt.Sprint(m["addr"]))
			if err != nil || !a.Is4() {
				continue
			}
			kind, _ := m["OS-EXT-IPS:type"].(string)
			all = append(all, addr{ip: a, network: name, kind: kind})
		}
	}
	pick := func(ok func(addr) bool) string {
		for _, a := range all {
			if ok(a) {
				return a.ip.String()
			}
		}
		return ""
	}
	private = pick(func(a addr) bool { return a.network == p.privateNet })
	if private == "" {
		private = pick(func(a addr) bool { return a.kind != "floating" && a.ip.IsPrivate() })
	}
	public = s.AccessIPv4
	if public == "" {
		public = pick(func(a addr) bool { return a.network == p.publicNet })
	}
	if public == "" {
		public = pick(func(a addr) bool { return a.kind == "floating" || !a.ip.IsPrivate() && !a.ip.IsLoopback() })
	}
	if private == "" && public == "" {
		private = pick(func(addr) bool { return true })
	}
	return private, public
}
