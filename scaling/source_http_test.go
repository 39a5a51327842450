package scaling

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// promServer answers /api/v1/query with body and status after checking the
// request's shape against wantQuery and the fake clock's time.
func promServer(t *testing.T, wantQuery string, status int, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
			t.Errorf("request %s %s, want GET /api/v1/query", r.Method, r.URL.Path)
		}
		q := r.URL.Query()
		if got := q.Get("query"); got != wantQuery {
			t.Errorf("query %q, want %q", got, wantQuery)
		}
		if got, want := q.Get("time"), fmt.Sprintf("%d.000", t0.Unix()); got != want {
			t.Errorf("time %q, want %q", got, want)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer prom-token" {
			t.Errorf("Authorization %q not forwarded", got)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPrometheusSource(t *testing.T) {
	const oneSeries = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"role":"app"},"value":[1710158400,"3.42"]}]}}`
	const perNode = `{"status":"success","data":{"resultType":"vector","result":[
		{"metric":{"__name__":"node_load1","instance":"10.0.0.1:9100","job":"node"},"value":[1710158400,"1.5"]},
		{"metric":{"__name__":"node_load1","instance":"s2","job":"node"},"value":[1710158400,"2.5"]},
		{"metric":{"__name__":"node_load1","instance":"10.0.0.9:9100","job":"node"},"value":[1710158400,"9"]}]}}`
	cases := []struct {
		name        string
		query       string
		serverLabel string
		status      int
		body        string
		wantValue   float64
		wantPer     map[string]float64
		wantMissing []string
		err         string
	}{
		{name: "one series is a role-wide value", query: `avg(node_load1{role="%role_name%"})`, status: 200, body: oneSeries, wantValue: 3.42},
		{name: "a scalar is a role-wide value", query: "scalar(sum(queue_depth))", status: 200, body: `{"status":"success","data":{"resultType":"scalar","result":[1710158400,"17"]}}`, wantValue: 17},
		{name: "series are matched to servers by label", query: "node_load1", serverLabel: "instance", status: 200, body: perNode,
			wantPer: map[string]float64{"s1": 1.5, "s2": 2.5}, wantMissing: []string{"s3"}},
		{name: "an error answer is a metric error", query: "rate(x[", status: 400,
			body: `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:8: parse error: unclosed left bracket"}`,
			err:  "HTTP 400: bad_data: invalid parameter"},
		{name: "an execution error is a metric error", query: "x", status: 422, body: `{"status":"error","errorType":"execution","error":"query processing would load too many samples"}`, err: "execution: query processing"},
		{name: "a non-JSON answer is a metric error", query: "x", status: 503, body: "upstream unavailable", err: "HTTP 503"},
		{name: "several series need aggregation", query: "node_load1", status: 200, body: perNode, err: "query gave 3 series; aggregate it"},
		{name: "no series is a metric error", query: "x", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, err: "query gave no series"},
		{name: "NaN is a metric error", query: "x", status: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1710158400,"NaN"]}]}}`, err: "not a finite number"},
		{name: "a range result is refused", query: "x[5m]", status: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, err: `result type "matrix"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := strings.ReplaceAll(c.query, "%role_name%", "app")
			srv := promServer(t, want, c.status, c.body)
			src := &Prometheus{URL: srv.URL, Query: c.query, Metric: "m", ServerLabel: c.serverLabel,
				Header: http.Header{"Authorization": {"Bearer prom-token"}}, Client: srv.Client(), Clock: clock.NewFake(t0)}
			samples, err := src.Sample(context.Background(), Target{Role: "app", Servers: servers(3)})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				if strings.Contains(err.Error(), "prom-token") {
					t.Fatalf("error shows the header secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(samples) != 1 || samples[0].Metric != "m" || !samples[0].Time.Equal(t0) {
				t.Fatalf("samples %+v", samples)
			}
			s := samples[0]
			if c.wantPer == nil {
				if s.Scope != RoleWide || !near(s.Value, c.wantValue) {
					t.Fatalf("sample %+v, want role-wide %v", s, c.wantValue)
				}
				return
			}
			if s.Scope != PerServer || len(s.PerServer) != len(c.wantPer) {
				t.Fatalf("per-server %v, want %v", s.PerServer, c.wantPer)
			}
			for id, v := range c.wantPer {
				if !near(s.PerServer[id], v) {
					t.Errorf("%s = %v, want %v", id, s.PerServer[id], v)
				}
			}
			for _, id := range c.wantMissing {
				if s.Missing[id] == nil {
					t.Errorf("%s not reported missing", id)
				}
			}
		})
	}
}

func TestPrometheusRoleNameIsEscaped(t *testing.T) {
	srv := promServer(t, `sum(x{role="a\"b"})`, 200, `{"status":"success","data":{"resultType":"scalar","result":[1710158400,"1"]}}`)
	src := &Prometheus{URL: srv.URL, Query: `sum(x{role="%role_name%"})`, Metric: "m",
		Header: http.Header{"Authorization": {"Bearer prom-token"}}, Clock: clock.NewFake(t0)}
	if _, err := src.Sample(context.Background(), Target{Role: `a"b`}); err != nil {
		t.Fatal(err)
	}
}

func TestURLSource(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(20 * time.Millisecond)
			fmt.Fprint(w, strings.Repeat("x", 4096))
		case "/broken":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/hang":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	s, err := (&URL{URL: srv.URL + "/slow"}).Sample(context.Background(), Target{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Metric != MetricURLResponse || s[0].Scope != RoleWide || s[0].Value < 0.02 {
		t.Fatalf("sample %+v, want a role-wide response time of at least 20ms", s)
	}

	withPassword := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1)
	_, err = (&URL{URL: withPassword + "/broken", Metric: "home_page"}).Sample(context.Background(), Target{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("a 500 answer gave %v, want an HTTP 500 error", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error shows the URL's password: %v", err)
	}

	_, err = (&URL{URL: srv.URL + "/hang", Timeout: 50 * time.Millisecond}).Sample(context.Background(), Target{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hung URL gave %v, want a deadline error", err)
	}
	if _, err := (&URL{URL: "not a url"}).Sample(context.Background(), Target{}); err == nil {
		t.Fatal("a relative URL was fetched")
	}
}

// failingSource fails every call.
type failingSource struct{}

func (failingSource) Metrics() []string { return []string{"queue", MetricLoad1} }
func (failingSource) Sample(context.Context, Target) ([]Sample, error) {
	return nil, errors.New("broker unreachable")
}

func TestCollect(t *testing.T) {
	fc := clock.NewFake(t0)
	var gotRole string
	queue := &Func{Metric: "queue", Clock: fc, Fn: func(_ context.Context, tg Target) (float64, error) {
		gotRole = tg.Role
		return 42, nil
	}}
	nan := &Func{Metric: "weird", Fn: func(context.Context, Target) (float64, error) { return math.NaN(), nil }}
	m := Collect(context.Background(), Target{Role: "worker"}, queue, failingSource{}, nan)
	if gotRole != "worker" {
		t.Errorf("func saw role %q", gotRole)
	}
	if s := m["queue"]; s.Err != nil || s.Value != 42 || s.Scope != RoleWide || !s.Time.Equal(t0) {
		t.Errorf("queue %+v: the earlier source must win", s)
	}
	if s := m[MetricLoad1]; s.Err == nil || !strings.Contains(s.Err.Error(), "broker unreachable") {
		t.Errorf("load1 of a failed source: %+v", s)
	}
	if s := m["weird"]; s.Err == nil || !strings.Contains(s.Err.Error(), "not a finite number") {
		t.Errorf("NaN func: %+v", s)
	}
}
