package rackspace

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/provider"
)

// schedulePoll is how often Launch looks whether Nova has placed new servers.
const schedulePoll = 2 * time.Second

// validate checks a spec before anything goes to the cloud.
func validate(spec provider.LaunchSpec) error {
	const op = "rackspace.Launch"
	switch {
	case spec.Token == "":
		return provider.Errorf(provider.InvalidArgument, op, "Token is empty")
	case spec.Count < 1:
		return provider.Errorf(provider.InvalidArgument, op, "Count %d is less than 1", spec.Count)
	case spec.MinCount < 0 || spec.MinCount > spec.Count:
		return provider.Errorf(provider.InvalidArgument, op, "MinCount %d is not within 0..Count (%d)", spec.MinCount, spec.Count)
	case spec.Image == "":
		return provider.Errorf(provider.InvalidArgument, op, "Image is empty")
	case spec.InstanceType == "":
		return provider.Errorf(provider.InvalidArgument, op, "InstanceType (the Nova flavor) is empty")
	case len(spec.UserData) > 49152:
		return provider.Errorf(provider.InvalidArgument, op, "UserData has %d bytes; Nova takes at most 65535 base64 characters (49152 bytes)", len(spec.UserData))
	}
	if t, ok := spec.Tags[provider.TagToken]; ok && t != spec.Token {
		return provider.Errorf(provider.InvalidArgument, op, "tag %s is %q but Token is %q", provider.TagToken, t, spec.Token)
	}
	for k, v := range spec.Tags {
		if k == "" || len(k) > 255 || len(v) > 255 {
			return provider.Errorf(provider.InvalidArgument, op, "tag %q: Nova metadata keys take 1 to 255 bytes and values at most 255 (value has %d)", k, len(v))
		}
	}
	if len(spec.Token) > 255 {
		return provider.Errorf(provider.InvalidArgument, op, "Token has %d bytes; Nova metadata values take at most 255", len(spec.Token))
	}
	return nil
}

// Launch creates spec.Count servers in one call (Nova's min_count and
// max_count), named after the farm, role and token, with spec.Tags and
// TagToken in their metadata.
//
// Before creating, Launch lists the servers named after the token and
// returns them if an earlier call made them. When the create's answer is
// lost, Launch looks again before giving up, so a dropped response neither
// fails the launch nor, on a retry, launches twice.
//
// Nova places servers after it has answered; Launch waits (at most
// Options.ScheduleTimeout) until the scheduler has decided, and turns "No
// valid host was found" into InsufficientCapacity after deleting what it
// could not place.
func (p *Provider) Launch(ctx context.Context, spec provider.LaunchSpec) ([]provider.Server, error) {
	const op = "rackspace.Launch"
	if err := validate(spec); err != nil {
		return nil, err
	}
	name := serverName(spec.Tags, spec.Token)
	existing, err := p.findLaunch(ctx, op, name, spec.Token)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		p.log.DebugContext(ctx, "launch already made", "name", name, "servers", len(existing))
		return p.convert(existing), nil
	}

	metadata := make(map[string]string, len(spec.Tags)+1)
	for k, v := range spec.Tags {
		metadata[k] = v
	}
	metadata[provider.TagToken] = spec.Token
	create := servers.CreateOpts{
		Name:      name,
		ImageRef:  spec.Image,
		FlavorRef: spec.InstanceType,
		Metadata:  metadata,
	}
	if spec.Zone != "" && !p.zoneIsImplicit(spec.Zone) {
		create.AvailabilityZone = spec.Zone
	}
	if len(spec.UserData) > 0 {
		// Encoded here: gophercloud sends user data that happens to be valid
		// base64 unencoded.
		create.UserData = []byte(base64.StdEncoding.EncodeToString(spec.UserData))
	}
	if spec.Count > 1 {
		create.Min = cmp.Or(spec.MinCount, spec.Count)
		create.Max = spec.Count
	}
	var opts servers.CreateOptsBuilder = create
	if spec.SSHPublicKey != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(spec.SSHPublicKey))
		if err != nil {
			return nil, provider.Errorf(provider.InvalidArgument, op, "SSHPublicKey is not an authorized_keys line: %v", err)
		}
		if p.keyMethod == Personality {
			create.Personality = servers.Personality{{
				Path:     "/root/.ssh/authorized_keys",
				Contents: ssh.MarshalAuthorizedKey(key),
			}}
			opts = create
		} else {
			keyName, err := p.ensureKeyPair(ctx, key)
			if err != nil {
				return nil, err
			}
			opts = keypairs.CreateOptsExt{CreateOptsBuilder: create, KeyName: keyName}
		}
	}

	createdID := ""
	err = p.call(ctx, op, "servers "+name, func(ctx context.Context) error {
		s, err := servers.Create(ctx, p.compute, opts, nil).Extract()
		if err == nil {
			createdID = s.ID
		}
		return err
	})
	if err != nil {
		if !errors.Is(err, provider.Unavailable) || ctx.Err() != nil {
			return nil, err
		}
		// The answer may be lost while the servers exist: look before
		// reporting failure.
		found, ferr := p.findLaunch(ctx, op, name, spec.Token)
		if ferr != nil || len(found) == 0 {
			return nil, err
		}
		p.log.DebugContext(ctx, "create answer lost, servers exist", "name", name, "servers", len(found))
	}
	p.log.DebugContext(ctx, "created", "name", name, "count", spec.Count, "zone", spec.Zone)
	made, err := p.awaitScheduling(ctx, op, name, spec.Token, createdID)
	if err != nil {
		return nil, err
	}
	return p.placeOrFail(ctx, op, spec, made)
}

