package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a Clock whose time moves only when told to. It is safe for
// concurrent use. Timers and tickers fire, in time order, during
// [Fake.Advance] and [Fake.Set]; their channels have a buffer of one, and a
// tick that finds the buffer full is dropped, as with package time.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
	changed chan struct{} // closed and replaced whenever waiters change
}

type fakeWaiter struct {
	clock  *Fake
	at     time.Time
	period time.Duration // > 0 for tickers
	c      chan time.Time
	active bool
}

// NewFake returns a Fake clock set to start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

var _ Clock = (*Fake)(nil)

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Since returns Now().Sub(t).
func (f *Fake) Since(t time.Time) time.Duration { return f.Now().Sub(t) }

// After returns a channel that receives the fake time once d has passed.
func (f *Fake) After(d time.Duration) <-chan time.Time { return f.NewTimer(d).C() }

// NewTimer returns a timer that fires when the fake time reaches Now()+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{clock: f, at: f.now.Add(d), c: make(chan time.Time, 1), active: true}
	f.addLocked(w)
	if d <= 0 {
		f.fireDueLocked()
	}
	return w
}

// NewTicker returns a ticker with period d. It panics if d <= 0, as
// time.NewTicker does.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{clock: f, at: f.now.Add(d), period: d, c: make(chan time.Time, 1), active: true}
	f.addLocked(w)
	return fakeTicker{w}
}

type fakeTicker struct{ w *fakeWaiter }

func (t fakeTicker) C() <-chan time.Time { return t.w.c }
func (t fakeTicker) Stop()               { t.w.Stop() }

// Advance moves the fake time forward by d, firing every timer and ticker
// that falls due, in time order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advanceToLocked(f.now.Add(d))
}

// Set moves the fake time to t (forward only; an earlier t only sets Now).
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Before(f.now) {
		f.now = t
		return
	}
	f.advanceToLocked(t)
}

// Waiters returns the number of active timers and tickers.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil returns once at least n timers or tickers are active. Tests use
// it to wait until a goroutine under test is parked on the clock.
func (f *Fake) BlockUntil(n int) {
	for {
		f.mu.Lock()
		if len(f.waiters) >= n {
			f.mu.Unlock()
			return
		}
		ch := f.changed
		f.mu.Unlock()
		<-ch
	}
}

// NextDeadline returns the time of the earliest active timer or ticker, and
// false when there is none. Simulations use it to jump straight to the next
// event.
func (f *Fake) NextDeadline() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) == 0 {
		return time.Time{}, false
	}
	return f.waiters[0].at, true
}

func (f *Fake) addLocked(w *fakeWaiter) {
	f.waiters = append(f.waiters, w)
	f.sortLocked()
	f.notifyLocked()
}

func (f *Fake) removeLocked(w *fakeWaiter) bool {
	for i, x := range f.waiters {
		if x == w {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			f.notifyLocked()
			return true
		}
	}
	return false
}

func (f *Fake) sortLocked() {
	sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) advanceToLocked(t time.Time) {
	for len(f.waiters) > 0 && !f.waiters[0].at.After(t) {
		w := f.waiters[0]
		f.now = w.at
		f.fireLocked(w)
	}
	f.now = t
}

func (f *Fake) fireDueLocked() {
	for len(f.waiters) > 0 && !f.waiters[0].at.After(f.now) {
		f.fireLocked(f.waiters[0])
	}
}

func (f *Fake) fireLocked(w *fakeWaiter) {
	select {
	case w.c <- w.at:
	default:
	}
	if w.period > 0 {
		w.at = w.at.Add(w.period)
		f.sortLocked()
		return
	}
	w.active = false
	f.removeLocked(w)
}

func (w *fakeWaiter) C() <-chan time.Time { return w.c }

func (w *fakeWaiter) Stop() bool {
	w.clock.mu.Lock()
	defer w.clock.mu.Unlock()
	was := w.active
	w.active = false
	w.clock.removeLocked(w)
	return was
}

func (w *fakeWaiter) Reset(d time.Duration) bool {
	f := w.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	was := w.active
	f.removeLocked(w)
	w.at = f.now.Add(d)
	w.active = true
	f.addLocked(w)
	if d <= 0 {
		f.fireDueLocked()
	}
	return was
}
