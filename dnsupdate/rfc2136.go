package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/clock"
)

// DefaultFudge is the TSIG time fudge: how far the server's clock may be
// from ours, in seconds.
const DefaultFudge = 300

// RFC2136Options configure an [RFC2136] updater. Server is required.
type RFC2136Options struct {
	// Server is the primary server's "host:port" (port 53 usually).
	Server string
	// Zone is the zone to update. When empty, the zone of each name is
	// found by an SOA query to Server and remembered.
	Zone string
	// Key signs every update. nil sends updates unsigned, which servers
	// normally refuse.
	Key *TSIGKey
	// Fudge is the TSIG time fudge in seconds; default DefaultFudge.
	Fudge uint16
	// Timeout bounds one attempt (connect, send, answer); default
	// DefaultQueryTimeout.
	Timeout time.Duration
	// Attempts is the most attempts per call for a timeout or SERVFAIL;
	// default DefaultAttempts. Backoff is the first wait between them,
	// doubling up to DefaultMaxBackoff; default DefaultBackoff.
	Attempts int
	Backoff  time.Duration
	// Dial opens the TCP connections; nil means a net.Dialer.
	Dial DialFunc
	// Clock times the back-off; nil means the real clock.
	Clock clock.Clock
	// SigningTime gives the TSIG signing time; nil means time.Now. It is
	// not taken from Clock on purpose: servers refuse a signature more
	// than Fudge seconds from their own clock (BADTIME), so a simulated
	// clock must not sign. Tests set it to check clock-skew handling.
	SigningTime func() time.Time
	// Logger receives one entry per update and per retry; nil discards.
	// Keys never appear in it.
	Logger *slog.Logger
}

// RFC2136 updates a zone with DNS UPDATE messages (RFC 2136) signed with
// TSIG, over TCP. It is safe for concurrent use.
//
// Set sends one message that deletes the set and adds the new records
// (RemoveRRset + Insert), so the server applies both at once. SetIf adds a
// prerequisite: the set must exist with exactly the expected records
// ("RRset exists, value dependent"), or must not exist. Every attempt
// builds and signs a fresh message, with a new ID and signing time.
type RFC2136 struct {
	server   string
	zone     string
	signer   atomic.Pointer[tsigSigner] // nil: unsigned; see SetKey
	fudge    uint16
	timeout  time.Duration
	dial     DialFunc
	clock    clock.Clock
	signTime func() time.Time
	logger   *slog.Logger
	retrier  retrier
	zoneMu   sync.Mutex
	zoneOf   map[string]string // name → discovered zone
}

// NewRFC2136 checks opts and returns an updater. It does not contact the
// server.
func NewRFC2136(opts RFC2136Options) (*RFC2136, error) {
	if opts.Server == "" {
		return nil, errors.New("dnsupdate: rfc2136: Server is required (host:port)")
	}
	if _, _, err := net.SplitHostPort(opts.Server); err != nil {
		return nil, fmt.Errorf("dnsupdate: rfc2136: server %q: want host:port: %v", opts.Server, err)
	}
	u := &RFC2136{
		server:   opts.Server,
		fudge:    opts.Fudge,
		timeout:  opts.Timeout,
		dial:     opts.Dial,
		clock:    clock.Or(opts.Clock),
		signTime: opts.SigningTime,
		logger:   orDiscard(opts.Logger),
		zoneOf:   map[string]string{},
	}
	if u.signTime == nil {
		u.signTime = time.Now
	}
	if u.fudge == 0 {
		u.fudge = DefaultFudge
	}
	if u.timeout <= 0 {
		u.timeout = DefaultQueryTimeout
	}
	if opts.Zone != "" {
		z, err := CanonicalName(opts.Zone)
		if err != nil {
			return nil, fmt.Errorf("dnsupdate: rfc2136: zone: %w", err)
		}
		u.zone = z
	}
	if opts.Key != nil {
		s, err := newTSIGSigner(*opts.Key)
		if err != nil {
			return nil, fmt.Errorf("dnsupdate: rfc2136: %w", err)
		}
		u.signer.Store(s)
	}
	u.retrier = newRetrier(opts.Attempts, opts.Backoff, u.clock, u.logger)
	return u, nil
}

