package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/retry"
)

// DefaultUserAgent identifies farmhand to dynamic DNS services, which ask
// clients for a "company - product - version" agent string.
const DefaultUserAgent = "farmhand - dnsupdate - 1.0"

// DefaultDynBackoff is how long an HTTP dynamic DNS updater stays quiet
// after the service reported a failure of its own (dyndns2 "911" or
// "dnserr"): the protocol asks clients to wait at least 30 minutes.
const DefaultDynBackoff = 30 * time.Minute

// DefaultHTTPTimeout bounds one request of an HTTP dynamic DNS updater
// (connection, answer and body), so that a service that accepts and never
// answers fails the attempt instead of holding its caller.
const DefaultHTTPTimeout = 30 * time.Second

// httpDyn is what the DNS Made Easy and dyndns2 updaters share: a GET with
// retries of transport failures, secrets scrubbed from every error, a
// memory of the last value set per name (so that an unchanged value is not
// sent again: these services block clients that repeat updates), and the
// "no hammering" state: names, or the whole account, refused after a final
// error, and a quiet period after a service failure.
type httpDyn struct {
	name      string // "dnsmadeeasy", "dyndns2"
	client    *http.Client
	timeout   time.Duration
	userAgent string
	secrets   []string
	retrier   retrier
	clock     clock.Clock
	logger    *slog.Logger
	quiet     time.Duration

	mu         sync.Mutex
	last       map[string]string // name → value last set
	blockedAll error
	blocked    map[string]error
	quietUntil time.Time
}

func newHTTPDyn(name string, client *http.Client, timeout time.Duration, userAgent string, secrets []string, attempts int, backoff time.Duration, c clock.Clock, logger *slog.Logger) *httpDyn {
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	if userAgent == "" {
		userAgent = DefaultUserAgent
	}
	h := &httpDyn{
		name:      name,
		client:    client,
		timeout:   timeout,
		userAgent: userAgent,
		clock:     clock.Or(c),
		logger:    orDiscard(logger),
		quiet:     DefaultDynBackoff,
		last:      map[string]string{},
		blocked:   map[string]error{},
	}
	for _, s := range secrets {
		if s != "" {
			h.secrets = append(h.secrets, s, url.QueryEscape(s))
		}
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	if attempts <= 0 {
		attempts = 3
	}
	h.retrier = newRetrier(attempts, backoff, h.clock, h.logger)
	return h
}

// single checks that rs can be sent to a service that holds one address per
// name.
func (h *httpDyn) single(op string, rs RecordSet) (RecordSet, error) {
	n, err := rs.Normalize()
	if err != nil {
		return RecordSet{}, err
	}
	if n.Type != TypeA {
		return RecordSet{}, &Error{Kind: ErrInvalid, Op: op, Name: n.Name, Type: n.Type, Err: fmt.Errorf("type %s: %s updates A records only", n.Type, h.name)}
	}
	if len(n.Values) != 1 {
		return RecordSet{}, &Error{Kind: ErrInvalid, Op: op, Name: n.Name, Type: n.Type, Err: fmt.Errorf("values %q: %s holds one address per name", rs.Values, h.name)}
	}
	return n, nil
}

// admit refuses a call that would hammer the service: after a final error
// for the name or the account, and during a quiet period. It also reports
// whether the value is the one last set (then nothing needs sending).
func (h *httpDyn) admit(op string, rs RecordSet) (unchanged bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := &Error{Op: op, Name: rs.Name, Type: rs.Type, Server: h.name}
	switch {
	case h.blockedAll != nil:
		e.Kind, e.Err = KindOf(h.blockedAll), fmt.Errorf("refusing to call the service again after a final error (create a new updater once fixed): %w", unwrapKind(h.blockedAll))
		return false, e
	case h.blocked[rs.Name] != nil:
		e.Kind, e.Err = KindOf(h.blocked[rs.Name]), fmt.Errorf("refusing to update this name again after a final error (create a new updater once fixed): %w", unwrapKind(h.blocked[rs.Name]))
		return false, e
	case h.clock.Now().Before(h.quietUntil):
		e.Kind, e.Err = ErrUnavailable, retry.WithDelay(fmt.Errorf("the service reported a failure; quiet until %s", h.quietUntil.UTC().Format(time.RFC3339)), h.quietUntil.Sub(h.clock.Now()))
		return false, e
	}
	return h.last[rs.Name] == rs.Values[0], nil
}

// unwrapKind returns the cause of an *Error (to avoid repeating its
// prefix).
func unwrapKind(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Err != nil {
		return e.Err
	}
	return err
}

func (h *httpDyn) remember(name, value string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[name] = value
}

func (h *httpDyn) block(name string, all bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if all {
		h.blockedAll = err
	} else {
		h.blocked[name] = err
	}
	delete(h.last, name)
}

func (h *httpDyn) quietFor(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.quietUntil = h.clock.Now().Add(d)
}

// get sends one GET and returns the status and the body (at most 4 KiB,
// secrets scrubbed). Transport failures, 5xx and 429 answers are
// ErrUnavailable; callers run it under their retrier.
func (h *httpDyn) get(ctx context.Context, op string, rs RecordSet, u *url.URL, user, password string) (int, string, error) {
	fail := func(kind, err error) (int, string, error) {
		return 0, "", &Error{Kind: kind, Op: op, Name: rs.Name, Type: rs.Type, Server: h.endpoint(u), Err: err}
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(ErrConfig, h.scrubErr(err))
	}
	req.Header.Set("User-Agent", h.userAgent)
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if caller.Err() != nil {
			return 0, "", caller.Err()
		}
		if ctx.Err() != nil {
			return fail(ErrUnavailable, fmt.Errorf("no answer within %s: %w", h.timeout, ctx.Err()))
		}
		return fail(ErrUnavailable, h.scrubErr(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		if caller.Err() == nil && ctx.Err() != nil {
			return fail(ErrUnavailable, fmt.Errorf("no whole answer within %s: %w", h.timeout, ctx.Err()))
		}
		return fail(ErrUnavailable, h.scrubErr(err))
	}
	body := h.scrub(strings.TrimSpace(string(b)))
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return fail(ErrUnavailable, fmt.Errorf("HTTP %d: %s", resp.StatusCode, clip(body)))
	}
	return resp.StatusCode, body, nil
}

// endpoint is the URL without query or user info, for errors.
func (h *httpDyn) endpoint(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.Path
}

// scrub removes the secrets from s.
func (h *httpDyn) scrub(s string) string {
	for _, sec := range h.secrets {
		s = strings.ReplaceAll(s, sec, "REDACTED")
	}
	return s
}

// scrubErr rebuilds err without the secrets: net/http quotes the whole URL,
// query string included, in its errors. The original stays reachable
// (for errors.Is on timeouts) only when its text held no secret.
func (h *httpDyn) scrubErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: h.scrub(redactQuery(ue.URL)), Err: h.scrubErr(ue.Err)}
	}
	text := err.Error()
	if clean := h.scrub(text); clean != text {
		return errorString(clean)
	}
	return err
}

