package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/provider"
)

// HostKeys returns the server's ed25519 host key as an authorized_keys line
// once it has finished its first boot, and an empty slice before that and
// after it is gone. With SSH endpoints on, it is the key the endpoint presents. Keys are
// derived from Options.Seed, so a seeded cloud gives the same keys each run.
func (p *Provider) HostKeys(ctx context.Context, serverID string) ([]string, error) {
	c, err := p.begin(ctx, OpHostKeys, serverID)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	srv, err := p.lookupLocked("fake.HostKeys", serverID)
	keys := []string{}
	if err == nil && p.firstBootDoneLocked(srv) && !p.stateLocked(srv).Gone() {
		keys = append(keys, authorizedLine(srv))
	}
	p.mu.Unlock()
	return finish(p, c, keys, err)
}

// firstBootDoneLocked reports whether the server has booted once, so that
// its host keys exist.
func (p *Provider) firstBootDoneLocked(srv *server) bool {
	return !p.clock.Now().Before(srv.s.LaunchedAt.Add(p.bootTime))
}

func authorizedLine(srv *server) string {
	pub, err := ssh.NewPublicKey(srv.hostKey.Public())
	if err != nil {
		panic("fake: ed25519 host key: " + err.Error()) // cannot happen for ed25519
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}

// ConsoleOutput returns a cloud-init style console log. Once the server is
// running it holds the host keys between "-----BEGIN SSH HOST KEY KEYS-----"
// and "-----END SSH HOST KEY KEYS-----", where EC2's console shows them.
func (p *Provider) ConsoleOutput(ctx context.Context, serverID string) (string, error) {
	c, err := p.begin(ctx, OpConsoleOutput, serverID)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	srv, err := p.lookupLocked("fake.ConsoleOutput", serverID)
	var b strings.Builder
	if err == nil {
		st := p.stateLocked(srv)
		fmt.Fprintf(&b, "[    0.000000] Linux version 6.1.0-fake (farmhand provider/fake)\n")
		fmt.Fprintf(&b, "cloud-init: server %s image %s type %s zone %s launched %s\n",
			srv.s.ID, srv.s.Image, srv.s.InstanceType, srv.s.Zone, srv.s.LaunchedAt.UTC().Format("2006-01-02T15:04:05Z"))
		if p.firstBootDoneLocked(srv) {
			fmt.Fprintf(&b, "-----BEGIN SSH HOST KEY KEYS-----\n%s root@%s\n-----END SSH HOST KEY KEYS-----\n", authorizedLine(srv), srv.s.ID)
			fmt.Fprintf(&b, "cloud-init: boot finished\n")
		}
		for i := range srv.reboots {
			fmt.Fprintf(&b, "reboot: restarting system (%d)\n", i+1)
		}
		if st != provider.StatePending && st != provider.StateRunning {
			fmt.Fprintf(&b, "state: %s\n", st)
		}
	}
	p.mu.Unlock()
	return finish(p, c, b.String(), err)
}

// Volumes returns the server's root volume ("/dev/xvda", 8 GiB). A
// terminated server has none: its root volume was deleted with it.
func (p *Provider) Volumes(ctx context.Context, serverID string) ([]provider.Volume, error) {
	c, err := p.begin(ctx, OpVolumes, serverID)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	srv, err := p.lookupLocked("fake.Volumes", serverID)
	out := []provider.Volume{}
	if err == nil {
		if v, ok := p.volumes[srv.rootVolume]; ok {
			out = append(out, cloneVolume(*v))
		}
	}
	p.mu.Unlock()
	return finish(p, c, out, err)
}

func cloneVolume(v provider.Volume) provider.Volume {
	v.Tags = maps.Clone(v.Tags)
	return v
}

func cloneSnapshot(s provider.Snapshot) provider.Snapshot {
	s.Tags = maps.Clone(s.Tags)
	if s.Tags == nil {
		s.Tags = map[string]string{}
	}
	return s
}

// CreateSnapshot snapshots a volume; the snapshot is "completed" at once.
func (p *Provider) CreateSnapshot(ctx context.Context, volumeID string, tags map[string]string) (provider.Snapshot, error) {
	c, err := p.begin(ctx, OpCreateSnapshot, volumeID)
	if err != nil {
		return provider.Snapshot{}, err
	}
	p.mu.Lock()
	var snap provider.Snapshot
	if _, ok := p.volumes[volumeID]; !ok {
		err = provider.Errorf(provider.NotFound, "fake.CreateSnapshot", "volume %q does not exist", volumeID)
	} else {
		p.nextSnap++
		s := &provider.Snapshot{
			ID:        fmt.Sprintf("snap-%06d", p.nextSnap),
			VolumeID:  volumeID,
			State:     "completed",
			StartedAt: p.clock.Now(),
			Tags:      maps.Clone(tags),
		}
		p.snapshots[s.ID] = s
		p.snapOrder = append(p.snapOrder, s.ID)
		snap = cloneSnapshot(*s)
	}
	p.mu.Unlock()
	return finish(p, c, snap, err)
}

// ListSnapshots returns the snapshots carrying every given tag, oldest
// first.
func (p *Provider) ListSnapshots(ctx context.Context, tags map[string]string) ([]provider.Snapshot, error) {
	c, err := p.begin(ctx, OpListSnapshots, fmt.Sprint(tags))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	out := []provider.Snapshot{}
	for _, id := range p.snapOrder {
		if s, ok := p.snapshots[id]; ok && hasTags(s.Tags, tags) {
			out = append(out, cloneSnapshot(*s))
		}
	}
	p.mu.Unlock()
	return finish(p, c, out, nil)
}

// DeleteSnapshot deletes a snapshot; an unknown one is not an error.
func (p *Provider) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	c, err := p.begin(ctx, OpDeleteSnapshot, snapshotID)
	if err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.snapshots, snapshotID)
	p.snapOrder = slices.DeleteFunc(p.snapOrder, func(id string) bool { return id == snapshotID })
	p.mu.Unlock()
	_, err = finish(p, c, struct{}{}, nil)
	return err
}

