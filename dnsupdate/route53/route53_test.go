package route53

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsr53 "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/farmhand/farmhand/dnsupdate"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

const (
	r53NS        = "https://route53.amazonaws.com/doc/2013-04-01/"
	r53Zone      = "ZTESTZONE42"
	r53AccessKey = "AKIDTESTROUTE53"
	r53SecretKey = "r53-secret-key-never-shown-0123456789"
)

// The request and response bodies of Route 53's REST-XML API.
type r53ChangeRequest struct {
	XMLName xml.Name    `xml:"ChangeResourceRecordSetsRequest"`
	Comment string      `xml:"ChangeBatch>Comment"`
	Changes []r53Change `xml:"ChangeBatch>Changes>Change"`
}

type r53Change struct {
	Action string `xml:"Action"`
	Set    r53Set `xml:"ResourceRecordSet"`
}

type r53Set struct {
	Name   string   `xml:"Name"`
	Type   string   `xml:"Type"`
	TTL    int64    `xml:"TTL"`
	Values []string `xml:"ResourceRecords>ResourceRecord>Value"`
}

func (s r53Set) xml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<ResourceRecordSet><Name>%s</Name><Type>%s</Type><TTL>%d</TTL><ResourceRecords>", s.Name, s.Type, s.TTL)
	for _, v := range s.Values {
		fmt.Fprintf(&b, "<ResourceRecord><Value>%s</Value></ResourceRecord>", v)
	}
	b.WriteString("</ResourceRecords></ResourceRecordSet>")
	return b.String()
}

// fakeRoute53 is a hosted zone behind an httptest server that speaks Route
// 53's wire format, applies change batches atomically as Route 53 does and
// checks the shape of every request.
type fakeRoute53 struct {
	t   *testing.T
	srv *httptest.Server

	mu           sync.Mutex
	sets         map[string]r53Set // name|type
	requests     []string          // "METHOD path?query"
	batches      []r53ChangeRequest
	changes      map[string]int // change id → GetChange calls left before INSYNC
	pendingPolls int
	failNext     []string // error codes for the next requests
	loseAnswer   int      // change batches to apply and then answer 503
	afterList    func(f *fakeRoute53)
}

func newFakeRoute53(t *testing.T) *fakeRoute53 {
	f := &fakeRoute53{t: t, sets: map[string]r53Set{}, changes: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRoute53) updater(t *testing.T, mutate func(*Options)) *Updater {
	t.Helper()
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(r53AccessKey, r53SecretKey, ""),
		BaseEndpoint: aws.String(f.srv.URL),
		HTTPClient:   f.srv.Client(),
	}
	opts := Options{HostedZoneID: "/hostedzone/" + r53Zone, SyncPoll: time.Millisecond, Backoff: time.Millisecond}
	if mutate != nil {
		mutate(&opts)
	}
	r, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fakeRoute53) put(s r53Set) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets[s.Name+"|"+s.Type] = s
}

func (f *fakeRoute53) get(name, typ string) (r53Set, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sets[name+"|"+typ]
	return s, ok
}

func (f *fakeRoute53) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeRoute53) fail(codes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = append(f.failNext, codes...)
}

