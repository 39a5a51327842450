// Package storetest is the conformance suite every store.DB runs in its
// tests: the "must" sentences of store.Store and store.DB, checked.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			Open: func(t *testing.T) store.DB { return store.NewMemory() },
//		})
//	}
package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/farmhand/farmhand/store"
)

// Harness tells the suite how to make the DB under test.
type Harness struct {
	// Open returns a new, empty DB for one subtest. It may use t.Cleanup
	// to release what it made; the suite closes the DB too. Required.
	Open func(t *testing.T) store.DB
	// Reopen closes db and returns a DB over the same durable state (the
	// same file, the same etcd prefix), as a restarted controller would
	// open it. Nil for a DB that keeps nothing past Close (store.Memory);
	// the durability cases are then skipped.
	Reopen func(t *testing.T, db store.DB) store.DB
	// Timeout bounds each subtest; zero means 30 s.
	Timeout time.Duration
}

// Run runs every case of the contract against h, each as a subtest.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil {
		t.Fatal("storetest: Harness.Open is required")
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.durable && h.Reopen == nil {
				t.Skip("the DB keeps nothing past Close (Harness.Reopen is nil)")
			}
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			db := h.Open(t)
			e := &env{t: t, ctx: ctx, h: h, db: db}
			t.Cleanup(func() { e.db.Close() })
			c.run(e)
		})
	}
}

// env is what one subtest works with.
type env struct {
	t   *testing.T
	ctx context.Context
	h   Harness
	db  store.DB
}

func (e *env) farm(name string) store.Store {
	e.t.Helper()
	s, err := e.db.Farm(name)
	if err != nil {
		e.t.Fatalf("Farm(%q): %v", name, err)
	}
	return s
}

func (e *env) apply(s store.Store, ops ...store.Op) {
	e.t.Helper()
	if err := s.Apply(e.ctx, ops...); err != nil {
		e.t.Fatalf("Apply(%s): %v", describe(ops), err)
	}
}

func (e *env) get(s store.Store, key string) []byte {
	e.t.Helper()
	v, err := s.Get(e.ctx, key)
	if err != nil {
		e.t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func (e *env) list(s store.Store, prefix string) []store.KV {
	e.t.Helper()
	kvs, err := s.List(e.ctx, prefix)
	if err != nil {
		e.t.Fatalf("List(%q): %v", prefix, err)
	}
	return kvs
}

// keys returns the keys of kvs, with "=value" after each.
func pairs(kvs []store.KV) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key + "=" + string(kv.Value)
	}
	return out
}

func describe(ops []store.Op) string {
	if len(ops) > 3 {
		return "batch of " + itoa(len(ops)) + " ops"
	}
	s := ""
	for i, op := range ops {
		if i > 0 {
			s += ", "
		}
		switch op.Kind {
		case store.OpPut:
			s += "put " + op.Key
		case store.OpDelete:
			s += "delete " + op.Key
		case store.OpDeletePrefix:
			s += "delete prefix " + op.Key
		default:
			s += "op kind " + itoa(int(op.Kind))
		}
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