func (p *Provider) zoneIsImplicit(zone string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.azChecked && p.noAZAPI && zone == p.implicitZone() && !slices.Contains(p.zones, zone)
}

// awaitScheduling lists the launch's servers until none waits for Nova's
// scheduler or the schedule timeout passes. When the listing by name misses
// the server the create just returned, the cloud's name filter is not the
// regular expression Nova's is: the provider stops using it and looks again.
func (p *Provider) awaitScheduling(ctx context.Context, op, name, token, createdID string) ([]servers.Server, error) {
	deadline := p.clock.Now().Add(p.scheduleTimeout)
	for {
		made, err := p.findLaunch(ctx, op, name, token)
		if err != nil {
			return nil, err
		}
		if createdID != "" && p.nameFilter.Load() && !slices.ContainsFunc(made, func(s servers.Server) bool { return s.ID == createdID }) {
			p.nameFilter.Store(false)
			p.log.WarnContext(ctx, "the cloud's server name filter missed a new server; listing without it from now on", "name", name, "server", createdID)
			continue
		}
		waiting := slices.ContainsFunc(made, func(s servers.Server) bool {
			return s.Status == "BUILD" && s.TaskState == "scheduling"
		})
		if !waiting || !p.clock.Now().Before(deadline) {
			return made, nil
		}
		if err := p.sleep(ctx, schedulePoll); err != nil {
			return nil, provider.NewError(provider.Unknown, op, err)
		}
	}
}

// noValidHost reports whether Nova failed a server for lack of capacity.
func noValidHost(s servers.Server) bool {
	return s.Status == "ERROR" && strings.Contains(strings.ToLower(s.Fault.Message), "no valid host")
}

// placeOrFail returns the launch's servers, or, when Nova could place fewer
// than MinCount, deletes them all and fails with InsufficientCapacity.
func (p *Provider) placeOrFail(ctx context.Context, op string, spec provider.LaunchSpec, made []servers.Server) ([]provider.Server, error) {
	if len(made) == 0 {
		// Created, then gone before the listing (deleted by someone else).
		return nil, provider.Errorf(provider.Unavailable, op, "the servers of launch %q are not listed after their create", spec.Token)
	}
	var placed, failed []servers.Server
	for _, s := range made {
		if noValidHost(s) {
			failed = append(failed, s)
		} else {
			placed = append(placed, s)
		}
	}
	if len(failed) == 0 {
		return p.convert(placed), nil
	}
	drop := failed
	if len(placed) < cmp.Or(spec.MinCount, spec.Count) {
		drop = made
	}
	ids := make([]string, len(drop))
	for i, s := range drop {
		ids[i] = s.ID
	}
	if err := p.Terminate(ctx, ids...); err != nil {
		p.log.WarnContext(ctx, "deleting unplaced servers failed", "servers", ids, "err", err)
	}
	if len(drop) == len(made) {
		zone := cmp.Or(spec.Zone, "the default zone")
		return nil, provider.Errorf(provider.InsufficientCapacity, op,
			"zone %q has no capacity for %d servers of flavor %q: %s", zone, spec.Count, spec.InstanceType, failed[0].Fault.Message)
	}
	return p.convert(placed), nil
}

// convert turns Nova servers into provider servers, sorted by name.
func (p *Provider) convert(list []servers.Server) []provider.Server {
	out := make([]provider.Server, len(list))
	for i := range list {
		out[i] = p.toServer(&list[i])
	}
	slices.SortFunc(out, func(a, b provider.Server) int {
		return cmp.Or(cmp.Compare(len(a.Name), len(b.Name)), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// keyPairName names the Nova key pair of a public key after its SHA-256
// fingerprint, so that one key is imported once however many launches use it.
func keyPairName(key ssh.PublicKey) string {
	sum := sha256.Sum256(key.Marshal())
	return "farmhand-" + hex.EncodeToString(sum[:])[:20]
}

// ensureKeyPair imports the key unless this provider knows it exists. A
// conflict (409) means another launch imported it first.
func (p *Provider) ensureKeyPair(ctx context.Context, key ssh.PublicKey) (string, error) {
	const op = "rackspace.Launch"
	name := keyPairName(key)
	p.mu.Lock()
	known := p.keys[name]
	p.mu.Unlock()
	if known {
		return name, nil
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	err := p.call(ctx, op, "key pair "+name, func(ctx context.Context) error {
		_, err := keypairs.Create(ctx, p.compute, keypairs.CreateOpts{Name: name, PublicKey: line}).Extract()
		return err
	})
	if err != nil && !errors.Is(err, provider.AlreadyExists) {
		return "", err
	}
	p.mu.Lock()
	p.keys[name] = true
	p.mu.Unlock()
	p.log.DebugContext(ctx, "key pair imported", "name", name)
	return name, nil
}
