package novatest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Default credentials the server accepts when Options leaves them empty.
const (
	DefaultUsername            = "farmer"
	DefaultPassword            = "s3cret-password"
	DefaultAPIKey              = "0123456789abcdef0123456789abcdef"
	DefaultProjectID           = "5f1c2a6e8b3d4c7fa0e9d8c7b6a51234"
	DefaultProjectName         = "farm-project"
	DefaultDomain              = "Default"
	DefaultAppCredentialID     = "appcred-7d3f"
	DefaultAppCredentialSecret = "appcred-secret-9e1b"
)

// Options configure a Server. The zero value gives one region "RegionOne"
// with zones "az1" and "az2", the default credentials, and Nova's default
// page limit of 1000.
type Options struct {
	Username, Password, APIKey string
	ProjectID, ProjectName     string
	// Domain is the user's and the project's Keystone v3 domain name.
	Domain                               string
	AppCredentialID, AppCredentialSecret string
	Regions                              []string
	Zones                                []string
	// MaxLimit is Nova's osapi_max_limit: the largest page the server
	// returns, and the page size when the client asks for none.
	MaxLimit int
	// Images and Flavors, when set, are the only IDs servers create accepts;
	// others get Nova's 400.
	Images, Flavors []string
	// NoAvailabilityZones makes the cloud look like Rackspace's: no
	// os-availability-zone API (404) and no OS-EXT-AZ:availability_zone on
	// servers; creates must not name a zone.
	NoAvailabilityZones bool
	// ExactNameFilter makes GET /servers/detail?name= match names exactly
	// instead of as Nova's regular expression, as a nonconforming cloud
	// might.
	ExactNameFilter bool
	// LoopbackIPs gives servers a private address in 127.2.0.0/16 on the
	// "private" network and no public address, so that one test sshd, dialled
	// through sshdtest.Server.Dial, answers for every server. Otherwise private
	// addresses are in 10.176.0.0/12 and public ones in 198.51.100.0/22.
	LoopbackIPs bool
	// HostKey, when set, is the host key (an authorized_keys line) every
	// server's console prints, such as the key of the one test sshd that
	// answers for all LoopbackIPs servers. Empty means a new ed25519 key
	// per server.
	HostKey string
	// Now is the server's clock for timestamps; nil means time.Now.
	Now func() time.Time
	// Violation is called with a description of every request that breaks
	// the wire format. New sets it to the test's Errorf; nil in Start means
	// the violations are only answered with an error status.
	Violation func(msg string)
}

func (o *Options) fill() {
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&o.Username, DefaultUsername)
	set(&o.Password, DefaultPassword)
	set(&o.APIKey, DefaultAPIKey)
	set(&o.ProjectID, DefaultProjectID)
	set(&o.ProjectName, DefaultProjectName)
	set(&o.Domain, DefaultDomain)
	set(&o.AppCredentialID, DefaultAppCredentialID)
	set(&o.AppCredentialSecret, DefaultAppCredentialSecret)
	if len(o.Regions) == 0 {
		o.Regions = []string{"RegionOne"}
	}
	if len(o.Zones) == 0 {
		o.Zones = []string{"az1", "az2"}
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Server is a running Keystone + Nova + Cinder test server. It is safe for
// concurrent use. Knobs (Throttle, SetCapacity, ...) and inspection methods
// may be called while clients talk to it.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:PORT".
	URL string

	hs   *httptest.Server
	opts Options

	mu        sync.Mutex
	seq       int
	tokens    map[string]*token
	servers   []*server // creation order, deleted ones kept as tombstones
	byID      map[string]*server
	keypairs  map[string]keypair
	volumes   map[string]*volume
	snapshots []*snapshot
	calls     map[string]int
	regions   map[string]int
	throttles []throttle
	capacity  map[string]int // zone -> servers it can still place; absent = unlimited
	quota     int            // instances; <0 = unlimited
	drops     int            // create responses still to drop
	delay     bool           // leave new servers in task_state scheduling until Settle
}

type token struct {
	id      string
	expires time.Time
	revoked bool
}

type throttle struct {
	status     int
	retryAfter time.Duration
}

// New starts a server on a loopback port for a test and closes it when the
// test ends. Requests that break the wire format (missing or unknown
// X-Auth-Token, wrong Content-Type, malformed or unknown JSON fields,
// unknown routes) fail the test with t.Errorf and get the status Nova would
// give.
func New(t testing.TB, opts *Options) *Server {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Violation == nil {
		o.Violation = func(msg string) { t.Errorf("novatest: %s", msg) }
	}
	s := Start(&o)
	t.Cleanup(s.Close)
	return s
}

