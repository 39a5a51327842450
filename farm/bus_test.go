package farm

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestASlowSubscriberNeitherBlocksNorLosesEvents(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	b := newBus(slog.New(slog.DiscardHandler))
	release := make(chan struct{})
	var mu sync.Mutex
	var slow, fast []uint64
	b.subscribe(func(ev Event) {
		<-release // stuck until the test lets go
		mu.Lock()
		slow = append(slow, ev.Seq)
		mu.Unlock()
	})
	b.subscribe(func(ev Event) {
		mu.Lock()
		fast = append(fast, ev.Seq)
		mu.Unlock()
	})
	const n = 5000
	published := make(chan struct{})
	go func() {
		for i := uint64(1); i <= n; i++ {
			b.publish(Event{Type: HostUp, Seq: i})
		}
		close(published)
	}()
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing blocked on a stuck subscriber")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := b.flush(ctx); err == nil {
		t.Fatal("flush returned while a subscriber is stuck")
	}
	cancel()
	close(release)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for name, got := range map[string][]uint64{"slow": slow, "fast": fast} {
		if len(got) != n {
			t.Fatalf("%s subscriber got %d events, want %d", name, len(got), n)
		}
		for i, seq := range got {
			if seq != uint64(i+1) {
				t.Fatalf("%s subscriber got event %d at position %d: out of order", name, seq, i)
			}
		}
	}
	b.close()
}

func TestCancelDropsQueuedEventsAndCloseDrainsTheRest(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	b := newBus(slog.New(slog.DiscardHandler))
	gate := make(chan struct{})
	var mu sync.Mutex
	var cancelled, kept []uint64
	var cancel func()
	cancel = b.subscribe(func(ev Event) {
		<-gate
		mu.Lock()
		cancelled = append(cancelled, ev.Seq)
		mu.Unlock()
	})
	b.subscribe(func(ev Event) {
		<-gate
		mu.Lock()
		kept = append(kept, ev.Seq)
		mu.Unlock()
	})
	for i := uint64(1); i <= 3; i++ {
		b.publish(Event{Seq: i})
	}
	cancel() // from outside the callback; the first event is in progress
	cancel() // twice is harmless
	close(gate)
	b.close() // delivers the kept subscriber's queue, then ends
	b.publish(Event{Seq: 4})
	mu.Lock()
	defer mu.Unlock()
	if len(cancelled) > 1 {
		t.Fatalf("cancelled subscriber got %v after cancel; at most the event in progress may finish", cancelled)
	}
	if len(kept) != 3 {
		t.Fatalf("Close delivered %v, want the 3 queued events", kept)
	}
	if b.subscribe(func(Event) {}) == nil {
		t.Fatal("subscribe after close returned a nil cancel")
	}
}

func TestASubscriberMayCancelItself(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	b := newBus(slog.New(slog.DiscardHandler))
	got := make(chan uint64, 10)
	var cancel func()
	ready := make(chan struct{})
	cancel = b.subscribe(func(ev Event) {
		<-ready
		got <- ev.Seq
		cancel()
	})
	close(ready)
	b.publish(Event{Seq: 1})
	b.publish(Event{Seq: 2})
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := b.flush(ctx); err != nil {
		t.Fatal(err)
	}
	b.close()
	if len(got) != 1 || <-got != 1 {
		t.Fatal("a subscriber that cancelled itself kept receiving")
	}
}
