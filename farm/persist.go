package farm

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/farmhand/farmhand/store"
)

// The farm's records in its Store (Options.Store). Each key holds one
// JSON document; see persist_records.go for their shapes.
const (
	keySchema   = "schema"   // the records' schema version, decimal
	keyFarm     = "farm"     // farmRecord: the farm's name, launched, terminating
	keyRole     = "role/"    // + role: roleRecord (desired count, bounds)
	keyScaling  = "scaling/" // + role: scalingState (policy state, last decision)
	keyHistory  = "history/" // + role + "/" + seq: a ScalingRecord
	keyMaster   = "master/"  // + role: masterRecord (the database master)
	keyFailover = "failover/"
	keyLaunch   = "launch/"  // + token: launchRecord, written before the Launch call
	keyLeaving  = "leaving/" // + server ID: the reason it is being terminated
	keyLog      = "log/"     // + seq: a scripting.LogEntry
	keyPin      = "pin/"     // + address: pinRecord (host keys)
	// Later features keep their records under keys of their own (such as
	// "backup/", "drill/", "rollout/"), written with saveRecords and read
	// back with recordsSaved; restore leaves keys it does not know alone.
)

// recordSchema is the version of the records this farm writes. A store
// holding a higher one was written by a newer farmhand and is refused.
const recordSchema = 1

// storeTimeout bounds the Store calls of methods that take no context
// (New's restore, SetDesired, SetBounds).
const storeTimeout = 30 * time.Second

// persister writes the farm's state to its Store. The farm marks what
// changed (under Farm.mu); flush encodes it and writes it in batches.
type persister struct {
	st      store.Store
	flushMu ctxLock // one flush at a time, so that batches land in order

	// Guarded by Farm.mu:
	dirty    map[string]bool // record keys to write again from the state
	appended []store.Op      // records written once (history) and deletions
	launches map[string]bool // launch keys in the store
	leaving  map[string]bool // leaving keys in the store
	// What launches and leaving become once the flush under way is
	// written; nil when it does not change them.
	nextLaunches, nextLeaving map[string]bool
	history                   map[string]uint64
	// restored state waiting for the servers it names to be listed.
	masters  map[string]string // role → the master's server ID
	prefer   map[string]string // role → the candidate of a failover cut short
	gone     map[string]string // server ID → why it was being terminated
	restored bool
	other    []store.KV // what New read under keys of later features
}

func newPersister(st store.Store) *persister {
	return &persister{
		st: st, dirty: map[string]bool{}, launches: map[string]bool{}, leaving: map[string]bool{},
		history: map[string]uint64{}, masters: map[string]string{}, prefer: map[string]string{},
		gone: map[string]string{},
	}
}

// markLocked notes that the records of keys must be written again.
func (f *Farm) markLocked(keys ...string) {
	if f.persist == nil {
		return
	}
	for _, k := range keys {
		f.persist.dirty[k] = true
	}
}

// flush writes what changed since the last flush. A failed write leaves
// it marked, for the next flush; the error says the state is not saved.
func (f *Farm) flush(ctx context.Context) error {
	p := f.persist
	if p == nil {
		return nil
	}
	if err := p.flushMu.lock(ctx); err != nil {
		return err
	}
	defer p.flushMu.unlock()
	f.mu.Lock()
	if len(p.dirty) == 0 && len(p.appended) == 0 {
		f.mu.Unlock()
		return nil
	}
	dirty := p.dirty
	p.dirty = map[string]bool{}
	ops := p.appended
	p.appended = nil
	for _, k := range sortedKeys(dirty) {
		ops = append(ops, f.encodeLocked(k)...)
	}
	f.mu.Unlock()

	for len(ops) > 0 {
		n := min(len(ops), store.MaxOps)
		if err := p.st.Apply(ctx, ops[:n]...); err != nil {
			f.mu.Lock()
			// The sets of saved launch and leaving keys stay as they were:
			// the next flush writes again what may be missing (puts and
			// deletes are idempotent).
			p.nextLaunches, p.nextLeaving = nil, nil
			for k := range dirty {
				p.dirty[k] = true
			}
			// The appended records not written go first next time;
			// re-encoded ones are rebuilt from the state anyway.
			p.appended = append(appendedOnly(ops, dirty), p.appended...)
			f.mu.Unlock()
			return fmt.Errorf("farm: saving the farm's state: %w", err)
		}
		ops = ops[n:]
	}
	f.mu.Lock()
	if p.nextLaunches != nil {
		p.launches, p.nextLaunches = p.nextLaunches, nil
	}
	if p.nextLeaving != nil {
		p.leaving, p.nextLeaving = p.nextLeaving, nil
	}
	f.mu.Unlock()
	return nil
}

// appendedOnly keeps the ops that no dirty key re-encodes.
func appendedOnly(ops []store.Op, dirty map[string]bool) []store.Op {
	var out []store.Op
	for _, op := range ops {
		if !dirty[recordKeyOf(op.Key)] {
			out = append(out, op)
		}
	}
	return out
}

// recordKeyOf maps a store key to the dirty key that rebuilds it.
func recordKeyOf(key string) string {
	for _, p := range []string{keyLaunch, keyLeaving} {
		if len(key) > len(p) && key[:len(p)] == p {
			return p
		}
	}
	return key
}

// saveRecords writes records of a feature of the farm (backups, drills,
// rollouts) under its own key prefix, after the farm's pending writes and
// in order with them. Without a Store it does nothing.
func (f *Farm) saveRecords(ctx context.Context, ops ...store.Op) error {
	f.mu.Lock()
	if f.persist == nil {
		f.mu.Unlock()
		return nil
	}
	f.persist.appended = append(f.persist.appended, ops...)
	f.mu.Unlock()
	return f.flush(ctx)
}

// recordsSaved returns the records New read under prefix, for a feature
// that restores its state: the keys of the farm's own records are not
// among them.
func (f *Farm) recordsSaved(prefix string) []store.KV {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.persist == nil {
		return nil
	}
	var out []store.KV
	for _, kv := range f.persist.other {
		if strings.HasPrefix(kv.Key, prefix) {
			out = append(out, store.KV{Key: kv.Key, Value: bytes.Clone(kv.Value)})
		}
	}
	return out
}

// flushSoon is flush for the methods that take no context.
func (f *Farm) flushSoon() error {
	ctx, cancel := context.WithTimeout(f.closeCtx, storeTimeout)
	defer cancel()
	return f.flush(ctx)
}