// Start starts a server on a loopback port for a program (an example run
// without an account); the caller must Close it.
func Start(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.fill()
	s := &Server{
		opts:     o,
		tokens:   map[string]*token{},
		byID:     map[string]*server{},
		keypairs: map[string]keypair{},
		volumes:  map[string]*volume{},
		calls:    map[string]int{},
		regions:  map[string]int{},
		capacity: map[string]int{},
		quota:    -1,
	}
	s.hs = httptest.NewServer(s)
	s.URL = s.hs.URL
	return s
}

// Close stops the server; tests need not call it.
func (s *Server) Close() { s.hs.Close() }

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// IdentityV2URL is the Keystone v2.0 endpoint (Rackspace identity).
func (s *Server) IdentityV2URL() string { return s.URL + "/v2.0/" }

// IdentityV3URL is the Keystone v3 endpoint.
func (s *Server) IdentityV3URL() string { return s.URL + "/v3/" }

// ComputeURL is the Nova endpoint of a region, as the catalog lists it.
func (s *Server) ComputeURL(region string) string {
	return s.URL + "/" + region + "/compute/v2.1/" + s.opts.ProjectID
}

// VolumeURL is the Cinder v3 endpoint of a region, as the catalog lists it.
func (s *Server) VolumeURL(region string) string {
	return s.URL + "/" + region + "/volume/v3/" + s.opts.ProjectID
}

// Calls returns how many requests the server got for a route, such as
// "POST /servers", "GET /servers/detail", "GET /servers/{id}",
// "DELETE /servers/{id}", "POST /servers/{id}/action", "POST /os-keypairs",
// "POST /v2.0/tokens" or "POST /v3/auth/tokens". Throttled requests count.
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// AllCalls returns a copy of every route's count.
func (s *Server) AllCalls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// RegionCalls returns how many compute and volume requests went to region.
func (s *Server) RegionCalls(region string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.regions[region]
}

// Throttle makes the next n compute and volume requests fail with status
// (429, or 413 as Rackspace's rate limiter answers), a Retry-After header of
// retryAfter in whole seconds and Nova's overLimit body.
func (s *Server) Throttle(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.throttles = append(s.throttles, throttle{status: status, retryAfter: retryAfter})
	}
}

// SetCapacity sets how many more servers zone can place; -1 is unlimited. A
// create that does not fit is accepted (202) and its servers go to ERROR with
// the fault "No valid host was found", as Nova's scheduler does.
func (s *Server) SetCapacity(zone string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		delete(s.capacity, zone)
		return
	}
	s.capacity[zone] = n
}

// SetQuota sets the instance quota; -1 is unlimited. A create beyond it gets
// Nova's 403 "Quota exceeded for instances".
func (s *Server) SetQuota(instances int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quota = instances
}

// DropNextCreates makes the next n server creates take effect and then close
// the connection without a response, as a timeout or a broken proxy would.
func (s *Server) DropNextCreates(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops += n
}

// DelaySchedule leaves servers created from now on in BUILD with
// task_state "scheduling" until the next Settle, which places them (or puts
// them in ERROR for lack of capacity); the Settle after that makes them
// ACTIVE. Without it the scheduler decides at once, before create answers.
func (s *Server) DelaySchedule(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = on
}

// ExpireTokens revokes every token issued so far; the next request with one
// gets 401 and the client must authenticate again.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tk := range s.tokens {
		tk.revoked = true
	}
}

// Settle moves everything in a transition to where it goes next: BUILD and
// REBOOT servers become ACTIVE (with addresses and a host key on the
// console), servers being deleted disappear, creating snapshots become
// available and deleting ones disappear.
func (s *Server) Settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now().UTC()
	for _, sv := range s.servers {
		sv.settle(s, now)
	}
	kept := s.snapshots[:0]
	for _, sn := range s.snapshots {
		switch sn.Status {
		case "creating":
			sn.Status = "available"
		case "deleting":
			continue
		}
		kept = append(kept, sn)
	}
	s.snapshots = kept
}

