// Package etcdstore keeps farms' controller state in etcd
// (go.etcd.io/etcd/client/v3): the store.DB for several controllers that
// share farms (package cluster), and for a controller whose state must
// outlive its machine.
//
// Each Apply is one etcd transaction, committed by a quorum before it
// returns. A store opened with DB.Fenced writes for an owner: the owner's
// fence (cluster.Ownership's Cmp, "my ownership key still has the revision
// I created it with") is compared in the same transaction as the write, so
// a controller that lost its farm cannot overwrite the state of the one
// that took it over; its write fails with store.ErrFenced and changes
// nothing.
//
//	db, err := etcdstore.New(ctx, etcdClient, nil)
//	...
//	m.Run(ctx, farms, func(ctx context.Context, o *cluster.Ownership) error {
//		st, err := db.Fenced(o.Farm, o)
//		f, err := farm.New(spec, cloud, &farm.Options{Store: st})
//		...
//	})
//
// # Layout
//
// Under Options.Prefix ("farmhand/state/" by default): "schema" holds the
// layout version (SchemaVersion; New refuses a prefix written by a newer
// one), and each farm's keys live under "farms/" + the path-escaped farm
// name + "/", so that no farm name can reach another farm's keys.
package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/farmhand/farmhand/store"
)

// SchemaVersion is the layout this package writes.
const SchemaVersion = 1

// Defaults for zero Options fields.
const (
	DefaultPrefix         = "farmhand/state/"
	DefaultRequestTimeout = 5 * time.Second
)

// maxTxnOps is how many ops one (nested) transaction carries: etcd refuses
// a transaction of more than --max-txn-ops (128 by default), and a 3.4
// server refused nested transactions of 128 each; a batch that needs more
// is split into nested transactions of at most this many, in one atomic
// request.
const maxTxnOps = 64

// ErrNewerSchema is returned by New when the prefix holds state written by
// a newer version of this package; nothing is written to it.
var ErrNewerSchema = errors.New("etcdstore: the state was written by a newer schema version")

// Options configure a DB. Zero fields take the defaults.
type Options struct {
	// Prefix is the etcd key prefix of every farm's state. Empty means
	// DefaultPrefix.
	Prefix string
	// RequestTimeout bounds each call to etcd when the caller's context
	// has no earlier deadline. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// Fence makes a store's writes conditional on owning the farm.
// cluster.Ownership is one.
type Fence interface {
	// Cmp returns the comparison that holds in etcd while the caller owns
	// the farm, or an error when the caller knows it does not.
	Cmp() (clientv3.Cmp, error)
	// Fenced is told that a write failed its comparison: the farm has
	// another owner.
	Fenced()
}

// DB is the state of many farms under one etcd prefix.
type DB struct {
	cli     *clientv3.Client
	prefix  string
	timeout time.Duration
	closed  atomic.Bool
}

var _ store.DB = (*DB)(nil)

// New returns a DB over cli. It reads the prefix's schema version, and
// writes it when the prefix is new; it refuses a newer version with
// ErrNewerSchema. The DB does not own cli: Close leaves it open.
func New(ctx context.Context, cli *clientv3.Client, opts *Options) (*DB, error) {
	if cli == nil {
		return nil, errors.New("etcdstore: nil etcd client")
	}
	db := &DB{cli: cli, prefix: DefaultPrefix, timeout: DefaultRequestTimeout}
	if opts != nil {
		if opts.Prefix != "" {
			db.prefix = opts.Prefix
		}
		if opts.RequestTimeout < 0 {
			return nil, fmt.Errorf("etcdstore: RequestTimeout %v is negative", opts.RequestTimeout)
		}
		if opts.RequestTimeout > 0 {
			db.timeout = opts.RequestTimeout
		}
	}
	ctx, cancel := db.bound(ctx)
	defer cancel()
	key := db.prefix + "schema"
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, strconv.Itoa(SchemaVersion))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("etcdstore: read schema version at %s: %w", key, err)
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 1 {
			v, err := strconv.Atoi(string(kvs[0].Value))
			if err != nil {
				return nil, fmt.Errorf("etcdstore: schema version at %s is %q, not a number: not a farmhand state prefix", key, kvs[0].Value)
			}
			if v > SchemaVersion {
				return nil, fmt.Errorf("%w: %s is %d, this program reads up to %d", ErrNewerSchema, key, v, SchemaVersion)
			}
		}
	}
	return db, nil
}

// bound gives ctx the request timeout unless it ends earlier.
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= db.timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, db.timeout)
}

// Farm returns the named farm's store, unfenced: for a controller that is
// the farm's only writer.
func (db *DB) Farm(name string) (store.Store, error) { return db.Fenced(name, nil) }

