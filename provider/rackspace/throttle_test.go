package rackspace_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/rackspace"
)

// result of a call run in the background.
type result struct {
	page provider.Page
	err  error
}

func listInBackground(ctx context.Context, p *rackspace.Provider) <-chan result {
	done := make(chan result, 1)
	go func() {
		page, err := p.List(ctx, provider.ListOptions{})
		done <- result{page, err}
	}()
	return done
}

func TestThrottledCallsWaitWhatRetryAfterSaysThenSucceed(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		after  time.Duration
	}{
		{"429 Too Many Requests", 429, 7 * time.Second},
		{"Rackspace 413 overLimit", 413, 3 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newCloud(t, nil)
			clk := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
			o := apiKeyOptions(srv)
			o.Clock = clk
			p := newProvider(t, o)
			srv.Throttle(2, c.status, c.after)

			done := listInBackground(context.Background(), p)
			for attempt := 1; attempt <= 2; attempt++ {
				clk.BlockUntil(1)
				deadline, ok := clk.NextDeadline()
				if !ok || deadline.Sub(clk.Now()) != c.after {
					t.Fatalf("retry %d waits until %v, %v after now; want %v", attempt, deadline, deadline.Sub(clk.Now()), c.after)
				}
				select {
				case r := <-done:
					t.Fatalf("List returned before the Retry-After passed: %v", r.err)
				default:
				}
				clk.Advance(c.after)
			}
			if r := <-done; r.err != nil {
				t.Fatalf("List after two throttled answers: %v", r.err)
			}
			if n := srv.Calls("GET /servers/detail"); n != 3 {
				t.Fatalf("GET /servers/detail called %d times, want 3", n)
			}
		})
	}
}

func TestThrottlingBeyondTheLimitsIsReturnedAsThrottled(t *testing.T) {
	for _, c := range []struct {
		name      string
		times     int
		after     time.Duration
		opts      func(*rackspace.Options)
		wantCalls int
	}{
		{"a Retry-After longer than MaxRetryWait is not waited out", 1, 10 * time.Minute,
			func(o *rackspace.Options) {}, 1},
		{"retries stop after MaxRetries", 10, time.Second,
			func(o *rackspace.Options) { o.MaxRetries = 2 }, 3},
		{"no retries at all with negative MaxRetries", 10, time.Second,
			func(o *rackspace.Options) { o.MaxRetries = -1 }, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newCloud(t, nil)
			clk := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
			o := apiKeyOptions(srv)
			o.Clock = clk
			c.opts(&o)
			p := newProvider(t, o)
			srv.Throttle(c.times, 429, c.after)

			done := listInBackground(context.Background(), p)
			var r result
			for waiting := true; waiting; {
				select {
				case r = <-done:
					waiting = false
				case <-time.After(time.Millisecond):
					if _, ok := clk.NextDeadline(); ok {
						clk.Advance(c.after)
					}
				}
			}
			if !errors.Is(r.err, provider.Throttled) {
				t.Fatalf("List: %v, want Throttled", r.err)
			}
			if got := provider.RetryAfterOf(r.err); got != c.after {
				t.Fatalf("RetryAfter = %v, want %v", got, c.after)
			}
			if n := srv.Calls("GET /servers/detail"); n != c.wantCalls {
				t.Fatalf("GET /servers/detail called %d times, want %d", n, c.wantCalls)
			}
		})
	}
}

func TestACancelledContextEndsTheWaitForRetryAfter(t *testing.T) {
	srv := newCloud(t, nil)
	clk := clock.NewFake(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	o := apiKeyOptions(srv)
	o.Clock = clk
	p := newProvider(t, o)
	srv.Throttle(1, 429, 30*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := listInBackground(ctx, p)
	clk.BlockUntil(1)
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("List: %v, want context.Canceled in the chain", r.err)
	}
}
