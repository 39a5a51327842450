package provider

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies a provider error. Drivers map every error of their cloud's
// SDK to one Code; callers decide what to do from the Code alone.
//
// A Code is itself an error so that callers can write
//
//	if errors.Is(err, provider.NotFound) { ... }
type Code int

const (
	// Unknown is any error a driver could not classify. Callers must not retry
	// it blindly.
	Unknown Code = iota
	// NotFound: the server, volume, snapshot or load balancer does not exist.
	NotFound
	// Throttled: the API refused the call for its request rate (EC2
	// RequestLimitExceeded, HTTP 429). Retry after a back-off.
	Throttled
	// QuotaExceeded: an account limit stops the call (EC2
	// InstanceLimitExceeded, Nova 413 over-limit). Retrying the same call does
	// not help until the limit is raised or servers are freed.
	QuotaExceeded
	// InsufficientCapacity: the cloud has no capacity for the request in that
	// zone (EC2 InsufficientInstanceCapacity). Another zone or instance type
	// may work.
	InsufficientCapacity
	// InvalidArgument: the request is malformed or names something invalid
	// (unknown image, bad instance type). Retrying does not help.
	InvalidArgument
	// Unavailable: the API is unreachable or answered with a server error.
	// Retry after a back-off.
	Unavailable
	// PermissionDenied: the credentials are not allowed to make the call.
	PermissionDenied
	// AlreadyExists: the thing to create exists already with other
	// parameters (for instance an idempotency token reused for a different
	// request).
	AlreadyExists
)

var codeNames = [...]string{
	Unknown:              "unknown",
	NotFound:             "not found",
	Throttled:            "throttled",
	QuotaExceeded:        "quota exceeded",
	InsufficientCapacity: "insufficient capacity",
	InvalidArgument:      "invalid argument",
	Unavailable:          "unavailable",
	PermissionDenied:     "permission denied",
	AlreadyExists:        "already exists",
}

// String returns the code's name, such as "not found".
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error makes a Code usable as a target of errors.Is.
func (c Code) Error() string { return "provider: " + c.String() }

// Retryable reports whether a call that failed with this code may succeed
// when retried unchanged after a back-off.
func (c Code) Retryable() bool { return c == Throttled || c == Unavailable }

// Error is the error type drivers return. It carries the Code, the operation
// and the driver's own error, which stays reachable with errors.As.
type Error struct {
	// Code classifies the error; errors.Is(err, code) matches it.
	Code Code
	// Op names the operation, such as "ec2.RunInstances" or "fake.Launch".
	Op string
	// Err is the underlying SDK error; it may be nil.
	Err error
	// RetryAfter is the delay the cloud asked for (HTTP Retry-After), or 0.
	RetryAfter time.Duration
}

// NewError returns an *Error. Drivers call it once, at the boundary where
// they translate an SDK error.
func NewError(code Code, op string, err error) *Error {
	return &Error{Code: code, Op: op, Err: err}
}

// Errorf returns an *Error whose cause is a formatted message.
func Errorf(code Code, op string, format string, args ...any) *Error {
	return &Error{Code: code, Op: op, Err: fmt.Errorf(format, args...)}
}

// Error is "op: code", followed by the cloud's own error when there is one.
func (e *Error) Error() string {
	msg := e.Op + ": " + e.Code.String()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is this error's Code.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// CodeOf returns the Code of the first *Error in err's chain, Unknown when
// there is none, and Unknown for nil.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return Unknown
}

// IsRetryable reports whether err is a provider error worth retrying after a
// back-off (Throttled or Unavailable).
func IsRetryable(err error) bool { return CodeOf(err).Retryable() }

// RetryAfterOf returns the delay the cloud asked for, or 0.
func RetryAfterOf(err error) time.Duration {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}
