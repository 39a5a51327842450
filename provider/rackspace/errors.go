package rackspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/farmhand/farmhand/internal/retry"
	"github.com/farmhand/farmhand/provider"
)

// apiError is an HTTP error answer of the cloud, said briefly: the status
// and the message from the JSON body. The gophercloud error it came from
// stays reachable with errors.As.
type apiError struct {
	what    string // "server 3f2a…", "key pair farmhand-…"
	status  int
	message string
	err     error
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("HTTP %d", e.status)
	if e.message != "" {
		msg += ": " + e.message
	}
	if e.what != "" {
		msg = e.what + ": " + msg
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.err }

// bodyMessage finds the message in an OpenStack error body: Nova's
// {"itemNotFound": {"message": ...}}, Keystone's {"error": {"message": ...}}.
func bodyMessage(body []byte) (message, retryAfter string) {
	var outer map[string]json.RawMessage
	if json.Unmarshal(body, &outer) != nil {
		return strings.TrimSpace(string(body)), ""
	}
	for _, raw := range outer {
		var inner struct {
			Message    string `json:"message"`
			RetryAfter string `json:"retryAfter"`
		}
		if json.Unmarshal(raw, &inner) == nil && inner.Message != "" {
			return inner.Message, inner.RetryAfter
		}
	}
	return "", ""
}

// classifyAt turns any error of a call into a *provider.Error with the
// right Code. what names the object of the call, for the message; now dates
// an HTTP-date Retry-After.
func classifyAt(op, what string, err error, now time.Time) *provider.Error {
	var pe *provider.Error
	if errors.As(err, &pe) {
		return pe
	}
	var ure gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ure) {
		msg, bodyRetry := bodyMessage(ure.Body)
		ae := &apiError{what: what, status: ure.Actual, message: msg, err: err}
		e := provider.NewError(codeOfStatus(ure.Actual, msg), op, ae)
		if e.Code == provider.Throttled {
			e.RetryAfter = retryAfter(ure.ResponseHeader.Get("Retry-After"), bodyRetry, now)
		}
		return e
	}
	var reauth *gophercloud.ErrUnableToReauthenticate
	if errors.As(err, &reauth) {
		return provider.NewError(provider.PermissionDenied, op, withWhat(what, err))
	}
	var noEndpoint *gophercloud.ErrEndpointNotFound
	if errors.As(err, &noEndpoint) {
		return provider.NewError(provider.InvalidArgument, op, withWhat(what, err))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return provider.NewError(provider.Unknown, op, withWhat(what, err))
	}
	var jsonErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &jsonErr) || errors.As(err, &typeErr) {
		return provider.NewError(provider.Unknown, op, withWhat(what, err))
	}
	// Anything else failed on the way: a refused connection, a reset, a
	// dropped response, a client timeout.
	return provider.NewError(provider.Unavailable, op, withWhat(what, err))
}

func withWhat(what string, err error) error {
	if what == "" {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// codeOfStatus maps an HTTP status of Nova, Cinder or Keystone to a Code.
func codeOfStatus(status int, message string) provider.Code {
	quota := strings.Contains(strings.ToLower(message), "quota")
	switch {
	case status == http.StatusNotFound:
		return provider.NotFound
	case status == http.StatusTooManyRequests:
		return provider.Throttled
	case status == http.StatusRequestEntityTooLarge:
		// Nova before microversions, and Rackspace, answer both rate limits
		// and quota with 413 overLimit; only the message tells them apart.
		if quota {
			return provider.QuotaExceeded
		}
		return provider.Throttled
	case status == http.StatusForbidden:
		if quota {
			return provider.QuotaExceeded
		}
		return provider.PermissionDenied
	case status == http.StatusUnauthorized:
		return provider.PermissionDenied
	case status == http.StatusConflict:
		return provider.AlreadyExists
	case status == http.StatusNotImplemented:
		return provider.InvalidArgument
	case status >= 500:
		return provider.Unavailable
	case status >= 400:
		return provider.InvalidArgument
	}
	return provider.Unknown
}

// retryAfter reads the delay a throttled answer asks for: the Retry-After
// header in seconds or as an HTTP date, else the retryAfter of Nova's
// overLimit body (seconds, or an ISO 8601 time on Rackspace).
func retryAfter(header, body string, now time.Time) time.Duration {
	for _, v := range []string{header, body} {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second))
		}
		for _, layout := range []string{http.TimeFormat, time.RFC1123, time.RFC3339Nano, "2006-01-02T15:04:05"} {
			if t, err := time.Parse(layout, v); err == nil {
				if d := t.Sub(now); d > 0 {
					return d.Round(time.Second)
				}
				return 0
			}
		}
	}
	return 0
}

// call runs one API call, retrying it while the cloud throttles it, and
// returns its error classified. It waits what Retry-After asks for (or
// backs off 1 s, 2 s, 4 s, ... when the cloud does not say), at most
// MaxRetries times and never longer than MaxRetryWait at once. Only
// throttling is retried here (see Provider.Retried): a caller retries
// the rest.
func (p *Provider) call(ctx context.Context, op, what string, fn func(context.Context) error) error {
	policy := retry.Policy{
		Tries: p.maxRetries + 1, Initial: time.Second, Max: min(32*time.Second, p.maxRetryWait), Jitter: -1,
		OnRetry: func(try int, wait time.Duration, err error) {
			p.log.DebugContext(ctx, "throttled, retrying", "op", op, "what", what, "wait", wait, "attempt", try)
		},
	}
	return retry.Do(ctx, p.clock, policy, p.retriesItself, func(ctx context.Context) error {
		err := fn(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return provider.NewError(provider.Unknown, op, withWhat(what, ctx.Err()))
		}
		return classifyAt(op, what, err, p.clock.Now())
	})
}

// retriesItself reports whether call retries a call that failed with
// err: a throttled call whose Retry-After is within MaxRetryWait.
func (p *Provider) retriesItself(err error) bool {
	var e *provider.Error
	return p.maxRetries > 0 && errors.As(err, &e) && e.Code == provider.Throttled && e.RetryAfter <= p.maxRetryWait
}

// Retried reports whether the driver already retried the call that failed
// with err (throttling, as far as MaxRetries and MaxRetryWait allow);
// callers retry the other retryable errors themselves.
func (p *Provider) Retried(err error) bool {
	var e *provider.Error
	return p.maxRetries > 0 && errors.As(err, &e) && e.Code == provider.Throttled
}

// sleep waits d on the provider's clock, or until ctx ends.
func (p *Provider) sleep(ctx context.Context, d time.Duration) error {
	t := p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
