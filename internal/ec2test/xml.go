package ec2test

import (
	"encoding/xml"
	"maps"
	"slices"
	"time"
)

// The types in this file are the response bodies as the EC2 API reference
// shows them (API version 2016-11-15): lower-camel element names, lists as
// <xxxSet><item>...</item></xxxSet>, times in ISO 8601 with milliseconds.

// ec2Response starts every EC2 answer, <ActionResponse xmlns="...">, with
// the namespace and a requestId. Each answer's struct names its root
// element in its own XMLName field: encoding/xml cannot read an XMLName
// promoted from an unexported embedded struct.
type ec2Response struct {
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
}

func (s *Server) ec2Root() ec2Response {
	return ec2Response{Xmlns: ec2Namespace, RequestID: s.requestIDLocked()}
}

type xTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func xTags(tags map[string]string) []xTag {
	var out []xTag
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, xTag{Key: k, Value: tags[k]})
	}
	return out
}

type xState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

// stateCodes are EC2's instance state codes.
var stateCodes = map[string]int{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

func xStateOf(name string) xState { return xState{Code: stateCodes[name], Name: name} }

type xGroup struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type xPlacement struct {
	AvailabilityZone string `xml:"availabilityZone"`
	GroupName        string `xml:"groupName"`
	Tenancy          string `xml:"tenancy"`
}

type xEBS struct {
	VolumeID            string `xml:"volumeId"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type xBlockDevice struct {
	DeviceName string `xml:"deviceName"`
	EBS        xEBS   `xml:"ebs"`
}

type xInstance struct {
	InstanceID         string         `xml:"instanceId"`
	ImageID            string         `xml:"imageId"`
	State              xState         `xml:"instanceState"`
	PrivateDNSName     string         `xml:"privateDnsName"`
	DNSName            string         `xml:"dnsName"`
	Reason             string         `xml:"reason"`
	KeyName            string         `xml:"keyName,omitempty"`
	AMILaunchIndex     int            `xml:"amiLaunchIndex"`
	InstanceType       string         `xml:"instanceType"`
	LaunchTime         string         `xml:"launchTime"`
	Placement          xPlacement     `xml:"placement"`
	MonitoringState    string         `xml:"monitoring>state"`
	SubnetID           string         `xml:"subnetId,omitempty"`
	VpcID              string         `xml:"vpcId,omitempty"`
	PrivateIP          string         `xml:"privateIpAddress,omitempty"`
	PublicIP           string         `xml:"ipAddress,omitempty"`
	Groups             []xGroup       `xml:"groupSet>item"`
	Architecture       string         `xml:"architecture"`
	RootDeviceType     string         `xml:"rootDeviceType"`
	RootDeviceName     string         `xml:"rootDeviceName"`
	BlockDevices       []xBlockDevice `xml:"blockDeviceMapping>item"`
	VirtualizationType string         `xml:"virtualizationType"`
	ClientToken        string         `xml:"clientToken"`
	Tags               []xTag         `xml:"tagSet>item"`
	Hypervisor         string         `xml:"hypervisor"`
	EBSOptimized       bool           `xml:"ebsOptimized"`
}

type xReservation struct {
	ReservationID string      `xml:"reservationId"`
	OwnerID       string      `xml:"ownerId"`
	Groups        []xGroup    `xml:"groupSet>item"`
	Instances     []xInstance `xml:"instancesSet>item"`
}

type runInstancesResponse struct {
	XMLName xml.Name `xml:"RunInstancesResponse"`
	ec2Response
	ReservationID string      `xml:"reservationId"`
	OwnerID       string      `xml:"ownerId"`
	Groups        []xGroup    `xml:"groupSet>item"`
	Instances     []xInstance `xml:"instancesSet>item"`
}

type describeInstancesResponse struct {
	XMLName xml.Name `xml:"DescribeInstancesResponse"`
	ec2Response
	Reservations []xReservation `xml:"reservationSet>item"`
	NextToken    string         `xml:"nextToken,omitempty"`
}

type xStateChange struct {
	InstanceID    string `xml:"instanceId"`
	CurrentState  xState `xml:"currentState"`
	PreviousState xState `xml:"previousState"`
}

type terminateInstancesResponse struct {
	XMLName xml.Name `xml:"TerminateInstancesResponse"`
	ec2Response
	Instances []xStateChange `xml:"instancesSet>item"`
}

type returnResponse struct {
	XMLName xml.Name // RebootInstancesResponse, DeleteSnapshotResponse
	ec2Response
	Return bool `xml:"return"`
}

type xZone struct {
	ZoneName           string `xml:"zoneName"`
	ZoneState          string `xml:"zoneState"`
	RegionName         string `xml:"regionName"`
	ZoneID             string `xml:"zoneId"`
	ZoneType           string `xml:"zoneType"`
	OptInStatus        string `xml:"optInStatus"`
	GroupName          string `xml:"groupName"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
	Messages           []struct {
		Message string `xml:"message"`
	} `xml:"messageSet>item"`
}

type describeAvailabilityZonesResponse struct {
	XMLName xml.Name `xml:"DescribeAvailabilityZonesResponse"`
	ec2Response
	Zones []xZone `xml:"availabilityZoneInfo>item"`
}

type importKeyPairResponse struct {
	XMLName xml.Name `xml:"ImportKeyPairResponse"`
	ec2Response
	KeyName        string `xml:"keyName"`
	KeyFingerprint string `xml:"keyFingerprint"`
	KeyPairID      string `xml:"keyPairId"`
}

type getConsoleOutputResponse struct {
	XMLName xml.Name `xml:"GetConsoleOutputResponse"`
	ec2Response
	InstanceID string `xml:"instanceId"`
	Timestamp  string `xml:"timestamp"`
	Output     string `xml:"output,omitempty"`
}

type xAttachment struct {
	VolumeID            string `xml:"volumeId"`
	InstanceID          string `xml:"instanceId"`
	Device              string `xml:"device"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type xVolume struct {
	VolumeID         string        `xml:"volumeId"`
	Size             int           `xml:"size"`
	SnapshotID       string        `xml:"snapshotId"`
	AvailabilityZone string        `xml:"availabilityZone"`
	Status           string        `xml:"status"`
	CreateTime       string        `xml:"createTime"`
	Attachments      []xAttachment `xml:"attachmentSet>item"`
	Tags             []xTag        `xml:"tagSet>item"`
	VolumeType       string        `xml:"volumeType"`
	Encrypted        bool          `xml:"encrypted"`
}

type describeVolumesResponse struct {
	XMLName xml.Name `xml:"DescribeVolumesResponse"`
	ec2Response
	Volumes   []xVolume `xml:"volumeSet>item"`
	NextToken string    `xml:"nextToken,omitempty"`
}

type xSnapshot struct {
	SnapshotID  string `xml:"snapshotId"`
	VolumeID    string `xml:"volumeId"`
	Status      string `xml:"status"`
	StartTime   string `xml:"startTime"`
	Progress    string `xml:"progress"`
	OwnerID     string `xml:"ownerId"`
	VolumeSize  int    `xml:"volumeSize"`
	Description string `xml:"description"`
	Encrypted   bool   `xml:"encrypted"`
	Tags        []xTag `xml:"tagSet>item"`
}

type createSnapshotResponse struct {
	XMLName xml.Name `xml:"CreateSnapshotResponse"`
	ec2Response
	xSnapshot
}

type describeSnapshotsResponse struct {
	XMLName xml.Name `xml:"DescribeSnapshotsResponse"`
	ec2Response
	Snapshots []xSnapshot `xml:"snapshotSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

// ELB (awsQuery) answers wrap the result in <ActionResult> and end with
// <ResponseMetadata><RequestId>.
type elbInstances struct {
	InstanceIDs []string `xml:"Instances>member>InstanceId"`
}

type elbResponse struct {
	XMLName xml.Name
	Xmlns   string `xml:"xmlns,attr"`
	// Result takes its element name, <ActionResult>, from its XMLName.
	Result    elbResult
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type elbResult struct {
	XMLName xml.Name
	elbInstances
}

func (s *Server) elbAnswer(action string, ids []string) elbResponse {
	return elbResponse{
		XMLName:   xml.Name{Local: action + "Response"},
		Xmlns:     elbNamespace,
		Result:    elbResult{XMLName: xml.Name{Local: action + "Result"}, elbInstances: elbInstances{InstanceIDs: ids}},
		RequestID: s.requestIDLocked(),
	}
}

// isoTime formats t as EC2 does: 2026-01-02T15:04:05.000Z.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type describeLoadBalancersResponse struct {
	XMLName       xml.Name        `xml:"DescribeLoadBalancersResponse"`
	Xmlns         string          `xml:"xmlns,attr"`
	LoadBalancers []xLoadBalancer `xml:"DescribeLoadBalancersResult>LoadBalancerDescriptions>member"`
	RequestID     string          `xml:"ResponseMetadata>RequestId"`
}

type xLoadBalancer struct {
	Name    string `xml:"LoadBalancerName"`
	DNSName string `xml:"DNSName"`
	elbInstances
}
