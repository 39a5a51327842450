package ec2test

import "strconv"

// action is one Query API action the server answers: the parameters it
// takes (in shape form, "Filter.N.Value.N"), those it requires, and its
// handler, which runs with s.mu held.
type action struct {
	params   []string
	required []string
	handle   func(s *Server, req *request) (any, *apiError)
}

var (
	tagSpecParams = []string{"TagSpecification.N.ResourceType", "TagSpecification.N.Tag.N.Key", "TagSpecification.N.Tag.N.Value"}
	filterParams  = []string{"Filter.N.Name", "Filter.N.Value.N"}
	pageParams    = []string{"MaxResults", "NextToken"}
)

func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// actions maps a signing service ("ec2", "elasticloadbalancing") and an
// Action to what the server does with it.
var actions map[string]map[string]action

func init() {
	actions = map[string]map[string]action{
		"ec2": {
			"RunInstances": {
				params: join([]string{"ImageId", "InstanceType", "MinCount", "MaxCount", "ClientToken", "KeyName", "UserData",
					"Placement.AvailabilityZone", "SubnetId", "SecurityGroupId.N", "SecurityGroup.N",
					"IamInstanceProfile.Name", "IamInstanceProfile.Arn", "EbsOptimized", "Monitoring.Enabled",
					"InstanceInitiatedShutdownBehavior", "DryRun"}, tagSpecParams),
				required: []string{"ImageId", "MinCount", "MaxCount"},
				handle:   (*Server).runInstances,
			},
			"DescribeInstances": {
				params: join([]string{"InstanceId.N", "DryRun"}, filterParams, pageParams),
				handle: (*Server).describeInstances,
			},
			"TerminateInstances": {
				params:   []string{"InstanceId.N", "DryRun"},
				required: []string{"InstanceId.1"},
				handle:   (*Server).terminateInstances,
			},
			"RebootInstances": {
				params:   []string{"InstanceId.N", "DryRun"},
				required: []string{"InstanceId.1"},
				handle:   (*Server).rebootInstances,
			},
			"DescribeAvailabilityZones": {
				params: join([]string{"ZoneName.N", "ZoneId.N", "AllAvailabilityZones", "DryRun"}, filterParams),
				handle: (*Server).describeAvailabilityZones,
			},
			"ImportKeyPair": {
				params:   join([]string{"KeyName", "PublicKeyMaterial", "DryRun"}, tagSpecParams),
				required: []string{"KeyName", "PublicKeyMaterial"},
				handle:   (*Server).importKeyPair,
			},
			"GetConsoleOutput": {
				params:   []string{"InstanceId", "Latest", "DryRun"},
				required: []string{"InstanceId"},
				handle:   (*Server).getConsoleOutput,
			},
			"DescribeVolumes": {
				params: join([]string{"VolumeId.N", "DryRun"}, filterParams, pageParams),
				handle: (*Server).describeVolumes,
			},
			"CreateSnapshot": {
				params:   join([]string{"VolumeId", "Description", "DryRun"}, tagSpecParams),
				required: []string{"VolumeId"},
				handle:   (*Server).createSnapshot,
			},
			"DescribeSnapshots": {
				params: join([]string{"SnapshotId.N", "Owner.N", "RestorableBy.N", "DryRun"}, filterParams, pageParams),
				handle: (*Server).describeSnapshots,
			},
			"DeleteSnapshot": {
				params:   []string{"SnapshotId", "DryRun"},
				required: []string{"SnapshotId"},
				handle:   (*Server).deleteSnapshot,
			},
		},
		"elasticloadbalancing": {
			"RegisterInstancesWithLoadBalancer": {
				params:   []string{"LoadBalancerName", "Instances.member.N.InstanceId"},
				required: []string{"LoadBalancerName", "Instances.member.1.InstanceId"},
				handle:   (*Server).registerInstancesWithLoadBalancer,
			},
			"DeregisterInstancesFromLoadBalancer": {
				params:   []string{"LoadBalancerName", "Instances.member.N.InstanceId"},
				required: []string{"LoadBalancerName", "Instances.member.1.InstanceId"},
				handle:   (*Server).deregisterInstancesFromLoadBalancer,
			},
			"DescribeLoadBalancers": {
				params: []string{"LoadBalancerNames.member.N", "Marker", "PageSize"},
				handle: (*Server).describeLoadBalancers,
			},
		},
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
