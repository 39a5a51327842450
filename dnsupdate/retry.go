package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// Defaults of the retry options of every updater.
const (
	DefaultAttempts   = 4
	DefaultBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff = 4 * time.Second
)

// retrier runs an operation until it succeeds, fails with an error that is
// not ErrUnavailable, runs out of attempts or its context ends. Waits
// between attempts double from first up to max and are taken on the
// injected clock.
type retrier struct {
	attempts   int
	first, max time.Duration
	clock      clock.Clock
	logger     *slog.Logger
}

func newRetrier(attempts int, first time.Duration, c clock.Clock, logger *slog.Logger) retrier {
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if first <= 0 {
		first = DefaultBackoff
	}
	max := DefaultMaxBackoff
	if first > max {
		max = first
	}
	return retrier{attempts: attempts, first: first, max: max, clock: clock.Or(c), logger: orDiscard(logger)}
}

// do calls op with the attempt number (from 1). op returns nil, an *Error
// (whose kind decides about retrying) or a plain error (not retried). A
// wait hint > 0 in the returned error's retryAfter replaces the back-off.
func (r retrier) do(ctx context.Context, op func(ctx context.Context, attempt int) error) error {
	delay := r.first
	var last error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return gaveUp(last, err)
		}
		last = op(ctx, attempt)
		if last == nil {
			return nil
		}
		var nr *noRetry
		if errors.As(last, &nr) {
			last = nr.err
		}
		var e *Error
		if errors.As(last, &e) && attempt > 1 {
			e.Attempts = attempt
		}
		if nr != nil {
			return last
		}
		if !Retryable(last) || attempt >= r.attempts {
			return last
		}
		wait := delay
		if ra := retryAfterOf(last); ra > wait {
			wait = ra
		}
		r.logger.LogAttrs(ctx, slog.LevelWarn, "dns update attempt failed; retrying",
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("err", last.Error()))
		t := r.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return gaveUp(last, ctx.Err())
		case <-t.C():
		}
		delay *= 2
		if delay > r.max {
			delay = r.max
		}
	}
}

// gaveUp joins the last attempt's error with the context's, so that both
// errors.Is(err, ErrUnavailable) and errors.Is(err, context.Canceled) hold.
func gaveUp(last, ctxErr error) error {
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w; gave up: %w", last, ctxErr)
}

// noRetry marks an error that the retrier returns at once, even when its
// kind is retryable (a service that asked for a long quiet period).
type noRetry struct{ err error }

func (n *noRetry) Error() string { return n.err.Error() }
func (n *noRetry) Unwrap() error { return n.err }

// retryAfter is a cause that carries the delay a service asked for.
type retryAfter struct {
	err   error
	delay time.Duration
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() error { return r.err }

func retryAfterOf(err error) time.Duration {
	var ra *retryAfter
	if errors.As(err, &ra) {
		return ra.delay
	}
	return 0
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
