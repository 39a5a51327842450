package novatest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// noValidHost is the fault Nova's scheduler leaves on a server it could not
// place.
const noValidHost = "No valid host was found. There are not enough hosts available."

type server struct {
	ID, Name, Status, TaskState, VMState string
	Zone, Image, Flavor, KeyName         string
	Metadata                             map[string]string
	UserData                             []byte
	Personality                          map[string][]byte
	Created, Updated                     time.Time
	PrivateIP, PublicIP                  string
	Fault                                string
	HostKey                              string // authorized_keys line, once ACTIVE
	deleted                              bool
	noHost                               bool // scheduling will fail
	index                                int
}

func (sv *server) settle(s *Server, now time.Time) {
	switch {
	case sv.deleted:
	case sv.TaskState == "deleting":
		sv.deleted = true
	case sv.TaskState == "scheduling" && sv.noHost:
		sv.Status, sv.VMState, sv.TaskState, sv.Fault, sv.Updated = "ERROR", "error", "", noValidHost, now
	case sv.TaskState == "scheduling":
		sv.TaskState, sv.Updated = "spawning", now
	case sv.Status == "BUILD" || sv.Status == "REBOOT" || sv.Status == "HARD_REBOOT":
		sv.Status, sv.VMState, sv.TaskState, sv.Updated = "ACTIVE", "active", "", now
		if sv.PrivateIP == "" && s.opts.LoopbackIPs {
			sv.PrivateIP = fmt.Sprintf("127.2.%d.%d", sv.index/250%256, sv.index%250+1)
		} else if sv.PrivateIP == "" {
			sv.PrivateIP = fmt.Sprintf("10.%d.%d.%d", 176+sv.index/65536%16, sv.index/256%256, sv.index%256)
			sv.PublicIP = fmt.Sprintf("198.51.%d.%d", 100+sv.index/256%28, sv.index%256)
		}
		if sv.HostKey == "" {
			sv.HostKey = s.opts.HostKey
		}
		if sv.HostKey == "" {
			sv.HostKey = newHostKey()
		}
	}
}

// Servers returns the ID of every server not deleted, oldest first.
func (s *Server) Servers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, sv := range s.servers {
		if !sv.deleted {
			ids = append(ids, sv.ID)
		}
	}
	return ids
}

// ServerStatus returns a server's Nova status ("BUILD", "ACTIVE", "ERROR",
// ...), "DELETED" for a deleted one, and "" for an unknown ID.
func (s *Server) ServerStatus(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.byID[id]
	switch {
	case sv == nil:
		return ""
	case sv.deleted:
		return "DELETED"
	}
	return sv.Status
}

// ServerMetadata returns a copy of a server's metadata, nil when unknown.
func (s *Server) ServerMetadata(id string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv := s.byID[id]; sv != nil {
		out := map[string]string{}
		for k, v := range sv.Metadata {
			out[k] = v
		}
		return out
	}
	return nil
}

// ServerUserData returns the decoded user data a server was created with.
func (s *Server) ServerUserData(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv := s.byID[id]; sv != nil {
		return slices.Clone(sv.UserData)
	}
	return nil
}

// ServerKeyName returns the key pair a server was created with.
func (s *Server) ServerKeyName(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv := s.byID[id]; sv != nil {
		return sv.KeyName
	}
	return ""
}

// ServerPersonality returns the files injected into a server at create.
func (s *Server) ServerPersonality(id string) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]byte{}
	if sv := s.byID[id]; sv != nil {
		for k, v := range sv.Personality {
			out[k] = slices.Clone(v)
		}
	}
	return out
}

// HostKey returns the SSH host key (an authorized_keys line) a server prints
// on its console once ACTIVE, or "".
func (s *Server) HostKey(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv := s.byID[id]; sv != nil {
		return sv.HostKey
	}
	return ""
}

