package farm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/internal/retry"
)

// withTimeout is context.WithTimeout on the farm's clock, so that hook and
// check timeouts follow a fake clock in tests. On the real clock it is
// context.WithTimeout itself; otherwise a goroutine waits on a clock timer
// and ends with cancel. context.Cause of the returned context is
// context.DeadlineExceeded once the timeout passed.
func withTimeout(ctx context.Context, clk clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if clk == clock.Real() {
		return context.WithTimeout(ctx, d)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	t := clk.NewTimer(d)
	done := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			cancel(context.DeadlineExceeded)
		case <-done:
		case <-cctx.Done():
		}
	}()
	return cctx, func() {
		t.Stop()
		select {
		case <-done:
		default:
			close(done)
		}
		cancel(context.Canceled)
	}
}

// providerCall makes one provider call, retried by callRetry for what the
// driver did not retry itself, each try bounded by Options.StepTimeout: a
// cloud API that accepts and never answers fails the call ("no answer
// within ...", not retried; the next tick tries again) instead of holding
// the tick.
func (f *Farm) providerCall(ctx context.Context, op func(ctx context.Context) error) error {
	return retry.Do(ctx, f.clk, callRetry, f.retryable, func(ctx context.Context) error {
		return f.withStepTimeout(ctx, op)
	})
}

// withStepTimeout runs op with a context that ends after
// Options.StepTimeout, and names a timeout that ended it. The timeout is
// on the real clock even when the farm's is fake: it bounds waits on the
// network, which a fake clock does not pace (inside a testing/synctest
// bubble the real clock is the bubble's).
func (f *Farm) withStepTimeout(ctx context.Context, op func(ctx context.Context) error) error {
	sctx, cancel := context.WithTimeout(ctx, f.opts.StepTimeout)
	defer cancel()
	err := op(sctx)
	if err != nil && ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s: %w", f.opts.StepTimeout, err)
	}
	return err
}

// timedOut reports whether ctx ended because its timeout passed.
func timedOut(ctx context.Context) bool {
	return context.Cause(ctx) == context.DeadlineExceeded
}

// ctxLock is a mutex whose lock gives up when ctx ends. Waiting for it is
// a channel operation, which a testing/synctest bubble counts as durably
// blocked (a sync.Mutex wait is not), so a tick that waits on a back-off
// timer while another caller waits for the lock lets virtual time move.
// The zero value is unlocked.
type ctxLock struct {
	once sync.Once
	ch   chan struct{}
}

func (l *ctxLock) lock(ctx context.Context) error {
	l.once.Do(func() { l.ch = make(chan struct{}, 1) })
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *ctxLock) unlock() { <-l.ch }
