package dnsupdate

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/stall"
)

const (
	dmePassword  = "dme&pass word/never-shown"
	dyn2Password = "dyn2:p@ss&never-shown"
)

// scriptedHTTP answers with the bodies in order (the last repeats) and
// records each request after checking it with check.
type scriptedHTTP struct {
	srv *httptest.Server

	mu       sync.Mutex
	answers  []scriptedAnswer
	requests []*http.Request
}

type scriptedAnswer struct {
	status int
	body   string
}

func newScriptedHTTP(t *testing.T, check func(t *testing.T, r *http.Request), answers ...scriptedAnswer) *scriptedHTTP {
	s := &scriptedHTTP{answers: answers}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		check(t, r)
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, r)
		a := s.answers[min(n, len(s.answers)-1)]
		s.mu.Unlock()
		if a.status != 0 {
			w.WriteHeader(a.status)
		}
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scriptedHTTP) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *scriptedHTTP) script(answers ...scriptedAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers[:0:0], answers...)
	s.requests = nil
}

func (s *scriptedHTTP) last() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[len(s.requests)-1]
}

func ok(body string) scriptedAnswer { return scriptedAnswer{body: body} }

// checkDME checks DNS Made Easy's request shape: GET on the servlet path
// with exactly username, password, id and ip.
func checkDME(t *testing.T, r *http.Request) {
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if r.Method != http.MethodGet || r.URL.Path != "/servlet/updateip" || !slices.Equal(keys, []string{"id", "ip", "password", "username"}) {
		t.Errorf("request %s %s; want GET /servlet/updateip?username&password&id&ip", r.Method, r.URL)
	}
	if q.Get("username") != "farm-admin" || q.Get("password") != dmePassword {
		t.Errorf("credentials %q / password ok=%t", q.Get("username"), q.Get("password") == dmePassword)
	}
	if r.Header.Get("User-Agent") != DefaultUserAgent {
		t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
	}
}

