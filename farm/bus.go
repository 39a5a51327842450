package farm

import (
	"context"
	"log/slog"
	"sync"
)

// bus delivers events to subscribers. Each subscriber has an unbounded
// queue and a goroutine of its own, so that a slow subscriber delays only
// itself: publishing never blocks and never drops an event. The price is
// memory: a subscriber that stops returning makes its queue grow, which the
// bus logs at every power of ten from 1000 queued events.
type bus struct {
	log *slog.Logger

	mu      sync.Mutex
	subs    []*subscriber
	closed  bool
	changed chan struct{} // closed and replaced when a delivery finishes
	wg      sync.WaitGroup
}

type subscriber struct {
	fn        func(Event)
	queue     []Event
	busy      bool
	cancelled bool
	draining  bool // the bus is closing: deliver what is queued, then end
	wake      chan struct{}
	warnAt    int
}

func newBus(log *slog.Logger) *bus {
	return &bus{log: log, changed: make(chan struct{})}
}

// subscribe starts delivering events to fn. The returned cancel stops the
// delivery: events still queued are dropped; an fn call in progress
// finishes. cancel does not wait, so fn itself may call it.
func (b *bus) subscribe(fn func(Event)) (cancel func()) {
	s := &subscriber{fn: fn, wake: make(chan struct{}, 1), warnAt: 1000}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return func() {}
	}
	b.subs = append(b.subs, s)
	b.wg.Add(1)
	b.mu.Unlock()
	go b.deliver(s)
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if s.cancelled {
			return
		}
		s.cancelled = true
		s.queue = nil
		for i, x := range b.subs {
			if x == s {
				b.subs = append(b.subs[:i], b.subs[i+1:]...)
				break
			}
		}
		b.notifyLocked()
		poke(s.wake)
	}
}

// publish queues ev for every subscriber. It never blocks.
func (b *bus) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, s := range b.subs {
		s.queue = append(s.queue, ev.Clone())
		if n := len(s.queue); n >= s.warnAt {
			b.log.Warn("farm: event subscriber falls behind", "queued", n)
			s.warnAt *= 10
		}
		poke(s.wake)
	}
}

func (b *bus) deliver(s *subscriber) {
	defer b.wg.Done()
	for {
		b.mu.Lock()
		for len(s.queue) == 0 && !s.cancelled && !s.draining {
			b.mu.Unlock()
			<-s.wake
			b.mu.Lock()
		}
		if s.cancelled || len(s.queue) == 0 {
			b.mu.Unlock()
			return
		}
		ev := s.queue[0]
		s.queue[0] = Event{}
		s.queue = s.queue[1:]
		s.busy = true
		b.mu.Unlock()

		s.fn(ev)

		b.mu.Lock()
		s.busy = false
		if len(s.queue) < s.warnAt/10 && s.warnAt > 1000 {
			s.warnAt = 1000
		}
		b.notifyLocked()
		b.mu.Unlock()
	}
}

// flush waits until every event published so far has been delivered.
func (b *bus) flush(ctx context.Context) error {
	for {
		b.mu.Lock()
		idle := true
		for _, s := range b.subs {
			if s.busy || len(s.queue) > 0 {
				idle = false
				break
			}
		}
		ch := b.changed
		b.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close delivers what is queued, ends every subscriber's goroutine and
// waits for them. Later publishes are dropped.
func (b *bus) close() {
	b.mu.Lock()
	b.closed = true
	for _, s := range b.subs {
		s.draining = true
		poke(s.wake)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *bus) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// poke wakes a goroutine waiting on a channel of capacity one.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
