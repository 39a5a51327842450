package ec2test

import (
	"encoding/xml"
	"maps"
	"regexp"
	"slices"
	"strings"
)

var (
	volumeIDPattern   = regexp.MustCompile(`^vol-([0-9a-f]{8}|[0-9a-f]{17})$`)
	snapshotIDPattern = regexp.MustCompile(`^snap-([0-9a-f]{8}|[0-9a-f]{17})$`)
)

var volumeFilters = map[string]func(*volume) []string{
	"volume-id":              func(v *volume) []string { return []string{v.id} },
	"availability-zone":      func(v *volume) []string { return []string{v.zone} },
	"attachment.instance-id": func(v *volume) []string { return []string{v.instance} },
	"attachment.device":      func(v *volume) []string { return []string{v.device} },
	"tag-key":                func(v *volume) []string { return slices.Collect(maps.Keys(v.tags)) },
}

func (s *Server) describeVolumes(req *request) (any, *apiError) {
	f := req.form
	ids := list(f, "VolumeId")
	if len(ids) > 0 && f.Get("MaxResults") != "" {
		return nil, newAPIError("InvalidParameterCombination", "The parameter volumeSet cannot be used with the parameter maxResults")
	}
	fs := filters(f)
	if aerr := checkFilters(fs, func(n string) bool { _, ok := volumeFilters[n]; return ok }); aerr != nil {
		return nil, aerr
	}
	var candidates []*volume
	if len(ids) > 0 {
		var unknown []string
		for _, id := range ids {
			if !volumeIDPattern.MatchString(id) {
				return nil, malformed("InvalidVolumeID", id, "vol")
			}
			v, ok := s.volumes[id]
			if !ok {
				unknown = append(unknown, id)
				continue
			}
			candidates = append(candidates, v)
		}
		if len(unknown) > 0 {
			return nil, newAPIError("InvalidVolume.NotFound", "The volume '%s' does not exist.", strings.Join(unknown, ", "))
		}
	} else {
		for _, id := range slices.Sorted(maps.Keys(s.volumes)) {
			candidates = append(candidates, s.volumes[id])
		}
	}
	var matched []*volume
	for _, v := range candidates {
		ok := true
		for _, flt := range fs {
			if k, isTag := strings.CutPrefix(flt.name, "tag:"); isTag {
				val, has := v.tags[k]
				ok = ok && matchFilter(flt, []string{val}, has)
			} else {
				ok = ok && matchFilter(flt, volumeFilters[flt.name](v), true)
			}
		}
		if ok {
			matched = append(matched, v)
		}
	}
	start, end, aerr := s.pageParams(f, len(matched))
	if aerr != nil {
		return nil, aerr
	}
	out := describeVolumesResponse{ec2Response: s.ec2Root(), NextToken: nextToken(end, len(matched))}
	for _, v := range matched[start:end] {
		x := xVolume{VolumeID: v.id, Size: v.size, AvailabilityZone: v.zone, Status: "available", CreateTime: isoTime(v.created), Tags: xTags(v.tags), VolumeType: "gp3"}
		if v.instance != "" {
			x.Status = "in-use"
			x.Attachments = []xAttachment{{VolumeID: v.id, InstanceID: v.instance, Device: v.device, Status: "attached", AttachTime: isoTime(v.created), DeleteOnTermination: true}}
		}
		out.Volumes = append(out.Volumes, x)
	}
	return out, nil
}