func (s *Server) compute(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	switch {
	case len(rest) == 1 && rest[0] == "servers" && r.Method == http.MethodPost:
		s.createServer(w, r, region)
	case len(rest) == 2 && rest[0] == "servers" && rest[1] == "detail" && r.Method == http.MethodGet:
		s.listServers(w, r, region)
	case len(rest) == 2 && rest[0] == "servers" && r.Method == http.MethodGet:
		s.getServer(w, r, region, rest[1])
	case len(rest) == 2 && rest[0] == "servers" && r.Method == http.MethodDelete:
		s.deleteServer(w, r, rest[1])
	case len(rest) == 3 && rest[0] == "servers" && rest[2] == "action" && r.Method == http.MethodPost:
		s.serverAction(w, r, region, rest[1])
	case len(rest) == 3 && rest[0] == "servers" && rest[2] == "os-volume_attachments" && r.Method == http.MethodGet:
		s.volumeAttachments(w, r, rest[1])
	case len(rest) == 1 && rest[0] == "os-keypairs" && r.Method == http.MethodPost:
		s.createKeypair(w, r)
	case len(rest) == 2 && rest[0] == "os-keypairs" && r.Method == http.MethodGet:
		s.getKeypair(w, r, rest[1])
	case len(rest) == 1 && rest[0] == "os-availability-zone" && r.Method == http.MethodGet && !s.opts.NoAvailabilityZones:
		s.availabilityZones(w, r)
	case len(rest) == 1 && rest[0] == "os-availability-zone" && s.opts.NoAvailabilityZones:
		writeFault(w, http.StatusNotFound, "The resource could not be found.")
	default:
		s.badRequest(w, r, http.StatusNotFound, "no such compute route")
	}
}

// createRequest is the body of POST /servers (Nova v2.1 schema, the
// properties this server knows; anything else is refused).
type createRequest struct {
	Server struct {
		Name             string            `json:"name"`
		ImageRef         *string           `json:"imageRef"`
		FlavorRef        *string           `json:"flavorRef"`
		AvailabilityZone string            `json:"availability_zone,omitempty"`
		Metadata         map[string]string `json:"metadata,omitempty"`
		KeyName          string            `json:"key_name,omitempty"`
		UserData         *string           `json:"user_data,omitempty"`
		Personality      []struct {
			Path     string `json:"path"`
			Contents string `json:"contents"`
		} `json:"personality,omitempty"`
		MinCount            any    `json:"min_count,omitempty"`
		MaxCount            any    `json:"max_count,omitempty"`
		ReturnReservationID any    `json:"return_reservation_id,omitempty"`
		Networks            any    `json:"networks,omitempty"`
		SecurityGroups      []any  `json:"security_groups,omitempty"`
		ConfigDrive         *bool  `json:"config_drive,omitempty"`
		AdminPass           string `json:"adminPass,omitempty"`
		DiskConfig          string `json:"OS-DCF:diskConfig,omitempty"`
		AccessIPv4          string `json:"accessIPv4,omitempty"`
		AccessIPv6          string `json:"accessIPv6,omitempty"`
	} `json:"server"`
	SchedulerHints map[string]any `json:"os:scheduler_hints,omitempty"`
}

var keyPairName = regexp.MustCompile(`^[a-zA-Z0-9 _.@-]{1,255}$`)

// countParam reads min_count/max_count, which Nova accepts as an integer or
// a string of digits.
func countParam(v any) (int, bool) {
	switch n := v.(type) {
	case nil:
		return 1, true
	case float64:
		return int(n), n == float64(int(n)) && n >= 1
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil && i >= 1
	}
	return 0, false
}

