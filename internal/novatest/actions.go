package novatest

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

type keypair struct {
	Name, PublicKey, Fingerprint string
}

// Keypairs returns the names of the imported key pairs, sorted.
func (s *Server) Keypairs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.keypairs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func newHostKey() string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

// actionRequest is POST /servers/{id}/action: exactly one action.
type actionRequest struct {
	Reboot *struct {
		Type string `json:"type"`
	} `json:"reboot,omitempty"`
	ConsoleOutput *struct {
		Length any `json:"length,omitempty"`
	} `json:"os-getConsoleOutput,omitempty"`
}

func (s *Server) serverAction(w http.ResponseWriter, r *http.Request, region, id string) {
	var req actionRequest
	if !s.decode(w, r, &req) {
		return
	}
	if (req.Reboot == nil) == (req.ConsoleOutput == nil) {
		s.badRequest(w, r, http.StatusBadRequest, "want exactly one of reboot, os-getConsoleOutput")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sv := s.lookup(w, id)
	if sv == nil {
		return
	}
	if req.Reboot != nil {
		if t := req.Reboot.Type; t != "SOFT" && t != "HARD" {
			s.badRequest(w, r, http.StatusBadRequest, "reboot type %q is not SOFT or HARD", t)
			return
		}
		if sv.Status != "ACTIVE" || sv.TaskState != "" {
			writeFault(w, http.StatusConflict, fmt.Sprintf(
				"Cannot 'reboot' instance %s while it is in vm_state %s", id, sv.VMState))
			return
		}
		sv.Status, sv.TaskState = "REBOOT", "reboot_started"
		if req.Reboot.Type == "HARD" {
			sv.Status, sv.TaskState = "HARD_REBOOT", "reboot_started_hard"
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if sv.VMState != "active" {
		writeFault(w, http.StatusConflict, fmt.Sprintf(
			"Cannot 'get_console_output' instance %s while it is in vm_state %s", id, sv.VMState))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"output": consoleText(sv)})
}

// consoleText is what cloud-init prints on a server's console: the host key
// fingerprints and the keys themselves between marker lines.
func consoleText(sv *server) string {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(sv.HostKey))
	if err != nil {
		return "[    0.000000] Linux version 6.1.0-18-cloud-amd64\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[    0.000000] Linux version 6.1.0-18-cloud-amd64\n")
	fmt.Fprintf(&b, "[   12.345678] cloud-init[512]: Cloud-init v. 22.4.2 running 'modules:final'\n")
	fmt.Fprintf(&b, "ci-info: no authorized SSH keys fingerprints found for user debian.\n")
	fmt.Fprintf(&b, "<14>Mar  1 12:00:00 cloud-init: #############################################################\n")
	fmt.Fprintf(&b, "<14>Mar  1 12:00:00 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n")
	fmt.Fprintf(&b, "<14>Mar  1 12:00:00 cloud-init: 256 %s root@%s (ED25519)\n", ssh.FingerprintSHA256(pk), sv.Name)
	fmt.Fprintf(&b, "<14>Mar  1 12:00:00 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----\n")
	fmt.Fprintf(&b, "<14>Mar  1 12:00:00 cloud-init: #############################################################\n")
	fmt.Fprintf(&b, "-----BEGIN SSH HOST KEY KEYS-----\n")
	fmt.Fprintf(&b, "%s root@%s\n", sv.HostKey, sv.Name)
	fmt.Fprintf(&b, "-----END SSH HOST KEY KEYS-----\n")
	fmt.Fprintf(&b, "[   13.000000] cloud-init[512]: Cloud-init v. 22.4.2 finished. Datasource DataSourceOpenStackLocal.\n")
	return b.String()
}

type keypairRequest struct {
	Keypair struct {
		Name      string `json:"name"`
		PublicKey string `json:"public_key,omitempty"`
		Type      string `json:"type,omitempty"`
	} `json:"keypair"`
}

func (s *Server) createKeypair(w http.ResponseWriter, r *http.Request) {
	var req keypairRequest
	if !s.decode(w, r, &req) {
		return
	}
	kp := req.Keypair
	if !keyPairName.MatchString(kp.Name) {
		s.badRequest(w, r, http.StatusBadRequest, "key pair name %q has characters Nova refuses", kp.Name)
		return
	}
	if kp.PublicKey == "" {
		s.badRequest(w, r, http.StatusBadRequest, "key pair %q without public_key: the server would generate a private key", kp.Name)
		return
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(kp.PublicKey))
	if err != nil {
		writeFault(w, http.StatusBadRequest, "Keypair data is invalid: failed to generate fingerprint")
		return
	}
	sum := md5.Sum(pk.Marshal())
	var fp []string
	for _, b := range sum {
		fp = append(fp, fmt.Sprintf("%02x", b))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keypairs[kp.Name]; ok {
		writeFault(w, http.StatusConflict, "Key pair '"+kp.Name+"' already exists.")
		return
	}
	k := keypair{Name: kp.Name, PublicKey: kp.PublicKey, Fingerprint: strings.Join(fp, ":")}
	s.keypairs[kp.Name] = k
	writeJSON(w, http.StatusOK, map[string]any{"keypair": map[string]any{
		"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint, "user_id": "u-" + s.opts.Username,
	}})
}

func (s *Server) getKeypair(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keypairs[name]
	if !ok {
		writeFault(w, http.StatusNotFound, "Keypair "+name+" not found for user u-"+s.opts.Username)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keypair": map[string]any{
		"name": k.Name, "public_key": k.PublicKey, "fingerprint": k.Fingerprint, "user_id": "u-" + s.opts.Username,
		"id": 1, "deleted": false, "created_at": "2024-01-01T00:00:00.000000", "updated_at": nil, "deleted_at": nil,
	}})
}

func (s *Server) availabilityZones(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > 0 {
		s.badRequest(w, r, http.StatusBadRequest, "unexpected query %q", r.URL.RawQuery)
		return
	}
	var zones []any
	for _, z := range s.opts.Zones {
		zones = append(zones, map[string]any{"zoneName": z, "zoneState": map[string]any{"available": true}, "hosts": nil})
	}
	writeJSON(w, http.StatusOK, map[string]any{"availabilityZoneInfo": zones})
}
