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
