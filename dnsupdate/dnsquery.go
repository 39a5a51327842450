package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/internal/netguard"
)

// DialFunc opens a network connection; updaters take one so that tests can
// count or refuse connections. nil means a net.Dialer.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DefaultQueryTimeout bounds one DNS exchange (connect, send, answer).
const DefaultQueryTimeout = 5 * time.Second

// exchange sends m to server over a fresh TCP connection and reads the
// answer, within timeout and ctx. With signer set, m must carry a TSIG stub
// as its last record; it is signed once, here, and the answer's signature
// is checked. As with miekg/dns, an answer may come back together with an
// error (a TSIG answer that does not verify): callers look at both.
func exchange(parent context.Context, dial DialFunc, server string, m *dns.Msg, signer *tsigSigner, timeout time.Duration) (*dns.Msg, error) {
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	var conn net.Conn
	err := netguard.Check("tcp", server)
	if err == nil {
		conn, err = dial(ctx, "tcp", server)
	}
	if err != nil {
		if parent.Err() != nil {
			return nil, parent.Err()
		}
		return nil, err
	}
	defer conn.Close()
	// miekg/dns only honours the context's deadline; a cancellation must
	// also interrupt a read in progress.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c := &dns.Client{Net: "tcp", Timeout: timeout}
	if signer != nil {
		c.TsigProvider = signer
	}
	r, _, err := c.ExchangeWithConnContext(ctx, m, &dns.Conn{Conn: conn})
	if err != nil && r == nil {
		if parent.Err() != nil {
			return nil, parent.Err()
		}
		var ne net.Error
		if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
			return nil, fmt.Errorf("no answer within %v: %w", timeout, err)
		}
	}
	return r, err
}

// query asks server for name/qtype without recursion.
func query(ctx context.Context, dial DialFunc, server, name string, qtype uint16, timeout time.Duration) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	return exchange(ctx, dial, server, m, nil, timeout)
}

// SOA describes the zone that holds a name, as one server sees it.
type SOA struct {
	// Zone is the zone's apex, a lower-case FQDN.
	Zone string
	// Serial is the zone's SOA serial.
	Serial uint32
	// Minimum is the SOA MINIMUM field: how long resolvers cache a
	// negative answer (capped by the SOA record's TTL).
	Minimum uint32
	// TTL is the SOA record's own TTL.
	TTL uint32
}

// ReadSOA asks server (host:port) over TCP, without recursion, for the SOA
// of the zone that holds name: the SOA itself when name is the apex, or the
// one the server puts in the authority section of its answer otherwise. It
// fails when the server is not authoritative for name.
func ReadSOA(ctx context.Context, server, name string) (SOA, error) {
	return readSOA(ctx, nil, server, name, 0)
}

func readSOA(ctx context.Context, dial DialFunc, server, name string, timeout time.Duration) (SOA, error) {
	n, err := CanonicalName(name)
	if err != nil {
		return SOA{}, &Error{Kind: ErrInvalid, Op: "read soa", Server: server, Err: err}
	}
	r, err := query(ctx, dial, server, n, dns.TypeSOA, timeout)
	if err != nil {
		if ctx.Err() != nil {
			return SOA{}, ctx.Err()
		}
		return SOA{}, &Error{Kind: ErrUnavailable, Op: "read soa", Name: n, Server: server, Err: err}
	}
	if soa, ok := soaOf(r, n); ok {
		return soa, nil
	}
	kind := ErrConfig
	if r.Rcode == dns.RcodeServerFailure {
		kind = ErrUnavailable
	}
	return SOA{}, &Error{Kind: kind, Op: "read soa", Name: n, Server: server,
		Err: fmt.Errorf("server is not authoritative for the name (answer %s, authoritative %t, no SOA)", rcodeName(r.Rcode), r.Authoritative)}
}

// soaOf finds the SOA of the zone holding name in an authoritative answer.
func soaOf(r *dns.Msg, name string) (SOA, bool) {
	if !r.Authoritative || (r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError) {
		return SOA{}, false
	}
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			soa, ok := rr.(*dns.SOA)
			if !ok || !dns.IsSubDomain(dns.CanonicalName(soa.Hdr.Name), name) {
				continue
			}
			return SOA{Zone: dns.CanonicalName(soa.Hdr.Name), Serial: soa.Serial, Minimum: soa.Minttl, TTL: soa.Hdr.Ttl}, true
		}
	}
	return SOA{}, false
}

// valuesOf returns the data of name's records of type typ in an answer, in
// canonical text form, sorted.
func valuesOf(r *dns.Msg, name, typ string) []string {
	qtype := dns.StringToType[typ]
	var out []string
	for _, rr := range r.Answer {
		h := rr.Header()
		if h.Rrtype != qtype || dns.CanonicalName(h.Name) != name {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		case *dns.CNAME:
			out = append(out, dns.CanonicalName(v.Target))
		}
	}
	return canonicalLoose(typ, out)
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// isSubdomain reports whether name is zone or below it.
func isSubdomain(zone, name string) bool {
	return dns.IsSubDomain(zone, name)
}

// serialAtLeast compares SOA serials with RFC 1982 arithmetic: whether s has
// reached min (s == min or s is after min).
func serialAtLeast(s, min uint32) bool {
	return s == min || int32(s-min) > 0
}

func joinValues(v []string) string {
	if len(v) == 0 {
		return "nothing"
	}
	return "[" + strings.Join(v, " ") + "]"
}
