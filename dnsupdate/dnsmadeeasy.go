package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// DefaultDNSMadeEasyURL is DNS Made Easy's dynamic DNS endpoint.
const DefaultDNSMadeEasyURL = "https://cp.dnsmadeeasy.com/servlet/updateip"

// DNSMadeEasyOptions configure a [DNSMadeEasy] updater. Username,
// Password and Records are required.
type DNSMadeEasyOptions struct {
	// Username is the DNS Made Easy account name.
	Username string
	// Password is the account password or, better, the record's dynamic
	// DNS password (set per record in the control panel).
	Password string
	// Records maps each name the updater may set (an FQDN, trailing dot
	// optional) to its DNS Made Easy record ID. The record must exist
	// with dynamic DNS turned on.
	Records map[string]string
	// BaseURL is the update URL; default DefaultDNSMadeEasyURL. Tests
	// point it at an httptest server.
	BaseURL string
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each request (connection, answer and body), whatever
	// the client's own Timeout: a service that accepts and never answers
	// fails the attempt (ErrUnavailable). 0 means DefaultHTTPTimeout.
	Timeout time.Duration
	// Attempts and Backoff govern retries of network failures, 5xx
	// answers and "error-system"; defaults 3 and 1 s.
	Attempts int
	Backoff  time.Duration
	// Clock times the back-off; nil means the real clock.
	Clock clock.Clock
	// Logger gets the updater's log lines (never a secret); nil
	// discards them.
	Logger *slog.Logger
}

// DNSMadeEasy sets A records through DNS Made Easy's dynamic DNS URL
// (GET ...updateip?username=U&password=P&id=RECORDID&ip=ADDRESS).
//
// Limits: A records only, one address per name (an existing record's
// address is replaced; its TTL stays what the control panel says), no
// delete, no compare-and-swap. The updater remembers the last address it
// set for each name and does not send the same one again. After an
// authentication error ("error-auth", "error-auth-suspend",
// "error-auth-voided") it refuses every further call, and after
// "error-record-auth" or "error-record-invalid" every call for that name,
// without contacting the service, until a new updater is made.
type DNSMadeEasy struct {
	base     *url.URL
	username string
	password string
	records  map[string]string
	dyn      *httpDyn
}

// NewDNSMadeEasy checks opts and returns an updater.
func NewDNSMadeEasy(opts DNSMadeEasyOptions) (*DNSMadeEasy, error) {
	if opts.Username == "" || opts.Password == "" {
		return nil, errors.New("dnsupdate: dnsmadeeasy: Username and Password are required")
	}
	if len(opts.Records) == 0 {
		return nil, errors.New("dnsupdate: dnsmadeeasy: Records is empty; map each name to its record ID")
	}
	raw := opts.BaseURL
	if raw == "" {
		raw = DefaultDNSMadeEasyURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("dnsupdate: dnsmadeeasy: base url %q: want http(s)://host/path", raw)
	}
	d := &DNSMadeEasy{base: base, username: opts.Username, password: opts.Password, records: map[string]string{}}
	for name, id := range opts.Records {
		n, err := CanonicalName(name)
		if err != nil {
			return nil, fmt.Errorf("dnsupdate: dnsmadeeasy: records: %w", err)
		}
		if id == "" || strings.ContainsAny(id, ",&?#/ ") {
			return nil, fmt.Errorf("dnsupdate: dnsmadeeasy: records: %s: record id %q: want the numeric ID", n, id)
		}
		d.records[n] = id
	}
	d.dyn = newHTTPDyn("dnsmadeeasy", opts.HTTPClient, opts.Timeout, "", []string{opts.Password}, opts.Attempts, opts.Backoff, opts.Clock, opts.Logger)
	return d, nil
}

// Set points the record of rs.Name at rs.Values[0].
func (d *DNSMadeEasy) Set(ctx context.Context, rs RecordSet) error {
	const op = "dnsmadeeasy set"
	n, err := d.dyn.single(op, rs)
	if err != nil {
		return err
	}
	id, ok := d.records[n.Name]
	if !ok {
		return &Error{Kind: ErrConfig, Op: op, Name: n.Name, Type: n.Type, Server: "dnsmadeeasy", Err: errors.New("no record ID configured for this name")}
	}
	unchanged, err := d.dyn.admit(op, n)
	if err != nil || unchanged {
		return err
	}
	ip := n.Values[0]
	u := *d.base
	q := url.Values{"username": {d.username}, "password": {d.password}, "id": {id}, "ip": {ip}}
	u.RawQuery = q.Encode()

	err = d.dyn.retrier.do(ctx, func(ctx context.Context, attempt int) error {
		status, body, err := d.dyn.get(ctx, op, n, &u, "", "")
		if err != nil {
			return err
		}
		return d.outcome(op, n, status, body)
	})
	if err != nil {
		d.dyn.logger.LogAttrs(ctx, slog.LevelWarn, "dns update failed", slog.String("op", op), slog.String("name", n.Name),
			slog.String("record_id", id), slog.String("err", err.Error()))
		return err
	}
	d.dyn.remember(n.Name, ip)
	d.dyn.logger.LogAttrs(ctx, slog.LevelInfo, "dns updated", slog.String("op", op), slog.String("name", n.Name),
		slog.String("record_id", id), slog.String("ip", ip))
	return nil
}

// outcome reads DNS Made Easy's answer: one word, sometimes after the
// record ID ("1000001 error-record-ip-same").
func (d *DNSMadeEasy) outcome(op string, rs RecordSet, status int, body string) error {
	e := &Error{Op: op, Name: rs.Name, Type: rs.Type, Server: d.dyn.endpoint(d.base)}
	code := ""
	if f := strings.Fields(body); len(f) > 0 {
		code = f[len(f)-1]
	}
	switch code {
	case "success", "error-record-ip-same":
		return nil
	case "error-auth", "error-auth-suspend", "error-auth-voided":
		e.Kind, e.Err = ErrConfig, fmt.Errorf("service answered %q: the account or password is refused", code)
		d.dyn.block(rs.Name, true, e)
	case "error-record-auth", "error-record-invalid":
		e.Kind, e.Err = ErrConfig, fmt.Errorf("service answered %q: record ID %s is unknown or not this account's", code, d.records[rs.Name])
		d.dyn.block(rs.Name, false, e)
	case "error-system", "error":
		e.Kind, e.Err = ErrUnavailable, fmt.Errorf("service answered %q", code)
	default:
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			e.Kind, e.Err = ErrConfig, fmt.Errorf("HTTP %d: %s", status, clip(body))
			d.dyn.block(rs.Name, true, e)
			return e
		}
		e.Kind, e.Err = ErrConfig, fmt.Errorf("unexpected answer (HTTP %d): %s", status, clip(body))
	}
	return e
}

// Delete is not possible through the dynamic DNS URL: it returns an
// ErrConfig error matching errors.ErrUnsupported.
func (d *DNSMadeEasy) Delete(ctx context.Context, name, typ string) error {
	n, t, err := normalizeKey("dnsmadeeasy delete", name, typ)
	if err != nil {
		return err
	}
	return unsupportedDelete("dnsmadeeasy delete", n, t, "dnsmadeeasy")
}
