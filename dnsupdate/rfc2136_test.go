package dnsupdate

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/clock"
)

const stubSecret = "c3R1Yi1zZXJ2ZXItc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWY="

// seenUpdate is what the stub server saw of one signed update.
type seenUpdate struct {
	id        uint16
	mac       string
	timeSeen  uint64
	tsigValid bool
}

// scriptedServer answers updates with the rcodes in order (the last one
// repeats) and records what it saw.
func scriptedServer(t *testing.T, rcodes ...int) (*stubServer, func() []seenUpdate) {
	var mu sync.Mutex
	var seen []seenUpdate
	s := startStub(t, map[string]string{"farm-key.": stubSecret}, func(w dns.ResponseWriter, req *dns.Msg) {
		mu.Lock()
		n := len(seen)
		su := seenUpdate{id: req.Id, tsigValid: w.TsigStatus() == nil}
		if ts := req.IsTsig(); ts != nil {
			su.mac, su.timeSeen = ts.MAC, ts.TimeSigned
		}
		seen = append(seen, su)
		mu.Unlock()
		rc := rcodes[min(n, len(rcodes)-1)]
		m := new(dns.Msg)
		m.SetRcode(req, rc)
		if ts := req.IsTsig(); ts != nil {
			m.SetTsig(ts.Hdr.Name, ts.Algorithm, 300, time.Now().Unix())
		}
		_ = w.WriteMsg(m)
	})
	return s, func() []seenUpdate {
		mu.Lock()
		defer mu.Unlock()
		return append([]seenUpdate(nil), seen...)
	}
}

func stubUpdater(t *testing.T, addr string, mutate func(*RFC2136Options)) (*RFC2136, *countingDial) {
	t.Helper()
	dial := &countingDial{}
	opts := RFC2136Options{Server: addr, Zone: "farm.test", Key: &TSIGKey{Name: "farm-key", Secret: stubSecret},
		Dial: dial.dial, Backoff: time.Millisecond, Timeout: time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	u, err := NewRFC2136(opts)
	if err != nil {
		t.Fatal(err)
	}
	return u, dial
}

var stubSet = RecordSet{Name: "db.farm.test", Type: "A", Values: []string{"10.0.0.1"}}

func TestRFC2136RetriesSERVFAILWithAFreshlySignedMessage(t *testing.T) {
	s, seen := scriptedServer(t, dns.RcodeServerFailure, dns.RcodeServerFailure, dns.RcodeSuccess)
	u, dial := stubUpdater(t, s.Addr, nil)
	if err := u.Set(ctxT(t, 10*time.Second), stubSet); err != nil {
		t.Fatalf("set: %v", err)
	}
	got := seen()
	if len(got) != 3 || dial.n.Load() != 3 {
		t.Fatalf("server saw %d updates over %d connections; want 3 and 3", len(got), dial.n.Load())
	}
	ids, macs := map[uint16]bool{}, map[string]bool{}
	for i, su := range got {
		if !su.tsigValid || su.mac == "" {
			t.Errorf("attempt %d: TSIG valid %t mac %q; want a valid signature", i+1, su.tsigValid, su.mac)
		}
		ids[su.id], macs[su.mac] = true, true
	}
	if len(ids) != 3 || len(macs) != 3 {
		t.Errorf("%d distinct IDs and %d distinct MACs over 3 attempts; want a fresh message each time", len(ids), len(macs))
	}
}

func TestRFC2136GivesUpAfterItsAttempts(t *testing.T) {
	s, seen := scriptedServer(t, dns.RcodeServerFailure)
	u, _ := stubUpdater(t, s.Addr, func(o *RFC2136Options) { o.Attempts = 3 })
	err := u.Set(ctxT(t, 10*time.Second), stubSet)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "SERVFAIL") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("err = %v; want ErrUnavailable from SERVFAIL after 3 attempts", err)
	}
	if n := len(seen()); n != 3 {
		t.Errorf("server saw %d updates; want 3", n)
	}
}

func TestRFC2136RetriesATimeout(t *testing.T) {
	// A server that reads the request and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); wg.Wait() })

	u, dial := stubUpdater(t, l.Addr().String(), func(o *RFC2136Options) { o.Attempts = 2; o.Timeout = 100 * time.Millisecond })
	start := time.Now()
	err = u.Set(ctxT(t, 10*time.Second), stubSet)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("err = %v; want ErrUnavailable for a timeout", err)
	}
	if n := dial.n.Load(); n != 2 {
		t.Errorf("%d attempts; want 2", n)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v; want about 2 × 100 ms", took)
	}
}

