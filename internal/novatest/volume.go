package novatest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// cinderTime is how Cinder formats timestamps: no zone, microseconds.
const cinderTime = "2006-01-02T15:04:05.000000"

type volume struct {
	ID, ServerID, Device, Zone, Status string
	Size                               int
	Metadata                           map[string]string
	Created                            time.Time
}

type snapshot struct {
	ID, VolumeID, Name, Description, Status string
	Size                                    int
	Metadata                                map[string]string
	Created                                 time.Time
}

// AttachVolume creates a volume of sizeGiB in the server's zone and attaches
// it to the server, and returns the volume's ID.
func (s *Server) AttachVolume(serverID string, sizeGiB int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.byID[serverID]
	if sv == nil {
		panic(fmt.Sprintf("novatest: AttachVolume: no server %q", serverID))
	}
	n := 0
	for _, v := range s.volumes {
		if v.ServerID == serverID {
			n++
		}
	}
	v := &volume{
		ID: s.nextID(), ServerID: serverID, Device: fmt.Sprintf("/dev/vd%c", 'b'+n),
		Zone: sv.Zone, Status: "in-use", Size: sizeGiB, Metadata: map[string]string{},
		Created: s.opts.Now().UTC(),
	}
	s.volumes[v.ID] = v
	return v.ID
}

// Snapshots returns the IDs of the snapshots not deleted, oldest first.
func (s *Server) Snapshots() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, sn := range s.snapshots {
		ids = append(ids, sn.ID)
	}
	return ids
}

func (s *Server) volumeAttachments(w http.ResponseWriter, r *http.Request, serverID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookup(w, serverID) == nil {
		return
	}
	var ids []string
	for id, v := range s.volumes {
		if v.ServerID == serverID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := []any{}
	for _, id := range ids {
		v := s.volumes[id]
		out = append(out, map[string]any{"id": v.ID, "serverId": serverID, "volumeId": v.ID, "device": v.Device})
	}
	writeJSON(w, http.StatusOK, map[string]any{"volumeAttachments": out})
}

func (s *Server) volume(w http.ResponseWriter, r *http.Request, region string, rest []string) {
	switch {
	case len(rest) == 2 && rest[0] == "volumes" && r.Method == http.MethodGet:
		s.getVolume(w, rest[1])
	case len(rest) == 1 && rest[0] == "snapshots" && r.Method == http.MethodPost:
		s.createSnapshot(w, r)
	case len(rest) == 2 && rest[0] == "snapshots" && rest[1] == "detail" && r.Method == http.MethodGet:
		s.listSnapshots(w, r, region)
	case len(rest) == 2 && rest[0] == "snapshots" && r.Method == http.MethodDelete:
		s.deleteSnapshot(w, rest[1])
	default:
		s.badRequest(w, r, http.StatusNotFound, "no such volume route")
	}
}

func (s *Server) getVolume(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.volumes[id]
	if v == nil {
		writeFault(w, http.StatusNotFound, "Volume "+id+" could not be found.")
		return
	}
	attachments := []any{}
	if v.ServerID != "" {
		attachments = append(attachments, map[string]any{
			"id": v.ID, "attachment_id": "att-" + v.ID[:8], "volume_id": v.ID,
			"server_id": v.ServerID, "device": v.Device, "host_name": nil,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"volume": map[string]any{
		"id": v.ID, "name": "", "size": v.Size, "status": v.Status,
		"availability_zone": v.Zone, "attachments": attachments, "metadata": v.Metadata,
		"bootable": "false", "volume_type": "standard", "created_at": v.Created.Format(cinderTime),
	}})
}

type snapshotRequest struct {
	Snapshot struct {
		VolumeID    string            `json:"volume_id"`
		Force       any               `json:"force,omitempty"`
		Name        string            `json:"name,omitempty"`
		Description string            `json:"description,omitempty"`
		Metadata    map[string]string `json:"metadata,omitempty"`
	} `json:"snapshot"`
}

func (s *Server) createSnapshot(w http.ResponseWriter, r *http.Request) {
	var req snapshotRequest
	if !s.decode(w, r, &req) {
		return
	}
	sr := req.Snapshot
	if sr.VolumeID == "" {
		s.badRequest(w, r, http.StatusBadRequest, "snapshot without volume_id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.volumes[sr.VolumeID]
	if v == nil {
		writeFault(w, http.StatusNotFound, "Volume "+sr.VolumeID+" could not be found.")
		return
	}
	force := sr.Force == true || sr.Force == "true" || sr.Force == "True"
	if v.Status == "in-use" && !force {
		writeFault(w, http.StatusBadRequest, "Invalid volume: Volume "+v.ID+" status must be available, but current status is: in-use.")
		return
	}
	sn := &snapshot{
		ID: s.nextID(), VolumeID: v.ID, Name: sr.Name, Description: sr.Description,
		Status: "creating", Size: v.Size, Metadata: map[string]string{}, Created: s.opts.Now().UTC(),
	}
	for k, val := range sr.Metadata {
		sn.Metadata[k] = val
	}
	s.snapshots = append(s.snapshots, sn)
	writeJSON(w, http.StatusAccepted, map[string]any{"snapshot": snapshotJSON(sn)})
}

func snapshotJSON(sn *snapshot) map[string]any {
	return map[string]any{
		"id": sn.ID, "volume_id": sn.VolumeID, "name": sn.Name, "description": sn.Description,
		"status": sn.Status, "size": sn.Size, "metadata": sn.Metadata,
		"created_at": sn.Created.Format(cinderTime), "updated_at": nil,
	}
}

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request, region string) {
	q := r.URL.Query()
	for k := range q {
		if k != "limit" && k != "marker" {
			s.badRequest(w, r, http.StatusBadRequest, "unexpected query parameter %q", k)
			return
		}
	}
	limit := s.opts.MaxLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.badRequest(w, r, http.StatusBadRequest, "limit %q is not a positive integer", v)
			return
		}
		limit = min(n, s.opts.MaxLimit)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	order := slices.Clone(s.snapshots)
	slices.Reverse(order)
	start := 0
	if m := q.Get("marker"); m != "" {
		i := slices.IndexFunc(order, func(sn *snapshot) bool { return sn.ID == m })
		if i < 0 {
			writeFault(w, http.StatusBadRequest, "marker "+m+" not found")
			return
		}
		start = i + 1
	}
	page := []any{}
	for _, sn := range order[start:] {
		if len(page) == limit {
			break
		}
		page = append(page, snapshotJSON(sn))
	}
	body := map[string]any{"snapshots": page}
	if len(page) == limit {
		next := url.Values{"limit": {strconv.Itoa(limit)}, "marker": {page[len(page)-1].(map[string]any)["id"].(string)}}
		body["snapshots_links"] = []any{map[string]any{
			"rel": "next", "href": s.VolumeURL(region) + "/snapshots/detail?" + next.Encode(),
		}}
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) deleteSnapshot(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sn := range s.snapshots {
		if sn.ID == id {
			sn.Status = "deleting"
			w.WriteHeader(http.StatusAccepted)
			return
		}
	}
	writeFault(w, http.StatusNotFound, "Snapshot "+id+" could not be found.")
}
