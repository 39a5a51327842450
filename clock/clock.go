// Package clock lets farmhand's controllers, policies and simulations read and
// wait on time through an interface, so that tests and replays can run a day of
// farm activity in a second.
//
// # Real and fake time
//
// Production code takes a [Clock] (nil means [Real]). Tests and the scaling replay
// use [Fake], whose time moves only when [Fake.Advance] or [Fake.Set] is called;
// timers and tickers created from it fire in time order as it moves.
//
// Inside a testing/synctest bubble the real clock is already virtual, so tests
// may also use [Real] there.
package clock

import (
	"time"
)

// Clock tells the time and makes timers. It has the shape of
// k8s.io/utils/clock so that code reads the same.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Since returns the time elapsed since t.
	Since(t time.Time) time.Duration
	// After waits for the duration to elapse and then sends the current time
	// on the returned channel.
	After(d time.Duration) <-chan time.Time
	// NewTimer creates a Timer that fires once after d.
	NewTimer(d time.Duration) Timer
	// NewTicker creates a Ticker that fires every d; d must be > 0.
	NewTicker(d time.Duration) Ticker
}

// Timer is a single event, as time.Timer.
type Timer interface {
	// C returns the channel on which the time is delivered.
	C() <-chan time.Time
	// Stop prevents the Timer from firing. It reports whether the call
	// stopped the timer.
	Stop() bool
	// Reset changes the timer to expire after d. It reports whether the
	// timer had been active.
	Reset(d time.Duration) bool
}

// Ticker delivers ticks at intervals, as time.Ticker.
type Ticker interface {
	// C returns the channel on which the ticks are delivered.
	C() <-chan time.Time
	// Stop turns off the ticker.
	Stop()
}

// Real returns the Clock backed by package time.
func Real() Clock { return realClock{} }

// Or returns c, or [Real] when c is nil. Constructors use it for their
// optional Clock fields.
func Or(c Clock) Clock {
	if c == nil {
		return Real()
	}
	return c
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) Since(t time.Time) time.Duration        { return time.Since(t) }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) NewTimer(d time.Duration) Timer         { return realTimer{time.NewTimer(d)} }
func (realClock) NewTicker(d time.Duration) Ticker       { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
