package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/clock"
)

var sprintf = fmt.Sprintf

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

// staticZone answers authoritatively for zone with fixed A records and
// serial, as a secondary that has not caught up would.
func staticZone(zone string, serial uint32, a map[string][]string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		q := req.Question[0]
		name := dns.CanonicalName(q.Name)
		soa := &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns: "ns." + zone, Mbox: "hostmaster." + zone, Serial: serial, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 5}
		switch {
		case !dns.IsSubDomain(zone, name):
			m.Authoritative = false
			m.Rcode = dns.RcodeRefused
		case q.Qtype == dns.TypeSOA && name == zone:
			m.Answer = append(m.Answer, soa)
		case q.Qtype == dns.TypeA && len(a[strings.TrimSuffix(name, ".")]) > 0:
			for _, ip := range a[strings.TrimSuffix(name, ".")] {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
			}
		default:
			if len(a[strings.TrimSuffix(name, ".")]) == 0 {
				m.Rcode = dns.RcodeNameError
			}
			m.Ns = append(m.Ns, soa)
		}
		_ = w.WriteMsg(m)
	}
}

func TestVerifyWaitsForEveryServer(t *testing.T) {
	zone := "v.test."
	fresh := startStub(t, nil, staticZone(zone, 8, map[string][]string{"db.v.test": {"10.0.0.2"}}))
	// The second server catches up after its third answer.
	answers := 0
	catching := startStub(t, nil, func(w dns.ResponseWriter, req *dns.Msg) {
		answers++
		data, serial := map[string][]string{"db.v.test": {"10.0.0.1"}}, uint32(7)
		if answers > 4 { // two queries per round: the set and the SOA
			data, serial = map[string][]string{"db.v.test": {"10.0.0.2"}}, 8
		}
		staticZone(zone, serial, data)(w, req)
	})
	err := Verify(ctxT(t, 10*time.Second), VerifyOptions{
		Servers: []string{fresh.Addr, catching.Addr}, Name: "db.v.test", Type: "A", Want: []string{"10.0.0.2"},
		MinSerial: 8, Interval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if answers < 5 {
		t.Errorf("the catching-up server answered %d queries; want it asked until it caught up", answers)
	}
}

func TestVerifyReportsEachLaggingServer(t *testing.T) {
	zone := "v.test."
	good := startStub(t, nil, staticZone(zone, 8, map[string][]string{"db.v.test": {"10.0.0.2"}}))
	oldSerial := startStub(t, nil, staticZone(zone, 7, map[string][]string{"db.v.test": {"10.0.0.2"}}))
	oldData := startStub(t, nil, staticZone(zone, 8, map[string][]string{"db.v.test": {"10.0.0.1", "10.0.0.3"}}))
	refusing := startStub(t, nil, staticZone("other.test.", 1, nil))
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	err = Verify(ctx, VerifyOptions{
		Servers: []string{good.Addr, oldSerial.Addr, oldData.Addr, refusing.Addr, deadAddr},
		Name:    "db.v.test", Type: "A", Want: []string{"10.0.0.2"}, MinSerial: 8, Interval: 20 * time.Millisecond,
	})
	var lag *LagError
	if !errors.As(err, &lag) {
		t.Fatalf("err = %v; want *LagError", err)
	}
	want := []struct{ server, says string }{
		{oldSerial.Addr, oldSerial.Addr + " serves [10.0.0.2] at serial 7"},
		{oldData.Addr, oldData.Addr + " serves [10.0.0.1 10.0.0.3] at serial 8"},
		{refusing.Addr, "REFUSED"},
		{deadAddr, "refused"},
	}
	if len(lag.Lagging) != len(want) {
		t.Fatalf("lagging = %v; want %d servers", lag.Lagging, len(want))
	}
	for i, w := range want {
		if lag.Lagging[i].Server != w.server || !strings.Contains(lag.Lagging[i].String(), w.says) {
			t.Errorf("lagging[%d] = %q; want %s saying %q", i, lag.Lagging[i], w.server, w.says)
		}
	}
}

func TestVerifyChecksItsOptions(t *testing.T) {
	cases := []struct {
		name string
		opts VerifyOptions
		want string
	}{
		{"servers are required", VerifyOptions{Name: "db.v.test", Type: "A"}, "servers"},
		{"the name must be qualified", VerifyOptions{Servers: []string{"127.0.0.1:1"}, Name: "db", Type: "A"}, `name "db"`},
		{"the type must be managed", VerifyOptions{Servers: []string{"127.0.0.1:1"}, Name: "db.v.test", Type: "MX"}, `type "MX"`},
		{"wanted values must parse", VerifyOptions{Servers: []string{"127.0.0.1:1"}, Name: "db.v.test", Type: "A", Want: []string{"::1"}}, `"::1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Verify(context.Background(), c.opts)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want ErrInvalid mentioning %s", err, c.want)
			}
		})
	}
}

func TestVerifyWaitsOnItsClock(t *testing.T) {
	zone := "v.test."
	stale := startStub(t, nil, staticZone(zone, 7, map[string][]string{"db.v.test": {"10.0.0.1"}}))
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Verify(ctx, VerifyOptions{Servers: []string{stale.Addr}, Name: "db.v.test", Type: "A", Want: []string{"10.0.0.2"}, Interval: time.Hour, Clock: fake})
	}()
	fake.BlockUntil(1)
	if at, ok := fake.NextDeadline(); !ok || at.Sub(fake.Now()) != time.Hour {
		t.Errorf("next wait at %v; want one Interval (1h) on the injected clock", at)
	}
	fake.Advance(time.Hour)
	fake.BlockUntil(1) // second round done, waiting again
	cancel()
	err := <-done
	if !errors.Is(err, ErrLagging) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want ErrLagging and context.Canceled", err)
	}
}
