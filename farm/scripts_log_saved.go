package farm

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/farmhand/farmhand/scripting"
	"github.com/farmhand/farmhand/store"
)

// savedLog is the farm's scripting log when ScriptingOptions.Log is nil: a
// scripting.MemoryLog whose entries, with a Store, are written to it
// before Append returns. An entry the log shows (and ExecuteScript
// reports) is thus saved: a controller restarted on the Store reads it
// back.
type savedLog struct {
	mem      *scripting.MemoryLog
	st       store.Store // nil: memory only
	capacity int
	mu       ctxLock // entries are saved in Seq order
}

var _ scripting.Log = (*savedLog)(nil)

// maxSavedOutput caps each output stream of a saved entry, so that an
// entry fits a Store value whatever the Executor's OutputCap.
const maxSavedOutput = 256 << 10

func newSavedLog(st store.Store) *savedLog {
	return &savedLog{mem: scripting.NewMemoryLog(0), st: st, capacity: scripting.DefaultLogCapacity}
}

func logKey(seq uint64) string { return fmt.Sprintf("%s%020d", keyLog, seq) }

// Append saves e with the next sequence number, then shows it.
func (l *savedLog) Append(ctx context.Context, e scripting.LogEntry) error {
	if l.st == nil {
		return l.mem.Append(ctx, e)
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := l.mu.lock(ctx); err != nil {
		return err
	}
	defer l.mu.unlock()
	e.Seq = l.mem.LastSeq() + 1
	saved := e
	if len(saved.Stdout) > maxSavedOutput {
		saved.Stdout, saved.StdoutTruncated = saved.Stdout[:maxSavedOutput], true
	}
	if len(saved.Stderr) > maxSavedOutput {
		saved.Stderr, saved.StderrTruncated = saved.Stderr[:maxSavedOutput], true
	}
	b, err := json.Marshal(saved)
	if err != nil {
		return err
	}
	ops := []store.Op{store.Put(logKey(e.Seq), b)}
	if e.Seq > uint64(l.capacity) {
		ops = append(ops, store.Delete(logKey(e.Seq-uint64(l.capacity))))
	}
	if err := l.st.Apply(ctx, ops...); err != nil {
		return fmt.Errorf("farm: scripting log entry not saved: %w", err)
	}
	return l.mem.Restore(saved)
}

// Query returns the matching entries, newest first.
func (l *savedLog) Query(ctx context.Context, q scripting.LogQuery) ([]scripting.LogEntry, error) {
	return l.mem.Query(ctx, q)
}

// restore loads the saved entries, oldest first.
func (l *savedLog) restore(kvs []store.KV) error {
	for _, kv := range kvs {
		var e scripting.LogEntry
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			return fmt.Errorf("farm: store key %q: %w", kv.Key, err)
		}
		if err := l.mem.Restore(e); err != nil {
			return fmt.Errorf("farm: store key %q: %w", kv.Key, err)
		}
	}
	return nil
}
