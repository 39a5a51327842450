package scaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// recordingTarget records the calls the handler makes.
type recordingTarget struct {
	mu    sync.Mutex
	calls []string
}

func (r *recordingTarget) Capacity(_ context.Context, role string) (Capacity, error) {
	switch role {
	case "ghost":
		return Capacity{}, UnknownRole(role)
	case "manual":
		return Capacity{}, NotEnabled(role, "give it scaling: {api: {}}")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "capacity "+role)
	return Capacity{Role: role, Desired: 4, Running: 3, Min: 2, Max: 8}, nil
}

func (r *recordingTarget) SetDesired(_ context.Context, role string, n int) error {
	switch role {
	case "ghost":
		return UnknownRole(role)
	case "manual":
		return NotEnabled(role, "give it scaling: {api: {}}")
	case "broken":
		return errors.New("store: write /var/lib/farm/state.db: disk full")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "desired "+role+"="+itoa(n))
	return nil
}

func (r *recordingTarget) FireEvent(_ context.Context, name string, params map[string]string) error {
	if name == "Unknown" {
		return UnknownEvent(name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := json.Marshal(params)
	r.calls = append(r.calls, "event "+name+" "+string(b))
	return nil
}

func (r *recordingTarget) taken() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

const (
	testToken  = "s3cret-token-value"
	testSecret = "hmac-shared-secret"
)

// call is one request to the handler and what must come of it.
type call struct {
	name    string
	method  string
	path    string
	body    string
	prepare func(r *http.Request, body []byte) // sets auth headers
	status  int
	errText string   // substring of the JSON error
	calls   []string // what the target must have seen
}

func bearerAuth(token string) func(*http.Request, []byte) {
	return func(r *http.Request, _ []byte) { r.Header.Set("Authorization", "Bearer "+token) }
}

func hmacAuth(secret string, at time.Time) func(*http.Request, []byte) {
	return func(r *http.Request, body []byte) { SignRequest(r, []byte(secret), at, body) }
}

func runCalls(t *testing.T, h http.Handler, target *recordingTarget, calls []call) {
	t.Helper()
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, c.path, strings.NewReader(c.body))
			r.Header.Set("Content-Type", "application/json")
			if c.prepare != nil {
				c.prepare(r, []byte(c.body))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.status {
				t.Errorf("status %d, want %d (body %s)", w.Code, c.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var resp map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Errorf("answer is not JSON: %q", w.Body)
			}
			if c.errText != "" {
				msg, _ := resp["error"].(string)
				if !strings.Contains(msg, c.errText) {
					t.Errorf("error %q, want it to contain %q", msg, c.errText)
				}
			}
			got := target.taken()
			if strings.Join(got, "|") != strings.Join(c.calls, "|") {
				t.Errorf("target calls %q, want %q", got, c.calls)
			}
		})
	}
}