// nextID returns a UUID-shaped identifier, unique within the server.
func (s *Server) nextID() string {
	s.seq++
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", 0x5eed0000+s.seq, s.seq, s.seq%0x1000, s.seq%0x1000, s.seq)
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "" || path == "/v2.0" || path == "/v3":
		s.count(r.Method + " " + path)
		s.versions(w, r)
		return
	case path == "/v2.0/tokens":
		s.count("POST /v2.0/tokens")
		s.identityV2(w, r)
		return
	case path == "/v3/auth/tokens":
		s.count(r.Method + " /v3/auth/tokens")
		s.identityV3(w, r)
		return
	}
	// /{region}/{service}/{version}/{project}/rest...
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) < 4 || !slices.Contains(s.opts.Regions, parts[0]) ||
		!(parts[1] == "compute" && parts[2] == "v2.1" || parts[1] == "volume" && parts[2] == "v3") {
		s.badRequest(w, r, http.StatusNotFound, "no such endpoint")
		return
	}
	region, service, project, rest := parts[0], parts[1], parts[3], parts[4:]
	route := routeName(r.Method, service, rest)
	s.count(route)
	s.mu.Lock()
	s.regions[region]++
	s.mu.Unlock()

	if !s.authorized(w, r, project) {
		return
	}
	if s.throttled(w) {
		return
	}
	if r.ContentLength != 0 && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			s.badRequest(w, r, http.StatusUnsupportedMediaType, "Content-Type is %q, want application/json", ct)
			return
		}
	}
	if service == "compute" {
		s.compute(w, r, region, rest)
	} else {
		s.volume(w, r, region, rest)
	}
}

// routeName turns a method and path into the key Calls counts under, with
// identifiers replaced by {id}.
func routeName(method, service string, rest []string) string {
	out := make([]string, len(rest))
	for i, p := range rest {
		switch {
		case i == 1 && (rest[0] == "servers" || rest[0] == "snapshots" || rest[0] == "volumes" || rest[0] == "os-keypairs") && p != "detail":
			out[i] = "{id}"
		default:
			out[i] = p
		}
	}
	prefix := ""
	if service == "volume" {
		prefix = "/volume"
	}
	return method + " " + prefix + "/" + strings.Join(out, "/")
}

func (s *Server) count(route string) {
	s.mu.Lock()
	s.calls[route]++
	s.mu.Unlock()
}

// authorized checks X-Auth-Token. A missing or never-issued token is a
// client bug and fails the test; a revoked one is the cloud's business.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, project string) bool {
	id := r.Header.Get("X-Auth-Token")
	s.mu.Lock()
	tk := s.tokens[id]
	s.mu.Unlock()
	switch {
	case id == "":
		s.badRequest(w, r, http.StatusUnauthorized, "request without X-Auth-Token")
		return false
	case tk == nil:
		s.badRequest(w, r, http.StatusUnauthorized, "X-Auth-Token the server never issued")
		return false
	case tk.revoked || s.opts.Now().After(tk.expires):
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
			"code": 401, "title": "Unauthorized",
			"message": "The request you have made requires authentication.",
		}})
		return false
	case project != s.opts.ProjectID:
		s.badRequest(w, r, http.StatusForbidden, "project %q in the URL is not the token's project", project)
		return false
	}
	return true
}

func (s *Server) throttled(w http.ResponseWriter) bool {
	s.mu.Lock()
	if len(s.throttles) == 0 {
		s.mu.Unlock()
		return false
	}
	th := s.throttles[0]
	s.throttles = s.throttles[1:]
	s.mu.Unlock()
	secs := int((th.retryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, th.status, map[string]any{"overLimit": map[string]any{
		"code":       th.status,
		"message":    "This request was rate-limited.",
		"details":    "Only 10 POST request(s) can be made to * every minute.",
		"retryAfter": strconv.Itoa(secs),
	}})
	return true
}

// badRequest answers a request that breaks the wire format and fails the
// test: the client under test sent something a real cloud would refuse.
func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s.opts.Violation != nil {
		s.opts.Violation(r.Method + " " + r.URL.Path + ": " + msg)
	}
	writeFault(w, status, msg)
}

// writeFault writes Nova's error body, {"badRequest": {...}} and friends.
func writeFault(w http.ResponseWriter, status int, msg string) {
	name := map[int]string{
		400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
		405: "HTTPMethodNotAllowed", 409: "conflictingRequest", 413: "overLimit",
		415: "badMediaType", 429: "overLimit", 500: "computeFault",
	}[status]
	if name == "" {
		name = "computeFault"
	}
	writeJSON(w, status, map[string]any{name: map[string]any{"code": status, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

// decode reads a JSON body into v, rejecting unknown fields as Nova's
// schemas (additionalProperties: false) do. It fails the test on error.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		s.badRequest(w, r, http.StatusBadRequest, "reading body: %v", err)
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.badRequest(w, r, http.StatusBadRequest, "invalid JSON body %s: %v", data, err)
		return false
	}
	return true
}
