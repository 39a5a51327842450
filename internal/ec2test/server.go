package ec2test

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Credentials and names the server accepts when Options leaves them empty.
// The secret is long and unusual so that a test can search logs and errors
// for it.
const (
	DefaultAccessKeyID     = "AKIAFARMHANDTEST0001"
	DefaultSecretAccessKey = "fh/Test+Secret-Key-9c4e1f0b7a2d5e8c3b6a9d0e"
	DefaultRegion          = "us-test-1"
	DefaultOwnerID         = "123456789012"
)

// API versions of the Query protocols the server speaks.
const (
	EC2Version = "2016-11-15"
	ELBVersion = "2012-06-01"
)

// Options configure a Server. The zero value gives region us-test-1 with
// zones us-test-1a, us-test-1b and us-test-1c, the default credentials, no
// server-side page limit and no capacity or instance limits.
type Options struct {
	AccessKeyID, SecretAccessKey string
	Region                       string
	Zones                        []string
	// PageSize caps how many items one DescribeInstances, DescribeVolumes
	// or DescribeSnapshots page holds even when the client asks for more
	// (EC2 may return fewer than MaxResults). 0 means no cap.
	PageSize int
	// Images, when set, are the only AMI IDs RunInstances accepts; others
	// get InvalidAMIID.NotFound. Any well-formed ami-... is accepted
	// otherwise.
	Images []string
	// LoopbackIPs gives instances private IPs in 127.1.0.0/16 and no public
	// IP, so that a client dialling through one test sshd's
	// sshdtest.Server.Dial reaches it for every instance. Otherwise
	// private IPs are in 10.0.0.0/16 and running instances get a public IP
	// in 198.18.0.0/15.
	LoopbackIPs bool
	// HostKey, when set, is the host key (an authorized_keys line) every
	// instance's console prints, such as the key of the one test sshd that
	// answers for all LoopbackIPs instances, so that a client pinning the
	// console's key really reaches that sshd. Empty means a new ed25519 key
	// per instance.
	HostKey string
	// Now is the server's clock for launch and snapshot times; nil means
	// time.Now.
	Now func() time.Time
	// Violation is called with a description of every request that breaks
	// the wire format. New sets it to the test's Errorf; nil in Start means
	// violations are only answered with an error.
	Violation func(msg string)
}

func (o *Options) fill() {
	if o.AccessKeyID == "" {
		o.AccessKeyID = DefaultAccessKeyID
	}
	if o.SecretAccessKey == "" {
		o.SecretAccessKey = DefaultSecretAccessKey
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if len(o.Zones) == 0 {
		o.Zones = []string{o.Region + "a", o.Region + "b", o.Region + "c"}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Server is a running EC2 + classic ELB test server. It is safe for
// concurrent use; knobs and inspection methods may be called while clients
// talk to it.
type Server struct {
	// URL is the endpoint, "http://127.0.0.1:PORT", for both services.
	URL string

	hs   *httptest.Server
	opts Options

	mu        sync.Mutex
	seq       int
	launched  int         // instances ever launched, for addresses
	instances []*instance // launch order; terminated ones stay until Purge
	byID      map[string]*instance
	tokens    map[string]*reservation
	keyPairs  map[string]keyPair
	volumes   map[string]*volume
	snapshots []*snapshot
	lbs       map[string][]string // load balancer -> registered instance IDs
	calls     []Call
	failures  map[string][]string // action -> codes of the next failures
	capacity  map[string]int      // zone -> instances it can still place; absent = unlimited
	limit     int                 // live instances allowed; <0 = unlimited
	drops     map[string]int      // action -> responses still to drop
	lag       int                 // DescribeInstances answers a new instance is missing from
}

// Call is one request the server got.
type Call struct {
	Action string
	// Params are the form parameters, Action and Version included.
	Params map[string][]string
	// Attempt is the SDK's attempt number from the amz-sdk-request header
	// ("attempt=2; max=8" gives 2), 0 when the header is missing.
	Attempt int
}

// New starts a server on a loopback port for a test and closes it when the
// test ends. Requests that break the wire format fail the test with
// t.Errorf and get the error EC2 would answer.
func New(t testing.TB, opts *Options) *Server {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Violation == nil {
		o.Violation = func(msg string) { t.Errorf("ec2test: %s", msg) }
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
		byID:     map[string]*instance{},
		tokens:   map[string]*reservation{},
		keyPairs: map[string]keyPair{},
		volumes:  map[string]*volume{},
		lbs:      map[string][]string{},
		failures: map[string][]string{},
		capacity: map[string]int{},
		limit:    -1,
		drops:    map[string]int{},
	}
	s.hs = httptest.NewServer(s)
	s.URL = s.hs.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// Config returns an aws.Config for a client of this server: its region,
// static test credentials and BaseEndpoint set to URL. It has no retryer of
// its own, so a driver's is used.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       s.opts.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.opts.AccessKeyID, s.opts.SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
		HTTPClient:   plainBodyClient{s.hs.Client()},
	}
}

// plainBodyClient hides io.WriterTo on request bodies. smithy-go closes a
// request body as soon as the response arrives, and its body's WriteTo then
// answers io.EOF, which net/http's check for bytes beyond Content-Length
// takes for a write error: it closes the connection under the response.
// A server on loopback answers fast enough to lose that race often.
type plainBodyClient struct{ c *http.Client }

type plainBody struct{ io.ReadCloser }

func (p plainBodyClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = plainBody{r.Body}
	}
	return p.c.Do(r)
}

// Credentials returns the static credentials the server accepts.
func (s *Server) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.opts.AccessKeyID, s.opts.SecretAccessKey, "")
}