func TestHandlerBearer(t *testing.T) {
	var logs bytes.Buffer
	target := &recordingTarget{}
	h := NewHandler(target, BearerToken(testToken), &HandlerOptions{MaxBodyBytes: 256, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ok := bearerAuth(testToken)
	runCalls(t, h, target, []call{
		{name: "no token is 401 and changes nothing", path: "/roles/app/desired", body: `{"desired": 5}`, status: 401, errText: "unauthorized"},
		{name: "wrong token is 401 and changes nothing", path: "/roles/app/desired", body: `{"desired": 5}`, prepare: bearerAuth("s3cret-token-valuf"), status: 401},
		{name: "token prefix is 401", path: "/roles/app/desired", body: `{"desired": 5}`, prepare: bearerAuth(testToken[:5]), status: 401},
		{name: "basic auth is 401", path: "/roles/app/desired", body: `{"desired": 5}`, prepare: func(r *http.Request, _ []byte) { r.SetBasicAuth("admin", testToken) }, status: 401},
		{name: "right token sets desired", path: "/roles/app/desired", body: `{"desired": 5}`, prepare: ok, status: 200, calls: []string{"desired app=5"}},
		{name: "zero is a valid count", path: "/roles/app/desired", body: `{"desired":0}`, prepare: ok, status: 200, calls: []string{"desired app=0"}},
		{name: "a prefix before the route is allowed", path: "/api/scaling/roles/web-1/desired", body: `{"desired": 2}`, prepare: ok, status: 200, calls: []string{"desired web-1=2"}},
		{name: "right token fires an event", path: "/events/deploy", body: `{"version": "1.4.2", "branch": "main"}`, prepare: ok, status: 200, calls: []string{`event deploy {"branch":"main","version":"1.4.2"}`}},
		{name: "an event without a body has no parameters", path: "/events/flush", prepare: ok, status: 200, calls: []string{"event flush {}"}},
		{name: "bad JSON is 400", path: "/roles/app/desired", body: `{"desired": `, prepare: ok, status: 400, errText: "want a JSON object"},
		{name: "negative desired is 400", path: "/roles/app/desired", body: `{"desired": -1}`, prepare: ok, status: 400, errText: `desired "-1": is negative`},
		{name: "fractional desired is 400", path: "/roles/app/desired", body: `{"desired": 5.5}`, prepare: ok, status: 400, errText: `desired "5.5": not an integer`},
		{name: "exponent desired is 400", path: "/roles/app/desired", body: `{"desired": 1e3}`, prepare: ok, status: 400, errText: "not an integer"},
		{name: "quoted desired is 400", path: "/roles/app/desired", body: `{"desired": "5"}`, prepare: ok, status: 400, errText: "not a number"},
		{name: "null desired is 400", path: "/roles/app/desired", body: `{"desired": null}`, prepare: ok, status: 400, errText: "not a number"},
		{name: "huge desired is 400", path: "/roles/app/desired", body: `{"desired": 99999999999999999999}`, prepare: ok, status: 400, errText: "out of range"},
		{name: "desired over the limit is 400", path: "/roles/app/desired", body: `{"desired": 100001}`, prepare: ok, status: 400, errText: "is over 100000"},
		{name: "missing desired is 400", path: "/roles/app/desired", body: `{}`, prepare: ok, status: 400, errText: "desired: missing"},
		{name: "unknown field is 400", path: "/roles/app/desired", body: `{"desired": 1, "force": true}`, prepare: ok, status: 400, errText: `body "force": unknown field`},
		{name: "trailing data is 400", path: "/roles/app/desired", body: `{"desired": 1} {"desired": 9}`, prepare: ok, status: 400, errText: "trailing data"},
		{name: "unknown role is 404", path: "/roles/ghost/desired", body: `{"desired": 1}`, prepare: ok, status: 404, errText: `role "ghost": no such role`},
		{name: "a role without the API is 403", path: "/roles/manual/desired", body: `{"desired": 1}`, prepare: ok, status: 403, errText: `role "manual": the scaling API is not enabled for this role; give it scaling: {api: {}}`},
		{name: "GET of a role returns its capacity", method: http.MethodGet, path: "/roles/app", prepare: ok, status: 200, calls: []string{"capacity app"}},
		{name: "GET of a role's desired count returns its capacity", method: http.MethodGet, path: "/scaling/roles/app/desired", prepare: ok, status: 200, calls: []string{"capacity app"}},
		{name: "GET without a token is 401 and reads nothing", method: http.MethodGet, path: "/roles/app", status: 401},
		{name: "GET of an unknown role is 404", method: http.MethodGet, path: "/roles/ghost", prepare: ok, status: 404, errText: `role "ghost": no such role`},
		{name: "GET of a role without the API is 403", method: http.MethodGet, path: "/roles/manual", prepare: ok, status: 403, errText: "not enabled"},
		{name: "POST to a role is 405", path: "/roles/app", body: `{"desired": 1}`, prepare: ok, status: 405, errText: "use GET"},
		{name: "bad role name is 400", path: "/roles/bad%20name/desired", body: `{"desired": 1}`, prepare: ok, status: 400, errText: "not a role name"},
		{name: "non-string event parameter is 400", path: "/events/deploy", body: `{"version": 2}`, prepare: ok, status: 400, errText: "params.version: want a string, got 2"},
		{name: "bad parameter name is 400", path: "/events/deploy", body: `{"my-var": "x"}`, prepare: ok, status: 400, errText: "not a parameter name"},
		{name: "unknown event is 400", path: "/events/Unknown", body: `{}`, prepare: ok, status: 400, errText: `event "Unknown": no such event`},
		{name: "a target failure is 500 without its text", path: "/roles/broken/desired", body: `{"desired": 1}`, prepare: ok, status: 500, errText: "internal error"},
		{name: "GET of an event is 405", method: http.MethodGet, path: "/events/deploy", prepare: ok, status: 405, errText: "use POST"},
		{name: "PUT is 405", method: http.MethodPut, path: "/events/deploy", body: `{}`, prepare: ok, status: 405},
		{name: "unknown path is 404", path: "/roles/app/size", body: `{"desired": 1}`, prepare: ok, status: 404},
		{name: "a body over the limit is 413", path: "/events/deploy", body: `{"a": "` + strings.Repeat("x", 300) + `"}`, prepare: ok, status: 413},
	})
	if strings.Contains(logs.String(), "s3cret") { // neither the token nor a presented one
		t.Errorf("the log shows the token:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "wrong bearer token") {
		t.Errorf("the log does not say why a call was refused:\n%s", logs.String())
	}
}

func TestHandlerMethodNotAllowedSaysAllow(t *testing.T) {
	h := NewHandler(&recordingTarget{}, BearerToken(testToken), nil)
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodGet, "/events/deploy", "POST"},
		{http.MethodDelete, "/roles/app/desired", "GET, POST"},
		{http.MethodPost, "/roles/app", "GET"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != 405 || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: status %d Allow %q, want 405 %q", c.method, c.path, w.Code, w.Header().Get("Allow"), c.allow)
		}
	}
}

func TestHandlerCapacityAnswersJSON(t *testing.T) {
	h := NewHandler(&recordingTarget{}, BearerToken(testToken), nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/roles/app", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Capacity
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || got != (Capacity{Role: "app", Desired: 4, Running: 3, Min: 2, Max: 8}) {
		t.Fatalf("%d %+v", resp.StatusCode, got)
	}
}

func TestHandlerHMAC(t *testing.T) {
	fc := clock.NewFake(t0)
	target := &recordingTarget{}
	var logs bytes.Buffer
	h := NewHandler(target, NewHMAC([]byte(testSecret), &HMACOptions{Clock: fc}), &HandlerOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	good := hmacAuth(testSecret, t0)
	runCalls(t, h, target, []call{
		{name: "HMAC good signature sets desired", path: "/roles/app/desired", body: `{"desired": 3}`, prepare: good, status: 200, calls: []string{"desired app=3"}},
		{name: "HMAC replay of the same request is 401", path: "/roles/app/desired", body: `{"desired": 3}`, prepare: good, status: 401},
		{name: "HMAC replay with the hex in upper case is 401", path: "/roles/app/desired", body: `{"desired": 3}`, prepare: func(r *http.Request, b []byte) {
			good(r, b)
			r.Header.Set(HeaderSignature, "sha256="+strings.ToUpper(strings.TrimPrefix(r.Header.Get(HeaderSignature), "sha256=")))
		}, status: 401},
		{name: "HMAC with a timestamp within the skew is accepted", path: "/roles/app/desired", body: `{"desired": 4}`, prepare: hmacAuth(testSecret, t0.Add(-4*time.Minute)), status: 200, calls: []string{"desired app=4"}},
		{name: "HMAC bad signature is 401", path: "/roles/app/desired", body: `{"desired": 3}`, prepare: hmacAuth("another-secret", t0), status: 401},
		{name: "HMAC skewed timestamp in the past is 401", path: "/roles/app/desired", body: `{"desired": 3}`, prepare: hmacAuth(testSecret, t0.Add(-6*time.Minute)), status: 401},
		{name: "HMAC skewed timestamp in the future is 401", path: "/roles/app/desired", body: `{"desired": 3}`, prepare: hmacAuth(testSecret, t0.Add(6*time.Minute)), status: 401},
		{name: "HMAC over another body is 401", path: "/roles/app/desired", body: `{"desired": 9}`, prepare: func(r *http.Request, _ []byte) {
			SignRequest(r, []byte(testSecret), t0, []byte(`{"desired": 1}`))
		}, status: 401},
		{name: "HMAC signed for another role is 401", path: "/roles/db/desired", body: `{"desired": 5}`, prepare: func(r *http.Request, b []byte) {
			other := httptest.NewRequest(http.MethodPost, "/roles/app/desired", nil)
			SignRequest(other, []byte(testSecret), t0, b)
			r.Header = other.Header
		}, status: 401},
		{name: "HMAC without a timestamp is 401", path: "/events/deploy", body: `{}`, prepare: func(r *http.Request, b []byte) {
			good(r, b)
			r.Header.Del(HeaderTimestamp)
		}, status: 401},
		{name: "HMAC without a signature is 401", path: "/events/deploy", body: `{}`, prepare: func(r *http.Request, _ []byte) {
			r.Header.Set(HeaderTimestamp, "1710158400")
		}, status: 401},
		{name: "HMAC signed event fires", path: "/events/deploy", body: `{"v": "2"}`, prepare: good, status: 200, calls: []string{`event deploy {"v":"2"}`}},
		{name: "HMAC good signature with bad input is 400", path: "/roles/app/desired", body: `{"desired": -2}`, prepare: good, status: 400, errText: "is negative"},
	})
	// After the skew window the replay cache forgets, but the timestamp is
	// then refused anyway.
	fc.Advance(10 * time.Minute)
	runCalls(t, h, target, []call{
		{name: "HMAC old signature after the window is 401", path: "/roles/app/desired", body: `{"desired": 3}`, prepare: good, status: 401},
	})
	if strings.Contains(logs.String(), testSecret) {
		t.Errorf("the log shows the secret:\n%s", logs.String())
	}
}

func TestHandlerMountedWithStripPrefix(t *testing.T) {
	fc := clock.NewFake(t0)
	target := &recordingTarget{}
	mux := http.NewServeMux()
	mux.Handle("/scaling/", http.StripPrefix("/scaling", NewHandler(target, NewHMAC([]byte(testSecret), &HMACOptions{Clock: fc}), nil)))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	body := []byte(`{"desired": 7}`)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/scaling/roles/app/desired", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	SignRequest(req, []byte(testSecret), t0, body)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := target.taken(); len(got) != 1 || got[0] != "desired app=7" {
		t.Fatalf("calls %q", got)
	}
}

func TestHandlerWithoutAuthenticatorRefusesAll(t *testing.T) {
	target := &recordingTarget{}
	runCalls(t, NewHandler(target, nil, nil), target, []call{
		{name: "nil authenticator is 401", path: "/roles/app/desired", body: `{"desired": 1}`, prepare: bearerAuth(""), status: 401},
	})
	runCalls(t, NewHandler(target, BearerToken(""), nil), target, []call{
		{name: "empty token accepts nothing", path: "/roles/app/desired", body: `{"desired": 1}`, prepare: func(r *http.Request, _ []byte) { r.Header.Set("Authorization", "Bearer ") }, status: 401},
	})
	runCalls(t, NewHandler(target, NewHMAC(nil, nil), nil), target, []call{
		{name: "empty HMAC secret accepts nothing", path: "/roles/app/desired", body: `{"desired": 1}`, prepare: hmacAuth("", time.Now()), status: 401},
	})
}
