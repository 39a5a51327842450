package dnsupdate

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// MemoryOptions configure a [Memory] updater. The zero value (or nil) is
// fine.
type MemoryOptions struct {
	// Clock stamps the history; nil means the real clock.
	Clock clock.Clock
}

// Memory is an in-memory Updater and Swapper, for tests and the quick
// start. It keeps the record sets, a history of changes, and can be told to
// fail. It validates and normalizes like the real updaters and refuses a
// CNAME next to addresses with ErrPrecondition, as DNS servers do.
type Memory struct {
	clock clock.Clock

	mu      sync.Mutex
	sets    map[memKey]RecordSet
	history []Change
	faults  []error
	changed chan struct{}
}

type memKey struct{ name, typ string }

// Change is one entry of Memory's history.
type Change struct {
	// At is the clock's time of the change.
	At time.Time
	// Op is "set" or "delete".
	Op string
	// Set is the new set for "set"; for "delete", the name and type with
	// the values that were removed.
	Set RecordSet
	// Prev are the values before the change; nil when the set did not
	// exist.
	Prev []string
}

// NewMemory returns an empty Memory updater.
func NewMemory(opts *MemoryOptions) *Memory {
	if opts == nil {
		opts = &MemoryOptions{}
	}
	return &Memory{clock: clock.Or(opts.Clock), sets: map[memKey]RecordSet{}, changed: make(chan struct{})}
}

// Set replaces the set.
func (m *Memory) Set(ctx context.Context, rs RecordSet) error {
	return m.set(ctx, "memory set", rs, nil, false)
}

// SetIf replaces the set only when its current values are prev.
func (m *Memory) SetIf(ctx context.Context, rs RecordSet, prev []string) error {
	return m.set(ctx, "memory setif", rs, prev, true)
}

func (m *Memory) set(ctx context.Context, op string, rs RecordSet, prev []string, cas bool) error {
	n, err := rs.Normalize()
	if err != nil {
		return err
	}
	if cas {
		if prev, err = normalizePrev(op, n, prev); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.faultLocked(op, n.Name, n.Type); err != nil {
		return err
	}
	for _, t := range conflictingTypes(n.Type) {
		if _, ok := m.sets[memKey{n.Name, t}]; ok {
			return &Error{Kind: ErrPrecondition, Op: op, Name: n.Name, Type: n.Type, Server: "memory",
				Err: errorString("a " + t + " set exists at this name; delete it first")}
		}
	}
	key := memKey{n.Name, n.Type}
	cur, exists := m.sets[key]
	if cas && !slices.Equal(cur.Values, prev) {
		return &Error{Kind: ErrPrecondition, Op: op, Name: n.Name, Type: n.Type, Server: "memory",
			Err: errorString("current values [" + strings.Join(cur.Values, " ") + "], want [" + strings.Join(prev, " ") + "]")}
	}
	m.sets[key] = n
	c := Change{At: m.clock.Now(), Op: "set", Set: cloneSet(n)}
	if exists {
		c.Prev = slices.Clone(cur.Values)
	}
	m.recordLocked(c)
	return nil
}

// Delete removes the set; a missing set is not an error.
func (m *Memory) Delete(ctx context.Context, name, typ string) error {
	const op = "memory delete"
	n, t, err := normalizeKey(op, name, typ)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.faultLocked(op, n, t); err != nil {
		return err
	}
	key := memKey{n, t}
	cur, ok := m.sets[key]
	if !ok {
		return nil
	}
	delete(m.sets, key)
	m.recordLocked(Change{At: m.clock.Now(), Op: "delete", Set: cloneSet(cur), Prev: slices.Clone(cur.Values)})
	return nil
}

// Lookup returns the set of name and type (normalized), and whether it
// exists.
func (m *Memory) Lookup(name, typ string) (RecordSet, bool) {
	n, t, err := normalizeKey("memory lookup", name, typ)
	if err != nil {
		return RecordSet{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rs, ok := m.sets[memKey{n, t}]
	return cloneSet(rs), ok
}

// Records returns every set, sorted by name then type.
func (m *Memory) Records() []RecordSet {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]RecordSet, 0, len(m.sets))
	for _, rs := range m.sets {
		out = append(out, cloneSet(rs))
	}
	slices.SortFunc(out, func(a, b RecordSet) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Type, b.Type)
	})
	return out
}

// History returns the changes made so far, oldest first. Failed calls are
// not in it.
func (m *Memory) History() []Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Change, len(m.history))
	for i, c := range m.history {
		c.Set = cloneSet(c.Set)
		c.Prev = slices.Clone(c.Prev)
		out[i] = c
	}
	return out
}

// Changed returns a channel that is closed at the next change. Tests wait
// on it instead of polling:
//
//	ch := m.Changed()
//	// ... trigger
//	<-ch
func (m *Memory) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// FailNext makes the next n calls of Set, SetIf and Delete fail with err,
// without changing anything. err is returned as is when it already carries
// a kind (ErrUnavailable, ErrConfig, ...), and as the cause of an
// ErrUnavailable *Error otherwise.
func (m *Memory) FailNext(n int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := 0; i < n; i++ {
		m.faults = append(m.faults, err)
	}
}

func (m *Memory) faultLocked(op, name, typ string) error {
	if len(m.faults) == 0 {
		return nil
	}
	err := m.faults[0]
	m.faults = m.faults[1:]
	if KindOf(err) != nil {
		return err
	}
	return &Error{Kind: ErrUnavailable, Op: op, Name: name, Type: typ, Server: "memory", Err: err}
}

func (m *Memory) recordLocked(c Change) {
	m.history = append(m.history, c)
	close(m.changed)
	m.changed = make(chan struct{})
}

func cloneSet(rs RecordSet) RecordSet {
	rs.Values = slices.Clone(rs.Values)
	return rs
}

// errorString is a constant error text.
type errorString string

func (e errorString) Error() string { return string(e) }
