package fake

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/farmhand/farmhand/provider"
)

// Launch starts spec.Count servers, or as many as fit between spec.MinCount
// and spec.Count when a zone's capacity (see SetZoneCapacity) is short.
// Validation failures (Count < 1, MinCount < 0 or > Count, empty Token or
// Image, unknown Zone, an empty tag key, an unparsable SSHPublicKey when SSH
// endpoints are on) return InvalidArgument and launch nothing. A Token seen
// before returns the servers of that launch in their current state; the same
// Token with a different spec returns AlreadyExists, as EC2's
// IdempotentParameterMismatch does. With an empty Zone the fake picks the
// zone that fits most of the launch and, among those, the one with the
// fewest live servers.
func (p *Provider) Launch(ctx context.Context, spec provider.LaunchSpec) ([]provider.Server, error) {
	c, err := p.begin(ctx, OpLaunch, fmt.Sprintf("token=%s count=%d zone=%s", spec.Token, spec.Count, spec.Zone))
	if err != nil {
		return nil, err
	}
	if err := validateSpec(spec, p.zones, p.ssh != nil); err != nil {
		return finish[[]provider.Server](p, c, nil, err)
	}
	p.mu.Lock()
	if rec, ok := p.tokens[spec.Token]; ok {
		var out []provider.Server
		if !sameSpec(rec.spec, spec) {
			err = provider.Errorf(provider.AlreadyExists, "fake.Launch", "token %q was used for a different launch", spec.Token)
		} else {
			out = p.viewLocked(rec.ids)
		}
		p.mu.Unlock()
		return finish(p, c, out, err)
	}
	zone, n, err := p.placeLocked(spec)
	if err != nil {
		p.mu.Unlock()
		return finish[[]provider.Server](p, c, nil, err)
	}
	var authorized []string
	if spec.SSHPublicKey != "" {
		authorized = append(authorized, spec.SSHPublicKey)
	}
	now := p.clock.Now()
	ids := make([]string, 0, n)
	var started []*server
	for range n {
		srv := p.newServerLocked(spec, zone, now)
		ids = append(ids, srv.s.ID)
		started = append(started, srv)
	}
	p.tokens[spec.Token] = &launchRecord{spec: cloneSpec(spec), ids: ids}
	out := p.viewLocked(ids)
	p.mu.Unlock()

	if p.ssh != nil {
		for _, srv := range started {
			if err := p.ssh.start(srv.s.ID, srv.hostKey, authorized); err != nil && !errors.Is(err, errClosed) {
				p.log.Warn("fake: SSH endpoint did not start", "server", srv.s.ID, "err", err)
			}
		}
		// The addresses are known only now. A server terminated while its
		// endpoint was starting found no endpoint to stop: stop it here.
		p.mu.Lock()
		out = p.viewLocked(ids)
		var gone []string
		for _, srv := range started {
			if p.stateLocked(srv).Gone() {
				gone = append(gone, srv.s.ID)
			}
		}
		p.mu.Unlock()
		p.stopSSH(gone...)
	}
	p.log.Debug("fake: launched", "token", spec.Token, "ids", ids, "zone", zone)
	return finish(p, c, out, nil)
}

// placeLocked chooses the zone and how many servers to launch in it.
func (p *Provider) placeLocked(spec provider.LaunchSpec) (zone string, n int, err error) {
	minCount := spec.MinCount
	if minCount == 0 {
		minCount = spec.Count
	}
	candidates := p.zones
	if spec.Zone != "" {
		candidates = []string{spec.Zone}
	}
	live := p.liveByZoneLocked()
	best, bestRoom := "", -1
	for _, z := range candidates {
		room := spec.Count
		if c, ok := p.capacity[z]; ok {
			room = min(room, max(0, c-live[z]))
		}
		if room < minCount {
			continue
		}
		if best == "" || room > bestRoom || (room == bestRoom && live[z] < live[best]) {
			best, bestRoom = z, room
		}
	}
	if best == "" {
		where := "any zone"
		if spec.Zone != "" {
			where = "zone " + strconv.Quote(spec.Zone)
		}
		return "", 0, provider.Errorf(provider.InsufficientCapacity, "fake.Launch",
			"no capacity for %d servers (min %d) in %s", spec.Count, minCount, where)
	}
	return best, bestRoom, nil
}

