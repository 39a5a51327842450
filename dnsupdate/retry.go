package dnsupdate

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/retry"
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
// injected clock. It is the project's one retry helper (internal/retry)
// with this package's classifier.
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
// wait hint > 0 in the returned error (retry.WithDelay) replaces the back-off.
func (r retrier) do(ctx context.Context, op func(ctx context.Context, attempt int) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	policy := retry.Policy{
		Tries: r.attempts, Initial: r.first, Max: r.max, Jitter: -1,
		RetryAfter: retry.DelayOf,
		OnRetry: func(attempt int, wait time.Duration, err error) {
			r.logger.LogAttrs(ctx, slog.LevelWarn, "dns update attempt failed; retrying",
				slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("err", err.Error()))
		},
	}
	retryable := func(err error) bool {
		var nr *noRetry
		return !errors.As(err, &nr) && Retryable(err)
	}
	err := retry.DoTries(ctx, r.clock, policy, retryable, func(ctx context.Context, attempt int) error {
		err := op(ctx, attempt)
		var e *Error
		if errors.As(err, &e) && attempt > 1 {
			e.Attempts = attempt
		}
		return err
	})
	var nr *noRetry
	if errors.As(err, &nr) && err == error(nr) {
		return nr.err
	}
	return err
}

// noRetry marks an error that the retrier returns at once, even when its
// kind is retryable (a service that asked for a long quiet period).
type noRetry struct{ err error }

func (n *noRetry) Error() string { return n.err.Error() }
func (n *noRetry) Unwrap() error { return n.err }

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