// String describes the updater without its key's secret.
func (u *RFC2136) String() string {
	return fmt.Sprintf("rfc2136 updater (%s, zone %q, key %s)", u.server, u.zone, orNone(u.keyLabel()))
}

// keyLabel is the name of the key updates are signed with now, for logs
// and errors; empty when they are not signed.
func (u *RFC2136) keyLabel() string {
	if s := u.signer.Load(); s != nil {
		return s.name
	}
	return ""
}

// SetKey replaces the TSIG key that signs the updates from now on (nil:
// unsigned), so that a key can be rotated on a running farm: add the new
// key to the server's update policy, call SetKey, then remove the old key
// from the server. An update already under way finishes its attempt with
// the key it started with; its retries use the new one. A bad key is
// refused with an error and the old one kept. It is safe to call while
// updates run.
func (u *RFC2136) SetKey(key *TSIGKey) error {
	if key == nil {
		u.signer.Store(nil)
		return nil
	}
	s, err := newTSIGSigner(*key)
	if err != nil {
		return fmt.Errorf("dnsupdate: rfc2136: %w", err)
	}
	u.signer.Store(s)
	u.logger.LogAttrs(context.Background(), slog.LevelInfo, "dns update key replaced", slog.String("key", s.name))
	return nil
}

// GoString is String.
func (u *RFC2136) GoString() string { return u.String() }

// Server returns the server's address.
func (u *RFC2136) Server() string { return u.server }

// Set replaces the set with one UPDATE message.
func (u *RFC2136) Set(ctx context.Context, rs RecordSet) error {
	n, err := rs.Normalize()
	if err != nil {
		return err
	}
	return u.update(ctx, "rfc2136 set", n, nil, false)
}

// SetIf replaces the set only when it holds exactly prev (or, for an empty
// prev, does not exist), using an update prerequisite.
func (u *RFC2136) SetIf(ctx context.Context, rs RecordSet, prev []string) error {
	const op = "rfc2136 setif"
	n, err := rs.Normalize()
	if err != nil {
		return err
	}
	p, err := normalizePrev(op, n, prev)
	if err != nil {
		return err
	}
	err = u.update(ctx, op, n, p, true)
	if errors.Is(err, ErrPrecondition) && attemptsOf(err) > 1 && u.serves(ctx, n) {
		// An earlier attempt was applied but its answer lost; the
		// retry then found our own change in place of prev.
		u.logger.LogAttrs(ctx, slog.LevelInfo, "dns update applied by an earlier attempt", slog.String("op", op),
			slog.String("name", n.Name), slog.String("type", n.Type))
		return nil
	}
	return err
}

// serves reports whether the server already holds exactly rs's values.
func (u *RFC2136) serves(ctx context.Context, rs RecordSet) bool {
	r, err := query(ctx, u.dial, u.server, rs.Name, dns.StringToType[rs.Type], u.timeout)
	if err != nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		return false
	}
	return slices.Equal(valuesOf(r, rs.Name, rs.Type), rs.Values)
}

// Delete removes the set. The server answers NOERROR for a set that does
// not exist.
func (u *RFC2136) Delete(ctx context.Context, name, typ string) error {
	const op = "rfc2136 delete"
	n, t, err := normalizeKey(op, name, typ)
	if err != nil {
		return err
	}
	return u.update(ctx, op, RecordSet{Name: n, Type: t}, nil, false)
}