func (s *Server) createServer(w http.ResponseWriter, r *http.Request, region string) {
	var req createRequest
	if !s.decode(w, r, &req) {
		return
	}
	sr := req.Server
	switch {
	case sr.Name == "" || utf8.RuneCountInString(sr.Name) > 255:
		s.badRequest(w, r, http.StatusBadRequest, "server name must be 1 to 255 characters, got %q", sr.Name)
		return
	case sr.FlavorRef == nil || *sr.FlavorRef == "":
		s.badRequest(w, r, http.StatusBadRequest, "'flavorRef' is a required property")
		return
	case sr.ImageRef == nil || *sr.ImageRef == "":
		s.badRequest(w, r, http.StatusBadRequest, "imageRef is required when booting from an image")
		return
	}
	for k, v := range sr.Metadata {
		if k == "" || len(k) > 255 || len(v) > 255 {
			s.badRequest(w, r, http.StatusBadRequest, "metadata key %q or its value is outside 1..255 / 0..255 characters", k)
			return
		}
	}
	minCount, ok1 := countParam(sr.MinCount)
	maxCount, ok2 := countParam(sr.MaxCount)
	if sr.MaxCount == nil {
		maxCount = minCount
	}
	if !ok1 || !ok2 || minCount > maxCount {
		s.badRequest(w, r, http.StatusBadRequest, "min_count %v / max_count %v are not counts with min <= max", sr.MinCount, sr.MaxCount)
		return
	}
	var userData []byte
	if sr.UserData != nil {
		d, err := base64.StdEncoding.DecodeString(*sr.UserData)
		if err != nil || len(*sr.UserData) > 65535 {
			s.badRequest(w, r, http.StatusBadRequest, "User data needs to be valid base 64 (at most 65535 bytes).")
			return
		}
		userData = d
	}
	files := map[string][]byte{}
	for _, f := range sr.Personality {
		d, err := base64.StdEncoding.DecodeString(f.Contents)
		if f.Path == "" || err != nil {
			s.badRequest(w, r, http.StatusBadRequest, "personality file %q needs a path and base64 contents", f.Path)
			return
		}
		files[f.Path] = d
	}
	// Semantic checks: a real cloud refuses these with 400, which is not a
	// wire-format defect of the client.
	if len(s.opts.Images) > 0 && !slices.Contains(s.opts.Images, *sr.ImageRef) {
		writeFault(w, http.StatusBadRequest, "Image "+*sr.ImageRef+" could not be found.")
		return
	}
	if len(s.opts.Flavors) > 0 && !slices.Contains(s.opts.Flavors, *sr.FlavorRef) {
		writeFault(w, http.StatusBadRequest, "Flavor "+*sr.FlavorRef+" could not be found.")
		return
	}
	if sr.AvailabilityZone != "" && s.opts.NoAvailabilityZones {
		s.badRequest(w, r, http.StatusBadRequest, "availability_zone %q on a cloud without availability zones", sr.AvailabilityZone)
		return
	}
	if sr.AvailabilityZone != "" && !slices.Contains(s.opts.Zones, sr.AvailabilityZone) {
		writeFault(w, http.StatusBadRequest, "The requested availability zone is not available")
		return
	}
	s.mu.Lock()
	if sr.KeyName != "" {
		if _, ok := s.keypairs[sr.KeyName]; !ok || !keyPairName.MatchString(sr.KeyName) {
			s.mu.Unlock()
			writeFault(w, http.StatusBadRequest, "Invalid key_name provided.")
			return
		}
	}
	n := maxCount
	if s.quota >= 0 {
		used := 0
		for _, sv := range s.servers {
			if !sv.deleted {
				used++
			}
		}
		if avail := s.quota - used; avail < minCount {
			s.mu.Unlock()
			writeFault(w, http.StatusForbidden, fmt.Sprintf(
				"Quota exceeded for instances: Requested %d, but already used %d of %d instances", minCount, used, s.quota))
			return
		} else if avail < n {
			n = avail
		}
	}
	zone := sr.AvailabilityZone
	if zone == "" {
		zone = s.opts.Zones[0]
	}
	noHost := false
	if c, limited := s.capacity[zone]; limited {
		if c < n {
			noHost = true // the scheduler places all of them or none
		} else {
			s.capacity[zone] = c - n
		}
	}
	now := s.opts.Now().UTC().Truncate(time.Second)
	var created []*server
	for i := range n {
		name := sr.Name
		if n > 1 {
			name = fmt.Sprintf("%s-%d", sr.Name, i+1) // multi_instance_display_name_template
		}
		sv := &server{
			ID: s.nextID(), Name: name, Status: "BUILD", VMState: "building", TaskState: "spawning",
			Zone: zone, Image: *sr.ImageRef, Flavor: *sr.FlavorRef, KeyName: sr.KeyName,
			Metadata: map[string]string{}, UserData: userData, Personality: files,
			Created: now, Updated: now, index: len(s.servers) + 1,
		}
		for k, v := range sr.Metadata {
			sv.Metadata[k] = v
		}
		switch {
		case s.delay:
			sv.TaskState, sv.noHost = "scheduling", noHost
		case noHost:
			sv.Status, sv.VMState, sv.TaskState, sv.Fault = "ERROR", "error", "", noValidHost
		}
		s.servers = append(s.servers, sv)
		s.byID[sv.ID] = sv
		created = append(created, sv)
	}
	drop := s.drops > 0
	if drop {
		s.drops--
	}
	s.mu.Unlock()

	if drop {
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("novatest: cannot hijack the connection to drop a response")
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	if rr, _ := sr.ReturnReservationID.(bool); rr || sr.ReturnReservationID == "True" || sr.ReturnReservationID == "true" {
		writeJSON(w, http.StatusAccepted, map[string]any{"reservation_id": "r-" + created[0].ID[:8]})
		return
	}
	first := created[0]
	writeJSON(w, http.StatusAccepted, map[string]any{"server": map[string]any{
		"id":                first.ID,
		"links":             s.serverLinks(region, first.ID),
		"adminPass":         "Zq8" + first.ID[:8],
		"OS-DCF:diskConfig": "MANUAL",
		"security_groups":   []any{map[string]any{"name": "default"}},
	}})
}

func (s *Server) serverLinks(region, id string) []any {
	href := s.ComputeURL(region) + "/servers/" + id
	return []any{
		map[string]any{"rel": "self", "href": href},
		map[string]any{"rel": "bookmark", "href": href},
	}
}

// serverJSON renders a server as GET /servers/{id} and /servers/detail do.
func (s *Server) serverJSON(region string, sv *server) map[string]any {
	addresses := map[string]any{}
	access := ""
	if sv.PrivateIP != "" {
		addresses["private"] = []any{map[string]any{"addr": sv.PrivateIP, "version": 4, "OS-EXT-IPS:type": "fixed"}}
		access = sv.PublicIP
	}
	if sv.PublicIP != "" {
		addresses["public"] = []any{map[string]any{"addr": sv.PublicIP, "version": 4, "OS-EXT-IPS:type": "fixed"}}
	}
	var task any
	if sv.TaskState != "" {
		task = sv.TaskState
	}
	power := 0
	if sv.Status == "ACTIVE" {
		power = 1
	}
	var keyName any
	if sv.KeyName != "" {
		keyName = sv.KeyName
	}
	md := map[string]string{}
	for k, v := range sv.Metadata {
		md[k] = v
	}
	var attached []any
	for _, v := range s.volumes {
		if v.ServerID == sv.ID {
			attached = append(attached, map[string]any{"id": v.ID})
		}
	}
	out := map[string]any{
		"id": sv.ID, "name": sv.Name, "status": sv.Status,
		"tenant_id": s.opts.ProjectID, "user_id": "u-" + s.opts.Username,
		"metadata": md, "hostId": "", "progress": 0,
		"created": sv.Created.Format(time.RFC3339), "updated": sv.Updated.Format(time.RFC3339),
		"image":     map[string]any{"id": sv.Image, "links": []any{}},
		"flavor":    map[string]any{"id": sv.Flavor, "links": []any{}},
		"addresses": addresses, "accessIPv4": access, "accessIPv6": "",
		"key_name": keyName, "links": s.serverLinks(region, sv.ID),
		"config_drive": "", "security_groups": []any{map[string]any{"name": "default"}},
		"OS-EXT-STS:task_state":                task,
		"OS-EXT-STS:vm_state":                  sv.VMState,
		"OS-EXT-STS:power_state":               power,
		"OS-DCF:diskConfig":                    "MANUAL",
		"OS-SRV-USG:launched_at":               nil,
		"OS-SRV-USG:terminated_at":             nil,
		"os-extended-volumes:volumes_attached": attached,
	}
	if !s.opts.NoAvailabilityZones {
		out["OS-EXT-AZ:availability_zone"] = sv.Zone
	}
	if sv.Status == "ERROR" && sv.Fault != "" {
		out["fault"] = map[string]any{"code": 500, "message": sv.Fault, "created": sv.Updated.Format(time.RFC3339)}
	}
	return out
}

func (s *Server) listServers(w http.ResponseWriter, r *http.Request, region string) {
	q := r.URL.Query()
	for k := range q {
		if k != "limit" && k != "marker" && k != "name" {
			s.badRequest(w, r, http.StatusBadRequest, "unexpected query parameter %q", k)
			return
		}
	}
	limit := s.opts.MaxLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.badRequest(w, r, http.StatusBadRequest, "limit %q is not a non-negative integer", v)
			return
		}
		limit = min(n, s.opts.MaxLimit)
	}
	var nameRE *regexp.Regexp
	if v := q.Get("name"); v != "" && s.opts.ExactNameFilter {
		nameRE = regexp.MustCompile("^" + regexp.QuoteMeta(v) + "$")
	} else if v != "" {
		re, err := regexp.Compile(v)
		if err != nil {
			s.badRequest(w, r, http.StatusBadRequest, "name filter %q is not a regular expression: %v", v, err)
			return
		}
		nameRE = re
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Nova sorts by created_at desc, id desc: newest first.
	order := slices.Clone(s.servers)
	slices.Reverse(order)
	start := 0
	if m := q.Get("marker"); m != "" {
		i := slices.IndexFunc(order, func(sv *server) bool { return sv.ID == m })
		if i < 0 {
			writeFault(w, http.StatusBadRequest, "marker ["+m+"] not found")
			return
		}
		start = i + 1
	}
	var page []any
	last := ""
	for _, sv := range order[start:] {
		if len(page) == limit {
			break
		}
		if sv.deleted || nameRE != nil && !nameRE.MatchString(sv.Name) {
			continue
		}
		page = append(page, s.serverJSON(region, sv))
		last = sv.ID
	}
	body := map[string]any{"servers": append([]any{}, page...)}
	if len(page) == limit && limit > 0 {
		// Nova adds a next link whenever a page is full, even when nothing follows.
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("marker", last)
		next.Set("limit", strconv.Itoa(limit))
		body["servers_links"] = []any{map[string]any{
			"rel": "next", "href": s.ComputeURL(region) + "/servers/detail?" + next.Encode(),
		}}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) lookup(w http.ResponseWriter, id string) *server {
	sv := s.byID[id]
	if sv == nil || sv.deleted {
		writeFault(w, http.StatusNotFound, "Instance "+id+" could not be found.")
		return nil
	}
	return sv
}

func (s *Server) getServer(w http.ResponseWriter, r *http.Request, region, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv := s.lookup(w, id); sv != nil {
		writeJSON(w, http.StatusOK, map[string]any{"server": s.serverJSON(region, sv)})
	}
}

func (s *Server) deleteServer(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.lookup(w, id)
	if sv == nil {
		return
	}
	if sv.TaskState != "deleting" && sv.Status != "ERROR" && !sv.noHost {
		if c, limited := s.capacity[sv.Zone]; limited {
			s.capacity[sv.Zone] = c + 1
		}
	}
	sv.TaskState, sv.Updated = "deleting", s.opts.Now().UTC()
	for _, v := range s.volumes {
		if v.ServerID == id {
			v.ServerID, v.Device, v.Status = "", "", "available"
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