func (p *Provider) liveByZoneLocked() map[string]int {
	live := map[string]int{}
	for _, srv := range p.servers {
		if !p.stateLocked(srv).Gone() {
			live[srv.s.Zone]++
		}
	}
	return live
}

func (p *Provider) newServerLocked(spec provider.LaunchSpec, zone string, now time.Time) *server {
	p.nextID++
	id := fmt.Sprintf("i-%06d", p.nextID)
	priv, pub := p.ips.allocate()
	srv := &server{
		s: provider.Server{
			ID:           id,
			Name:         spec.Tags[provider.TagRole],
			PrivateIP:    priv,
			PublicIP:     pub,
			Zone:         zone,
			Image:        spec.Image,
			InstanceType: spec.InstanceType,
			LaunchedAt:   now,
			Tags:         maps.Clone(spec.Tags),
		},
		spec:      cloneSpec(spec),
		startedAt: now,
		bootedAt:  now,
		hostKey:   p.hostKeyFor(p.nextID),
	}
	if srv.s.Tags == nil {
		srv.s.Tags = map[string]string{}
	}
	p.nextVol++
	vol := &provider.Volume{
		ID:       fmt.Sprintf("vol-%06d", p.nextVol),
		ServerID: id,
		Device:   "/dev/xvda",
		SizeGiB:  8,
		Zone:     zone,
		Tags:     map[string]string{},
	}
	p.volumes[vol.ID] = vol
	srv.rootVolume = vol.ID
	p.servers[id] = srv
	srv.seq = len(p.order)
	p.order = append(p.order, id)
	p.all = append(p.all, srv)
	if farm, ok := srv.s.Tags[provider.TagFarm]; ok {
		p.byFarm[farm] = append(p.byFarm[farm], srv)
	}
	return srv
}

// hostKeyFor derives a server's host key from the seed and its number, so
// that a seeded cloud hands out the same keys every run.
func (p *Provider) hostKeyFor(n int) ed25519.PrivateKey {
	var seed [ed25519.SeedSize]byte
	binary.BigEndian.PutUint64(seed[0:], uint64(p.seed))
	binary.BigEndian.PutUint64(seed[8:], uint64(n))
	copy(seed[16:], "farmhand-fake-hk")
	return ed25519.NewKeyFromSeed(seed[:])
}

func validateSpec(spec provider.LaunchSpec, zones []string, checkKey bool) error {
	const op = "fake.Launch"
	switch {
	case spec.Token == "":
		return provider.Errorf(provider.InvalidArgument, op, "token is empty")
	case spec.Count < 1:
		return provider.Errorf(provider.InvalidArgument, op, "count %d < 1", spec.Count)
	case spec.MinCount < 0 || spec.MinCount > spec.Count:
		return provider.Errorf(provider.InvalidArgument, op, "min count %d is not within 0..count %d", spec.MinCount, spec.Count)
	case spec.Image == "":
		return provider.Errorf(provider.InvalidArgument, op, "image is empty")
	case spec.Zone != "" && !slices.Contains(zones, spec.Zone):
		return provider.Errorf(provider.InvalidArgument, op, "zone %q is not one of %v", spec.Zone, zones)
	}
	for k := range spec.Tags {
		if k == "" {
			return provider.Errorf(provider.InvalidArgument, op, "tag with an empty key")
		}
	}
	if checkKey && spec.SSHPublicKey != "" {
		if _, err := parseAuthorizedKey(spec.SSHPublicKey); err != nil {
			return provider.Errorf(provider.InvalidArgument, op, "ssh public key is not an authorized_keys line: %v", err)
		}
	}
	return nil
}

func sameSpec(a, b provider.LaunchSpec) bool {
	return a.Count == b.Count && a.MinCount == b.MinCount && a.Image == b.Image &&
		a.InstanceType == b.InstanceType && a.Zone == b.Zone && maps.Equal(a.Tags, b.Tags) &&
		string(a.UserData) == string(b.UserData) && a.SSHPublicKey == b.SSHPublicKey
}

func cloneSpec(s provider.LaunchSpec) provider.LaunchSpec {
	s.Tags = maps.Clone(s.Tags)
	s.UserData = slices.Clone(s.UserData)
	return s
}
