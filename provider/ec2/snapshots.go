package ec2

import (
	"context"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/farmhand/farmhand/provider"
)

// Volumes returns the EBS volumes attached to an instance: the instance's
// block device mapping from DescribeInstances (which gives NotFound for an
// unknown instance), then DescribeVolumes for their size and tags.
func (p *Provider) Volumes(ctx context.Context, serverID string) ([]provider.Volume, error) {
	const op = "ec2.DescribeVolumes"
	if serverID == "" {
		return nil, provider.Errorf(provider.NotFound, op, "empty instance ID")
	}
	di, err := p.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{serverID}})
	if err != nil {
		return nil, wrap("ec2.DescribeInstances", "instance "+serverID, err)
	}
	devices := map[string]string{} // volume ID -> device name
	var ids []string
	found := false
	for _, r := range di.Reservations {
		for _, in := range r.Instances {
			if aws.ToString(in.InstanceId) != serverID {
				continue
			}
			found = true
			for _, bd := range in.BlockDeviceMappings {
				if bd.Ebs != nil && bd.Ebs.VolumeId != nil {
					devices[*bd.Ebs.VolumeId] = aws.ToString(bd.DeviceName)
					ids = append(ids, *bd.Ebs.VolumeId)
				}
			}
		}
	}
	if !found {
		return nil, provider.Errorf(provider.NotFound, op, "instance %s: not in DescribeInstances' answer", serverID)
	}
	vols := []provider.Volume{}
	if len(ids) == 0 {
		return vols, nil
	}
	dv, err := p.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: ids})
	if err != nil {
		return nil, wrap(op, "volumes of instance "+serverID, err)
	}
	for _, v := range dv.Volumes {
		id := aws.ToString(v.VolumeId)
		vol := provider.Volume{
			ID: id, ServerID: serverID, Device: devices[id], SizeGiB: int(aws.ToInt32(v.Size)),
			Zone: aws.ToString(v.AvailabilityZone), Tags: tagMap(v.Tags),
		}
		vols = append(vols, vol)
	}
	return vols, nil
}

// CreateSnapshot starts a snapshot of an EBS volume, tagged at creation
// (TagSpecifications, resource type snapshot). An unknown volume gives
// NotFound.
func (p *Provider) CreateSnapshot(ctx context.Context, volumeID string, tags map[string]string) (provider.Snapshot, error) {
	const op = "ec2.CreateSnapshot"
	if volumeID == "" {
		return provider.Snapshot{}, provider.Errorf(provider.NotFound, op, "empty volume ID")
	}
	in := &ec2.CreateSnapshotInput{VolumeId: aws.String(volumeID), Description: aws.String("farmhand backup of " + volumeID)}
	if len(tags) > 0 {
		in.TagSpecifications = []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: tagsOf(tags)}}
	}
	out, err := p.ec2.CreateSnapshot(ctx, in)
	if err != nil {
		return provider.Snapshot{}, wrap(op, "volume "+volumeID, err)
	}
	snap := provider.Snapshot{
		ID: aws.ToString(out.SnapshotId), VolumeID: aws.ToString(out.VolumeId), State: string(out.State),
		StartedAt: aws.ToTime(out.StartTime), Tags: tagMap(out.Tags),
	}
	if len(snap.Tags) == 0 && len(tags) > 0 {
		snap.Tags = maps.Clone(tags)
	}
	p.log.InfoContext(ctx, "snapshot started", "volume", volumeID, "snapshot", snap.ID)
	return snap, nil
}

// ListSnapshots returns the account's own snapshots (Owner self) that carry
// every given tag, following DescribeSnapshots' pages.
func (p *Provider) ListSnapshots(ctx context.Context, tags map[string]string) ([]provider.Snapshot, error) {
	const op = "ec2.DescribeSnapshots"
	in := &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, MaxResults: aws.Int32(maxPageSize)}
	if len(tags) > 0 {
		in.Filters = tagFilters(tags)
	}
	snaps := []provider.Snapshot{}
	for {
		out, err := p.ec2.DescribeSnapshots(ctx, in)
		if err != nil {
			return nil, wrap(op, "snapshots by tags "+tagString(tags), err)
		}
		for _, s := range out.Snapshots {
			snaps = append(snaps, provider.Snapshot{
				ID: aws.ToString(s.SnapshotId), VolumeID: aws.ToString(s.VolumeId), State: string(s.State),
				StartedAt: aws.ToTime(s.StartTime), Tags: tagMap(s.Tags),
			})
		}
		if aws.ToString(out.NextToken) == "" {
			return snaps, nil
		}
		in.NextToken = out.NextToken
	}
}

// DeleteSnapshot deletes a snapshot; one EC2 does not know is not an error.
func (p *Provider) DeleteSnapshot(ctx context.Context, snapshotID string) error {
	const op = "ec2.DeleteSnapshot"
	if snapshotID == "" {
		return nil
	}
	_, err := p.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(snapshotID)})
	switch code := apiCode(err); {
	case err == nil:
		p.log.InfoContext(ctx, "snapshot deleted", "snapshot", snapshotID)
		return nil
	case code == "InvalidSnapshot.NotFound", code == "InvalidSnapshotID.Malformed":
		return nil
	default:
		return wrap(op, "snapshot "+snapshotID, err)
	}
}

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}
