package dnsupdate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/bindtest"
)

func newBindUpdater(t *testing.T, s *bindtest.Server, mutate func(*RFC2136Options)) (*RFC2136, *countingDial) {
	t.Helper()
	dial := &countingDial{}
	opts := RFC2136Options{Server: s.Addr, Zone: s.Zone, Key: keyOf(s.Keys[0]), Dial: dial.dial, Backoff: 10 * time.Millisecond, Timeout: 2 * time.Second}
	if mutate != nil {
		mutate(&opts)
	}
	u, err := NewRFC2136(opts)
	if err != nil {
		t.Fatal(err)
	}
	return u, dial
}

// clean deletes what an earlier run (go test -count) left at the names.
func clean(t *testing.T, u *RFC2136, names ...string) {
	t.Helper()
	for _, n := range names {
		for _, typ := range []string{"A", "AAAA", "CNAME"} {
			if err := u.Delete(ctxT(t, 5*time.Second), n, typ); err != nil {
				t.Fatalf("clean %s %s: %v", n, typ, err)
			}
		}
	}
}

// served returns what BIND serves for name/type, sorted.
func served(t *testing.T, s *bindtest.Server, name string, qtype uint16) ([]string, uint32) {
	t.Helper()
	vals, ttl, err := s.Values(ctxT(t, 5*time.Second), name, qtype)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	slices.Sort(vals)
	return vals, ttl
}

func TestRFC2136SetsReplacesAndDeletesAtBIND(t *testing.T) {
	s := bind(t)
	u, _ := newBindUpdater(t, s, nil)
	ctx := ctxT(t, 20*time.Second)
	name := "app.crud.farm.test"
	clean(t, u, name, "alias.crud.farm.test")

	before, err := s.Serial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		do      func() error
		qname   string
		qtype   uint16
		want    []string
		wantTTL uint32
	}{
		{"a set with several values is created", func() error {
			return u.Set(ctx, RecordSet{Name: name, Type: "A", TTL: 30 * time.Second, Values: []string{"10.0.0.2", "10.0.0.1", "10.0.0.1"}})
		}, name, dns.TypeA, []string{"10.0.0.1", "10.0.0.2"}, 30},
		{"setting again replaces the whole set and its TTL", func() error {
			return u.Set(ctx, RecordSet{Name: name, Type: "A", TTL: 45 * time.Second, Values: []string{"10.0.0.3"}})
		}, name, dns.TypeA, []string{"10.0.0.3"}, 45},
		{"setting the same set again is idempotent", func() error {
			return u.Set(ctx, RecordSet{Name: name + ".", Type: "a", TTL: 45 * time.Second, Values: []string{"10.0.0.3"}})
		}, name, dns.TypeA, []string{"10.0.0.3"}, 45},
		{"an AAAA set lives next to the A set", func() error {
			return u.Set(ctx, RecordSet{Name: name, Type: "AAAA", Values: []string{"fd00::1", "FD00:0::2"}})
		}, name, dns.TypeAAAA, []string{"fd00::1", "fd00::2"}, 60},
		{"a CNAME goes to another name", func() error {
			return u.Set(ctx, RecordSet{Name: "alias.crud.farm.test", Type: "CNAME", Values: []string{"App.Crud.Farm.Test"}})
		}, "alias.crud.farm.test", dns.TypeCNAME, []string{"app.crud.farm.test."}, 60},
		{"delete removes the A set only", func() error {
			return u.Delete(ctx, name, "A")
		}, name, dns.TypeA, nil, 0},
		{"deleting an absent set succeeds", func() error {
			return u.Delete(ctx, name, "A")
		}, name, dns.TypeA, nil, 0},
		{"the AAAA set survived the A delete", func() error { return nil }, name, dns.TypeAAAA, []string{"fd00::1", "fd00::2"}, 60},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, ttl := served(t, s, st.qname, st.qtype)
		if !slices.Equal(got, st.want) || (st.want != nil && ttl != st.wantTTL) {
			t.Fatalf("%s: BIND serves %v ttl %d; want %v ttl %d", st.name, got, ttl, st.want, st.wantTTL)
		}
	}
	after, err := s.Serial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Five changes; the idempotent set and the second delete change
	// nothing, and BIND leaves the serial alone for them.
	if after-before != 5 {
		t.Errorf("serial moved from %d to %d; want 5 steps", before, after)
	}
}

