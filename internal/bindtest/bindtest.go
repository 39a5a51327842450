// Package bindtest starts Debian's BIND 9 named for tests and benchmarks: a
// real authoritative server on a loopback port, with one primary zone that
// accepts dynamic updates (RFC 2136) signed with generated TSIG keys.
//
// # Starting a server
//
// Tests call [Start], which skips the test when /usr/sbin/named is missing
// (and fails it instead when CI=true) and stops the server in t.Cleanup.
// Programs and TestMain functions call [Launch] and [Server.Close]
// themselves.
//
// The server runs "named -g -c CONFIG" after "named-checkconf -z" has checked
// the configuration and zone, listens on 127.0.0.1 only (UDP and TCP, one
// free high port), and is ready when it answers an SOA query for its zone
// over TCP.
//
// # Configuration choices
//
// The working directory is a temporary directory, writable because named
// keeps the zone journal (.jnl) there; pid-file and session-keyfile point
// into it so that named runs unprivileged; "controls { }" stops named from
// opening the rndc port 953; IPv6 listening, recursion, DNSSEC validation and
// NOTIFY are off. The zone's SOA minimum (the negative-caching TTL) is low,
// 5 seconds by default.
//
// Each key in [Options.Keys] may update any name in the zone
// ("update-policy { grant KEY zonesub ANY; }") and transfer it. Secrets are
// 32 random bytes, generated in Go.
package bindtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/internal/testproc"
)

// Binary is the named the package starts; CheckConf checks its configuration.
const (
	Binary    = "/usr/sbin/named"
	CheckConf = "named-checkconf"
)

// Defaults of [Options].
const (
	DefaultZone       = "farm.test."
	DefaultKeyName    = "farm-key."
	DefaultAlgorithm  = "hmac-sha256"
	DefaultSOAMinimum = 5 * time.Second
	DefaultTTL        = 60 * time.Second
)

// Key is a TSIG key the server accepts.
type Key struct {
	// Name is the key name as a lower-case FQDN ("farm-key."), the form
	// miekg/dns uses as the index of Client.TsigSecret.
	Name string
	// Algorithm is BIND's name for it: "hmac-sha256", "hmac-sha512",
	// "hmac-sha1", "hmac-md5", ...
	Algorithm string
	// Secret is the base64 secret. Filled in by Launch.
	Secret string
}

// Options change the server. The zero value (or nil) gives zone farm.test.
// with one hmac-sha256 key "farm-key.".
type Options struct {
	// Zone is the zone's apex; default DefaultZone.
	Zone string
	// Keys are the TSIG keys to generate; default one key DefaultKeyName
	// with DefaultAlgorithm. Secret fields are ignored.
	Keys []Key
	// Records are extra lines for the zone file, relative to the apex
	// ("db 60 IN A 10.0.0.5").
	Records []string
	// SOAMinimum is the zone's negative-caching TTL; default
	// DefaultSOAMinimum.
	SOAMinimum time.Duration
	// Serial is the zone's initial SOA serial; default 1.
	Serial uint32
}

// Server is a running named.
type Server struct {
	// Addr is "127.0.0.1:PORT", for UDP and TCP.
	Addr string
	// Port is the port named listens on.
	Port int
	// Dir holds the configuration, zone, journal and log.
	Dir string
	// Zone is the zone's apex as a lower-case FQDN.
	Zone string
	// Keys are the keys the server accepts, with their secrets; Keys[0] is
	// the main key.
	Keys []Key

	proc    *testproc.Process
	logPath string
}

// Available reports whether named is installed.
func Available() bool { return testproc.Available(Binary) }

// Start launches a server for a test. It skips the test when named is not
// installed, unless CI=true, where it fails it. The server stops in
// t.Cleanup.
func Start(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	RequireNamed(tb)
	return testproc.ForTest(tb, "bindtest", func(ctx context.Context, dir string) (*Server, error) {
		return Launch(ctx, dir, opts)
	})
}

// RequireNamed skips tb when named is not installed, or fails it when
// CI=true.
func RequireNamed(tb testing.TB) {
	tb.Helper()
	testproc.Require(tb, "bindtest", Binary, "bind9 bind9-dnsutils")
}

