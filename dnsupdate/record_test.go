package dnsupdate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNormalizeAcceptsValidSets(t *testing.T) {
	cases := []struct {
		name string
		in   RecordSet
		want RecordSet
	}{
		{"names are lower-cased and qualified, values sorted and deduplicated",
			RecordSet{Name: "DB.Example.COM", Type: "a", Values: []string{"10.0.0.2", "10.0.0.1", "10.0.0.2"}},
			RecordSet{Name: "db.example.com.", Type: "A", TTL: DefaultTTL, Values: []string{"10.0.0.1", "10.0.0.2"}}},
		{"IPv6 addresses take their canonical form",
			RecordSet{Name: "db.example.com.", Type: "AAAA", TTL: 30 * time.Second, Values: []string{"FD00:0:0::1"}},
			RecordSet{Name: "db.example.com.", Type: "AAAA", TTL: 30 * time.Second, Values: []string{"fd00::1"}}},
		{"a CNAME target is a qualified name",
			RecordSet{Name: "www.example.com", Type: "CNAME", Values: []string{"LB.example.com"}},
			RecordSet{Name: "www.example.com.", Type: "CNAME", TTL: DefaultTTL, Values: []string{"lb.example.com."}}},
		{"a wildcard label is allowed first",
			RecordSet{Name: "*.apps.example.com", Type: "A", Values: []string{"10.0.0.1"}},
			RecordSet{Name: "*.apps.example.com.", Type: "A", TTL: DefaultTTL, Values: []string{"10.0.0.1"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.in.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != c.want.Name || got.Type != c.want.Type || got.TTL != c.want.TTL || !slices.Equal(got.Values, c.want.Values) {
				t.Errorf("got %s; want %s", got, c.want)
			}
			if !c.in.Equal(c.want) {
				t.Errorf("Equal(%s, %s) = false", c.in, c.want)
			}
		})
	}
}

func TestNormalizeRefusesInvalidSets(t *testing.T) {
	cases := []struct {
		name string
		in   RecordSet
		want string
	}{
		{"an empty name", RecordSet{Type: "A", Values: []string{"10.0.0.1"}}, `name "": empty`},
		{"a single label", RecordSet{Name: "db", Type: "A", Values: []string{"10.0.0.1"}}, "fully qualified"},
		{"an empty label", RecordSet{Name: "db..example.com", Type: "A", Values: []string{"10.0.0.1"}}, "label 2"},
		{"a label with a space", RecordSet{Name: "d b.example.com", Type: "A", Values: []string{"10.0.0.1"}}, `character ' '`},
		{"a label starting with a hyphen", RecordSet{Name: "-db.example.com", Type: "A", Values: []string{"10.0.0.1"}}, "hyphen"},
		{"a label over 63 bytes", RecordSet{Name: strings.Repeat("a", 64) + ".example.com", Type: "A", Values: []string{"10.0.0.1"}}, "1 to 63"},
		{"an unmanaged type", RecordSet{Name: "db.example.com", Type: "MX", Values: []string{"10.0.0.1"}}, `type "MX"`},
		{"no values", RecordSet{Name: "db.example.com", Type: "A"}, "use Delete"},
		{"an IPv6 address in an A set", RecordSet{Name: "db.example.com", Type: "A", Values: []string{"fd00::1"}}, `value "fd00::1": not an IPv4`},
		{"a mapped IPv4 address in an AAAA set", RecordSet{Name: "db.example.com", Type: "AAAA", Values: []string{"::ffff:10.0.0.1"}}, "not an IPv6"},
		{"a host name in an A set", RecordSet{Name: "db.example.com", Type: "A", Values: []string{"db1.example.com"}}, "not an IPv4"},
		{"two CNAME targets", RecordSet{Name: "www.example.com", Type: "CNAME", Values: []string{"a.example.com", "b.example.com"}}, "exactly one target"},
		{"a CNAME to itself", RecordSet{Name: "www.example.com", Type: "CNAME", Values: []string{"WWW.example.com."}}, "itself"},
		{"a negative TTL", RecordSet{Name: "db.example.com", Type: "A", TTL: -time.Second, Values: []string{"10.0.0.1"}}, "ttl -1s"},
		{"a fractional TTL", RecordSet{Name: "db.example.com", Type: "A", TTL: 1500 * time.Millisecond, Values: []string{"10.0.0.1"}}, "ttl 1.5s"},
	}
	for _, c := range cases {
		t.Run(c.name+" is refused", func(t *testing.T) {
			_, err := c.in.Normalize()
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v; want ErrInvalid mentioning %q", err, c.want)
			}
		})
	}
}

func TestSameValuesIgnoresOrderCaseAndForm(t *testing.T) {
	cases := []struct {
		name string
		typ  string
		a, b []string
		want bool
	}{
		{"order does not matter", "A", []string{"10.0.0.1", "10.0.0.2"}, []string{"10.0.0.2", "10.0.0.1"}, true},
		{"duplicates do not matter", "A", []string{"10.0.0.1", "10.0.0.1"}, []string{"10.0.0.1"}, true},
		{"IPv6 text form does not matter", "AAAA", []string{"fd00:0::1"}, []string{"FD00::1"}, true},
		{"a trailing dot does not matter", "CNAME", []string{"lb.example.com"}, []string{"LB.example.com."}, true},
		{"a missing value matters", "A", []string{"10.0.0.1", "10.0.0.2"}, []string{"10.0.0.1"}, false},
		{"empty equals empty", "A", nil, []string{}, true},
	}
	for _, c := range cases {
		if got := SameValues(c.typ, c.a, c.b); got != c.want {
			t.Errorf("%s: SameValues(%v, %v) = %t", c.name, c.a, c.b, got)
		}
	}
}

func TestErrorsCarryOneKind(t *testing.T) {
	err := &Error{Kind: ErrPrecondition, Op: "rfc2136 setif", Name: "db.example.com.", Type: "A", Server: "127.0.0.1:53", Attempts: 2, Err: errors.New("NXRRSET")}
	if !errors.Is(err, ErrPrecondition) || errors.Is(err, ErrConfig) || KindOf(err) != ErrPrecondition || Retryable(err) {
		t.Errorf("kind checks failed for %v", err)
	}
	want := "dnsupdate: rfc2136 setif db.example.com. A at 127.0.0.1:53: precondition failed: NXRRSET (after 2 attempts)"
	if err.Error() != want {
		t.Errorf("message %q; want %q", err.Error(), want)
	}
	if KindOf(errors.New("plain")) != nil || !Retryable(&Error{Kind: ErrUnavailable}) {
		t.Errorf("KindOf/Retryable wrong for plain or unavailable errors")
	}
}