func (s *Server) createSnapshot(req *request) (any, *apiError) {
	id := req.form.Get("VolumeId")
	if !volumeIDPattern.MatchString(id) {
		return nil, malformed("InvalidVolumeID", id, "vol")
	}
	v, ok := s.volumes[id]
	if !ok {
		return nil, newAPIError("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
	}
	specs, aerr := tagSpecs(req.form)
	if aerr != nil {
		return nil, aerr
	}
	for rt := range specs {
		if rt != "snapshot" {
			return nil, newAPIError("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt)
		}
	}
	sn := &snapshot{id: s.nextID("snap"), volume: v.id, status: "pending", description: req.form.Get("Description"), size: v.size, started: s.now(), tags: specs["snapshot"]}
	s.snapshots = append(s.snapshots, sn)
	return createSnapshotResponse{ec2Response: s.ec2Root(), xSnapshot: s.xSnapshot(sn)}, nil
}

func (s *Server) xSnapshot(sn *snapshot) xSnapshot {
	progress := "0%"
	if sn.status == "completed" {
		progress = "100%"
	}
	return xSnapshot{SnapshotID: sn.id, VolumeID: sn.volume, Status: sn.status, StartTime: isoTime(sn.started), Progress: progress,
		OwnerID: DefaultOwnerID, VolumeSize: sn.size, Description: sn.description, Tags: xTags(sn.tags)}
}

var snapshotFilters = map[string]func(*snapshot) []string{
	"snapshot-id": func(sn *snapshot) []string { return []string{sn.id} },
	"volume-id":   func(sn *snapshot) []string { return []string{sn.volume} },
	"status":      func(sn *snapshot) []string { return []string{sn.status} },
	"owner-id":    func(*snapshot) []string { return []string{DefaultOwnerID} },
	"tag-key":     func(sn *snapshot) []string { return slices.Collect(maps.Keys(sn.tags)) },
}

func (s *Server) describeSnapshots(req *request) (any, *apiError) {
	f := req.form
	for _, o := range list(f, "Owner") {
		if o != "self" && o != DefaultOwnerID {
			return nil, newAPIError("InvalidUserID.Malformed", "Invalid user id: %q", o)
		}
	}
	if len(list(f, "Owner")) == 0 && len(list(f, "SnapshotId")) == 0 {
		// Without an owner EC2 lists every public snapshot in the region
		// too: a driver that forgets Owner=self would page through
		// thousands of strangers' snapshots.
		msg := "DescribeSnapshots without Owner=self would list every public snapshot"
		if s.opts.Violation != nil {
			s.opts.Violation(msg)
		}
		return nil, newAPIError("InvalidParameterCombination", "ec2test: %s", msg)
	}
	ids := list(f, "SnapshotId")
	fs := filters(f)
	if aerr := checkFilters(fs, func(n string) bool { _, ok := snapshotFilters[n]; return ok }); aerr != nil {
		return nil, aerr
	}
	var matched []*snapshot
	for _, sn := range s.snapshots {
		if sn.deleted || (len(ids) > 0 && !slices.Contains(ids, sn.id)) {
			continue
		}
		ok := true
		for _, flt := range fs {
			if k, isTag := strings.CutPrefix(flt.name, "tag:"); isTag {
				val, has := sn.tags[k]
				ok = ok && matchFilter(flt, []string{val}, has)
			} else {
				ok = ok && matchFilter(flt, snapshotFilters[flt.name](sn), true)
			}
		}
		if ok {
			matched = append(matched, sn)
		}
	}
	start, end, aerr := s.pageParams(f, len(matched))
	if aerr != nil {
		return nil, aerr
	}
	out := describeSnapshotsResponse{ec2Response: s.ec2Root(), NextToken: nextToken(end, len(matched))}
	for _, sn := range matched[start:end] {
		out.Snapshots = append(out.Snapshots, s.xSnapshot(sn))
	}
	return out, nil
}

func (s *Server) deleteSnapshot(req *request) (any, *apiError) {
	id := req.form.Get("SnapshotId")
	if !snapshotIDPattern.MatchString(id) {
		return nil, malformed("InvalidSnapshotID", id, "snap")
	}
	for _, sn := range s.snapshots {
		if sn.id == id && !sn.deleted {
			sn.deleted = true
			return returnResponse{XMLName: xml.Name{Local: "DeleteSnapshotResponse"}, ec2Response: s.ec2Root(), Return: true}, nil
		}
	}
	return nil, newAPIError("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
}