func TestRFC2136SignsWithEveryAlgorithmBINDAccepts(t *testing.T) {
	s := bind(t)
	for i, k := range s.Keys {
		t.Run(k.Algorithm, func(t *testing.T) {
			u, _ := newBindUpdater(t, s, func(o *RFC2136Options) { o.Key = keyOf(k) })
			ip := "10.1.0." + string(rune('1'+i))
			if err := u.Set(ctxT(t, 10*time.Second), RecordSet{Name: "alg-" + k.Algorithm + ".farm.test", Type: "A", Values: []string{ip}}); err != nil {
				t.Fatalf("set with %s: %v", k.Algorithm, err)
			}
			if got, _ := served(t, s, "alg-"+k.Algorithm+".farm.test", dns.TypeA); !slices.Equal(got, []string{ip}) {
				t.Errorf("BIND serves %v; want [%s]", got, ip)
			}
		})
	}
}

func TestRFC2136DiscoversTheZoneWithAnSOAQuery(t *testing.T) {
	s := bind(t)
	u, dial := newBindUpdater(t, s, func(o *RFC2136Options) { o.Zone = "" })
	ctx := ctxT(t, 10*time.Second)
	for i := 0; i < 2; i++ {
		if err := u.Set(ctx, RecordSet{Name: "deep.sub.discover.farm.test", Type: "A", Values: []string{"10.2.0.1"}}); err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
	}
	if n := dial.n.Load(); n != 3 {
		t.Errorf("%d connections; want 3: one SOA query, remembered, and two updates", n)
	}
	if got, _ := served(t, s, "deep.sub.discover.farm.test", dns.TypeA); !slices.Equal(got, []string{"10.2.0.1"}) {
		t.Errorf("BIND serves %v; want [10.2.0.1]", got)
	}

	err := u.Set(ctx, RecordSet{Name: "db.elsewhere.test", Type: "A", Values: []string{"10.2.0.2"}})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "not authoritative") {
		t.Errorf("name in no zone of the server: %v; want ErrConfig saying it is not authoritative", err)
	}
}

func TestRFC2136CompareAndSwapAtBIND(t *testing.T) {
	s := bind(t)
	u, _ := newBindUpdater(t, s, nil)
	ctx := ctxT(t, 20*time.Second)
	name := "db.cas.farm.test"
	clean(t, u, name)
	set := func(ip string) RecordSet { return RecordSet{Name: name, Type: "A", Values: []string{ip}} }

	if err := u.SetIf(ctx, set("10.3.0.1"), nil); err != nil {
		t.Fatalf("create when absent: %v", err)
	}
	if err := u.SetIf(ctx, set("10.3.0.9"), nil); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("create when present: %v; want ErrPrecondition", err)
	}
	if err := u.SetIf(ctx, set("10.3.0.2"), []string{"10.3.0.1"}); err != nil {
		t.Fatalf("swap from the current value: %v", err)
	}
	err := u.SetIf(ctx, set("10.3.0.1"), []string{"10.3.0.1"})
	if !errors.Is(err, ErrPrecondition) || !strings.Contains(err.Error(), "NXRRSET") {
		t.Fatalf("swap from a stale value: %v; want ErrPrecondition from NXRRSET", err)
	}
	if got, _ := served(t, s, name, dns.TypeA); !slices.Equal(got, []string{"10.3.0.2"}) {
		t.Fatalf("after the refused swap BIND serves %v; want [10.3.0.2]", got)
	}
	if err := u.SetIf(ctx, set("10.3.0.3"), []string{"10.3.0.2", "10.3.0.7"}); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("swap from a superset: %v; want ErrPrecondition (exact match only)", err)
	}

	// Two controllers race from the same view: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = u.SetIf(ctx, set("10.3.1."+string(rune('1'+i))), []string{"10.3.0.2"})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrPrecondition):
			t.Errorf("racing swap: %v; want success or ErrPrecondition", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d racing swaps won (%v); want exactly 1", wins, errs)
	}
}

func TestRFC2136RefusesACNAMENextToAddresses(t *testing.T) {
	s := bind(t)
	u, _ := newBindUpdater(t, s, nil)
	ctx := ctxT(t, 10*time.Second)
	clean(t, u, "mixed.farm.test")
	if err := u.Set(ctx, RecordSet{Name: "mixed.farm.test", Type: "A", Values: []string{"10.4.0.1"}}); err != nil {
		t.Fatal(err)
	}
	err := u.Set(ctx, RecordSet{Name: "mixed.farm.test", Type: "CNAME", Values: []string{"app.farm.test"}})
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("CNAME over an A set: %v; want ErrPrecondition", err)
	}
	if got, _ := served(t, s, "mixed.farm.test", dns.TypeA); !slices.Equal(got, []string{"10.4.0.1"}) {
		t.Errorf("A set after the refused CNAME: %v; want it untouched", got)
	}
}