func TestRFC2136BacksOffOnItsClockAndStopsWithTheContext(t *testing.T) {
	s, seen := scriptedServer(t, dns.RcodeServerFailure)
	fake := clock.NewFake(time.Now())
	u, _ := stubUpdater(t, s.Addr, func(o *RFC2136Options) { o.Clock = fake; o.Backoff = 250 * time.Millisecond; o.Attempts = 10 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Set(ctx, stubSet) }()
	parked := func() {
		t.Helper()
		ch := make(chan struct{})
		go func() { fake.BlockUntil(1); close(ch) }()
		select {
		case <-ch:
		case err := <-done:
			t.Fatalf("set returned instead of waiting: %v", err)
		}
	}

	for _, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		parked()
		at, _ := fake.NextDeadline()
		if got := at.Sub(fake.Now()); got != want {
			t.Errorf("wait = %v; want %v", got, want)
		}
		fake.Advance(want)
	}
	parked()
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v; want context.Canceled joined with the last ErrUnavailable", err)
	}
	if n := len(seen()); n != 4 {
		t.Errorf("server saw %d updates; want 4", n)
	}
}

func TestRFC2136ClassifiesEveryAnswer(t *testing.T) {
	cases := []struct {
		name     string
		rcode    int
		tsigErr  uint16
		want     error
		attempts int
	}{
		{"a NOERROR whose signature does not verify is configuration", dns.RcodeSuccess, 0, ErrConfig, 1},
		{"NOTAUTH with BADTIME is clock skew", dns.RcodeNotAuth, dns.RcodeBadTime, ErrClockSkew, 1},
		{"NOTAUTH with BADSIG is configuration", dns.RcodeNotAuth, dns.RcodeBadSig, ErrConfig, 1},
		{"NOTAUTH with BADKEY is configuration", dns.RcodeNotAuth, dns.RcodeBadKey, ErrConfig, 1},
		{"plain NOTAUTH is configuration", dns.RcodeNotAuth, 0, ErrConfig, 1},
		{"REFUSED is configuration", dns.RcodeRefused, 0, ErrConfig, 1},
		{"NOTZONE is configuration", dns.RcodeNotZone, 0, ErrConfig, 1},
		{"NOTIMP is configuration", dns.RcodeNotImplemented, 0, ErrConfig, 1},
		{"FORMERR is configuration", dns.RcodeFormatError, 0, ErrConfig, 1},
		{"NXRRSET is a failed precondition", dns.RcodeNXRrset, 0, ErrPrecondition, 1},
		{"YXRRSET is a failed precondition", dns.RcodeYXRrset, 0, ErrPrecondition, 1},
		{"SERVFAIL is retried", dns.RcodeServerFailure, 0, ErrUnavailable, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			s := startStub(t, nil, func(w dns.ResponseWriter, req *dns.Msg) {
				mu.Lock()
				n++
				mu.Unlock()
				m := new(dns.Msg)
				m.SetRcode(req, c.rcode)
				if ts := req.IsTsig(); ts != nil {
					// Answers to bad signatures carry the TSIG
					// error and no MAC, as BIND's do.
					m.Extra = append(m.Extra, &dns.TSIG{Hdr: dns.RR_Header{Name: ts.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
						Algorithm: ts.Algorithm, TimeSigned: ts.TimeSigned, Fudge: 300, OrigId: req.Id, Error: c.tsigErr})
				}
				_ = w.WriteMsg(m)
			})
			u, _ := stubUpdater(t, s.Addr, func(o *RFC2136Options) { o.Attempts = 3 })
			err := u.SetIf(ctxT(t, 10*time.Second), stubSet, []string{"10.0.0.9"})
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v; want %v", err, c.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if n != c.attempts {
				t.Errorf("%d attempts; want %d", n, c.attempts)
			}
		})
	}
}

