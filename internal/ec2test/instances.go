package ec2test

import (
	"encoding/base64"
	"encoding/xml"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// maxUserData is EC2's limit on user data before base64.
const maxUserData = 16 * 1024

var (
	instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	imageIDPattern    = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)
)

func malformed(kind, id, prefix string) *apiError {
	return newAPIError(kind+".Malformed", "Invalid id: %q (expecting %q)", id, prefix+"-...")
}

// notFoundIDs is EC2's message for unknown instance IDs, singular or
// plural: "The instance ID 'i-1' does not exist", "The instance IDs 'i-1,
// i-2' do not exist".
func notFoundIDs(ids []string) *apiError {
	if len(ids) == 1 {
		return newAPIError("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", ids[0])
	}
	return newAPIError("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(ids, ", "))
}

// lookup resolves instance IDs as EC2 does: the first malformed ID fails
// the call, then every unknown ID is named in one NotFound error.
func (s *Server) lookup(ids []string) ([]*instance, *apiError) {
	return s.lookupVisible(ids, nil)
}

// lookupVisible is lookup with the instances in hidden taken as unknown.
func (s *Server) lookupVisible(ids []string, hidden map[*instance]bool) ([]*instance, *apiError) {
	var out []*instance
	var unknown []string
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return nil, malformed("InvalidInstanceID", id, "i")
		}
		in, ok := s.byID[id]
		if !ok || hidden[in] {
			unknown = append(unknown, id)
			continue
		}
		out = append(out, in)
	}
	if len(unknown) > 0 {
		return nil, notFoundIDs(unknown)
	}
	return out, nil
}

