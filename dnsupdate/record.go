package dnsupdate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Record types an updater manages.
const (
	TypeA     = "A"
	TypeAAAA  = "AAAA"
	TypeCNAME = "CNAME"
)

// DefaultTTL is the TTL of a RecordSet whose TTL is zero: short, so that
// resolvers follow a failover within a minute.
const DefaultTTL = 60 * time.Second

// MaxTTL is the largest TTL DNS allows (2^31-1 seconds).
const MaxTTL = (1<<31 - 1) * time.Second

// RecordSet is every record of one name and type: the unit updaters set and
// delete.
type RecordSet struct {
	// Name is the fully qualified owner name, such as "db.example.com";
	// the trailing dot is optional and case does not matter.
	Name string
	// Type is "A", "AAAA" or "CNAME".
	Type string
	// TTL is a whole number of seconds; zero means DefaultTTL.
	TTL time.Duration
	// Values are IPv4 addresses (A), IPv6 addresses (AAAA) or one target
	// name (CNAME). Order and duplicates do not matter.
	Values []string
}

// Normalize returns the canonical form of rs: a lower-case name with a
// trailing dot, the type in upper case, the default TTL in place of zero,
// and the values in canonical text form, sorted, without duplicates. It
// returns an ErrInvalid *Error naming the field and the value when rs is
// not a valid set.
func (rs RecordSet) Normalize() (RecordSet, error) {
	const op = "validate"
	name, err := CanonicalName(rs.Name)
	if err != nil {
		return RecordSet{}, &Error{Kind: ErrInvalid, Op: op, Type: rs.Type, Err: err}
	}
	typ, err := canonicalType(rs.Type)
	if err != nil {
		return RecordSet{}, &Error{Kind: ErrInvalid, Op: op, Name: name, Err: err}
	}
	out := RecordSet{Name: name, Type: typ, TTL: rs.TTL}
	fail := func(format string, args ...any) (RecordSet, error) {
		return RecordSet{}, &Error{Kind: ErrInvalid, Op: op, Name: name, Type: typ, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case rs.TTL == 0:
		out.TTL = DefaultTTL
	case rs.TTL < time.Second || rs.TTL > MaxTTL || rs.TTL%time.Second != 0:
		return fail("ttl %v: want a whole number of seconds from 1s to %v", rs.TTL, MaxTTL)
	}
	if len(rs.Values) == 0 {
		return fail("values: empty; a set needs at least one value (use Delete to remove it)")
	}
	out.Values, err = canonicalValues(typ, rs.Values)
	if err != nil {
		return fail("%v", err)
	}
	if typ == TypeCNAME && len(out.Values) != 1 {
		return fail("values %q: a CNAME has exactly one target", rs.Values)
	}
	if typ == TypeCNAME && out.Values[0] == name {
		return fail("value %q: a CNAME cannot point at itself", rs.Values[0])
	}
	return out, nil
}

// Equal reports whether rs and other are the same set once normalized
// (name, type, TTL and values). Invalid sets are never equal.
func (rs RecordSet) Equal(other RecordSet) bool {
	a, err := rs.Normalize()
	if err != nil {
		return false
	}
	b, err := other.Normalize()
	if err != nil {
		return false
	}
	return a.Name == b.Name && a.Type == b.Type && a.TTL == b.TTL && slices.Equal(a.Values, b.Values)
}

// String returns "db.example.com. 60 A 10.0.0.1,10.0.0.2".
func (rs RecordSet) String() string {
	return fmt.Sprintf("%s %d %s %s", rs.Name, int64(rs.TTL/time.Second), rs.Type, strings.Join(rs.Values, ","))
}

// SameValues reports whether a and b hold the same values of type typ,
// ignoring order, duplicates, case and text form ("::1" and "0::1" are the
// same). Values that do not parse are compared as they are.
func SameValues(typ string, a, b []string) bool {
	t, err := canonicalType(typ)
	if err != nil {
		return false
	}
	return slices.Equal(canonicalLoose(t, a), canonicalLoose(t, b))
}

func canonicalLoose(typ string, vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		c, err := canonicalValue(typ, v)
		if err != nil {
			c = v
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CanonicalName checks that name is a fully qualified domain name and
// returns it in lower case with a trailing dot. A name needs at least two
// labels ("db" alone is refused as it would mean a top-level domain); labels
// hold letters, digits, hyphens and underscores, do not start or end with a
// hyphen, and are 1 to 63 bytes; a leading "*" label is allowed.
func CanonicalName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	if n == "" {
		return "", fmt.Errorf("name %q: empty", name)
	}
	if len(n) > 253 {
		return "", fmt.Errorf("name %q: longer than 253 bytes", name)
	}
	labels := strings.Split(n, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("name %q: want a fully qualified name such as %s.example.com", name, n)
	}
	for i, l := range labels {
		if l == "*" && i == 0 {
			continue
		}
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("name %q: label %d %q must be 1 to 63 bytes", name, i+1, l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("name %q: label %q starts or ends with a hyphen", name, l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("name %q: character %q not allowed (letters, digits, '-', '_')", name, c)
			}
		}
	}
	return n + ".", nil
}

func canonicalType(typ string) (string, error) {
	switch t := strings.ToUpper(typ); t {
	case TypeA, TypeAAAA, TypeCNAME:
		return t, nil
	default:
		return "", fmt.Errorf("type %q: want A, AAAA or CNAME", typ)
	}
}

func canonicalValues(typ string, vals []string) ([]string, error) {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		c, err := canonicalValue(typ, v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func canonicalValue(typ, v string) (string, error) {
	switch typ {
	case TypeA:
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return "", fmt.Errorf("value %q: not an IPv4 address", v)
		}
		return a.String(), nil
	case TypeAAAA:
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return "", fmt.Errorf("value %q: not an IPv6 address", v)
		}
		return a.String(), nil
	case TypeCNAME:
		n, err := CanonicalName(v)
		if err != nil {
			return "", fmt.Errorf("value: %w", err)
		}
		return n, nil
	}
	return "", fmt.Errorf("type %q: want A, AAAA or CNAME", typ)
}

// normalizeKey validates the name and type given to Delete.
func normalizeKey(op, name, typ string) (string, string, error) {
	n, err := CanonicalName(name)
	if err != nil {
		return "", "", &Error{Kind: ErrInvalid, Op: op, Type: typ, Err: err}
	}
	t, err := canonicalType(typ)
	if err != nil {
		return "", "", &Error{Kind: ErrInvalid, Op: op, Name: n, Err: err}
	}
	return n, t, nil
}

// normalizePrev canonicalizes the expected current values of a
// compare-and-swap.
func normalizePrev(op string, rs RecordSet, prev []string) ([]string, error) {
	p, err := canonicalValues(rs.Type, prev)
	if err != nil {
		return nil, &Error{Kind: ErrInvalid, Op: op, Name: rs.Name, Type: rs.Type, Err: fmt.Errorf("prev: %w", err)}
	}
	return p, nil
}

// conflictingTypes are the managed types that cannot coexist with typ at
// one name: a CNAME excludes every other data.
func conflictingTypes(typ string) []string {
	if typ == TypeCNAME {
		return []string{TypeA, TypeAAAA}
	}
	return []string{TypeCNAME}
}
