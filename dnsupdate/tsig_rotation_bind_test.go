package dnsupdate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTSIGKeyRotationOnARunningUpdaterAtBIND rotates the key of one
// updater while BIND holds both the old key (farm-key) and the new one
// (key-sha512), as an operator does: the updates keep landing, signed
// with whichever key is current, and a key BIND does not hold is refused.
func TestTSIGKeyRotationOnARunningUpdaterAtBIND(t *testing.T) {
	s := bind(t)
	oldKey, newKey := keyOf(s.Keys[0]), keyOf(s.Keys[1])
	u, _ := newBindUpdater(t, s, func(o *RFC2136Options) { o.Key = oldKey; o.Attempts = 1 })
	ctx := ctxT(t, 30*time.Second)
	name := "db.rotate.farm.test"
	clean(t, u, name)
	set := func(ip string) error {
		return u.Set(ctx, RecordSet{Name: name, Type: "A", TTL: 30 * time.Second, Values: []string{ip}})
	}
	expect := func(step, ip string) {
		t.Helper()
		if got, _ := served(t, s, name, dns.TypeA); fmt.Sprint(got) != fmt.Sprint([]string{ip}) {
			t.Fatalf("%s: BIND serves %v, want [%s]", step, got, ip)
		}
	}

	if err := set("10.0.0.1"); err != nil {
		t.Fatalf("with the old key: %v", err)
	}
	expect("old key", "10.0.0.1")

	if err := u.SetKey(newKey); err != nil {
		t.Fatal(err)
	}
	if err := set("10.0.0.2"); err != nil {
		t.Fatalf("with the new key: %v", err)
	}
	expect("new key", "10.0.0.2")
	if want := "key " + dns.Fqdn(newKey.Name); !strings.Contains(u.String(), want) {
		t.Fatalf("String() = %q, want it to name %q", u.String(), want)
	}

	// A key BIND does not hold (the retired one, once removed from the
	// server) is refused: the updater really signs with what SetKey gave.
	retired := &TSIGKey{Name: "retired-key", Algorithm: "hmac-sha256", Secret: newKey.Secret}
	if err := u.SetKey(retired); err != nil {
		t.Fatal(err)
	}
	if err := set("10.0.0.3"); !errors.Is(err, ErrConfig) {
		t.Fatalf("with a key BIND does not hold: %v, want ErrConfig", err)
	}
	expect("retired key", "10.0.0.2")

	// A bad key is refused and the current one kept.
	if err := u.SetKey(newKey); err != nil {
		t.Fatal(err)
	}
	if err := u.SetKey(&TSIGKey{Name: "farm-key", Secret: "not base64!"}); err == nil {
		t.Fatal("SetKey took a secret that is not base64")
	}
	if err := set("10.0.0.4"); err != nil {
		t.Fatalf("after a refused SetKey: %v", err)
	}
	expect("kept key", "10.0.0.4")
}
