package bindtest_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/bindtest"
)

func TestServerAcceptsSignedUpdatesAndServesThem(t *testing.T) {
	s := bindtest.Start(t, &bindtest.Options{
		Keys:    []bindtest.Key{{Name: "farm-key"}, {Name: "other-key", Algorithm: "hmac-sha512"}},
		Records: []string{"db 30 IN A 10.0.0.5"},
		Serial:  41,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if got, ttl, err := s.Values(ctx, "db."+s.Zone, dns.TypeA); err != nil || !slices.Equal(got, []string{"10.0.0.5"}) || ttl != 30 {
		t.Fatalf("db A = %v ttl %d, %v; want [10.0.0.5] ttl 30 from the zone file", got, ttl, err)
	}
	if serial, err := s.Serial(ctx); err != nil || serial != 41 {
		t.Fatalf("serial = %d, %v; want 41", serial, err)
	}
	if s.Keys[0].Name != "farm-key." || s.Keys[1].Algorithm != "hmac-sha512" || s.Keys[0].Secret == s.Keys[1].Secret {
		t.Fatalf("keys = %+v; want farm-key. and other-key. with distinct secrets", s.Keys)
	}

	for i, k := range s.Keys {
		m := new(dns.Msg)
		m.SetUpdate(s.Zone)
		rr, err := dns.NewRR("web." + s.Zone + " 60 IN A 10.0.0." + string(rune('7'+i)))
		if err != nil {
			t.Fatal(err)
		}
		m.RemoveRRset([]dns.RR{rr})
		m.Insert([]dns.RR{rr})
		m.SetTsig(k.Name, dns.Fqdn(k.Algorithm), 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{k.Name: k.Secret}}
		r, _, err := c.ExchangeContext(ctx, m, s.Addr)
		if err != nil || r.Rcode != dns.RcodeSuccess {
			t.Fatalf("update signed with %s: %v %v\nlog:\n%s", k.Name, r, err, s.Log())
		}
	}
	if got, _, err := s.Values(ctx, "web."+s.Zone, dns.TypeA); err != nil || !slices.Equal(got, []string{"10.0.0.8"}) {
		t.Fatalf("web A = %v, %v; want [10.0.0.8], the second key's update", got, err)
	}
	if serial, err := s.Serial(ctx); err != nil || serial != 43 {
		t.Errorf("serial after two updates = %d, %v; want 43", serial, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "zone.db.jnl")); err != nil {
		t.Errorf("journal: %v; want named to keep it in the working directory", err)
	}
}

func TestServerListensOnlyOnLoopbackAndStopsOnClose(t *testing.T) {
	bindtest.RequireNamed(t)
	s, err := bindtest.Launch(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") || s.Zone != bindtest.DefaultZone {
		t.Errorf("addr %s zone %s; want 127.0.0.1 and %s", s.Addr, s.Zone, bindtest.DefaultZone)
	}
	if strings.Contains(s.Log(), s.Keys[0].Secret) {
		t.Errorf("named's log shows the TSIG secret")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", s.Addr)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v; want nil", err)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