// Launch starts named with its files in dir (which must exist and be
// writable) and waits until it answers. Close stops it.
func Launch(ctx context.Context, dir string, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	if !Available() {
		return nil, fmt.Errorf("%s is not installed (apt-get install bind9)", Binary)
	}
	zone := dns.CanonicalName(opts.Zone)
	if opts.Zone == "" {
		zone = DefaultZone
	}
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." {
		return nil, fmt.Errorf("zone %q: not a domain name", opts.Zone)
	}
	keys := opts.Keys
	if len(keys) == 0 {
		keys = []Key{{Name: DefaultKeyName, Algorithm: DefaultAlgorithm}}
	}
	s := &Server{Dir: dir, Zone: zone, logPath: filepath.Join(dir, "named.log")}
	for i, k := range keys {
		name := dns.CanonicalName(k.Name)
		if k.Name == "" {
			name = fmt.Sprintf("farm-key-%d.", i)
		}
		alg := strings.ToLower(strings.TrimSuffix(k.Algorithm, "."))
		if alg == "" {
			alg = DefaultAlgorithm
		}
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		s.Keys = append(s.Keys, Key{Name: name, Algorithm: alg, Secret: base64.StdEncoding.EncodeToString(secret)})
	}
	if err := os.WriteFile(filepath.Join(dir, "keys.conf"), []byte(s.keysConfig()), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "zone.db"), []byte(zoneFile(zone, opts)), 0o600); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "named.conf")
	err := testproc.OnFreePort(func(port int) error {
		if err := os.WriteFile(cfgPath, []byte(s.config(port)), 0o600); err != nil {
			return err
		}
		return testproc.Check(ctx, CheckConf, "-z", cfgPath)
	}, func(port int) error {
		return s.start(ctx, cfgPath, port)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) keysConfig() string {
	var b strings.Builder
	for _, k := range s.Keys {
		fmt.Fprintf(&b, "key %q {\n  algorithm %s;\n  secret %q;\n};\n", strings.TrimSuffix(k.Name, "."), k.Algorithm, k.Secret)
	}
	return b.String()
}

func (s *Server) config(port int) string {
	var grants, transfers strings.Builder
	for _, k := range s.Keys {
		name := strings.TrimSuffix(k.Name, ".")
		fmt.Fprintf(&grants, "    grant %s zonesub ANY;\n", name)
		fmt.Fprintf(&transfers, " key %s;", name)
	}
	return fmt.Sprintf(`options {
  directory %q;
  pid-file "named.pid";
  session-keyfile "session.key";
  listen-on port %d { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
include %q;
zone %q {
  type primary;
  file "zone.db";
  update-policy {
%s  };
  allow-transfer {%s };
};
`, s.Dir, port, filepath.Join(s.Dir, "keys.conf"), strings.TrimSuffix(s.Zone, "."), grants.String(), transfers.String())
}

func zoneFile(zone string, opts *Options) string {
	minimum := opts.SOAMinimum
	if minimum <= 0 {
		minimum = DefaultSOAMinimum
	}
	serial := opts.Serial
	if serial == 0 {
		serial = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL %d\n", zone, int(DefaultTTL/time.Second))
	fmt.Fprintf(&b, "@ IN SOA ns.%s hostmaster.%s ( %d 3600 600 86400 %d )\n", zone, zone, serial, int(minimum/time.Second))
	fmt.Fprintf(&b, "@ IN NS ns.%s\nns IN A 127.0.0.1\n", zone)
	for _, r := range opts.Records {
		b.WriteString(r + "\n")
	}
	return b.String()
}

func (s *Server) start(ctx context.Context, cfgPath string, port int) error {
	s.Port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(Binary, "-g", "-c", cfgPath)
	cmd.Dir = s.Dir
	proc, err := testproc.Start(ctx, cmd, s.logPath, 15*time.Second, s.servesZone)
	if err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// servesZone reports whether named answers an SOA query for the zone over
// TCP.
func (s *Server) servesZone(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	serial, err := s.Serial(ctx)
	if err == nil && serial == 0 {
		err = fmt.Errorf("SOA serial 0 for %s", s.Zone)
	}
	return err
}

// Query sends one non-recursive query over TCP and returns the answer.
func (s *Server) Query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.CanonicalName(name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, s.Addr)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Values returns the data of the name's records of type qtype as text
// (addresses for A and AAAA, the target for CNAME), in the server's order,
// and the TTL of the set. An absent set gives no values and no error.
func (s *Server) Values(ctx context.Context, name string, qtype uint16) ([]string, uint32, error) {
	r, err := s.Query(ctx, name, qtype)
	if err != nil {
		return nil, 0, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, 0, fmt.Errorf("query %s %s: %s", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode])
	}
	var vals []string
	var ttl uint32
	for _, rr := range r.Answer {
		if rr.Header().Rrtype != qtype || !strings.EqualFold(rr.Header().Name, dns.CanonicalName(name)) {
			continue
		}
		ttl = rr.Header().Ttl
		switch v := rr.(type) {
		case *dns.A:
			vals = append(vals, v.A.String())
		case *dns.AAAA:
			vals = append(vals, v.AAAA.String())
		case *dns.CNAME:
			vals = append(vals, v.Target)
		default:
			vals = append(vals, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	return vals, ttl, nil
}

// Serial returns the zone's current SOA serial.
func (s *Server) Serial(ctx context.Context) (uint32, error) {
	r, err := s.Query(ctx, s.Zone, dns.TypeSOA)
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("no SOA for %s in answer (%s)", s.Zone, dns.RcodeToString[r.Rcode])
}

// Log returns what named has logged so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// Close stops named and waits for it to exit.
func (s *Server) Close() error {
	if s.proc == nil {
		return nil
	}
	return s.proc.Stop(10 * time.Second)
}