func TestRFC2136ConfigurationErrorsAreNotRetried(t *testing.T) {
	s := bind(t)
	wrongSecret := "c2VjcmV0LWJ1dC1ub3QtdGhlLXJpZ2h0LW9uZS0xMjM0NTY="
	cases := []struct {
		name   string
		key    *TSIGKey
		answer string
	}{
		{"a wrong secret is BADSIG", &TSIGKey{Name: "farm-key", Algorithm: "hmac-sha256", Secret: wrongSecret}, "BADSIG"},
		{"an unknown key name is BADKEY", &TSIGKey{Name: "nobody-key", Algorithm: "hmac-sha256", Secret: wrongSecret}, "BADKEY"},
		{"the right secret with the wrong algorithm is refused", &TSIGKey{Name: "farm-key", Algorithm: "hmac-sha512", Secret: s.Keys[0].Secret}, "NOTAUTH"},
		{"no key is REFUSED", nil, "REFUSED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, dial := newBindUpdater(t, s, func(o *RFC2136Options) { o.Key = c.key; o.Attempts = 5 })
			err := u.Set(ctxT(t, 10*time.Second), RecordSet{Name: "denied.farm.test", Type: "A", Values: []string{"10.5.0.1"}})
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.answer) {
				t.Fatalf("err = %v; want ErrConfig naming %s", err, c.answer)
			}
			if n := dial.n.Load(); n != 1 {
				t.Errorf("%d attempts; want 1 (configuration errors are final)", n)
			}
			for _, secret := range []string{wrongSecret, s.Keys[0].Secret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
	if got, _ := served(t, s, "denied.farm.test", dns.TypeA); len(got) != 0 {
		t.Errorf("refused updates changed the zone: %v", got)
	}
}

func TestRFC2136ReportsClockSkewFromBADTIME(t *testing.T) {
	s := bind(t)
	anHourAgo := func() time.Time { return time.Now().Add(-time.Hour) }
	u, dial := newBindUpdater(t, s, func(o *RFC2136Options) { o.SigningTime = anHourAgo })
	err := u.Set(ctxT(t, 10*time.Second), RecordSet{Name: "skewed.farm.test", Type: "A", Values: []string{"10.6.0.1"}})
	if !errors.Is(err, ErrClockSkew) || !strings.Contains(err.Error(), "BADTIME") {
		t.Fatalf("signed an hour ago: %v; want ErrClockSkew from NOTAUTH/BADTIME", err)
	}
	if errors.Is(err, ErrConfig) || Retryable(err) {
		t.Errorf("clock skew also matches another kind: %v", err)
	}
	if n := dial.n.Load(); n != 1 {
		t.Errorf("%d attempts; want 1", n)
	}

	// A simulated clock times the back-off but does not sign.
	simulated := clock.NewFake(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	u, _ = newBindUpdater(t, s, func(o *RFC2136Options) { o.Clock = simulated })
	if err := u.Set(ctxT(t, 10*time.Second), RecordSet{Name: "skewed.farm.test", Type: "A", Values: []string{"10.6.0.2"}}); err != nil {
		t.Errorf("with a simulated clock in 2000: %v; want the real time to sign", err)
	}
}

func TestRFC2136NamesOutsideTheZoneAreConfigurationErrors(t *testing.T) {
	s := bind(t)

	t.Run("a configured zone is checked before sending", func(t *testing.T) {
		u, dial := newBindUpdater(t, s, nil)
		err := u.Set(ctxT(t, 5*time.Second), RecordSet{Name: "db.other.test", Type: "A", Values: []string{"10.7.0.1"}})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "outside zone farm.test.") {
			t.Fatalf("err = %v; want ErrConfig naming the zone", err)
		}
		if n := dial.n.Load(); n != 0 {
			t.Errorf("%d connections; want none", n)
		}
	})
	t.Run("BIND answers NOTZONE for a name outside the update's zone", func(t *testing.T) {
		u, dial := newBindUpdater(t, s, func(o *RFC2136Options) { o.Zone = ""; o.Attempts = 3 })
		// A stale discovery: the name was once in farm.test.
		u.zoneOf["db.other.test."] = "farm.test."
		err := u.Set(ctxT(t, 5*time.Second), RecordSet{Name: "db.other.test", Type: "A", Values: []string{"10.7.0.1"}})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "NOTZONE") {
			t.Fatalf("err = %v; want ErrConfig from NOTZONE", err)
		}
		if n := dial.n.Load(); n != 1 {
			t.Errorf("%d attempts; want 1", n)
		}
	})
}

func TestSecretsNeverAppearInErrorsOrLogs(t *testing.T) {
	s := bind(t)
	var logs logBuffer
	wrong := &TSIGKey{Name: "farm-key", Algorithm: "hmac-sha256", Secret: "d3Jvbmctc2VjcmV0LWZvci1hLWxlYWstdGVzdC0wMDAwMDA="}
	var errs []error
	for _, key := range []*TSIGKey{keyOf(s.Keys[0]), wrong} {
		u, _ := newBindUpdater(t, s, func(o *RFC2136Options) { o.Key = key; o.Logger = logs.logger() })
		ctx := ctxT(t, 10*time.Second)
		errs = append(errs,
			u.Set(ctx, RecordSet{Name: "secret.farm.test", Type: "A", Values: []string{"10.8.0.1"}}),
			u.SetIf(ctx, RecordSet{Name: "secret.farm.test", Type: "A", Values: []string{"10.8.0.2"}}, []string{"10.9.9.9"}),
			u.Set(ctx, RecordSet{Name: "db.other.test", Type: "A", Values: []string{"10.8.0.1"}}),
			u.Delete(ctx, "secret.farm.test", "A"))
	}
	anHourAgo := func() time.Time { return time.Now().Add(-time.Hour) }
	u, _ := newBindUpdater(t, s, func(o *RFC2136Options) { o.SigningTime = anHourAgo; o.Logger = logs.logger() })
	errs = append(errs, u.Set(ctxT(t, 5*time.Second), RecordSet{Name: "secret.farm.test", Type: "A", Values: []string{"10.8.0.1"}}))
	_, err := NewRFC2136(RFC2136Options{Server: s.Addr, Key: &TSIGKey{Name: "k", Secret: "not base64 " + s.Keys[0].Secret}})
	errs = append(errs, err)

	failures := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		failures++
		for _, secret := range []string{s.Keys[0].Secret, wrong.Secret} {
			if strings.Contains(err.Error(), secret) || strings.Contains(fmtAll(err), secret) {
				t.Errorf("error shows a secret: %v", err)
			}
		}
	}
	if failures < 6 {
		t.Errorf("only %d calls failed; the test wants several kinds of failure to look at", failures)
	}
	out := logs.String()
	if !strings.Contains(out, "dns updated") || !strings.Contains(out, "dns update failed") {
		t.Errorf("log lacks successes or failures:\n%s", out)
	}
	for _, secret := range []string{s.Keys[0].Secret, wrong.Secret} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows a secret:\n%s", out)
		}
	}
	k := *keyOf(s.Keys[0])
	for _, text := range []string{sprintf("%v", k), sprintf("%+v", k), sprintf("%#v", k), sprintf("%s", &k)} {
		if strings.Contains(text, k.Secret) {
			t.Errorf("printed key shows its secret: %s", text)
		}
	}
}

