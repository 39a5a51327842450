package scaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// Prometheus is a [Source] that runs an instant query against a Prometheus
// server's HTTP API (GET /api/v1/query) at the clock's time.
//
// The query may name the role as %role_name%, which is replaced by the
// role's name, escaped for a PromQL string. With ServerLabel empty the query
// must give exactly one series (aggregate it with sum or avg), read as a
// role-wide value; with ServerLabel set, each series is matched to a server
// whose ID or address (with or without a port) equals that label's value,
// giving a per-server sample.
type Prometheus struct {
	// URL is the server's base URL, such as "http://prometheus:9090".
	URL string
	// Query is the PromQL expression.
	Query string
	// Metric names the sample.
	Metric string
	// ServerLabel, when set, makes the sample per-server (for instance
	// "instance" for node_exporter series).
	ServerLabel string
	// Header is added to every request, for instance an Authorization
	// header; it is never logged or put in errors.
	Header http.Header
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// Clock gives the evaluation time sent as the time parameter; nil means
	// the real clock.
	Clock clock.Clock
}

var _ Source = (*Prometheus)(nil)

// Metrics returns p.Metric.
func (p *Prometheus) Metrics() []string { return []string{p.Metric} }

// promResponse is the envelope of every Prometheus API answer.
type promResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

type promData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []json.RawMessage `json:"value"`
}

const promMaxBody = 10 << 20

// Sample runs the query. Any transport error, non-2xx answer,
// "status":"error", empty or unreadable result is an error.
func (p *Prometheus) Sample(ctx context.Context, t Target) ([]Sample, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("prometheus %s: "+format, append([]any{p.Metric}, args...)...)
	}
	base, err := url.Parse(p.URL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fail("URL %q is not an absolute URL", redact(p.URL))
	}
	if p.Query == "" {
		return nil, fail("query is empty")
	}
	now := clock.Or(p.Clock).Now()
	q := url.Values{}
	q.Set("query", strings.ReplaceAll(p.Query, "%role_name%", promQuote(t.Role)))
	q.Set("time", strconv.FormatFloat(float64(now.UnixNano())/1e9, 'f', 3, 64))
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left > time.Second {
			q.Set("timeout", strconv.FormatInt(int64(left/time.Second), 10)+"s")
		}
	}
	u := base.JoinPath("api", "v1", "query")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fail("%v", err)
	}
	for k, vs := range p.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fail("%v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, promMaxBody+1))
	if err != nil {
		return nil, fail("reading answer: %v", err)
	}
	if len(body) > promMaxBody {
		return nil, fail("answer over %d bytes", promMaxBody)
	}
	var env promResponse
	if err := json.Unmarshal(body, &env); err != nil {
		if resp.StatusCode/100 != 2 {
			return nil, fail("HTTP %d", resp.StatusCode)
		}
		return nil, fail("answer is not JSON: %v", err)
	}
	if env.Status != "success" || resp.StatusCode/100 != 2 {
		if env.Error != "" {
			return nil, fail("HTTP %d: %s: %s", resp.StatusCode, env.ErrorType, truncate(env.Error, 200))
		}
		return nil, fail("HTTP %d, status %q", resp.StatusCode, env.Status)
	}
	var data promData
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return nil, fail("data: %v", err)
	}
	s := Sample{Metric: p.Metric, Time: now}
	switch data.ResultType {
	case "scalar":
		var pair []json.RawMessage
		if err := json.Unmarshal(data.Result, &pair); err != nil {
			return nil, fail("scalar result: %v", err)
		}
		v, err := promValue(pair)
		if err != nil {
			return nil, fail("%v", err)
		}
		if p.ServerLabel != "" {
			return nil, fail("query gave a scalar; ServerLabel %q needs a vector", p.ServerLabel)
		}
		s.Scope, s.Value = RoleWide, v
		return []Sample{s}, nil
	case "vector":
	default:
		return nil, fail("result type %q; want vector or scalar", data.ResultType)
	}
	var series []promSeries
	if err := json.Unmarshal(data.Result, &series); err != nil {
		return nil, fail("vector result: %v", err)
	}
	if p.ServerLabel == "" {
		switch len(series) {
		case 0:
			return nil, fail("query gave no series")
		case 1:
		default:
			return nil, fail("query gave %d series; aggregate it to one (sum, avg) or set ServerLabel", len(series))
		}
		v, err := promValue(series[0].Value)
		if err != nil {
			return nil, fail("%v", err)
		}
		s.Scope, s.Value = RoleWide, v
		return []Sample{s}, nil
	}
	s.Scope = PerServer
	s.PerServer = make(map[string]float64)
	s.Missing = make(map[string]error)
	byLabel := make(map[string]promSeries, len(series))
	for _, sr := range series {
		byLabel[sr.Metric[p.ServerLabel]] = sr
	}
	for _, srv := range t.Servers {
		sr, ok := matchServer(byLabel, srv)
		if !ok {
			s.Missing[srv.ID] = fmt.Errorf("no series with %s=%q or %q", p.ServerLabel, srv.ID, srv.Address)
			continue
		}
		v, err := promValue(sr.Value)
		if err != nil {
			s.Missing[srv.ID] = err
			continue
		}
		s.PerServer[srv.ID] = v
	}
	return []Sample{s}, nil
}

// matchServer finds the series labelled with the server's ID or address.
func matchServer(byLabel map[string]promSeries, srv Server) (promSeries, bool) {
	if sr, ok := byLabel[srv.ID]; ok && srv.ID != "" {
		return sr, true
	}
	if srv.Address == "" {
		return promSeries{}, false
	}
	if sr, ok := byLabel[srv.Address]; ok {
		return sr, true
	}
	for label, sr := range byLabel {
		if host, _, err := net.SplitHostPort(label); err == nil && host == srv.Address {
			return sr, true
		}
	}
	return promSeries{}, false
}

// promValue reads a [<unix time>, "<value>"] pair.
func promValue(pair []json.RawMessage) (float64, error) {
	if len(pair) != 2 {
		return 0, errors.New("sample is not a [time, value] pair")
	}
	var text string
	if err := json.Unmarshal(pair[1], &text); err != nil {
		return 0, fmt.Errorf("sample value %s is not a string", truncate(string(pair[1]), 40))
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q is not a number", truncate(text, 40))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("sample value %s is not a finite number", text)
	}
	return v, nil
}

// promQuote escapes s for use inside a double-quoted PromQL string.
func promQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// redact removes a password from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
