package dnsupdate

import "context"

// Updater changes DNS record sets. Implementations in this package:
// [RFC2136], [DNSMadeEasy], [DynDNS2] and [Memory]; Route 53's is package
// dnsupdate/route53. All are safe for concurrent use.
type Updater interface {
	// Set replaces the whole set rs.Name/rs.Type with rs.Values and
	// rs.TTL, creating it when absent.
	//
	// Set must validate rs (see RecordSet.Normalize) before any I/O and
	// return an ErrInvalid error for a bad set. It must replace the set in
	// one step where the backend allows it, so that no resolver sees an
	// empty or half-written set. It must be idempotent: setting the
	// current values again succeeds. Errors must carry one of the kinds
	// ErrInvalid, ErrConfig, ErrClockSkew, ErrPrecondition or
	// ErrUnavailable, and never a secret.
	Set(ctx context.Context, rs RecordSet) error

	// Delete removes every record of name and type. Deleting a set that
	// does not exist must succeed. A backend that cannot delete returns an
	// ErrConfig error that also matches errors.ErrUnsupported.
	Delete(ctx context.Context, name, typ string) error
}

// Swapper is the compare-and-swap an updater may offer, found by type
// assertion. [RFC2136], [Memory] and route53.Updater have it.
type Swapper interface {
	// SetIf replaces the set like Updater.Set, but only when its current
	// values are exactly prev (as a set: order and duplicates do not
	// matter; TTLs are not compared). An empty prev means "only if the set
	// does not exist". When the current set differs, SetIf must change
	// nothing and return an ErrPrecondition error, so that two
	// controllers cannot clobber each other.
	SetIf(ctx context.Context, rs RecordSet, prev []string) error
}

// Compile-time checks that every implementation satisfies the interfaces.
var (
	_ Updater = (*RFC2136)(nil)
	_ Swapper = (*RFC2136)(nil)
	_ Updater = (*DNSMadeEasy)(nil)
	_ Updater = (*DynDNS2)(nil)
	_ Updater = (*Memory)(nil)
	_ Swapper = (*Memory)(nil)
)