func TestReadSOAAndVerifyAgainstBIND(t *testing.T) {
	s := bind(t)
	u, _ := newBindUpdater(t, s, nil)
	ctx := ctxT(t, 20*time.Second)
	name := "db.verify.farm.test"
	clean(t, u, name)

	before, err := ReadSOA(ctx, s.Addr, name)
	if err != nil {
		t.Fatal(err)
	}
	if before.Zone != "farm.test." || before.Minimum != 5 {
		t.Fatalf("soa = %+v; want zone farm.test. with minimum 5", before)
	}
	if err := u.Set(ctx, RecordSet{Name: name, Type: "A", Values: []string{"10.9.0.2", "10.9.0.1"}}); err != nil {
		t.Fatal(err)
	}
	err = Verify(ctx, VerifyOptions{Servers: []string{s.Addr}, Name: name, Type: "A", Want: []string{"10.9.0.1", "10.9.0.2"}, MinSerial: before.Serial + 1})
	if err != nil {
		t.Fatalf("verify the new set: %v", err)
	}
	if err := u.Delete(ctx, name, "A"); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, VerifyOptions{Servers: []string{s.Addr}, Name: name, Type: "A", Want: nil, MinSerial: before.Serial + 2}); err != nil {
		t.Fatalf("verify the deletion: %v", err)
	}

	// A secondary that still serves the old set: an in-process server.
	old := startStub(t, nil, staticZone("farm.test.", before.Serial, map[string][]string{name: {"10.9.0.1"}}))
	vctx, cancel := context.WithTimeout(ctx, 600*time.Millisecond)
	defer cancel()
	err = Verify(vctx, VerifyOptions{Servers: []string{s.Addr, old.Addr}, Name: name, Type: "A", Want: nil, MinSerial: before.Serial + 2, Interval: 50 * time.Millisecond})
	var lag *LagError
	if !errors.As(err, &lag) || !errors.Is(err, ErrLagging) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("verify with a lagging server: %v; want a *LagError matching ErrLagging and the deadline", err)
	}
	if len(lag.Lagging) != 1 || lag.Lagging[0].Server != old.Addr || !slices.Equal(lag.Lagging[0].Values, []string{"10.9.0.1"}) || lag.Lagging[0].Serial != before.Serial {
		t.Fatalf("lagging = %+v; want only %s serving [10.9.0.1] at serial %d", lag.Lagging, old.Addr, before.Serial)
	}
	if !strings.Contains(err.Error(), old.Addr+" serves [10.9.0.1]") {
		t.Errorf("message %q does not say what the lagging server serves", err)
	}
}
