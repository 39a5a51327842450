package rackspace

import (
	"context"
	"errors"

	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/volumeattach"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/farmhand/farmhand/provider"
)

// blockStorage returns the Cinder client, or an error when the catalog has
// no Cinder v3 or v2 endpoint in the region (Rackspace's Cloud Block
// Storage is a v1 API and is not supported).
func (p *Provider) blockStorage(op string) error {
	if p.volume == nil {
		return provider.Errorf(provider.InvalidArgument, op,
			"the service catalog has no block-storage (Cinder v3 or v2) endpoint in region %q", p.region)
	}
	return nil
}

// Volumes lists the volumes attached to a server (Nova's
// os-volume_attachments), with size, zone and metadata from Cinder when the
// cloud has it.
func (p *Provider) Volumes(ctx context.Context, serverID string) ([]provider.Volume, error) {
	const op = "rackspace.Volumes"
	if serverID == "" {
		return nil, provider.Errorf(provider.InvalidArgument, op, "server ID is empty")
	}
	var attachments []volumeattach.VolumeAttachment
	err := p.call(ctx, op, "server "+serverID, func(ctx context.Context) error {
		pages, err := volumeattach.List(p.compute, serverID).AllPages(ctx)
		if err != nil {
			return err
		}
		attachments, err = volumeattach.ExtractVolumeAttachments(pages)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]provider.Volume, 0, len(attachments))
	for _, a := range attachments {
		v := provider.Volume{ID: a.VolumeID, ServerID: serverID, Device: a.Device, Tags: map[string]string{}}
		if p.volume != nil {
			var vol *volumes.Volume
			err := p.call(ctx, op, "volume "+a.VolumeID, func(ctx context.Context) error {
				var err error
				vol, err = volumes.Get(ctx, p.volume, a.VolumeID).Extract()
				return err
			})
			if err != nil {
				return nil, err
			}
			v.SizeGiB, v.Zone = vol.Size, vol.AvailabilityZone
			for k, val := range vol.Metadata {
				v.Tags[k] = val
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// CreateSnapshot snapshots a volume, attached or not (Cinder's force flag),
// with tags as the snapshot's metadata.
func (p *Provider) CreateSnapshot(ctx context.Context, volumeID string, tags map[string]string) (provider.Snapshot, error) {
	const op = "rackspace.CreateSnapshot"
	if err := p.blockStorage(op); err != nil {
		return provider.Snapshot{}, err
	}
	if volumeID == "" {
		return provider.Snapshot{}, provider.Errorf(provider.InvalidArgument, op, "volume ID is empty")
	}
	var sn *snapshots.Snapshot
	err := p.call(ctx, op, "volume "+volumeID, func(ctx context.Context) error {
		var err error
		sn, err = snapshots.Create(ctx, p.volume, snapshots.CreateOpts{
			VolumeID:    volumeID,
			Force:       true,
			Name:        "farmhand-" + volumeID,
			Description: "farmhand backup",
			Metadata:    tags,
		}).Extract()
		return err
	})
	if err != nil {
		return provider.Snapshot{}, err
	}
	return toSnapshot(sn), nil
}

// ListSnapshots lists every snapshot carrying all tags, following Cinder's
// pages. Cinder cannot filter by metadata at the base microversion, so the
// driver filters; snapshots being deleted are left out.
func (p *Provider) ListSnapshots(ctx context.Context, tags map[string]string) ([]provider.Snapshot, error) {
	const op = "rackspace.ListSnapshots"
	if err := p.blockStorage(op); err != nil {
		return nil, err
	}
	var out []provider.Snapshot
	err := p.call(ctx, op, "snapshots", func(ctx context.Context) error {
		out = out[:0]
		return snapshots.ListDetail(p.volume, nil).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
			list, err := snapshots.ExtractSnapshots(page)
			if err != nil {
				return false, err
			}
			for i := range list {
				if list[i].Status != "deleting" && matches(list[i].Metadata, tags) {
					out = append(out, toSnapshot(&list[i]))
				}
			}
			return true, nil
		})
	})
	return out, err
}

// DeleteSnapshot deletes a snapshot; an unknown one is not an error.
func (p *Provider) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	const op = "rackspace.DeleteSnapshot"
	if err := p.blockStorage(op); err != nil {
		return err
	}
	if snapshotID == "" {
		return provider.Errorf(provider.InvalidArgument, op, "snapshot ID is empty")
	}
	err := p.call(ctx, op, "snapshot "+snapshotID, func(ctx context.Context) error {
		return snapshots.Delete(ctx, p.volume, snapshotID).ExtractErr()
	})
	if errors.Is(err, provider.NotFound) {
		return nil
	}
	return err
}

func toSnapshot(sn *snapshots.Snapshot) provider.Snapshot {
	out := provider.Snapshot{ID: sn.ID, VolumeID: sn.VolumeID, StartedAt: sn.CreatedAt, Tags: map[string]string{}}
	for k, v := range sn.Metadata {
		out.Tags[k] = v
	}
	switch sn.Status {
	case "available", "backing-up":
		out.State = "completed"
	case "error", "error_deleting":
		out.State = "error"
	default:
		out.State = "pending"
	}
	return out
}
