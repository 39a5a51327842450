package provider

import (
	"errors"
	"fmt"
	"testing"
)

type sdkError struct{ code string }

func (e *sdkError) Error() string { return "api error " + e.code }

func TestErrorCodesWorkWithErrorsIsAndAs(t *testing.T) {
	raw := &sdkError{code: "InsufficientInstanceCapacity"}
	err := fmt.Errorf("launch role app: %w", NewError(InsufficientCapacity, "ec2.RunInstances", raw))

	if !errors.Is(err, InsufficientCapacity) {
		t.Fatal("errors.Is does not see the code through wrapping")
	}
	if errors.Is(err, NotFound) {
		t.Fatal("errors.Is matched the wrong code")
	}
	var got *sdkError
	if !errors.As(err, &got) || got != raw {
		t.Fatal("the SDK error is not reachable with errors.As")
	}
	if CodeOf(err) != InsufficientCapacity {
		t.Fatalf("CodeOf = %v", CodeOf(err))
	}
	if CodeOf(errors.New("plain")) != Unknown || CodeOf(nil) != Unknown {
		t.Fatal("CodeOf of a plain error or nil must be Unknown")
	}
	if IsRetryable(err) || !IsRetryable(NewError(Throttled, "op", nil)) {
		t.Fatal("IsRetryable is wrong")
	}
	if want := "ec2.RunInstances: insufficient capacity: api error InsufficientInstanceCapacity"; errors.Unwrap(err).Error() != want {
		t.Fatalf("message = %q, want %q", errors.Unwrap(err).Error(), want)
	}
}

// throttleRetrier is a driver that retries throttled calls itself.
type throttleRetrier struct{ Provider }

func (throttleRetrier) Retried(err error) bool { return CodeOf(err) == Throttled }

func TestIsRetryableByLeavesWhatTheDriverRetriedAlone(t *testing.T) {
	throttled, unavailable, notFound := NewError(Throttled, "op", nil), NewError(Unavailable, "op", nil), NewError(NotFound, "op", nil)
	tests := []struct {
		name string
		p    Provider
		err  error
		want bool
	}{
		{"a driver without retries leaves throttling to the caller", nil, throttled, true},
		{"a driver that retried throttling gets no second loop", throttleRetrier{}, throttled, false},
		{"what the driver did not retry is the caller's", throttleRetrier{}, unavailable, true},
		{"an error no retry fixes is never retried", nil, notFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryableBy(tt.p, tt.err); got != tt.want {
				t.Fatalf("IsRetryableBy = %v, want %v", got, tt.want)
			}
		})
	}
}