// Count returns how many requests the server got for an action, such as
// "RunInstances" or "DescribeInstances". Failed and dropped requests count.
func (s *Server) Count(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Action == action {
			n++
		}
	}
	return n
}

// Counts returns every action's count.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, c := range s.calls {
		out[c.Action]++
	}
	return out
}

// Calls returns a copy of every request so far, oldest first, optionally
// only those of the given actions.
func (s *Server) Calls(actions ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(actions) > 0 && !contains(actions, c.Action) {
			continue
		}
		c.Params = maps.Clone(c.Params)
		out = append(out, c)
	}
	return out
}

// ResetCalls forgets the calls recorded so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// FailNext makes the next n requests for action fail with the EC2 (or ELB)
// error code, such as "RequestLimitExceeded", "InsufficientInstanceCapacity",
// "Unavailable" or "UnauthorizedOperation", with the HTTP status and
// message EC2 gives it. Nothing is applied for a failed request.
func (s *Server) FailNext(action string, n int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[action] = append(s.failures[action], code)
	}
}

// SetCapacity sets how many more instances zone can place; -1 is unlimited.
// RunInstances asking for more than MinCount beyond it fails with
// InsufficientInstanceCapacity (HTTP 500, as EC2 answers); otherwise it
// launches as many as fit, up to MaxCount.
func (s *Server) SetCapacity(zone string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		delete(s.capacity, zone)
		return
	}
	s.capacity[zone] = n
}

// SetInstanceLimit sets how many instances that are not terminated the
// account may have; -1 is unlimited. Beyond it RunInstances fails with
// InstanceLimitExceeded (MinCount is honoured).
func (s *Server) SetInstanceLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// DropNext makes the next n requests for action take effect and then close
// the connection without an answer, as a timeout or a broken proxy would.
// The SDK retries such a request with the same parameters.
func (s *Server) DropNext(action string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops[action] += n
}

// DelayVisibility makes instances launched from now on missing from the
// next n DescribeInstances answers, as EC2's eventual consistency does
// right after RunInstances: a filtered listing leaves them out, and asking
// for one by ID gives InvalidInstanceID.NotFound. 0 turns it off.
func (s *Server) DelayVisibility(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = max(n, 0)
}

// ServeHTTP answers one Query API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, verr := s.parse(r)
	if verr != nil {
		s.violation(w, verr)
		return
	}
	act := actions[req.service][req.action]
	s.mu.Lock()
	s.calls = append(s.calls, Call{Action: req.action, Params: req.form, Attempt: attemptOf(r)})
	if codes := s.failures[req.action]; len(codes) > 0 {
		s.failures[req.action] = codes[1:]
		s.mu.Unlock()
		s.writeError(w, req, newAPIError(codes[0], "Injected failure of %s.", req.action))
		return
	}
	var body any
	var aerr *apiError
	if req.form.Get("DryRun") == "true" {
		aerr = newAPIError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
	} else {
		body, aerr = act.handle(s, req)
	}
	drop := s.drops[req.action] > 0
	if drop {
		s.drops[req.action]--
	}
	s.mu.Unlock()
	if drop {
		dropConnection(w)
		return
	}
	if aerr != nil {
		s.writeError(w, req, aerr)
		return
	}
	s.writeXML(w, req, body)
}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("ec2test: response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

// nextID returns a new resource ID with prefix, 17 hex digits as EC2 gives
// them since 2016. Callers hold s.mu.
func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-%017x", prefix, 0xfa0000+s.seq)
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