// update sends the change for rs (a delete when rs has no values), with
// the compare-and-swap prerequisite when cas is set.
func (u *RFC2136) update(ctx context.Context, op string, rs RecordSet, prev []string, cas bool) error {
	zone, err := u.zoneFor(ctx, op, rs)
	if err != nil {
		return err
	}
	start := u.clock.Now()
	err = u.retrier.do(ctx, func(ctx context.Context, attempt int) error {
		signer := u.signer.Load() // one key for the whole attempt
		m, err := u.message(zone, rs, prev, cas, signer)
		if err != nil {
			return &Error{Kind: ErrInvalid, Op: op, Name: rs.Name, Type: rs.Type, Server: u.server, Err: err}
		}
		u.logger.LogAttrs(ctx, slog.LevelDebug, "dns update attempt", slog.String("op", op), slog.String("name", rs.Name),
			slog.String("type", rs.Type), slog.Int("attempt", attempt), slog.Int("id", int(m.Id)))
		r, xerr := exchange(ctx, u.dial, u.server, m, signer, u.timeout)
		return u.classify(op, rs, r, xerr, cas)
	})
	if err != nil {
		u.logger.LogAttrs(ctx, slog.LevelWarn, "dns update failed", slog.String("op", op), slog.String("name", rs.Name),
			slog.String("type", rs.Type), slog.String("server", u.server), slog.String("err", err.Error()))
		return err
	}
	u.logger.LogAttrs(ctx, slog.LevelInfo, "dns updated", slog.String("op", op), slog.String("name", rs.Name),
		slog.String("type", rs.Type), slog.Any("values", rs.Values), slog.String("zone", zone),
		slog.String("server", u.server), slog.String("key", u.keyLabel()), slog.Duration("took", u.clock.Since(start)))
	return nil
}

// message builds one fresh UPDATE message, signed (by exchange) once.
func (u *RFC2136) message(zone string, rs RecordSet, prev []string, cas bool, signer *tsigSigner) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	if rs.Values != nil {
		// A CNAME cannot share its name with other data; without
		// this prerequisite the server would silently ignore the
		// added records.
		for _, t := range conflictingTypes(rs.Type) {
			m.RRsetNotUsed([]dns.RR{stub(rs.Name, t)})
		}
	}
	if cas {
		if len(prev) == 0 {
			m.RRsetNotUsed([]dns.RR{stub(rs.Name, rs.Type)})
		} else {
			rrs, err := records(RecordSet{Name: rs.Name, Type: rs.Type, Values: prev})
			if err != nil {
				return nil, err
			}
			m.Used(rrs)
		}
	}
	m.RemoveRRset([]dns.RR{stub(rs.Name, rs.Type)})
	if rs.Values != nil {
		rrs, err := records(rs)
		if err != nil {
			return nil, err
		}
		m.Insert(rrs)
	}
	if signer != nil {
		// TSIG must be the last record; exchange signs it once.
		m.SetTsig(signer.name, signer.algorithm, u.fudge, u.signTime().Unix())
	}
	return m, nil
}

func stub(name, typ string) dns.RR {
	return &dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.StringToType[typ], Class: dns.ClassANY}}
}

// records converts a normalized set to resource records.
func records(rs RecordSet) ([]dns.RR, error) {
	hdr := dns.RR_Header{Name: rs.Name, Rrtype: dns.StringToType[rs.Type], Class: dns.ClassINET, Ttl: uint32(rs.TTL / time.Second)}
	out := make([]dns.RR, 0, len(rs.Values))
	for _, v := range rs.Values {
		switch rs.Type {
		case TypeA:
			out = append(out, &dns.A{Hdr: hdr, A: net.ParseIP(v).To4()})
		case TypeAAAA:
			out = append(out, &dns.AAAA{Hdr: hdr, AAAA: net.ParseIP(v)})
		case TypeCNAME:
			out = append(out, &dns.CNAME{Hdr: hdr, Target: v})
		default:
			return nil, fmt.Errorf("type %q: want A, AAAA or CNAME", rs.Type)
		}
	}
	return out, nil
}

