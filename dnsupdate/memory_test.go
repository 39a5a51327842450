package dnsupdate

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/farmhand/farmhand/clock"
)

func TestMemoryKeepsSetsAndHistory(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewMemory(&MemoryOptions{Clock: fake})
	ctx := context.Background()

	ch := m.Changed()
	if err := m.Set(ctx, RecordSet{Name: "DB.example.test", Type: "A", Values: []string{"10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Errorf("Changed() channel not closed by a change")
	}
	fake.Advance(time.Minute)
	if err := m.SetIf(ctx, RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.2"}}, []string{"10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetIf(ctx, RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.3"}}, []string{"10.0.0.1"}); !errors.Is(err, ErrPrecondition) {
		t.Errorf("stale swap: %v; want ErrPrecondition", err)
	}
	if err := m.SetIf(ctx, RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.3"}}, nil); !errors.Is(err, ErrPrecondition) {
		t.Errorf("create over an existing set: %v; want ErrPrecondition", err)
	}
	if err := m.Set(ctx, RecordSet{Name: "db.example.test", Type: "CNAME", Values: []string{"x.example.test"}}); !errors.Is(err, ErrPrecondition) {
		t.Errorf("CNAME next to an A set: %v; want ErrPrecondition", err)
	}
	if err := m.Delete(ctx, "db.example.test", "A"); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "db.example.test", "A"); err != nil {
		t.Errorf("deleting an absent set: %v", err)
	}
	if _, ok := m.Lookup("db.example.test", "A"); ok {
		t.Errorf("set still there after Delete")
	}
	h := m.History()
	want := []struct {
		op   string
		vals []string
		prev []string
		at   time.Duration
	}{
		{"set", []string{"10.0.0.1"}, nil, 0},
		{"set", []string{"10.0.0.2"}, []string{"10.0.0.1"}, time.Minute},
		{"delete", []string{"10.0.0.2"}, []string{"10.0.0.2"}, time.Minute},
	}
	if len(h) != len(want) {
		t.Fatalf("history %+v; want %d entries", h, len(want))
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, w := range want {
		if h[i].Op != w.op || !slices.Equal(h[i].Set.Values, w.vals) || !slices.Equal(h[i].Prev, w.prev) || !h[i].At.Equal(start.Add(w.at)) || h[i].Set.Name != "db.example.test." {
			t.Errorf("history[%d] = %+v; want %s %v prev %v at +%v", i, h[i], w.op, w.vals, w.prev, w.at)
		}
	}
}

func TestMemoryFailsOnRequest(t *testing.T) {
	m := NewMemory(nil)
	ctx := context.Background()
	m.FailNext(1, errors.New("link down"))
	m.FailNext(1, &Error{Kind: ErrConfig, Op: "test", Err: errors.New("bad key")})
	rs := RecordSet{Name: "db.example.test", Type: "A", Values: []string{"10.0.0.1"}}
	if err := m.Set(ctx, rs); !errors.Is(err, ErrUnavailable) {
		t.Errorf("first: %v; want ErrUnavailable wrapping the injected error", err)
	}
	if err := m.Delete(ctx, "db.example.test", "A"); !errors.Is(err, ErrConfig) {
		t.Errorf("second: %v; want the injected ErrConfig", err)
	}
	if err := m.Set(ctx, rs); err != nil {
		t.Errorf("third: %v; want success once the faults are used up", err)
	}
	if n := len(m.History()); n != 1 {
		t.Errorf("history has %d entries; want only the successful set", n)
	}
	if got := m.Records(); len(got) != 1 || got[0].Name != "db.example.test." {
		t.Errorf("records = %v", got)
	}
	if err := m.Set(ctx, RecordSet{Name: "db", Type: "A", Values: []string{"10.0.0.1"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid set: %v; want ErrInvalid", err)
	}
}
