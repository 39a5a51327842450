package dnsupdate

import (
	"errors"
	"fmt"
	"strings"
)

// kind is the type of the sentinel errors: what went wrong, independent of
// the backend.
type kind struct{ name string }

func (k *kind) Error() string { return "dnsupdate: " + k.name }

// The kinds of errors every updater returns, for errors.Is. An [*Error]
// carries one of them; [KindOf] returns it.
var (
	// ErrInvalid: the record set (name, type, TTL or values) is malformed.
	// Nothing was sent.
	ErrInvalid error = &kind{"invalid record set"}
	// ErrConfig: the server or service refused the update for a reason
	// that retrying does not fix: wrong key or credentials, refused by
	// policy, name outside the zone, not authoritative, unsupported
	// operation. Updaters never retry it.
	ErrConfig error = &kind{"configuration"}
	// ErrClockSkew: the server rejected the request's timestamp (TSIG
	// BADTIME, an expired AWS signature). Fix the clock; retrying does not
	// help.
	ErrClockSkew error = &kind{"clock skew"}
	// ErrPrecondition: a compare-and-swap found a different current set,
	// or a conflicting record set (a CNAME next to addresses) exists.
	// Nothing was changed.
	ErrPrecondition error = &kind{"precondition failed"}
	// ErrUnavailable: the server did not answer, answered with a
	// temporary failure, or throttled, through every attempt; or an
	// earlier answer asked the updater to wait. Retrying later may work.
	ErrUnavailable error = &kind{"unavailable"}
	// ErrLagging: [Verify] saw a server that did not serve the wanted set
	// before the deadline.
	ErrLagging error = &kind{"not yet served"}
)

var kinds = []error{ErrInvalid, ErrConfig, ErrClockSkew, ErrPrecondition, ErrUnavailable, ErrLagging}

// Error is the error updaters return. It never holds a secret: TSIG keys,
// passwords and URLs with credentials are left out or redacted.
type Error struct {
	// Kind is one of ErrInvalid, ErrConfig, ErrClockSkew, ErrPrecondition
	// or ErrUnavailable.
	Kind error
	// Op names the backend and operation: "rfc2136 set", "route53 delete".
	Op string
	// Name and Type are the record set's, when the error concerns one.
	Name string
	Type string
	// Server is the DNS server or API endpoint.
	Server string
	// Attempts is the number of attempts made, when more than one.
	Attempts int
	// Err is the cause.
	Err error
}

// Error names the operation, the record and what went wrong.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("dnsupdate: ")
	b.WriteString(e.Op)
	if e.Name != "" {
		b.WriteString(" " + e.Name)
		if e.Type != "" {
			b.WriteString(" " + e.Type)
		}
	}
	if e.Server != "" {
		b.WriteString(" at " + e.Server)
	}
	if k, ok := e.Kind.(*kind); ok {
		b.WriteString(": " + k.name)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind && target != nil }

// KindOf returns the kind of err (ErrConfig, ErrUnavailable, ...), or nil
// when err carries none.
func KindOf(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// Retryable reports whether an update that failed with err may succeed if
// tried again later: only ErrUnavailable.
func Retryable(err error) bool { return errors.Is(err, ErrUnavailable) }

// attemptsOf returns the attempts recorded in err's *Error, or 1.
func attemptsOf(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Attempts > 1 {
		return e.Attempts
	}
	return 1
}

// invalidf returns an ErrInvalid *Error.
func invalidf(op string, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Op: op, Err: fmt.Errorf(format, args...)}
}
