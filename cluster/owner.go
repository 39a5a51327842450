package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// WorkFunc acts on one farm while the member owns it: typically it opens
// the farm's state through a fenced store, makes a farm.Farm, Launches it
// (which adopts what runs) and Runs it. ctx ends when the ownership ends:
// the lease's local expiry passed, the farm was handed to another member,
// a fenced write found another owner, or Run's context ended. WorkFunc must
// return soon after; the farm is handed over only once it has returned.
// A WorkFunc that returns while the member still owns the farm is called
// again at the next round.
type WorkFunc func(ctx context.Context, o *Ownership) error

// Ownership is a member's hold on one farm: the farm's ownership key,
// created under the member's lease, and that key's revision, the fencing
// token every write of the owner compares in its own transaction.
type Ownership struct {
	// Farm is the farm owned.
	Farm string
	// Key is the farm's ownership key in etcd.
	Key string
	// Revision is the key's modification revision when this member took
	// it: a write fenced by it succeeds only while the key is unchanged.
	Revision int64

	m       *Member
	ctx     context.Context
	cancel  context.CancelCauseFunc
	done    chan struct{}
	ended   atomic.Bool
	workErr error // set before done is closed
}

// Context is the ownership's context: done when the ownership ends, with
// the reason as its cause (context.Cause), which wraps ErrNotOwner.
func (o *Ownership) Context() context.Context { return o.ctx }

// Check returns nil while the member may act on the farm, and an error
// wrapping ErrNotOwner once it may not: call it right before an action
// that no transaction fences, such as a cloud call.
func (o *Ownership) Check() error {
	if o.ctx.Err() != nil {
		return context.Cause(o.ctx)
	}
	if !o.m.Acting() {
		return fmt.Errorf("%w: farm %q: lease of member %q past its local expiry", ErrNotOwner, o.Farm, o.m.opts.ID)
	}
	return nil
}

// Cmp returns the comparison that fences a write: the ownership key still
// has the revision this member created it with. It returns an error
// wrapping ErrNotOwner, and no comparison, once Check fails.
func (o *Ownership) Cmp() (clientv3.Cmp, error) {
	if err := o.Check(); err != nil {
		return clientv3.Cmp{}, err
	}
	return clientv3.Compare(clientv3.ModRevision(o.Key), "=", o.Revision), nil
}

// Fenced tells the ownership that a write it fenced was refused: another
// member owns the farm now. It ends the ownership at once.
func (o *Ownership) Fenced() {
	o.lose(fmt.Errorf("%w: farm %q: a fenced write found the ownership key changed", ErrNotOwner, o.Farm))
}

// lose ends the ownership with cause; the first call reports it as Lost
// unless the farm is being handed over.
func (o *Ownership) lose(cause error) {
	if !o.ended.CompareAndSwap(false, true) {
		return
	}
	o.cancel(cause)
	if !errors.Is(cause, errReleased) {
		o.m.opts.Logger.Warn("farm lost", "member", o.m.opts.ID, "farm", o.Farm, "err", cause)
		o.m.emit(Event{Type: Lost, Farm: o.Farm, Revision: o.Revision, Err: cause})
	}
}

// Txn runs a transaction fenced by the ownership: the comparisons cmps and
// then the ops of then or els, inside an outer transaction that requires
// the ownership key unchanged. It returns the inner transaction's response,
// or an error wrapping ErrNotOwner (and ends the ownership) when the fence
// failed, in which case nothing was written.
func (o *Ownership) Txn(ctx context.Context, cmps []clientv3.Cmp, then, els []clientv3.Op) (*clientv3.TxnResponse, error) {
	fence, err := o.Cmp()
	if err != nil {
		return nil, err
	}
	resp, err := o.m.cli.Txn(ctx).If(fence).Then(clientv3.OpTxn(cmps, then, els)).Commit()
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		o.Fenced()
		return nil, context.Cause(o.ctx)
	}
	return (*clientv3.TxnResponse)(resp.Responses[0].GetResponseTxn()), nil
}

// ownerKey is the ownership key of a farm.
func (m *Member) ownerKey(farm string) string { return m.opts.Prefix + "owners/" + farm }