// launchParams is the request without its ClientToken, to tell a repeated
// idempotent request from a different one with the same token.
func launchParams(form url.Values) string {
	var parts []string
	for k, v := range form {
		if k != "ClientToken" {
			parts = append(parts, k+"="+v[0])
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "&")
}

func (s *Server) runInstances(req *request) (any, *apiError) {
	f := req.form
	minCount, err1 := strconv.Atoi(f.Get("MinCount"))
	maxCount, err2 := strconv.Atoi(f.Get("MaxCount"))
	if err1 != nil || err2 != nil || minCount < 1 || maxCount < minCount {
		return nil, newAPIError("InvalidParameterValue", "Invalid MinCount %q / MaxCount %q", f.Get("MinCount"), f.Get("MaxCount"))
	}
	token := f.Get("ClientToken")
	if len(token) > 64 {
		return nil, newAPIError("InvalidParameterValue", "Value (%s) for parameter clientToken is invalid. Length exceeds maximum of 64", token)
	}
	if token != "" {
		if r, ok := s.tokens[token]; ok {
			if r.params != launchParams(f) {
				return nil, newAPIError("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
			}
			return s.reservationResponse(r), nil
		}
	}
	image := f.Get("ImageId")
	if !imageIDPattern.MatchString(image) {
		return nil, malformed("InvalidAMIID", image, "ami")
	}
	if len(s.opts.Images) > 0 && !slices.Contains(s.opts.Images, image) {
		return nil, newAPIError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", image)
	}
	itype := f.Get("InstanceType")
	if itype == "" {
		itype = "m1.small"
	}
	zone := f.Get("Placement.AvailabilityZone")
	if zone == "" {
		zone = s.opts.Zones[0]
	}
	if !slices.Contains(s.opts.Zones, zone) {
		return nil, newAPIError("InvalidParameterValue", "Invalid availability zone: [%s]", zone)
	}
	keyName := f.Get("KeyName")
	if _, ok := s.keyPairs[keyName]; keyName != "" && !ok {
		return nil, newAPIError("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", keyName)
	}
	var userData []byte
	if v := f.Get("UserData"); v != "" {
		var err error
		if userData, err = base64.StdEncoding.DecodeString(v); err != nil {
			return nil, newAPIError("InvalidParameterValue", "Invalid BASE64 encoding of user data.")
		}
		if len(userData) > maxUserData {
			return nil, newAPIError("InvalidParameterValue", "User data is limited to %d bytes", maxUserData)
		}
	}
	specs, aerr := tagSpecs(f)
	if aerr != nil {
		return nil, aerr
	}
	for rt := range specs {
		if rt != "instance" && rt != "volume" && rt != "network-interface" {
			return nil, newAPIError("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt)
		}
	}
	n := maxCount
	if capacity, limited := s.capacity[zone]; limited {
		if capacity < minCount {
			return nil, newAPIError("InsufficientInstanceCapacity",
				"We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity. You can currently get %s capacity by not specifying an Availability Zone in your request or choosing %s.",
				itype, zone, itype, strings.Join(slices.DeleteFunc(slices.Clone(s.opts.Zones), func(z string) bool { return z == zone }), ", "))
		}
		n = min(n, capacity)
	}
	if s.limit >= 0 {
		room := s.limit - s.liveCount()
		if room < minCount {
			return nil, newAPIError("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of %d allows for the specified instance type.", minCount, s.limit)
		}
		n = min(n, room)
	}
	if _, limited := s.capacity[zone]; limited {
		s.capacity[zone] -= n
	}
	r := &reservation{id: s.nextID("r"), token: token, params: launchParams(f)}
	now := s.now()
	for i := range n {
		s.launched++
		in := &instance{
			id: s.nextID("i"), image: image, instanceType: itype, zone: zone, keyName: keyName,
			subnet: f.Get("SubnetId"), groups: list(f, "SecurityGroupId"), state: "pending",
			privateIP: s.privateIP(s.launched), launched: now, tags: specs["instance"],
			userData: userData, reservation: r, launchIndex: i, n: s.launched, hidden: s.lag,
		}
		if in.tags == nil {
			in.tags = map[string]string{}
		}
		vol := &volume{id: s.nextID("vol"), zone: zone, instance: in.id, device: "/dev/xvda", size: 8, created: now, tags: specs["volume"]}
		s.volumes[vol.id] = vol
		in.rootVolume = vol.id
		r.instances = append(r.instances, in)
		s.instances = append(s.instances, in)
		s.byID[in.id] = in
	}
	if token != "" {
		s.tokens[token] = r
	}
	return s.reservationResponse(r), nil
}

func (s *Server) liveCount() int {
	n := 0
	for _, in := range s.instances {
		if in.state != "shutting-down" && in.state != "terminated" {
			n++
		}
	}
	return n
}

func (s *Server) reservationResponse(r *reservation) runInstancesResponse {
	out := runInstancesResponse{ec2Response: s.ec2Root(), ReservationID: r.id, OwnerID: DefaultOwnerID}
	for _, in := range r.instances {
		out.Instances = append(out.Instances, s.xInstance(in))
	}
	return out
}

func (s *Server) xInstance(in *instance) xInstance {
	x := xInstance{
		InstanceID: in.id, ImageID: in.image, State: xStateOf(in.state), KeyName: in.keyName,
		AMILaunchIndex: in.launchIndex, InstanceType: in.instanceType, LaunchTime: isoTime(in.launched),
		Placement:       xPlacement{AvailabilityZone: in.zone, Tenancy: "default"},
		MonitoringState: "disabled", SubnetID: in.subnet, Architecture: "x86_64",
		RootDeviceType: "ebs", RootDeviceName: "/dev/xvda", VirtualizationType: "hvm",
		ClientToken: in.reservation.token, Tags: xTags(in.tags), Hypervisor: "xen",
	}
	if in.state != "terminated" {
		x.PrivateIP = in.privateIP
		x.PrivateDNSName = "ip-" + strings.ReplaceAll(in.privateIP, ".", "-") + "." + s.opts.Region + ".compute.internal"
		x.PublicIP = in.publicIP
	}
	for _, g := range in.groups {
		x.Groups = append(x.Groups, xGroup{GroupID: g})
	}
	if v, ok := s.volumes[in.rootVolume]; ok {
		x.BlockDevices = []xBlockDevice{{DeviceName: v.device, EBS: xEBS{VolumeID: v.id, Status: "attached", AttachTime: isoTime(v.created), DeleteOnTermination: true}}}
	}
	return x
}

// instanceFilters are the DescribeInstances filters the server knows; EC2
// answers an unknown filter name with InvalidParameterValue.
var instanceFilters = map[string]func(*instance) []string{
	"instance-id":         func(in *instance) []string { return []string{in.id} },
	"instance-state-name": func(in *instance) []string { return []string{in.state} },
	"availability-zone":   func(in *instance) []string { return []string{in.zone} },
	"image-id":            func(in *instance) []string { return []string{in.image} },
	"instance-type":       func(in *instance) []string { return []string{in.instanceType} },
	"client-token":        func(in *instance) []string { return []string{in.reservation.token} },
	"reservation-id":      func(in *instance) []string { return []string{in.reservation.id} },
	"tag-key":             func(in *instance) []string { return slices.Collect(maps.Keys(in.tags)) },
}

// matchFilter reports whether any of values matches any of the filter's
// values; ok false (a tag the resource lacks) never matches.
func matchFilter(f filter, values []string, ok bool) bool {
	if !ok {
		return false
	}
	for _, want := range f.values {
		for _, v := range values {
			if glob(want, v) {
				return true
			}
		}
	}
	return false
}

func checkFilters(fs []filter, known func(string) bool) *apiError {
	for _, f := range fs {
		if !strings.HasPrefix(f.name, "tag:") && !known(f.name) {
			return newAPIError("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
		if len(f.values) == 0 {
			return newAPIError("InvalidParameterValue", "The filter '%s' has no values", f.name)
		}
	}
	return nil
}

func (s *Server) describeInstances(req *request) (any, *apiError) {
	f := req.form
	ids := list(f, "InstanceId")
	if len(ids) > 0 && f.Get("MaxResults") != "" {
		return nil, newAPIError("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	fs := filters(f)
	if aerr := checkFilters(fs, func(n string) bool { _, ok := instanceFilters[n]; return ok }); aerr != nil {
		return nil, aerr
	}
	// Instances launched under DelayVisibility stay out of this many
	// answers.
	hidden := map[*instance]bool{}
	for _, in := range s.instances {
		if in.hidden > 0 {
			hidden[in] = true
			in.hidden--
		}
	}
	candidates := s.instances
	if len(ids) > 0 {
		var aerr *apiError
		if candidates, aerr = s.lookupVisible(ids, hidden); aerr != nil {
			return nil, aerr
		}
	}
	var matched []*instance
	for _, in := range candidates {
		ok := !hidden[in]
		for _, flt := range fs {
			if k, isTag := strings.CutPrefix(flt.name, "tag:"); isTag {
				v, has := in.tags[k]
				ok = ok && matchFilter(flt, []string{v}, has)
			} else {
				ok = ok && matchFilter(flt, instanceFilters[flt.name](in), true)
			}
		}
		if ok {
			matched = append(matched, in)
		}
	}
	start, end, aerr := s.pageParams(f, len(matched))
	if aerr != nil {
		return nil, aerr
	}
	out := describeInstancesResponse{ec2Response: s.ec2Root(), NextToken: nextToken(end, len(matched))}
	for _, in := range matched[start:end] {
		n := len(out.Reservations)
		if n == 0 || out.Reservations[n-1].ReservationID != in.reservation.id {
			out.Reservations = append(out.Reservations, xReservation{ReservationID: in.reservation.id, OwnerID: DefaultOwnerID})
			n++
		}
		out.Reservations[n-1].Instances = append(out.Reservations[n-1].Instances, s.xInstance(in))
	}
	return out, nil
}

func (s *Server) terminateInstances(req *request) (any, *apiError) {
	ins, aerr := s.lookup(list(req.form, "InstanceId"))
	if aerr != nil {
		return nil, aerr
	}
	out := terminateInstancesResponse{ec2Response: s.ec2Root()}
	for _, in := range ins {
		prev := in.state
		if prev != "terminated" {
			in.state = "shutting-down"
		}
		out.Instances = append(out.Instances, xStateChange{InstanceID: in.id, CurrentState: xStateOf(in.state), PreviousState: xStateOf(prev)})
	}
	return out, nil
}

func (s *Server) rebootInstances(req *request) (any, *apiError) {
	ins, aerr := s.lookup(list(req.form, "InstanceId"))
	if aerr != nil {
		return nil, aerr
	}
	for _, in := range ins {
		if in.state == "shutting-down" || in.state == "terminated" {
			return nil, newAPIError("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be rebooted.", in.id)
		}
	}
	for _, in := range ins {
		if in.state == "running" {
			in.reboots++
			in.console += "[    0.000000] Linux version 6.1.0-amzn (reboot " + strconv.Itoa(in.reboots) + ")\r\n"
		}
	}
	return returnResponse{XMLName: xml.Name{Local: "RebootInstancesResponse"}, ec2Response: s.ec2Root(), Return: true}, nil
}

func (s *Server) describeAvailabilityZones(req *request) (any, *apiError) {
	known := map[string]func(string) string{
		"zone-name":   func(z string) string { return z },
		"zone-type":   func(string) string { return "availability-zone" },
		"state":       func(string) string { return "available" },
		"region-name": func(string) string { return s.opts.Region },
	}
	fs := filters(req.form)
	for _, flt := range fs {
		if _, ok := known[flt.name]; !ok {
			return nil, newAPIError("InvalidParameterValue", "The filter '%s' is invalid", flt.name)
		}
	}
	names := list(req.form, "ZoneName")
	for _, n := range names {
		if !slices.Contains(s.opts.Zones, n) {
			return nil, newAPIError("InvalidParameterValue", "The zone '%s' does not exist in region %s", n, s.opts.Region)
		}
	}
	out := describeAvailabilityZonesResponse{ec2Response: s.ec2Root()}
	for i, z := range s.opts.Zones {
		if len(names) > 0 && !slices.Contains(names, z) {
			continue
		}
		ok := true
		for _, flt := range fs {
			ok = ok && matchFilter(flt, []string{known[flt.name](z)}, true)
		}
		if ok {
			out.Zones = append(out.Zones, xZone{
				ZoneName: z, ZoneState: "available", RegionName: s.opts.Region, ZoneID: "ust1-az" + strconv.Itoa(i+1),
				ZoneType: "availability-zone", OptInStatus: "opt-in-not-required", GroupName: s.opts.Region, NetworkBorderGroup: s.opts.Region,
			})
		}
	}
	return out, nil
}

func (s *Server) importKeyPair(req *request) (any, *apiError) {
	name := req.form.Get("KeyName")
	material, err := base64.StdEncoding.DecodeString(req.form.Get("PublicKeyMaterial"))
	if err != nil {
		return nil, newAPIError("InvalidParameterValue", "Value for parameter PublicKeyMaterial is invalid: not base64")
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey(material)
	if err != nil {
		return nil, newAPIError("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
	}
	if key.Type() == ssh.KeyAlgoDSA {
		return nil, newAPIError("InvalidKey.Format", "DSA keys are not supported")
	}
	if _, dup := s.keyPairs[name]; dup {
		return nil, newAPIError("InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
	}
	kp := keyPair{name: name, fingerprint: ssh.FingerprintLegacyMD5(key), id: s.nextID("key"), material: string(material)}
	s.keyPairs[name] = kp
	return importKeyPairResponse{ec2Response: s.ec2Root(), KeyName: kp.name, KeyFingerprint: kp.fingerprint, KeyPairID: kp.id}, nil
}

func (s *Server) getConsoleOutput(req *request) (any, *apiError) {
	ins, aerr := s.lookup([]string{req.form.Get("InstanceId")})
	if aerr != nil {
		return nil, aerr
	}
	in := ins[0]
	out := getConsoleOutputResponse{ec2Response: s.ec2Root(), InstanceID: in.id, Timestamp: isoTime(s.now())}
	if in.console != "" {
		out.Output = base64.StdEncoding.EncodeToString([]byte(in.console))
	}
	return out, nil
}

// glob matches EC2 filter values: * is any run of characters, ? any one,
// and a backslash escapes either.
func glob(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if glob(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && glob(pattern[1:], s[1:])
	case '\\':
		if len(pattern) > 1 {
			return s != "" && s[0] == pattern[1] && glob(pattern[2:], s[1:])
		}
	}
	return s != "" && s[0] == pattern[0] && glob(pattern[1:], s[1:])
}