func (f *fakeRoute53) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+r53AccessKey+"/") || !strings.Contains(auth, "/us-east-1/route53/aws4_request") {
		f.t.Errorf("%s %s: Authorization %q; want a SigV4 signature for route53 in us-east-1", r.Method, r.URL.Path, auth)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+queryOf(r))
	if len(f.failNext) > 0 {
		code := f.failNext[0]
		f.failNext = f.failNext[1:]
		status := map[string]int{"NoSuchHostedZone": 404, "AccessDenied": 403, "ServiceUnavailable": 503}[code]
		if status == 0 {
			status = 400
		}
		msg := map[string]string{
			"Throttling":              "Rate exceeded",
			"PriorRequestNotComplete": "The request was rejected because Route 53 was still processing a prior request.",
			"NoSuchHostedZone":        "No hosted zone found with ID: " + r53Zone,
			"AccessDenied":            "User is not authorized to perform: route53:ChangeResourceRecordSets",
			"SignatureDoesNotMatch":   "Signature expired: 20200101T000000Z is now earlier than 20260101T000000Z",
		}[code]
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0"?>
<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, r53NS, code, msg)
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/2013-04-01/hostedzone/"+r53Zone+"/rrset":
		// The API reference writes the path with a trailing slash; the
		// SDK sends it without; Route 53 takes both.
		f.changeBatch(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/2013-04-01/hostedzone/"+r53Zone+"/rrset":
		f.list(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/2013-04-01/change/"):
		id := strings.TrimPrefix(r.URL.Path, "/2013-04-01/change/")
		left, ok := f.changes[id]
		if !ok {
			f.t.Errorf("GetChange for unknown change %q", id)
		}
		status := "INSYNC"
		if left > 0 {
			status = "PENDING"
			f.changes[id] = left - 1
		}
		fmt.Fprintf(w, `<?xml version="1.0"?>
<GetChangeResponse xmlns="%s"><ChangeInfo><Id>/change/%s</Id><Status>%s</Status><SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo></GetChangeResponse>`, r53NS, id, status)
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

func (f *fakeRoute53) changeBatch(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(body), `<ChangeResourceRecordSetsRequest xmlns="`+r53NS+`">`) {
		f.t.Errorf("change body lacks the namespaced root element: %s", body)
	}
	var req r53ChangeRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		f.t.Errorf("change body: %v: %s", err, body)
	}
	f.batches = append(f.batches, req)
	next := map[string]r53Set{}
	for k, v := range f.sets {
		next[k] = v
	}
	var problems []string
	for _, c := range req.Changes {
		s := c.Set
		key := s.Name + "|" + s.Type
		cur, exists := next[key]
		if !strings.HasSuffix(s.Name, ".") || s.TTL <= 0 || len(s.Values) == 0 {
			f.t.Errorf("change %s of a malformed set %+v", c.Action, s)
		}
		switch c.Action {
		case "CREATE":
			if exists {
				problems = append(problems, fmt.Sprintf("Tried to create resource record set [name='%s', type='%s'] but it already exists", s.Name, s.Type))
			}
			next[key] = s
		case "DELETE":
			switch {
			case !exists:
				problems = append(problems, fmt.Sprintf("Tried to delete resource record set [name='%s', type='%s'] but it was not found", s.Name, s.Type))
			case cur.TTL != s.TTL || !slices.Equal(cur.Values, s.Values):
				problems = append(problems, fmt.Sprintf("Tried to delete resource record set [name='%s', type='%s'] but the values provided do not match the current values", s.Name, s.Type))
			}
			delete(next, key)
		case "UPSERT":
			next[key] = s
		default:
			f.t.Errorf("unknown action %q", c.Action)
		}
		for _, other := range []string{"A", "AAAA", "CNAME"} {
			if _, ok := next[s.Name+"|"+other]; ok && other != s.Type && (other == "CNAME" || s.Type == "CNAME") && c.Action != "DELETE" {
				problems = append(problems, fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted as it conflicts with other records with the same DNS name in zone example.test.", s.Type, s.Name))
			}
		}
	}
	if len(problems) > 0 {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<InvalidChangeBatch xmlns="%s"><Messages>`, r53NS)
		for _, p := range problems {
			fmt.Fprintf(w, "<Message>%s</Message>", p)
		}
		fmt.Fprint(w, "</Messages><RequestId>req-2</RequestId></InvalidChangeBatch>")
		return
	}
	f.sets = next
	if f.loseAnswer > 0 {
		f.loseAnswer--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := "C" + strconv.Itoa(len(f.batches))
	f.changes[id] = f.pendingPolls
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsResponse xmlns="%s"><ChangeInfo><Id>/change/%s</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`, r53NS, id)
}

// list answers ListResourceRecordSets like Route 53: the sets from the
// start name and type on, here the matching one or, when there is none,
// another set of the zone.
func (f *fakeRoute53) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("maxitems") != "1" || q.Get("name") == "" || q.Get("type") == "" {
		f.t.Errorf("list query %q; want name, type and maxitems=1", r.URL.RawQuery)
	}
	var found []r53Set
	if s, ok := f.sets[q.Get("name")+"|"+q.Get("type")]; ok {
		found = append(found, s)
	} else {
		for _, s := range f.sets {
			found = append(found, s)
			break
		}
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<ListResourceRecordSetsResponse xmlns="%s"><ResourceRecordSets>`, r53NS)
	for _, s := range found {
		fmt.Fprint(w, s.xml())
	}
	fmt.Fprint(w, "</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems></ListResourceRecordSetsResponse>")
	if f.afterList != nil {
		hook := f.afterList
		f.afterList = nil
		hook(f)
	}
}

func TestRoute53UpsertsInOneBatchAndWaitsForINSYNC(t *testing.T) {
	f := newFakeRoute53(t)
	f.pendingPolls = 2
	r := f.updater(t, func(o *Options) { o.Comment = "farm web" })
	err := r.Set(ctxT(t, 10*time.Second), dnsupdate.RecordSet{Name: "App.Example.Test", Type: "A", TTL: 30 * time.Second, Values: []string{"10.0.0.2", "10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /2013-04-01/hostedzone/" + r53Zone + "/rrset",
		"GET /2013-04-01/change/C1",
		"GET /2013-04-01/change/C1",
		"GET /2013-04-01/change/C1",
	}
	if got := f.log(); !slices.Equal(got, want) {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b := f.batches[0]
	wantSet := r53Set{Name: "app.example.test.", Type: "A", TTL: 30, Values: []string{"10.0.0.1", "10.0.0.2"}}
	if len(b.Changes) != 1 || b.Changes[0].Action != "UPSERT" || !equalR53(b.Changes[0].Set, wantSet) || b.Comment != "farm web" {
		t.Errorf("batch = %+v; want one UPSERT of %+v with the comment", b, wantSet)
	}
}

func equalR53(a, b r53Set) bool {
	return a.Name == b.Name && a.Type == b.Type && a.TTL == b.TTL && slices.Equal(a.Values, b.Values)
}

func TestRoute53RetriesThrottlingAndPriorRequestNotComplete(t *testing.T) {
	f := newFakeRoute53(t)
	f.fail("Throttling", "PriorRequestNotComplete", "ServiceUnavailable")
	r := f.updater(t, nil)
	if err := r.Set(ctxT(t, 10*time.Second), dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.5"}}); err != nil {
		t.Fatalf("set: %v", err)
	}
	if s, ok := f.get("db.example.test.", "A"); !ok || !slices.Equal(s.Values, []string{"10.0.0.5"}) {
		t.Errorf("zone holds %+v; want the set after three retried failures", s)
	}
	posts := 0
	for _, l := range f.log() {
		if strings.HasPrefix(l, "POST") {
			posts++
		}
	}
	if posts != 4 {
		t.Errorf("%d POSTs; want 4 (3 refused, 1 accepted)", posts)
	}

	f.fail("Throttling", "Throttling", "Throttling")
	err := f.updater(t, func(o *Options) { o.Attempts = 3 }).Set(ctxT(t, 10*time.Second), dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.6"}})
	if !errors.Is(err, dnsupdate.ErrUnavailable) || !strings.Contains(err.Error(), "Throttling") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("always throttled: %v; want dnsupdate.ErrUnavailable after 3 attempts", err)
	}
}

func TestRoute53ClassifiesFinalErrors(t *testing.T) {
	cases := []struct {
		code string
		want error
	}{
		{"NoSuchHostedZone", dnsupdate.ErrConfig},
		{"AccessDenied", dnsupdate.ErrConfig},
		{"SignatureDoesNotMatch", dnsupdate.ErrClockSkew},
	}
	for _, c := range cases {
		t.Run(c.code+" is not retried", func(t *testing.T) {
			f := newFakeRoute53(t)
			f.fail(c.code)
			err := f.updater(t, nil).Set(ctxT(t, 10*time.Second), dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.5"}})
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.code) {
				t.Fatalf("err = %v; want %v naming %s", err, c.want, c.code)
			}
			if n := len(f.log()); n != 1 {
				t.Errorf("%d requests; want 1", n)
			}
			if strings.Contains(fmtAll(err), r53SecretKey) {
				t.Errorf("error shows the secret key: %v", err)
			}
		})
	}
}

func TestRoute53DeleteSendsTheExactCurrentSet(t *testing.T) {
	f := newFakeRoute53(t)
	old := r53Set{Name: "db.example.test.", Type: "A", TTL: 300, Values: []string{"10.0.0.1", "10.0.0.2"}}
	f.put(old)
	f.put(r53Set{Name: "other.example.test.", Type: "A", TTL: 60, Values: []string{"10.0.0.9"}})
	r := f.updater(t, nil)
	ctx := ctxT(t, 10*time.Second)
	if err := r.Delete(ctx, "db.example.test", "A"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.get("db.example.test.", "A"); ok {
		t.Errorf("set still there after Delete")
	}
	if b := f.batches[0]; len(b.Changes) != 1 || b.Changes[0].Action != "DELETE" || !equalR53(b.Changes[0].Set, old) {
		t.Errorf("batch = %+v; want DELETE of exactly %+v", b, old)
	}
	want := "GET /2013-04-01/hostedzone/" + r53Zone + "/rrset?maxitems=1&name=db.example.test.&type=A"
	if got := f.log()[0]; got != want {
		t.Errorf("first request %q; want %q", got, want)
	}

	before := len(f.log())
	if err := r.Delete(ctx, "db.example.test", "A"); err != nil {
		t.Fatalf("delete of an absent set: %v", err)
	}
	for _, l := range f.log()[before:] {
		if strings.HasPrefix(l, "POST") {
			t.Errorf("deleting an absent set sent a change (the list answered another name)")
		}
	}
}

func TestRoute53CompareAndSwap(t *testing.T) {
	set := func(ip string) dnsupdate.RecordSet {
		return dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{ip}}
	}
	cur := r53Set{Name: "db.example.test.", Type: "A", TTL: 120, Values: []string{"10.0.0.1"}}

	t.Run("a matching prev deletes exactly what was read and creates the new set in one batch", func(t *testing.T) {
		f := newFakeRoute53(t)
		f.put(cur)
		if err := f.updater(t, nil).SetIf(ctxT(t, 10*time.Second), set("10.0.0.2"), []string{"10.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		b := f.batches[0]
		if len(b.Changes) != 2 || b.Changes[0].Action != "DELETE" || !equalR53(b.Changes[0].Set, cur) || b.Changes[1].Action != "CREATE" || b.Changes[1].Set.Values[0] != "10.0.0.2" {
			t.Errorf("batch = %+v; want DELETE of the current set then CREATE", b)
		}
	})
	t.Run("a stale prev is refused before anything is sent", func(t *testing.T) {
		f := newFakeRoute53(t)
		f.put(cur)
		err := f.updater(t, nil).SetIf(ctxT(t, 10*time.Second), set("10.0.0.2"), []string{"10.0.0.7"})
		if !errors.Is(err, dnsupdate.ErrPrecondition) || !strings.Contains(err.Error(), "current values [10.0.0.1]") {
			t.Fatalf("err = %v; want dnsupdate.ErrPrecondition naming the current values", err)
		}
		if len(f.batches) != 0 {
			t.Errorf("a batch was sent")
		}
	})
	t.Run("a change between the read and the write fails the batch", func(t *testing.T) {
		f := newFakeRoute53(t)
		f.put(cur)
		f.afterList = func(f *fakeRoute53) {
			f.sets["db.example.test.|A"] = r53Set{Name: "db.example.test.", Type: "A", TTL: 120, Values: []string{"10.0.0.3"}}
		}
		err := f.updater(t, nil).SetIf(ctxT(t, 10*time.Second), set("10.0.0.2"), []string{"10.0.0.1"})
		if !errors.Is(err, dnsupdate.ErrPrecondition) || !strings.Contains(err.Error(), "do not match") {
			t.Fatalf("err = %v; want dnsupdate.ErrPrecondition from InvalidChangeBatch", err)
		}
		if s, _ := f.get("db.example.test.", "A"); s.Values[0] != "10.0.0.3" {
			t.Errorf("the other controller's set was clobbered: %+v", s)
		}
	})
	t.Run("a swap applied by an attempt whose answer was lost succeeds", func(t *testing.T) {
		f := newFakeRoute53(t)
		f.put(cur)
		f.loseAnswer = 1
		if err := f.updater(t, nil).SetIf(ctxT(t, 10*time.Second), set("10.0.0.2"), []string{"10.0.0.1"}); err != nil {
			t.Fatalf("err = %v; want success", err)
		}
		if len(f.batches) != 2 {
			t.Errorf("%d batches; want the applied one and the refused retry", len(f.batches))
		}
	})
	t.Run("an empty prev creates only when absent", func(t *testing.T) {
		f := newFakeRoute53(t)
		r := f.updater(t, nil)
		ctx := ctxT(t, 10*time.Second)
		if err := r.SetIf(ctx, set("10.0.0.4"), nil); err != nil {
			t.Fatal(err)
		}
		if b := f.batches[0]; len(b.Changes) != 1 || b.Changes[0].Action != "CREATE" {
			t.Errorf("batch = %+v; want a single CREATE", b)
		}
		if err := r.SetIf(ctx, set("10.0.0.5"), nil); !errors.Is(err, dnsupdate.ErrPrecondition) {
			t.Errorf("second create: %v; want dnsupdate.ErrPrecondition", err)
		}
	})
	t.Run("a CNAME next to addresses is a failed precondition", func(t *testing.T) {
		f := newFakeRoute53(t)
		f.put(cur)
		err := f.updater(t, nil).Set(ctxT(t, 10*time.Second), dnsupdate.RecordSet{Name: "db.example.test", Type: "CNAME", Values: []string{"x.example.test"}})
		if !errors.Is(err, dnsupdate.ErrPrecondition) || !strings.Contains(err.Error(), "conflicts") {
			t.Errorf("err = %v; want dnsupdate.ErrPrecondition", err)
		}
	})
}

func TestRoute53StopsWaitingAfterSyncWait(t *testing.T) {
	f := newFakeRoute53(t)
	f.pendingPolls = 1 << 30
	r := f.updater(t, func(o *Options) { o.SyncWait = 30 * time.Millisecond; o.SyncPoll = 5 * time.Millisecond })
	err := r.Set(ctxT(t, 10*time.Second), dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.5"}})
	if !errors.Is(err, dnsupdate.ErrUnavailable) || !strings.Contains(err.Error(), "still PENDING") {
		t.Fatalf("err = %v; want dnsupdate.ErrUnavailable saying the change is still PENDING", err)
	}
	r = f.updater(t, func(o *Options) { o.SyncWait = -1 })
	before := len(f.log())
	if err := r.Set(ctxT(t, 10*time.Second), dnsupdate.RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.6"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.log()) - before; n != 1 {
		t.Errorf("%d requests with waiting off; want the POST only", n)
	}
}

func TestRoute53AsHandsOutTheClient(t *testing.T) {
	r := newFakeRoute53(t).updater(t, nil)
	var c *awsr53.Client
	if !r.As(&c) || c == nil {
		t.Errorf("As(**awsr53.Client) = false or nil")
	}
	var s string
	if r.As(&s) {
		t.Errorf("As(*string) = true")
	}
	if _, err := New(aws.Config{}, Options{}); err == nil || !strings.Contains(err.Error(), "hosted zone id") {
		t.Errorf("no zone: %v", err)
	}
}

// fmtAll returns the text of err and of every error it wraps, so that a
// test can check that no layer holds a secret.
func fmtAll(err error) string {
	var b strings.Builder
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		b.WriteString(e.Error() + "\n" + fmt.Sprintf("%+v %#v", e, e) + "\n")
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return b.String()
}