func TestRFC2136AcceptsAVerifiedNOERROR(t *testing.T) {
	s, seen := scriptedServer(t, dns.RcodeSuccess)
	u, _ := stubUpdater(t, s.Addr, nil)
	if err := u.Delete(ctxT(t, 5*time.Second), "db.farm.test", "A"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := seen(); len(got) != 1 || !got[0].tsigValid {
		t.Errorf("seen %+v; want one validly signed update", got)
	}
}

func TestNewRFC2136ChecksItsOptions(t *testing.T) {
	cases := []struct {
		name string
		opts RFC2136Options
		want string
	}{
		{"a server is required", RFC2136Options{}, "Server is required"},
		{"the server needs a port", RFC2136Options{Server: "127.0.0.1"}, `server "127.0.0.1"`},
		{"the zone must be a name", RFC2136Options{Server: "127.0.0.1:53", Zone: "a..b"}, "zone"},
		{"the algorithm must be known", RFC2136Options{Server: "127.0.0.1:53", Key: &TSIGKey{Name: "k", Algorithm: "hmac-sha3", Secret: stubSecret}}, `algorithm "hmac-sha3"`},
		{"the secret must be base64", RFC2136Options{Server: "127.0.0.1:53", Key: &TSIGKey{Name: "k", Secret: "%%%"}}, "not valid base64"},
		{"the key needs a name", RFC2136Options{Server: "127.0.0.1:53", Key: &TSIGKey{Secret: stubSecret}}, "tsig key name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewRFC2136(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want it to mention %s", err, c.want)
			}
		})
	}
}

func TestParseBINDKeyReadsTsigKeygenOutput(t *testing.T) {
	text := `key "farm-key" {
	algorithm hmac-sha512;
	secret "` + stubSecret + `";
};
`
	k, err := ParseBINDKey(text)
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "farm-key" || k.Algorithm != "hmac-sha512" || k.Secret != stubSecret {
		t.Errorf("key = %s with secret ok=%t; want farm-key hmac-sha512", k, k.Secret == stubSecret)
	}
	if _, err := ParseBINDKey(`key "x" { algorithm hmac-sha256; };`); err == nil || !strings.Contains(err.Error(), "no secret") {
		t.Errorf("key without secret: %v", err)
	}
	_, err = ParseBINDKey(`key "x" { algorithm hmac-sha256; secret "` + "@@" + stubSecret + `"; };`)
	if err == nil || strings.Contains(err.Error(), stubSecret) {
		t.Errorf("bad secret: %v; want an error that does not quote it", err)
	}
}

func TestRFC2136SwapWhoseAnswerWasLostIsNotReportedAsRefused(t *testing.T) {
	// The server applies the first update but never answers it (the
	// answer is lost); the retry then fails its prerequisite, since the
	// set no longer holds prev. A query shows the change is in place.
	var mu sync.Mutex
	updates := 0
	current := []string{"10.0.0.1"}
	s := startStub(t, map[string]string{"farm-key.": stubSecret}, func(w dns.ResponseWriter, req *dns.Msg) {
		mu.Lock()
		defer mu.Unlock()
		m := new(dns.Msg)
		if req.Opcode == dns.OpcodeUpdate {
			updates++
			if updates == 1 {
				current = []string{"10.0.0.2"}
				return // no answer
			}
			m.SetRcode(req, dns.RcodeNXRrset)
			m.SetTsig("farm-key.", dns.HmacSHA256, 300, time.Now().Unix())
			_ = w.WriteMsg(m)
			return
		}
		m.SetReply(req)
		m.Authoritative = true
		for _, ip := range current {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
		}
		_ = w.WriteMsg(m)
	})
	u, _ := stubUpdater(t, s.Addr, func(o *RFC2136Options) { o.Timeout = 100 * time.Millisecond })
	err := u.SetIf(ctxT(t, 10*time.Second), RecordSet{Name: "db.farm.test", Type: "A", Values: []string{"10.0.0.2"}}, []string{"10.0.0.1"})
	if err != nil {
		t.Fatalf("err = %v; want success: the first attempt was applied", err)
	}
	mu.Lock()
	if updates != 2 {
		t.Errorf("%d updates; want 2", updates)
	}
	// A refusal on the first attempt stays a refusal even if the set
	// happens to hold the wanted values.
	updates = 1
	mu.Unlock()
	err = u.SetIf(ctxT(t, 10*time.Second), RecordSet{Name: "db.farm.test", Type: "A", Values: []string{"10.0.0.2"}}, []string{"10.0.0.1"})
	if !errors.Is(err, ErrPrecondition) {
		t.Errorf("first-attempt refusal: %v; want ErrPrecondition", err)
	}
}
