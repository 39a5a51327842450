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

// DynDNS2Options configure a [DynDNS2] updater. BaseURL, Username and
// Password are required.
type DynDNS2Options struct {
	// BaseURL is the service's root, such as "https://members.dyndns.org";
	// the updater calls BaseURL + "/nic/update".
	BaseURL string
	// Username and Password are sent with HTTP basic authentication.
	Username string
	Password string
	// UserAgent identifies the client, as the protocol demands; default
	// DefaultUserAgent.
	UserAgent string
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each request (connection, answer and body), whatever
	// the client's own Timeout: a service that accepts and never answers
	// fails the attempt (ErrUnavailable). 0 means DefaultHTTPTimeout.
	Timeout time.Duration
	// Attempts and Backoff govern retries of network failures and 5xx
	// answers; defaults 3 and 1 s.
	Attempts int
	Backoff  time.Duration
	// QuietPeriod is how long the updater refuses calls after "911" or
	// "dnserr"; default (and minimum) DefaultDynBackoff.
	QuietPeriod time.Duration
	// Clock times the back-off; nil means the real clock.
	Clock clock.Clock
	// Logger gets the updater's log lines (never a secret); nil
	// discards them.
	Logger *slog.Logger
}

// DynDNS2 sets A records with the dyndns2 protocol
// (GET /nic/update?hostname=NAME&myip=ADDRESS with basic authentication),
// spoken by Dyn and many other dynamic DNS services.
//
// Limits: A records only, one address per name, TTL chosen by the service,
// no delete, no compare-and-swap. Following the protocol's rules against
// abusive clients, the updater does not resend an address it has already
// set; after "badauth", "badagent" or "!donator" it refuses every further
// call, and after "nohost", "notfqdn", "numhost" or "abuse" every call for
// that name, without contacting the service, until a new updater is made;
// after "911" or "dnserr" it stays quiet for at least 30 minutes
// (ErrUnavailable).
type DynDNS2 struct {
	base     *url.URL
	username string
	password string
	dyn      *httpDyn
}

// NewDynDNS2 checks opts and returns an updater.
func NewDynDNS2(opts DynDNS2Options) (*DynDNS2, error) {
	if opts.Username == "" || opts.Password == "" {
		return nil, errors.New("dnsupdate: dyndns2: Username and Password are required")
	}
	base, err := url.Parse(strings.TrimSuffix(opts.BaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("dnsupdate: dyndns2: base url %q: want http(s)://host", opts.BaseURL)
	}
	base.Path += "/nic/update"
	d := &DynDNS2{base: base, username: opts.Username, password: opts.Password}
	d.dyn = newHTTPDyn("dyndns2", opts.HTTPClient, opts.Timeout, opts.UserAgent, []string{opts.Password}, opts.Attempts, opts.Backoff, opts.Clock, opts.Logger)
	if opts.QuietPeriod > d.dyn.quiet {
		d.dyn.quiet = opts.QuietPeriod
	}
	return d, nil
}

// Set points rs.Name at rs.Values[0].
func (d *DynDNS2) Set(ctx context.Context, rs RecordSet) error {
	const op = "dyndns2 set"
	n, err := d.dyn.single(op, rs)
	if err != nil {
		return err
	}
	unchanged, err := d.dyn.admit(op, n)
	if err != nil || unchanged {
		return err
	}
	ip := n.Values[0]
	u := *d.base
	u.RawQuery = url.Values{"hostname": {strings.TrimSuffix(n.Name, ".")}, "myip": {ip}}.Encode()
	err = d.dyn.retrier.do(ctx, func(ctx context.Context, attempt int) error {
		status, body, err := d.dyn.get(ctx, op, n, &u, d.username, d.password)
		if err != nil {
			return err
		}
		return d.outcome(op, n, status, body)
	})
	if err != nil {
		d.dyn.logger.LogAttrs(ctx, slog.LevelWarn, "dns update failed", slog.String("op", op), slog.String("name", n.Name),
			slog.String("err", err.Error()))
		return err
	}
	d.dyn.remember(n.Name, ip)
	d.dyn.logger.LogAttrs(ctx, slog.LevelInfo, "dns updated", slog.String("op", op), slog.String("name", n.Name), slog.String("ip", ip))
	return nil
}

// outcome reads the return code: the first word of the first line, with
// the address after "good" and "nochg".
func (d *DynDNS2) outcome(op string, rs RecordSet, status int, body string) error {
	e := &Error{Op: op, Name: rs.Name, Type: rs.Type, Server: d.dyn.endpoint(d.base)}
	line, _, _ := strings.Cut(body, "\n")
	f := strings.Fields(line)
	code := ""
	if len(f) > 0 {
		code = f[0]
	}
	if code == "" && status == http.StatusUnauthorized {
		code = "badauth"
	}
	want := rs.Values[0]
	switch code {
	case "good", "nochg":
		if len(f) > 1 && f[1] != want {
			if code == "good" && f[1] == "127.0.0.1" {
				// The service ignores this client: it answers
				// "good 127.0.0.1" to agents it blocked.
				e.Kind, e.Err = ErrConfig, fmt.Errorf("service answered %q: the user agent is blocked", line)
				d.dyn.block(rs.Name, true, e)
				return e
			}
			e.Kind, e.Err = ErrConfig, fmt.Errorf("service answered %q: it set another address than %s", line, want)
			d.dyn.block(rs.Name, false, e)
			return e
		}
		return nil
	case "badauth", "badagent", "!donator":
		e.Kind, e.Err = ErrConfig, fmt.Errorf("service answered %q: %s", code, dyn2Reasons[code])
		d.dyn.block(rs.Name, true, e)
	case "nohost", "notfqdn", "numhost", "abuse", "!yours":
		e.Kind, e.Err = ErrConfig, fmt.Errorf("service answered %q: %s", code, dyn2Reasons[code])
		d.dyn.block(rs.Name, false, e)
	case "911", "dnserr":
		d.dyn.quietFor(d.dyn.quiet)
		e.Kind, e.Err = ErrUnavailable, fmt.Errorf("service answered %q: %s; no calls for %v", code, dyn2Reasons[code], d.dyn.quiet)
		// Not retried now: the quiet period starts.
		return &noRetry{e}
	default:
		e.Kind, e.Err = ErrConfig, fmt.Errorf("unexpected answer (HTTP %d): %s", status, clip(body))
	}
	return e
}

var dyn2Reasons = map[string]string{
	"badauth":  "user name or password refused",
	"badagent": "the user agent is blocked",
	"!donator": "the request needs a feature the account does not have",
	"nohost":   "the name is not in this account",
	"notfqdn":  "the name is not fully qualified",
	"numhost":  "too many names, or a round-robin name",
	"abuse":    "the name is blocked for abuse",
	"!yours":   "the name belongs to another account",
	"911":      "the service has a problem or is in maintenance",
	"dnserr":   "the service's DNS failed",
}

// Delete is not part of the dyndns2 protocol: it returns an ErrConfig
// error matching errors.ErrUnsupported.
func (d *DynDNS2) Delete(ctx context.Context, name, typ string) error {
	n, t, err := normalizeKey("dyndns2 delete", name, typ)
	if err != nil {
		return err
	}
	return unsupportedDelete("dyndns2 delete", n, t, "dyndns2")
}