// redactQuery replaces the values of password-like query parameters.
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url not shown)"
	}
	u.User = nil
	q := u.Query()
	for k := range q {
		switch strings.ToLower(k) {
		case "password", "pass", "pwd", "token", "key", "secret":
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// String and GoString keep the password out of printed options and
// updaters (%v, %+v and %#v all use them).
func (o DNSMadeEasyOptions) String() string {
	return fmt.Sprintf("dnsmadeeasy options (user %q, %d records, password not shown)", o.Username, len(o.Records))
}

// GoString is String.
func (o DNSMadeEasyOptions) GoString() string { return o.String() }

// String describes the options without the password.
func (o DynDNS2Options) String() string {
	return fmt.Sprintf("dyndns2 options (%s, user %q, password not shown)", o.BaseURL, o.Username)
}

// GoString is String.
func (o DynDNS2Options) GoString() string { return o.String() }

// String describes the updater without its password.
func (d DNSMadeEasy) String() string {
	return fmt.Sprintf("dnsmadeeasy updater (%s, user %q, %d records)", d.dyn.endpoint(d.base), d.username, len(d.records))
}

// GoString is String.
func (d DNSMadeEasy) GoString() string { return d.String() }

// String describes the updater without its password.
func (d DynDNS2) String() string {
	return fmt.Sprintf("dyndns2 updater (%s, user %q)", d.dyn.endpoint(d.base), d.username)
}

// GoString is String.
func (d DynDNS2) GoString() string { return d.String() }

func unsupportedDelete(op, name, typ, service string) error {
	return &Error{Kind: ErrConfig, Op: op, Name: name, Type: typ, Server: service,
		Err: fmt.Errorf("%s cannot delete records: %w", service, errors.ErrUnsupported)}
}
