// Package retry calls an operation again, after a growing back-off, while
// it fails with an error worth retrying. Waits go through a clock.Clock, so
// that tests with a fake clock or inside a testing/synctest bubble do not
// sleep. The back-off intervals come from
// github.com/cenkalti/backoff/v5's ExponentialBackOff (its own Retry
// cannot take an injected clock).
//
// # Use
//
//	err := retry.Do(ctx, clk, retry.Policy{Tries: 3}, provider.IsRetryable,
//		func(ctx context.Context) error { return p.Terminate(ctx, ids...) })
//
// A provider error that carries a RetryAfter (HTTP Retry-After) waits at
// least that long; Policy.RetryAfter reads the hint of other errors.
//
// # One layer
//
// Every retry in the project goes through Do, and a call is retried by one
// loop only: a caller whose callee already retries (an SDK's retryer, a
// driver's throttling loop, a DNS updater's attempts) passes a classifier
// that leaves those errors alone, or Tries: 1.
package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
)

// Policy bounds the retries. Zero fields take the defaults below.
type Policy struct {
	// Tries is how many calls are made at most, the first included.
	// 0 means 3.
	Tries int
	// Initial is the first back-off; 0 means 200ms.
	Initial time.Duration
	// Max caps one back-off; 0 means 5s.
	Max time.Duration
	// Multiplier grows the back-off; 0 means 2.
	Multiplier float64
	// Jitter is the randomization factor (0.5: ±50%); 0 means 0.5, a
	// negative value means none.
	Jitter float64
	// RetryAfter reads the least wait a failed call asked for (0: none);
	// nil means provider.RetryAfterOf.
	RetryAfter func(error) time.Duration
	// OnRetry, when set, is told of each failed try about to be retried:
	// its number (from 1), the wait before the next and the error.
	OnRetry func(try int, wait time.Duration, err error)
}

func (p Policy) withDefaults() Policy {
	if p.Tries <= 0 {
		p.Tries = 3
	}
	if p.Initial <= 0 {
		p.Initial = 200 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 5 * time.Second
	}
	if p.Multiplier <= 0 {
		p.Multiplier = 2
	}
	switch {
	case p.Jitter == 0:
		p.Jitter = 0.5
	case p.Jitter < 0:
		p.Jitter = 0
	}
	return p
}

// Do calls op until it succeeds, fails with an error for which retryable
// is false, has been called p.Tries times, or ctx ends. It returns op's
// last error (or, when ctx ended during a wait, the last error and ctx's,
// both reachable with errors.Is). retryable nil means provider.IsRetryable.
func Do(ctx context.Context, clk clock.Clock, p Policy, retryable func(error) bool, op func(ctx context.Context) error) error {
	return DoTries(ctx, clk, p, retryable, func(ctx context.Context, _ int) error { return op(ctx) })
}

// DoTries is Do for an op that wants to know its try's number (from 1).
func DoTries(ctx context.Context, clk clock.Clock, p Policy, retryable func(error) bool, op func(ctx context.Context, try int) error) error {
	p = p.withDefaults()
	clk = clock.Or(clk)
	if retryable == nil {
		retryable = provider.IsRetryable
	}
	retryAfter := p.RetryAfter
	if retryAfter == nil {
		retryAfter = provider.RetryAfterOf
	}
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.Initial,
		RandomizationFactor: p.Jitter,
		Multiplier:          p.Multiplier,
		MaxInterval:         p.Max,
	}
	b.Reset()
	for try := 1; ; try++ {
		err := op(ctx, try)
		if err == nil || try >= p.Tries || !retryable(err) {
			return err
		}
		wait := b.NextBackOff()
		if ra := retryAfter(err); ra > wait {
			wait = ra
		}
		if p.OnRetry != nil {
			p.OnRetry(try, wait, err)
		}
		t := clk.NewTimer(wait)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return GaveUp(err, ctx.Err())
		}
	}
}

// GaveUp joins a last try's error with the context's error that stopped
// the retries, so that errors.Is finds both and the message names the
// failing step first.
func GaveUp(last, ctxErr error) error {
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w; gave up: %w", last, ctxErr)
}

// WithDelay wraps err with the least wait before the next try that the
// service asked for (a Retry-After); DelayOf reads it back.
func WithDelay(err error, delay time.Duration) error {
	return &delayed{err: err, delay: delay}
}

// DelayOf returns the wait WithDelay put on err (or on an error it wraps),
// or 0.
func DelayOf(err error) time.Duration {
	var d *delayed
	if errors.As(err, &d) {
		return d.delay
	}
	return 0
}

type delayed struct {
	err   error
	delay time.Duration
}

func (d *delayed) Error() string { return d.err.Error() }
func (d *delayed) Unwrap() error { return d.err }