// Owned returns the farms the member acts on now, sorted.
func (m *Member) Owned() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for f, o := range m.held {
		if o.ctx.Err() == nil {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// Run shares farms with the other members until ctx ends: each farm is
// owned by the live member that Owner picks, and the member calls work in
// a goroutine of its own for each farm it owns. Run re-plans when a member
// or an ownership key changes (a watch) and every TTL/4 anyway. When ctx
// ends it stops every work, waits for them, deletes its ownership keys so
// that others take the farms at once, and returns nil. Farm names must
// not contain "/". Only one Run per member at a time.
func (m *Member) Run(ctx context.Context, farms []string, work WorkFunc) error {
	for _, f := range farms {
		if f == "" || strings.Contains(f, "/") {
			return fmt.Errorf("cluster: farm name %q: want a non-empty name without \"/\"", f)
		}
	}
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return ErrClosed
	case m.running:
		m.mu.Unlock()
		return errors.New("cluster: Run is already running on this member")
	}
	m.running = true
	m.mu.Unlock()

	kick := make(chan struct{}, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	var watchDone sync.WaitGroup
	watchDone.Add(1)
	go func() { defer watchDone.Done(); m.watch(wctx, kick) }()

	var works sync.WaitGroup
	firstSeen := make(map[string]time.Time)
	t := m.clk.NewTicker(m.opts.TTL / 4)
	for ctx.Err() == nil {
		m.round(ctx, farms, work, firstSeen, &works)
		select {
		case <-ctx.Done():
		case <-t.C():
		case <-kick:
		}
	}
	t.Stop()
	stopWatch()
	watchDone.Wait()
	err := m.shutdown(&works)
	m.mu.Lock()
	m.running = false
	m.mu.Unlock()
	return err
}

// watch kicks a round whenever a key under the prefix changes; it watches
// again after an error (etcd restarted, no leader).
func (m *Member) watch(ctx context.Context, kick chan<- struct{}) {
	for ctx.Err() == nil {
		ch := m.cli.Watch(clientv3.WithRequireLeader(ctx), m.opts.Prefix, clientv3.WithPrefix())
		for range ch {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
		case <-m.clk.After(m.opts.RequestTimeout):
		}
	}
}

// round reaps ended works, reads the members and owners, and takes and
// gives up farms as Plan says.
func (m *Member) round(ctx context.Context, farms []string, work WorkFunc, firstSeen map[string]time.Time, works *sync.WaitGroup) {
	m.reap()
	if !m.Acting() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
	resp, err := m.cli.Txn(rctx).Then(
		clientv3.OpGet(m.opts.Prefix+"members/", clientv3.WithPrefix()),
		clientv3.OpGet(m.opts.Prefix+"owners/", clientv3.WithPrefix()),
	).Commit()
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			m.setErr(fmt.Errorf("cluster: read members and owners: %w", err))
		}
		return
	}
	now := m.clk.Now()
	// The members of the first read were there before this Run: they
	// count as settled. Members that appear later must stay for Settle.
	seen := now
	if len(firstSeen) == 0 {
		seen = now.Add(-m.opts.Settle)
	}
	view := View{Members: make(map[string]time.Time), Owners: make(map[string]string)}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		id := strings.TrimPrefix(string(kv.Key), m.opts.Prefix+"members/")
		if _, ok := firstSeen[id]; !ok {
			firstSeen[id] = seen
		}
		view.Members[id] = firstSeen[id]
	}
	for id := range firstSeen {
		if _, ok := view.Members[id]; !ok {
			delete(firstSeen, id)
		}
	}
	mine := make(map[string]int64) // farm -> revision of a key under this member's lease
	m.mu.Lock()
	lease := m.lease
	held := make(map[string]*Ownership, len(m.held))
	for f, o := range m.held {
		held[f] = o
	}
	m.mu.Unlock()
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		farm := strings.TrimPrefix(string(kv.Key), m.opts.Prefix+"owners/")
		if strings.Contains(farm, "/") {
			continue // not an ownership key
		}
		view.Owners[farm] = string(kv.Value)
		if string(kv.Value) == m.opts.ID && clientv3.LeaseID(kv.Lease) == lease {
			mine[farm] = kv.ModRevision
		}
	}
	// Every farm held was taken in an earlier round, so its key is in
	// this read; one whose key is gone or another's stops now, before any
	// write of it is fenced off. It counts as held until its work has
	// returned, so that it is not taken again while that work runs.
	holding := make(map[string]bool, len(held))
	for f, o := range held {
		if mine[f] != o.Revision {
			o.lose(fmt.Errorf("%w: farm %q: its ownership key is gone or another's", ErrNotOwner, f))
		}
		holding[f] = true
	}
	steps := Plan(m.opts.ID, farms, view, holding, now, m.opts.Settle)
	m.release(ctx, steps.Release, view.Members, farms)
	for _, farm := range steps.Acquire {
		if ctx.Err() != nil || !m.Acting() {
			return
		}
		rev, ok := mine[farm]
		if !ok {
			if rev, ok = m.take(ctx, farm, lease); !ok {
				continue
			}
		}
		m.start(ctx, farm, rev, work, works)
	}
}

