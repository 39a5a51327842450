package clock

import (
	"testing"
	"time"
)

func TestFakeTimersFireInOrder(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	late := f.NewTimer(2 * time.Second)
	early := f.NewTimer(1 * time.Second)
	tick := f.NewTicker(500 * time.Millisecond)

	f.Advance(999 * time.Millisecond)
	select {
	case <-early.C():
		t.Fatal("timer fired before its deadline")
	default:
	}
	if got := <-tick.C(); !got.Equal(start.Add(500 * time.Millisecond)) {
		t.Fatalf("first tick at %v", got)
	}
	f.Advance(time.Millisecond)
	if got := <-early.C(); !got.Equal(start.Add(time.Second)) {
		t.Fatalf("early fired at %v", got)
	}
	if late.Stop() != true {
		t.Fatal("Stop of an active timer reported false")
	}
	f.Advance(5 * time.Second)
	select {
	case <-late.C():
		t.Fatal("stopped timer fired")
	default:
	}
	tick.Stop()
	if n := f.Waiters(); n != 0 {
		t.Fatalf("Waiters = %d after stopping all", n)
	}
	if got := f.Since(start); got != 6*time.Second {
		t.Fatalf("Since = %v", got)
	}
}

func TestFakeBlockUntilAndReset(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	done := make(chan struct{})
	go func() {
		<-f.After(time.Minute)
		close(done)
	}()
	f.BlockUntil(1)
	if d, ok := f.NextDeadline(); !ok || !d.Equal(time.Unix(60, 0)) {
		t.Fatalf("NextDeadline = %v %v", d, ok)
	}
	f.Advance(time.Minute)
	<-done

	tm := f.NewTimer(time.Hour)
	tm.Reset(time.Second)
	f.Advance(time.Second)
	select {
	case <-tm.C():
	default:
		t.Fatal("reset timer did not fire at its new deadline")
	}
}
