package scaling

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// URL is a [Source] that measures how long a GET of a URL takes, body
// included, as a role-wide value in seconds. A transport error or a non-2xx
// answer is an error, so a failing site never looks fast.
type URL struct {
	// URL is fetched with GET. Its password, if any, never appears in errors.
	URL string
	// Metric names the sample; empty means [MetricURLResponse].
	Metric string
	// Timeout bounds one fetch; 0 means 30 s.
	Timeout time.Duration
	// Header is added to the request.
	Header http.Header
	// Client makes the request; nil means http.DefaultClient.
	Client *http.Client
	// Clock times the request; nil means the real clock.
	Clock clock.Clock
}

var _ Source = (*URL)(nil)

func (u *URL) metric() string {
	if u.Metric == "" {
		return MetricURLResponse
	}
	return u.Metric
}

// Metrics returns the metric's name.
func (u *URL) Metrics() []string { return []string{u.metric()} }

// urlMaxBody bounds the bytes read from a response; the rest is not timed.
const urlMaxBody = 10 << 20

// Sample fetches the URL once and reports its response time.
func (u *URL) Sample(ctx context.Context, _ Target) ([]Sample, error) {
	parsed, err := url.Parse(u.URL)
	if err != nil || parsed.Scheme == "" || parsed.Host == "" {
		return nil, fmt.Errorf("url source: %q is not an absolute URL", redact(u.URL))
	}
	shown := parsed.Redacted()
	timeout := u.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("url source %s: %w", shown, err)
	}
	for k, vs := range u.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	client := u.Client
	if client == nil {
		client = http.DefaultClient
	}
	clk := clock.Or(u.Clock)
	start := clk.Now()
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("url source GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, urlMaxBody))
	took := clk.Since(start)
	if err != nil {
		return nil, fmt.Errorf("url source GET %s: reading body: %w", shown, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("url source GET %s: HTTP %d", shown, resp.StatusCode)
	}
	return []Sample{{Metric: u.metric(), Time: clk.Now(), Scope: RoleWide, Value: took.Seconds()}}, nil
}