// CreateLoadBalancer makes a load balancer exist (a test control, not an
// API call). Creating one that exists changes nothing.
func (p *Provider) CreateLoadBalancer(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.lbs[name]; !ok {
		p.lbs[name] = map[string]bool{}
	}
}

// HasLoadBalancer says yes to every name: a load balancer the fake does
// not have yet is created, empty, on first ask. The farm asks for each load
// balancer its spec names before it launches, so a spec written for a real
// cloud runs on the fake as it is, with no Options.LoadBalancers.
func (p *Provider) HasLoadBalancer(ctx context.Context, loadBalancer string) (bool, error) {
	c, err := p.begin(ctx, OpHasLoadBalancer, loadBalancer)
	if err != nil {
		return false, err
	}
	if loadBalancer == "" {
		err = provider.Errorf(provider.InvalidArgument, "fake.HasLoadBalancer", "empty load balancer name")
	} else {
		p.CreateLoadBalancer(loadBalancer)
	}
	return finish(p, c, err == nil, err)
}

// Register adds servers to a load balancer. The load balancer must exist
// (Options.LoadBalancers or CreateLoadBalancer), else NotFound; every
// server must be one the cloud reports and not gone, else InvalidArgument
// and nothing is registered.
func (p *Provider) Register(ctx context.Context, loadBalancer string, serverIDs ...string) error {
	c, err := p.begin(ctx, OpRegister, fmt.Sprintf("%s %v", loadBalancer, serverIDs))
	if err != nil {
		return err
	}
	p.mu.Lock()
	members, ok := p.lbs[loadBalancer]
	if !ok {
		err = provider.Errorf(provider.NotFound, "fake.Register", "load balancer %q does not exist", loadBalancer)
	}
	for _, id := range serverIDs {
		if err != nil {
			break
		}
		srv, found := p.servers[id]
		if !found || p.stateLocked(srv).Gone() {
			err = provider.Errorf(provider.InvalidArgument, "fake.Register", "server %q is not a live server", id)
		}
	}
	if err == nil {
		for _, id := range serverIDs {
			members[id] = true
		}
	}
	p.mu.Unlock()
	_, err = finish(p, c, struct{}{}, err)
	return err
}

// Deregister removes servers from a load balancer; servers that are not
// registered are ignored. An unknown load balancer is NotFound.
func (p *Provider) Deregister(ctx context.Context, loadBalancer string, serverIDs ...string) error {
	c, err := p.begin(ctx, OpDeregister, fmt.Sprintf("%s %v", loadBalancer, serverIDs))
	if err != nil {
		return err
	}
	p.mu.Lock()
	members, ok := p.lbs[loadBalancer]
	if !ok {
		err = provider.Errorf(provider.NotFound, "fake.Deregister", "load balancer %q does not exist", loadBalancer)
	} else {
		for _, id := range serverIDs {
			delete(members, id)
		}
	}
	p.mu.Unlock()
	_, err = finish(p, c, struct{}{}, err)
	return err
}

// Registered returns the IDs registered with a load balancer, sorted; nil
// for an unknown one. Terminated servers leave their load balancers.
func (p *Provider) Registered(loadBalancer string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	members, ok := p.lbs[loadBalancer]
	if !ok {
		return nil
	}
	return sortedKeys(members)
}
