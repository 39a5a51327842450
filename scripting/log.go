package scripting

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// LogEntry records one execution of a script on one server.
type LogEntry struct {
	// Seq orders entries; a Log assigns it on Append.
	Seq     uint64
	Farm    string    // the farm's name
	Role    string    // the server's role
	Server  string    // server ID
	Addr    string    // host:port the script ran on
	Event   string    // triggering event; "" when run on demand
	Script  string    // the script's name
	Version int       // the script's version
	Started time.Time // when the run began
	// Finished is when the result was known (for a timeout: when the
	// remote process was stopped).
	Finished time.Time
	// ExitCode is the script's exit status, or -1 when it did not exit
	// normally (signal, timeout, connection lost, never started).
	ExitCode        int
	TimedOut        bool   // stopped when its timeout passed
	Stdout          string // capped at the Executor's OutputCap
	Stderr          string // capped likewise
	StdoutTruncated bool   // Stdout was cut at the cap
	StderrTruncated bool   // Stderr was cut at the cap
	// Err says why the script did not run to completion: "" when it
	// exited (with any status).
	Err string
}

// Failed reports whether the execution did not end with exit status 0.
func (e LogEntry) Failed() bool { return e.Err != "" || e.TimedOut || e.ExitCode != 0 }

// LogQuery selects log entries. Empty fields match everything.
type LogQuery struct {
	Farm   string // a farm's name
	Role   string // a role's name
	Server string // a server ID
	Event  string // a triggering event
	Script string // a script's name
	// FailuresOnly keeps the entries whose Failed method is true.
	FailuresOnly bool
	// Since keeps entries started at or after it, when not zero.
	Since time.Time
	// Limit caps how many entries are returned (newest first); 0 means
	// all.
	Limit int
}

func (q LogQuery) match(e *LogEntry) bool {
	return (q.Farm == "" || q.Farm == e.Farm) &&
		(q.Role == "" || q.Role == e.Role) &&
		(q.Server == "" || q.Server == e.Server) &&
		(q.Event == "" || q.Event == e.Event) &&
		(q.Script == "" || q.Script == e.Script) &&
		(!q.FailuresOnly || e.Failed()) &&
		(q.Since.IsZero() || !e.Started.Before(q.Since))
}

// Log stores the scripting log. Implementations must be safe for
// concurrent use; Append must assign Seq in increasing order; Query must
// return matching entries newest (highest Seq) first.
type Log interface {
	Append(ctx context.Context, e LogEntry) error
	Query(ctx context.Context, q LogQuery) ([]LogEntry, error)
}

// DefaultLogCapacity is the number of entries a [MemoryLog] keeps when
// given no capacity.
const DefaultLogCapacity = 10000

// MemoryLog is the in-memory [Log]: a ring that keeps the newest Capacity
// entries and drops the oldest. Its memory is bounded by the capacity times
// the Executor's output cap (two streams per entry): with the defaults
// (10,000 entries, 32 KiB per stream) at most about 640 MiB, and in
// practice far less since most scripts print little. A program that must
// keep every entry plugs in its own Log.
type MemoryLog struct {
	mu      sync.Mutex
	ring    []LogEntry
	next    int // index the next entry goes to
	full    bool
	lastSeq uint64
}

var _ Log = (*MemoryLog)(nil)

// NewMemoryLog returns a log keeping the newest capacity entries
// (capacity <= 0 means DefaultLogCapacity).
func NewMemoryLog(capacity int) *MemoryLog {
	if capacity <= 0 {
		capacity = DefaultLogCapacity
	}
	return &MemoryLog{ring: make([]LogEntry, capacity)}
}

// Append stores e with the next sequence number.
func (l *MemoryLog) Append(ctx context.Context, e LogEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastSeq++
	e.Seq = l.lastSeq
	l.ring[l.next] = e
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
	return nil
}

// Restore puts an entry read back from durable storage into the log,
// keeping its Seq; later Appends continue after it. A program that keeps
// the log elsewhere (a farm's Store) calls it for each saved entry, oldest
// first, and for each new entry once it is saved. An entry whose Seq is not
// above every Seq in the log is refused.
func (l *MemoryLog) Restore(e LogEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Seq <= l.lastSeq {
		return fmt.Errorf("scripting: log entry %d is not after the last entry %d", e.Seq, l.lastSeq)
	}
	l.lastSeq = e.Seq
	l.ring[l.next] = e
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
	return nil
}

// LastSeq returns the highest Seq in the log, 0 when it is empty.
func (l *MemoryLog) LastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastSeq
}

// Query returns the matching entries, newest first.
func (l *MemoryLog) Query(ctx context.Context, q LogQuery) ([]LogEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next
	if l.full {
		n = len(l.ring)
	}
	var out []LogEntry
	for i := 0; i < n; i++ {
		idx := (l.next - 1 - i + len(l.ring)) % len(l.ring)
		if e := &l.ring[idx]; q.match(e) {
			out = append(out, *e)
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
	}
	return out, nil
}

// Len returns how many entries the log holds.
func (l *MemoryLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.full {
		return len(l.ring)
	}
	return l.next
}
