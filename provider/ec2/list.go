package ec2

import (
	"context"
	"maps"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/farmhand/farmhand/provider"
)

// EC2's bounds on DescribeInstances MaxResults.
const (
	minPageSize     = 5
	maxPageSize     = 1000
	defaultPageSize = maxPageSize
)

// List returns one page of DescribeInstances: one API call, filtered at
// EC2 by tag:KEY=VALUE for each of opts.Tags. opts.PageSize becomes
// MaxResults, raised to EC2's minimum of 5 and capped at its maximum of
// 1000; 0 means 1000. EC2 may return fewer servers than MaxResults, even
// none, with a NextPageToken: callers follow tokens until one is empty.
func (p *Provider) List(ctx context.Context, opts provider.ListOptions) (provider.Page, error) {
	const op = "ec2.DescribeInstances"
	size := opts.PageSize
	switch {
	case size <= 0:
		size = defaultPageSize
	case size < minPageSize:
		size = minPageSize
	case size > maxPageSize:
		size = maxPageSize
	}
	in := &ec2.DescribeInstancesInput{MaxResults: aws.Int32(int32(size))}
	if len(opts.Tags) > 0 {
		in.Filters = tagFilters(opts.Tags)
	}
	if opts.PageToken != "" {
		in.NextToken = aws.String(opts.PageToken)
	}
	out, err := p.ec2.DescribeInstances(ctx, in)
	if err != nil {
		return provider.Page{}, wrap(op, "list by tags "+tagString(opts.Tags), err)
	}
	var page provider.Page
	for _, r := range out.Reservations {
		for i := range r.Instances {
			page.Servers = append(page.Servers, toServer(&r.Instances[i]))
		}
	}
	page.NextPageToken = aws.ToString(out.NextToken)
	return page, nil
}

// Get returns one server with DescribeInstances InstanceIds=[id]. An ID EC2
// does not know (InvalidInstanceID.NotFound) or that is not an instance ID
// at all (InvalidInstanceID.Malformed) gives NotFound. Terminated
// instances are returned in StateTerminated for as long as EC2 lists them
// (about an hour).
func (p *Provider) Get(ctx context.Context, id string) (provider.Server, error) {
	const op = "ec2.DescribeInstances"
	if id == "" {
		return provider.Server{}, provider.Errorf(provider.NotFound, op, "empty instance ID")
	}
	out, err := p.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return provider.Server{}, wrap(op, "instance "+id, err)
	}
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == id {
				return toServer(&r.Instances[i]), nil
			}
		}
	}
	// EC2 leaves out instances of other accounts instead of failing.
	return provider.Server{}, provider.Errorf(provider.NotFound, op, "instance %s: not in DescribeInstances' answer", id)
}

// stateOf maps EC2's instance state names to provider states. A state EC2
// may add later is reported as pending: not usable yet, and the farm's
// launch timeout replaces a server that never leaves it.
func stateOf(name types.InstanceStateName) provider.State {
	switch name {
	case types.InstanceStateNamePending:
		return provider.StatePending
	case types.InstanceStateNameRunning:
		return provider.StateRunning
	case types.InstanceStateNameStopping:
		return provider.StateStopping
	case types.InstanceStateNameStopped:
		return provider.StateStopped
	case types.InstanceStateNameShuttingDown:
		return provider.StateTerminating
	case types.InstanceStateNameTerminated:
		return provider.StateTerminated
	}
	return provider.StatePending
}

// toServer converts an EC2 instance. Tags are never nil.
func toServer(in *types.Instance) provider.Server {
	s := provider.Server{
		ID:           aws.ToString(in.InstanceId),
		PrivateIP:    aws.ToString(in.PrivateIpAddress),
		PublicIP:     aws.ToString(in.PublicIpAddress),
		Image:        aws.ToString(in.ImageId),
		InstanceType: string(in.InstanceType),
		LaunchedAt:   aws.ToTime(in.LaunchTime),
		Tags:         make(map[string]string, len(in.Tags)),
	}
	if in.State != nil {
		s.State = stateOf(in.State.Name)
	} else {
		s.State = provider.StatePending
	}
	if in.Placement != nil {
		s.Zone = aws.ToString(in.Placement.AvailabilityZone)
	}
	for _, t := range in.Tags {
		s.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	s.Name = s.Tags["Name"]
	return s
}

// tagFilters returns a tag:KEY filter per tag, in key order. EC2 treats *
// and ? in filter values as wildcards, so they are escaped.
func tagFilters(tags map[string]string) []types.Filter {
	fs := make([]types.Filter, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		fs = append(fs, types.Filter{Name: aws.String("tag:" + k), Values: []string{escapeFilter(tags[k])}})
	}
	return fs
}

// filtersOf returns one filter per entry, values used as given.
func filtersOf(m map[string]string) []types.Filter {
	fs := make([]types.Filter, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fs = append(fs, types.Filter{Name: aws.String(k), Values: []string{m[k]}})
	}
	return fs
}

func escapeFilter(v string) string {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '*' || c == '?' || c == '\\' {
			out = append(out, '\\')
		}
		out = append(out, v[i])
	}
	return string(out)
}

func tagString(tags map[string]string) string {
	if len(tags) == 0 {
		return "{}"
	}
	s := "{"
	for i, k := range slices.Sorted(maps.Keys(tags)) {
		if i > 0 {
			s += ", "
		}
		s += k + "=" + tags[k]
	}
	return s + "}"
}

func idsOf(servers []provider.Server) []string {
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = s.ID
	}
	return ids
}

func itoa(n int) string { return strconv.Itoa(n) }

func quote(s string) string { return strconv.Quote(s) }