func newDME(t *testing.T, base string, c clock.Clock) *DNSMadeEasy {
	t.Helper()
	d, err := NewDNSMadeEasy(DNSMadeEasyOptions{
		Username: "farm-admin", Password: dmePassword,
		Records: map[string]string{"db.example.test": "1000001", "nfs.example.test.": "1000002"},
		BaseURL: base + "/servlet/updateip", Backoff: time.Millisecond, Clock: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func setA(name, ip string) RecordSet { return RecordSet{Name: name, Type: "A", Values: []string{ip}} }

func TestDNSMadeEasySendsTheRecordIDAndAddress(t *testing.T) {
	s := newScriptedHTTP(t, checkDME, ok("success"))
	d := newDME(t, s.srv.URL, nil)
	ctx := ctxT(t, 10*time.Second)
	if err := d.Set(ctx, setA("DB.example.test", "10.0.0.5")); err != nil {
		t.Fatal(err)
	}
	if q := s.last().URL.Query(); q.Get("id") != "1000001" || q.Get("ip") != "10.0.0.5" {
		t.Errorf("query %v; want id 1000001 ip 10.0.0.5", q)
	}
	if err := d.Set(ctx, setA("db.example.test", "10.0.0.5")); err != nil || s.count() != 1 {
		t.Errorf("same address again: %v after %d requests; want no second request", err, s.count())
	}
	s.script(ok("1000001 error-record-ip-same"))
	if err := d.Set(ctx, setA("db.example.test", "10.0.0.6")); err != nil || s.count() != 1 {
		t.Errorf("error-record-ip-same: %v (%d requests); want success", err, s.count())
	}
	s.script(ok("error-system"), ok("success"))
	if err := d.Set(ctx, setA("db.example.test", "10.0.0.7")); err != nil || s.count() != 2 {
		t.Errorf("error-system then success: %v (%d requests); want success on the second", err, s.count())
	}
}

func TestDNSMadeEasyStopsAfterFinalErrors(t *testing.T) {
	cases := []struct {
		name        string
		answer      string
		otherBlocks bool
	}{
		{"error-auth stops every name", "error-auth", true},
		{"error-auth-suspend stops every name", "error-auth-suspend", true},
		{"error-auth-voided stops every name", "error-auth-voided", true},
		{"error-record-invalid stops that name", "1000001 error-record-invalid", false},
		{"error-record-auth stops that name", "error-record-auth", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScriptedHTTP(t, checkDME, ok(c.answer))
			d := newDME(t, s.srv.URL, nil)
			ctx := ctxT(t, 10*time.Second)
			err := d.Set(ctx, setA("db.example.test", "10.0.0.5"))
			if !errors.Is(err, ErrConfig) || s.count() != 1 {
				t.Fatalf("err = %v after %d requests; want ErrConfig after 1", err, s.count())
			}
			err = d.Set(ctx, setA("db.example.test", "10.0.0.6"))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "refusing") || s.count() != 1 {
				t.Errorf("second call: %v after %d requests; want a refusal without a request", err, s.count())
			}
			s.script(ok("success"))
			err = d.Set(ctx, setA("nfs.example.test", "10.0.0.7"))
			if blocked := err != nil; blocked != c.otherBlocks {
				t.Errorf("other name: %v; want blocked=%t", err, c.otherBlocks)
			}
			if strings.Contains(fmtAll(err), dmePassword) || strings.Contains(fmtAll(err), url.QueryEscape(dmePassword)) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestDNSMadeEasyRefusesWhatItCannotDo(t *testing.T) {
	s := newScriptedHTTP(t, checkDME, ok("success"))
	d := newDME(t, s.srv.URL, nil)
	ctx := ctxT(t, 5*time.Second)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"a name without a record ID", d.Set(ctx, setA("web.example.test", "10.0.0.1")), ErrConfig},
		{"an AAAA set", d.Set(ctx, RecordSet{Name: "db.example.test", Type: "AAAA", Values: []string{"fd00::1"}}), ErrInvalid},
		{"two addresses", d.Set(ctx, RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.1", "10.0.0.2"}}), ErrInvalid},
		{"delete", d.Delete(ctx, "db.example.test", "A"), errors.ErrUnsupported},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v; want %v", c.name, c.err, c.want)
		}
	}
	if s.count() != 0 {
		t.Errorf("%d requests; want none", s.count())
	}
}

func TestHTTPUpdatersKeepPasswordsOutOfTransportErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	var logs logBuffer
	d, err := NewDNSMadeEasy(DNSMadeEasyOptions{Username: "farm-admin", Password: dmePassword, Records: map[string]string{"db.example.test": "1"},
		BaseURL: closed + "/servlet/updateip", Attempts: 2, Backoff: time.Millisecond, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	y, err := NewDynDNS2(DynDNS2Options{BaseURL: closed, Username: "farm", Password: dyn2Password, Attempts: 2, Backoff: time.Millisecond, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	for _, err := range []error{d.Set(ctx, setA("db.example.test", "10.0.0.1")), y.Set(ctx, setA("db.example.test", "10.0.0.1"))} {
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "after 2 attempts") {
			t.Errorf("err = %v; want ErrUnavailable after 2 attempts", err)
		}
		all := fmtAll(err)
		for _, secret := range []string{dmePassword, url.QueryEscape(dmePassword), dyn2Password, url.QueryEscape(dyn2Password)} {
			if strings.Contains(all, secret) {
				t.Errorf("error shows a password: %s", all)
			}
		}
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("err = %v; want the transport's reason kept", err)
		}
	}
	for _, secret := range []string{dmePassword, url.QueryEscape(dmePassword), dyn2Password} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log shows a password:\n%s", logs.String())
		}
	}
}

// checkDyn2 checks the dyndns2 request shape: GET /nic/update with
// hostname and myip, basic authentication and a User-Agent.
func checkDyn2(t *testing.T, r *http.Request) {
	user, pass, hasAuth := r.BasicAuth()
	q := r.URL.Query()
	if r.Method != http.MethodGet || r.URL.Path != "/nic/update" || len(q) != 2 || q.Get("hostname") == "" || q.Get("myip") == "" {
		t.Errorf("request %s %s; want GET /nic/update?hostname&myip", r.Method, r.URL)
	}
	if strings.HasSuffix(q.Get("hostname"), ".") {
		t.Errorf("hostname %q sent with the trailing dot", q.Get("hostname"))
	}
	if !hasAuth || user != "farm" || pass != dyn2Password {
		t.Errorf("basic auth %q ok=%t password ok=%t", user, hasAuth, pass == dyn2Password)
	}
	if r.Header.Get("User-Agent") != "Example Co - farm - 2.1" {
		t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
	}
}

func newDyn2(t *testing.T, base string, c clock.Clock) *DynDNS2 {
	t.Helper()
	y, err := NewDynDNS2(DynDNS2Options{BaseURL: base + "/", Username: "farm", Password: dyn2Password, UserAgent: "Example Co - farm - 2.1",
		Backoff: time.Millisecond, Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func TestDynDNS2UpdatesOnceAndDoesNotRepeat(t *testing.T) {
	s := newScriptedHTTP(t, checkDyn2, ok("good 10.0.0.5"))
	y := newDyn2(t, s.srv.URL, nil)
	ctx := ctxT(t, 10*time.Second)
	if err := y.Set(ctx, setA("db.example.test.", "10.0.0.5")); err != nil {
		t.Fatal(err)
	}
	if q := s.last().URL.Query(); q.Get("hostname") != "db.example.test" || q.Get("myip") != "10.0.0.5" {
		t.Errorf("query %v", q)
	}
	if err := y.Set(ctx, setA("db.example.test", "10.0.0.5")); err != nil || s.count() != 1 {
		t.Errorf("same address again: %v after %d requests; want no request (nochg floods get hosts blocked)", err, s.count())
	}
	s.script(ok("nochg 10.0.0.6"))
	if err := y.Set(ctx, setA("db.example.test", "10.0.0.6")); err != nil {
		t.Errorf("nochg: %v; want success", err)
	}
	s.script(scriptedAnswer{status: 502, body: "bad gateway"}, ok("good 10.0.0.7"))
	if err := y.Set(ctx, setA("db.example.test", "10.0.0.7")); err != nil || s.count() != 2 {
		t.Errorf("502 then good: %v after %d requests; want success on the retry", err, s.count())
	}
}

func TestDynDNS2FinalErrorsStopFurtherCalls(t *testing.T) {
	cases := []struct {
		name        string
		answer      scriptedAnswer
		otherBlocks bool
	}{
		{"badauth stops every host", ok("badauth"), true},
		{"an empty 401 is badauth", scriptedAnswer{status: 401}, true},
		{"badagent stops every host", ok("badagent"), true},
		{"!donator stops every host", ok("!donator"), true},
		{"good 127.0.0.1 means a blocked agent", ok("good 127.0.0.1"), true},
		{"nohost stops that host", ok("nohost"), false},
		{"notfqdn stops that host", ok("notfqdn"), false},
		{"numhost stops that host", ok("numhost"), false},
		{"abuse stops that host", ok("abuse"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScriptedHTTP(t, checkDyn2, c.answer)
			y := newDyn2(t, s.srv.URL, nil)
			ctx := ctxT(t, 10*time.Second)
			if err := y.Set(ctx, setA("db.example.test", "10.0.0.5")); !errors.Is(err, ErrConfig) || s.count() != 1 {
				t.Fatalf("err = %v after %d requests; want ErrConfig after 1", err, s.count())
			}
			if err := y.Set(ctx, setA("db.example.test", "10.0.0.6")); !errors.Is(err, ErrConfig) || s.count() != 1 {
				t.Errorf("same host again: %v after %d requests; want a refusal without a request", err, s.count())
			}
			s.script(ok("good 10.0.0.7"))
			err := y.Set(ctx, setA("nfs.example.test", "10.0.0.7"))
			if blocked := err != nil; blocked != c.otherBlocks {
				t.Errorf("other host: %v; want blocked=%t", err, c.otherBlocks)
			}
			if strings.Contains(fmtAll(err), dyn2Password) {
				t.Errorf("error shows the password")
			}
		})
	}
}

func TestDynDNS2StaysQuietAfter911(t *testing.T) {
	for _, answer := range []string{"911", "dnserr"} {
		t.Run(answer, func(t *testing.T) {
			s := newScriptedHTTP(t, checkDyn2, ok(answer))
			fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			y := newDyn2(t, s.srv.URL, fake)
			ctx := ctxT(t, 10*time.Second)
			err := y.Set(ctx, setA("db.example.test", "10.0.0.5"))
			if !errors.Is(err, ErrUnavailable) || s.count() != 1 {
				t.Fatalf("err = %v after %d requests; want ErrUnavailable after one request (no retry)", err, s.count())
			}
			fake.Advance(29 * time.Minute)
			err = y.Set(ctx, setA("nfs.example.test", "10.0.0.6"))
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "quiet until 2026-01-01T00:30:00Z") || s.count() != 1 {
				t.Errorf("29 minutes later: %v after %d requests; want a refusal without a request", err, s.count())
			}
			fake.Advance(time.Minute)
			s.script(ok("good 10.0.0.6"))
			if err := y.Set(ctx, setA("nfs.example.test", "10.0.0.6")); err != nil || s.count() != 1 {
				t.Errorf("30 minutes later: %v after %d requests; want one successful request", err, s.count())
			}
		})
	}
}

func TestNewHTTPUpdatersCheckTheirOptions(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"dme needs credentials", second(NewDNSMadeEasy(DNSMadeEasyOptions{Records: map[string]string{"a.b.c": "1"}})), "Username and Password"},
		{"dme needs records", second(NewDNSMadeEasy(DNSMadeEasyOptions{Username: "u", Password: "p"})), "Records is empty"},
		{"dme record names are checked", second(NewDNSMadeEasy(DNSMadeEasyOptions{Username: "u", Password: "p", Records: map[string]string{"db": "1"}})), `name "db"`},
		{"dme record ids are checked", second(NewDNSMadeEasy(DNSMadeEasyOptions{Username: "u", Password: "p", Records: map[string]string{"a.b.c": "1,2"}})), `record id "1,2"`},
		{"dme base url is checked", second(NewDNSMadeEasy(DNSMadeEasyOptions{Username: "u", Password: "p", Records: map[string]string{"a.b.c": "1"}, BaseURL: "ftp://x"})), "base url"},
		{"dyndns2 needs a base url", second(NewDynDNS2(DynDNS2Options{Username: "u", Password: "p"})), "base url"},
		{"dyndns2 needs credentials", second(NewDynDNS2(DynDNS2Options{BaseURL: "https://members.example"})), "Username and Password"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v; want it to mention %s", c.name, c.err, c.want)
		}
	}
}

func TestPrintedUpdatersAndOptionsHideSecrets(t *testing.T) {
	dmeOpts := DNSMadeEasyOptions{Username: "u", Password: dmePassword, Records: map[string]string{"db.example.test": "1"}}
	dynOpts := DynDNS2Options{BaseURL: "https://members.example", Username: "u", Password: dyn2Password}
	d, err := NewDNSMadeEasy(dmeOpts)
	if err != nil {
		t.Fatal(err)
	}
	y, err := NewDynDNS2(dynOpts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRFC2136(RFC2136Options{Server: "127.0.0.1:53", Key: &TSIGKey{Name: "k", Secret: stubSecret}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{dmeOpts, &dmeOpts, dynOpts, d, *d, y, *y, r} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			text := sprintf(verb, v)
			if strings.Contains(text, dmePassword) || strings.Contains(text, dyn2Password) || strings.Contains(text, stubSecret) {
				t.Errorf("%s of %T shows a secret: %s", verb, v, text)
			}
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestHTTPUpdatersGiveUpOnAServiceThatNeverAnswers(t *testing.T) {
	base := stall.HTTP(t)
	d, err := NewDNSMadeEasy(DNSMadeEasyOptions{Username: "farm-admin", Password: dmePassword, Records: map[string]string{"db.example.test": "1"},
		BaseURL: base + "/servlet/updateip", Attempts: 2, Backoff: time.Millisecond, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	y, err := NewDynDNS2(DynDNS2Options{BaseURL: base, Username: "farm", Password: dyn2Password,
		Attempts: 2, Backoff: time.Millisecond, Timeout: 100 * time.Millisecond, HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	// The caller's context would wait a minute: the updaters' own timeout
	// ends each request.
	ctx := ctxT(t, time.Minute)
	for name, u := range map[string]Updater{"dnsmadeeasy (its own client)": d, "dyndns2 (a client without a timeout)": y} {
		err := u.Set(ctx, setA("db.example.test", "10.0.0.1"))
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no answer within 100ms") || !strings.Contains(err.Error(), "after 2 attempts") {
			t.Errorf("%s: err = %v; want ErrUnavailable, no answer within 100ms, after 2 attempts", name, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: the caller's context ended first", name)
		}
	}
}