// Fenced returns the named farm's store, every write of which compares
// fence in the same transaction and fails with store.ErrFenced when it
// does not hold. A nil fence means unfenced.
func (db *DB) Fenced(name string, fence Fence) (store.Store, error) {
	if db.closed.Load() {
		return nil, store.ErrClosed
	}
	if err := store.CheckFarmName(name); err != nil {
		return nil, err
	}
	return &farmStore{db: db, name: name, ns: db.prefix + "farms/" + url.PathEscape(name) + "/", fence: fence}, nil
}

// Close makes every later call fail with store.ErrClosed. The etcd client
// stays open.
func (db *DB) Close() error {
	db.closed.Store(true)
	return nil
}

type farmStore struct {
	db    *DB
	name  string
	ns    string
	fence Fence
}

func (s *farmStore) start(ctx context.Context) error {
	if s.db.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

func (s *farmStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	resp, err := s.db.cli.Get(ctx, s.ns+key)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: farm %q: get %q: %w", s.name, key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("%w: %q", store.ErrNotFound, key)
	}
	return append([]byte{}, resp.Kvs[0].Value...), nil
}

func (s *farmStore) List(ctx context.Context, prefix string) ([]store.KV, error) {
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	resp, err := s.db.cli.Get(ctx, s.ns+prefix, clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("etcdstore: farm %q: list %q: %w", s.name, prefix, err)
	}
	out := make([]store.KV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, store.KV{Key: strings.TrimPrefix(string(kv.Key), s.ns), Value: append([]byte{}, kv.Value...)})
	}
	return out, nil
}

func (s *farmStore) Apply(ctx context.Context, ops ...store.Op) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	if err := store.CheckOps(ops); err != nil {
		return err
	}
	if len(ops) == 0 {
		return nil
	}
	eops := compile(s.ns, ops)
	var then []clientv3.Op
	for len(eops) > maxTxnOps {
		then = append(then, clientv3.OpTxn(nil, eops[:maxTxnOps], nil))
		eops = eops[maxTxnOps:]
	}
	if len(then) > 0 {
		then = append(then, clientv3.OpTxn(nil, eops, nil))
	} else {
		then = eops
	}
	var cmps []clientv3.Cmp
	if s.fence != nil {
		cmp, err := s.fence.Cmp()
		if err != nil {
			return fmt.Errorf("%w: farm %q: %v", store.ErrFenced, s.name, err)
		}
		cmps = append(cmps, cmp)
	}
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	resp, err := s.db.cli.Txn(ctx).If(cmps...).Then(then...).Commit()
	if err != nil {
		return fmt.Errorf("etcdstore: farm %q: apply %d ops: %w", s.name, len(ops), err)
	}
	if !resp.Succeeded {
		s.fence.Fenced()
		return fmt.Errorf("%w: farm %q: the ownership changed; nothing written", store.ErrFenced, s.name)
	}
	return nil
}

// compile turns a batch into etcd ops with the same effect applied at once:
// etcd refuses a transaction that touches a key twice (or puts a key inside
// a range it deletes), so each key's last op wins, deletes covered by a
// deleted prefix are dropped, and a prefix deleted before puts inside it
// becomes the ranges between those puts.
func compile(ns string, ops []store.Op) []clientv3.Op {
	puts := map[string][]byte{}
	dels := map[string]bool{}
	var prefixes []string // full keys; none inside another
	covered := func(k string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	for _, op := range ops {
		k := ns + op.Key
		switch op.Kind {
		case store.OpPut:
			puts[k] = op.Value
			delete(dels, k)
		case store.OpDelete:
			delete(puts, k)
			if !covered(k) {
				dels[k] = true
			}
		case store.OpDeletePrefix:
			for x := range puts {
				if strings.HasPrefix(x, k) {
					delete(puts, x)
				}
			}
			for x := range dels {
				if strings.HasPrefix(x, k) {
					delete(dels, x)
				}
			}
			if covered(k) {
				continue
			}
			kept := prefixes[:0]
			for _, p := range prefixes {
				if !strings.HasPrefix(p, k) {
					kept = append(kept, p)
				}
			}
			prefixes = append(kept, k)
		}
	}
	var out []clientv3.Op
	sort.Strings(prefixes)
	for _, p := range prefixes {
		var inside []string
		for k := range puts {
			if strings.HasPrefix(k, p) {
				inside = append(inside, k)
			}
		}
		sort.Strings(inside)
		from := p
		for _, k := range inside {
			if from < k {
				out = append(out, clientv3.OpDelete(from, clientv3.WithRange(k)))
			}
			from = k + "\x00"
		}
		out = append(out, clientv3.OpDelete(from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(p))))
	}
	keys := make([]string, 0, len(puts))
	for k := range puts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, clientv3.OpPut(k, string(puts[k])))
	}
	keys = keys[:0]
	for k := range dels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, clientv3.OpDelete(k))
	}
	return out
}
