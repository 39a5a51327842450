package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
)

func TestDoRetriesOnlyRetryableErrors(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error
		wantCalls int
		wantErr   provider.Code
	}{
		{"success needs one call", []error{nil}, 1, -1},
		{"throttling is retried until success", []error{provider.NewError(provider.Throttled, "op", nil), nil}, 2, -1},
		{"unavailable is retried up to the tries", []error{
			provider.NewError(provider.Unavailable, "op", nil),
			provider.NewError(provider.Unavailable, "op", nil),
			provider.NewError(provider.Unavailable, "op", nil),
			nil,
		}, 3, provider.Unavailable},
		{"insufficient capacity is not retried", []error{provider.NewError(provider.InsufficientCapacity, "op", nil), nil}, 1, provider.InsufficientCapacity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				start := time.Now()
				err := Do(t.Context(), nil, Policy{Tries: 3, Jitter: -1}, nil, func(context.Context) error {
					calls++
					return tt.errs[calls-1]
				})
				if calls != tt.wantCalls {
					t.Fatalf("calls = %d, want %d", calls, tt.wantCalls)
				}
				if tt.wantErr < 0 && err != nil || tt.wantErr >= 0 && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want code %v", err, tt.wantErr)
				}
				// Without jitter the waits are 200ms, 400ms, ...
				wantWait := time.Duration(0)
				for i := 1; i < calls; i++ {
					wantWait += 200 * time.Millisecond << (i - 1)
				}
				if got := time.Since(start); got != wantWait {
					t.Fatalf("waited %v, want %v", got, wantWait)
				}
			})
		})
	}
}

func TestDoHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		err := Do(t.Context(), clock.Real(), Policy{Jitter: -1}, nil, func(context.Context) error {
			calls++
			if calls == 1 {
				return &provider.Error{Code: provider.Throttled, Op: "op", RetryAfter: 7 * time.Second}
			}
			return nil
		})
		if err != nil || time.Since(start) != 7*time.Second {
			t.Fatalf("err %v after %v, want nil after 7s", err, time.Since(start))
		}
	})
}

func TestDoStopsWhenTheContextEnds(t *testing.T) {
	f := clock.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Do(ctx, f, Policy{Tries: 10}, nil, func(context.Context) error {
			return provider.NewError(provider.Unavailable, "op", nil)
		})
	}()
	f.BlockUntil(1) // parked on the back-off timer
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !errors.Is(err, provider.Unavailable) {
		t.Fatalf("err = %v, want both the cancellation and the last error", err)
	}
}

func TestDoTriesNumbersTheTriesAndTellsOfEachRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tries []int
		var told []string
		hint := errors.New("asks for 3s")
		p := Policy{Tries: 3, Jitter: -1,
			RetryAfter: func(err error) time.Duration {
				if errors.Is(err, hint) {
					return 3 * time.Second
				}
				return 0
			},
			OnRetry: func(try int, wait time.Duration, err error) {
				told = append(told, fmt.Sprintf("%d %v %v", try, wait, err))
			},
		}
		start := time.Now()
		err := DoTries(t.Context(), nil, p, func(error) bool { return true }, func(_ context.Context, try int) error {
			tries = append(tries, try)
			if try == 1 {
				return hint
			}
			return errors.New("still failing")
		})
		if err == nil || err.Error() != "still failing" {
			t.Fatalf("err = %v, want the last try's", err)
		}
		if fmt.Sprint(tries) != "[1 2 3]" {
			t.Fatalf("tries = %v", tries)
		}
		want := []string{"1 3s asks for 3s", "2 400ms still failing"}
		if fmt.Sprint(told) != fmt.Sprint(want) {
			t.Fatalf("OnRetry told %q, want %q", told, want)
		}
		if got := time.Since(start); got != 3400*time.Millisecond {
			t.Fatalf("waited %v, want 3.4s (the hint, then the back-off)", got)
		}
	})
}

func TestGaveUpNamesTheLastErrorFirst(t *testing.T) {
	last := errors.New("dial 127.0.0.1:53: i/o timeout")
	err := GaveUp(last, context.DeadlineExceeded)
	if !errors.Is(err, last) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v: want both errors reachable", err)
	}
	if want := "dial 127.0.0.1:53: i/o timeout; gave up: context deadline exceeded"; err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if GaveUp(nil, context.Canceled) != context.Canceled {
		t.Fatal("with no try made, GaveUp is the context's error")
	}
}