// classify turns an answer (and the exchange's error, which may come with
// an answer) into nil or an *Error of the right kind. The answer's code is
// read first: miekg/dns returns both a message and an error when the
// server's TSIG does not verify, which is the case for BADSIG and BADTIME.
func (u *RFC2136) classify(op string, rs RecordSet, r *dns.Msg, xerr error, cas bool) error {
	e := &Error{Op: op, Name: rs.Name, Type: rs.Type, Server: u.server}
	if r == nil {
		if xerr == nil {
			xerr = errors.New("no answer")
		}
		if errors.Is(xerr, context.Canceled) || errors.Is(xerr, context.DeadlineExceeded) {
			return xerr
		}
		if errors.Is(xerr, dns.ErrSecret) || errors.Is(xerr, dns.ErrKeyAlg) {
			e.Kind, e.Err = ErrConfig, fmt.Errorf("cannot sign with %s: %v", u.keyLabel(), xerr)
			return e
		}
		e.Kind, e.Err = ErrUnavailable, xerr
		return e
	}
	tsigErr := 0
	if t := r.IsTsig(); t != nil {
		tsigErr = int(t.Error)
	}
	answer := rcodeName(r.Rcode)
	if tsigErr != 0 {
		answer += "/" + rcodeName(tsigErr)
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
		if xerr != nil {
			e.Kind, e.Err = ErrConfig, fmt.Errorf("server answered NOERROR but its answer does not verify (%v): is the key right?", xerr)
			return e
		}
		return nil
	case dns.RcodeNotAuth:
		switch tsigErr {
		case dns.RcodeBadTime:
			e.Kind, e.Err = ErrClockSkew, fmt.Errorf("server answered %s: the signing time is more than %d s from the server's clock", answer, u.fudge)
		case dns.RcodeBadSig, dns.RcodeBadKey:
			e.Kind, e.Err = ErrConfig, fmt.Errorf("server answered %s: check the name, algorithm and secret of %s", answer, u.keyLabel())
		default:
			e.Kind, e.Err = ErrConfig, fmt.Errorf("server answered %s: not authoritative for the zone, or the key is not accepted", answer)
		}
	case dns.RcodeRefused:
		e.Kind, e.Err = ErrConfig, fmt.Errorf("server answered %s: the update policy does not allow this key (%s) to change this name", answer, orNone(u.keyLabel()))
	case dns.RcodeNotZone:
		e.Kind, e.Err = ErrConfig, fmt.Errorf("server answered %s: the name is outside the zone", answer)
	case dns.RcodeNotImplemented:
		e.Kind, e.Err = ErrConfig, fmt.Errorf("server answered %s: it does not accept dynamic updates", answer)
	case dns.RcodeFormatError:
		e.Kind, e.Err = ErrConfig, fmt.Errorf("server answered %s: it could not parse the update", answer)
	case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeNameError, dns.RcodeYXDomain:
		why := "a " + joinTypes(conflictingTypes(rs.Type)) + " set exists at this name"
		if cas {
			why = "the current set is not the expected one, or " + why
		}
		e.Kind, e.Err = ErrPrecondition, fmt.Errorf("server answered %s: %s", answer, why)
	case dns.RcodeServerFailure:
		e.Kind, e.Err = ErrUnavailable, fmt.Errorf("server answered %s", answer)
	default:
		e.Kind, e.Err = ErrUnavailable, fmt.Errorf("server answered %s", answer)
	}
	return e
}

// zoneFor returns the zone to update for rs: the configured one (after
// checking that rs.Name is in it), or the one the server says holds the
// name.
func (u *RFC2136) zoneFor(ctx context.Context, op string, rs RecordSet) (string, error) {
	if u.zone != "" {
		if !isSubdomain(u.zone, rs.Name) {
			return "", &Error{Kind: ErrConfig, Op: op, Name: rs.Name, Type: rs.Type, Server: u.server,
				Err: fmt.Errorf("name is outside zone %s", u.zone)}
		}
		return u.zone, nil
	}
	u.zoneMu.Lock()
	z, ok := u.zoneOf[rs.Name]
	u.zoneMu.Unlock()
	if ok {
		return z, nil
	}
	var soa SOA
	err := u.retrier.do(ctx, func(ctx context.Context, _ int) error {
		var err error
		soa, err = readSOA(ctx, u.dial, u.server, rs.Name, u.timeout)
		return err
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Op, e.Type = op+" (zone discovery)", rs.Type
		}
		return "", err
	}
	u.zoneMu.Lock()
	u.zoneOf[rs.Name] = soa.Zone
	u.zoneMu.Unlock()
	return soa.Zone, nil
}

func joinTypes(ts []string) string {
	if len(ts) == 1 {
		return ts[0]
	}
	return ts[0] + " or " + ts[1]
}

func orNone(s string) string {
	if s == "" {
		return "no key"
	}
	return s
}
