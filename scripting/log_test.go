package scripting

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestMemoryLogQuery(t *testing.T) {
	ctx := context.Background()
	l := NewMemoryLog(0)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	entries := []LogEntry{
		{Farm: "shop", Role: "app", Server: "i-1", Event: "HostUp", Script: "hello", ExitCode: 0, Started: t0},
		{Farm: "shop", Role: "app", Server: "i-2", Event: "HostUp", Script: "hello", ExitCode: 3, Started: t0.Add(time.Minute)},
		{Farm: "shop", Role: "db", Server: "i-3", Event: "", Script: "backup", ExitCode: -1, TimedOut: true, Started: t0.Add(2 * time.Minute)},
		{Farm: "blog", Role: "app", Server: "i-4", Event: "HostUp", Script: "hello", ExitCode: -1, Err: "dial: refused", Started: t0.Add(3 * time.Minute)},
	}
	for _, e := range entries {
		if err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		q    LogQuery
		want []string // servers, newest first
	}{
		{"everything, newest first", LogQuery{}, []string{"i-4", "i-3", "i-2", "i-1"}},
		{"by farm", LogQuery{Farm: "shop"}, []string{"i-3", "i-2", "i-1"}},
		{"by server", LogQuery{Server: "i-2"}, []string{"i-2"}},
		{"by event", LogQuery{Event: "HostUp", Farm: "shop"}, []string{"i-2", "i-1"}},
		{"failures only counts exit codes, timeouts and errors", LogQuery{FailuresOnly: true}, []string{"i-4", "i-3", "i-2"}},
		{"limit keeps the newest", LogQuery{Limit: 2}, []string{"i-4", "i-3"}},
		{"since is inclusive", LogQuery{Since: t0.Add(2 * time.Minute)}, []string{"i-4", "i-3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := l.Query(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			var servers []string
			for _, e := range got {
				servers = append(servers, e.Server)
			}
			if len(servers) != len(c.want) {
				t.Fatalf("servers = %v, want %v", servers, c.want)
			}
			for i := range servers {
				if servers[i] != c.want[i] {
					t.Fatalf("servers = %v, want %v", servers, c.want)
				}
			}
		})
	}
}

func TestMemoryLogDropsTheOldestWhenFull(t *testing.T) {
	ctx := context.Background()
	l := NewMemoryLog(3)
	for i := range 5 {
		_ = l.Append(ctx, LogEntry{Version: i + 1})
	}
	got, _ := l.Query(ctx, LogQuery{})
	if l.Len() != 3 || len(got) != 3 || got[0].Version != 5 || got[2].Version != 3 {
		t.Fatalf("kept %d entries %+v, want versions 5, 4, 3", l.Len(), got)
	}
	if got[0].Seq != 5 {
		t.Errorf("newest Seq = %d, want 5", got[0].Seq)
	}
}

func TestRestoreKeepsSavedSequenceNumbersAndAppendContinuesAfterThem(t *testing.T) {
	ctx := context.Background()
	l := NewMemoryLog(3)
	for _, seq := range []uint64{7, 9, 12} {
		if err := l.Restore(LogEntry{Seq: seq, Script: "s"}); err != nil {
			t.Fatalf("Restore(%d): %v", seq, err)
		}
	}
	if err := l.Restore(LogEntry{Seq: 12}); err == nil {
		t.Fatal("Restore of a Seq already in the log succeeded")
	}
	if err := l.Append(ctx, LogEntry{Script: "new"}); err != nil {
		t.Fatal(err)
	}
	got, _ := l.Query(ctx, LogQuery{})
	var seqs []uint64
	for _, e := range got {
		seqs = append(seqs, e.Seq)
	}
	if want := []uint64{13, 12, 9}; !slices.Equal(seqs, want) || l.LastSeq() != 13 {
		t.Fatalf("seqs %v (last %d), want %v: the ring keeps the newest 3", seqs, l.LastSeq(), want)
	}
}