// take creates a farm's ownership key under the lease, when no key exists,
// and returns its revision.
func (m *Member) take(ctx context.Context, farm string, lease clientv3.LeaseID) (int64, bool) {
	key := m.ownerKey(farm)
	rctx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
	defer cancel()
	resp, err := m.cli.Txn(rctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, m.opts.ID, clientv3.WithLease(lease))).
		Commit()
	if err != nil {
		if ctx.Err() == nil {
			m.setErr(fmt.Errorf("cluster: take farm %q: %w", farm, err))
		}
		return 0, false
	}
	if !resp.Succeeded {
		return 0, false // another member was faster; the next round sees it
	}
	return resp.Header.Revision, true
}

// start calls work for a farm just taken.
func (m *Member) start(ctx context.Context, farm string, rev int64, work WorkFunc, works *sync.WaitGroup) {
	wctx, cancel := context.WithCancelCause(ctx)
	o := &Ownership{Farm: farm, Key: m.ownerKey(farm), Revision: rev, m: m, ctx: wctx, cancel: cancel, done: make(chan struct{})}
	m.mu.Lock()
	m.held[farm] = o
	m.mu.Unlock()
	m.opts.Logger.Info("farm acquired", "member", m.opts.ID, "farm", farm, "revision", rev)
	m.emit(Event{Type: Acquired, Farm: farm, Revision: rev})
	works.Add(1)
	go func() {
		defer works.Done()
		defer close(o.done)
		o.workErr = work(wctx, o)
	}()
}

// reap forgets the ownerships whose work has returned, reporting why.
func (m *Member) reap() {
	m.mu.Lock()
	var ended []*Ownership
	for f, o := range m.held {
		select {
		case <-o.done:
			ended = append(ended, o)
			delete(m.held, f)
		default:
		}
	}
	m.mu.Unlock()
	sort.Slice(ended, func(i, j int) bool { return ended[i].Farm < ended[j].Farm })
	for _, o := range ended {
		if o.ended.Swap(true) {
			continue // lost or released: reported then
		}
		o.cancel(nil)
		m.emit(Event{Type: WorkEnded, Farm: o.Farm, Revision: o.Revision, Err: o.workErr})
	}
}

var errReleased = fmt.Errorf("%w: released", ErrNotOwner)

// release gives farms up: it ends their work, waits until it returned,
// and only then deletes their keys (fenced by revision), so the next
// owner starts after this one stopped. A work that does not return within
// a TTL keeps its key, and the next round tries again.
func (m *Member) release(ctx context.Context, farms []string, live map[string]time.Time, all []string) {
	if len(farms) == 0 {
		return
	}
	members := make([]string, 0, len(live))
	for id := range live {
		members = append(members, id)
	}
	sort.Strings(members)
	m.mu.Lock()
	var os []*Ownership
	for _, f := range farms {
		if o := m.held[f]; o != nil {
			os = append(os, o)
		}
	}
	m.mu.Unlock()
	for _, o := range os {
		o.lose(fmt.Errorf("%w: farm %q handed to %q", errReleased, o.Farm, Owner(members, o.Farm)))
	}
	deadline := m.clk.After(m.opts.TTL)
	for _, o := range os {
		select {
		case <-o.done:
		case <-deadline:
			m.opts.Logger.Warn("farm work did not stop in time; keeping its key", "member", m.opts.ID, "farm", o.Farm)
			continue
		case <-ctx.Done():
			return
		}
		m.mu.Lock()
		delete(m.held, o.Farm)
		m.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
		_, err := m.cli.Txn(rctx).
			If(clientv3.Compare(clientv3.ModRevision(o.Key), "=", o.Revision)).
			Then(clientv3.OpDelete(o.Key)).
			Commit()
		cancel()
		if err != nil {
			m.setErr(fmt.Errorf("cluster: release farm %q: %w", o.Farm, err))
		}
		m.emit(Event{Type: Released, Farm: o.Farm, Revision: o.Revision, To: Owner(members, o.Farm), Err: err})
	}
}

// shutdown ends every work at Run's end and deletes the keys of the farms
// they held.
func (m *Member) shutdown(works *sync.WaitGroup) error {
	m.mu.Lock()
	var os []*Ownership
	for _, o := range m.held {
		os = append(os, o)
	}
	m.held = make(map[string]*Ownership)
	m.mu.Unlock()
	for _, o := range os {
		o.lose(fmt.Errorf("%w: Run ended", errReleased))
	}
	works.Wait()
	if len(os) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.RequestTimeout)
	defer cancel()
	var errs []error
	for _, o := range os {
		_, err := m.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(o.Key), "=", o.Revision)).
			Then(clientv3.OpDelete(o.Key)).
			Commit()
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster: release farm %q: %w", o.Farm, err))
			break // etcd does not answer; the lease's expiry frees the rest
		}
		m.emit(Event{Type: Released, Farm: o.Farm, Revision: o.Revision})
	}
	return errors.Join(errs...)
}
