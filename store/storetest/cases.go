package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/farmhand/farmhand/store"
)

type testCase struct {
	name    string
	durable bool // needs Harness.Reopen
	run     func(e *env)
}

var cases = []testCase{
	{name: "get of a missing key is not found", run: func(e *env) {
		s := e.farm("f")
		if _, err := s.Get(e.ctx, "nothing"); !errors.Is(err, store.ErrNotFound) {
			e.t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
		}
		e.apply(s, store.Put("k", []byte("v")), store.Delete("k"))
		if _, err := s.Get(e.ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			e.t.Fatalf("Get of a deleted key: %v, want ErrNotFound", err)
		}
	}},
	{name: "get returns the value last put", run: func(e *env) {
		s := e.farm("f")
		e.apply(s, store.Put("k", []byte("one")))
		e.apply(s, store.Put("k", []byte("two")))
		if v := e.get(s, "k"); string(v) != "two" {
			e.t.Fatalf("Get = %q, want %q", v, "two")
		}
		e.apply(s, store.Put("empty", nil))
		if v := e.get(s, "empty"); len(v) != 0 {
			e.t.Fatalf("Get of an empty value = %q", v)
		}
	}},
	{name: "list returns the keys with the prefix in byte order", run: func(e *env) {
		s := e.farm("f")
		e.apply(s, store.Put("b", []byte("4")), store.Put("a0", []byte("3")), store.Put("a/b", []byte("2")),
			store.Put("a", []byte("1")), store.Put("log/00000010", []byte("6")), store.Put("log/00000002", []byte("5")))
		want := []string{"a=1", "a/b=2", "a0=3", "b=4", "log/00000002=5", "log/00000010=6"}
		if got := pairs(e.list(s, "")); !slices.Equal(got, want) {
			e.t.Fatalf("List(\"\") = %v, want %v", got, want)
		}
		if got := pairs(e.list(s, "a")); !slices.Equal(got, want[:3]) {
			e.t.Fatalf("List(\"a\") = %v, want %v", got, want[:3])
		}
		if got := pairs(e.list(s, "log/")); !slices.Equal(got, want[4:]) {
			e.t.Fatalf("List(\"log/\") = %v, want %v", got, want[4:])
		}
		if got := e.list(s, "zzz"); len(got) != 0 {
			e.t.Fatalf("List of no match = %v, want nothing", pairs(got))
		}
	}},
	{name: "deleting a missing key is not an error", run: func(e *env) {
		s := e.farm("f")
		e.apply(s, store.Delete("never"), store.DeletePrefix("never/"))
	}},
	{name: "delete prefix removes only the keys with that prefix", run: func(e *env) {
		s := e.farm("f")
		e.apply(s, store.Put("launch/1", []byte("x")), store.Put("launch/2", []byte("x")),
			store.Put("launcher", []byte("y")), store.Put("pin/1", []byte("z")))
		e.apply(s, store.DeletePrefix("launch/"))
		want := []string{"launcher=y", "pin/1=z"}
		if got := pairs(e.list(s, "")); !slices.Equal(got, want) {
			e.t.Fatalf("after DeletePrefix(launch/): %v, want %v", got, want)
		}
	}},
	{name: "a batch applies its ops in order", run: func(e *env) {
		s := e.farm("f")
		e.apply(s, store.Put("a", []byte("1")), store.Delete("a"), store.Delete("b"), store.Put("b", []byte("2")),
			store.Put("p/1", []byte("x")), store.DeletePrefix("p/"), store.Put("p/2", []byte("y")))
		want := []string{"b=2", "p/2=y"}
		if got := pairs(e.list(s, "")); !slices.Equal(got, want) {
			e.t.Fatalf("after the batch: %v, want %v", got, want)
		}
	}},
	{name: "a batch with an invalid op changes nothing", run: func(e *env) {
		s := e.farm("f")
		e.apply(s, store.Put("keep", []byte("old")))
		for _, bad := range [][]store.Op{
			{store.Put("keep", []byte("new")), store.Put("x", nil), store.Put("", []byte("empty key"))},
			{store.Delete("keep"), store.Delete("")},
			{store.DeletePrefix(""), {Kind: 99, Key: "k"}},
			{store.Delete("keep"), store.Put(strings.Repeat("k", store.MaxKeySize+1), nil)},
			{store.Delete("keep"), store.Put("big", make([]byte, store.MaxValueSize+1))},
		} {
			if err := s.Apply(e.ctx, bad...); !errors.Is(err, store.ErrInvalid) {
				e.t.Errorf("Apply(%s) = %v, want ErrInvalid", describe(bad), err)
			}
		}
		want := []string{"keep=old"}
		if got := pairs(e.list(s, "")); !slices.Equal(got, want) {
			e.t.Fatalf("after refused batches: %v, want %v", got, want)
		}
	}},
	{name: "a batch of MaxOps ops is accepted and one more is refused", run: func(e *env) {
		s := e.farm("f")
		ops := make([]store.Op, store.MaxOps+1)
		for i := range ops {
			ops[i] = store.Put(fmt.Sprintf("k/%04d", i), []byte("v"))
		}
		if err := s.Apply(e.ctx, ops...); !errors.Is(err, store.ErrInvalid) {
			e.t.Fatalf("Apply of %d ops = %v, want ErrInvalid", len(ops), err)
		}
		if got := e.list(s, ""); len(got) != 0 {
			e.t.Fatalf("a refused batch left %d keys", len(got))
		}
		e.apply(s, ops[:store.MaxOps]...)
		if got := e.list(s, "k/"); len(got) != store.MaxOps {
			e.t.Fatalf("List after a batch of %d puts: %d keys", store.MaxOps, len(got))
		}
	}},
	{name: "the largest key and value are kept whole", run: func(e *env) {
		s := e.farm("f")
		key := strings.Repeat("k", store.MaxKeySize)
		val := bytes.Repeat([]byte("0123456789abcdef"), store.MaxValueSize/16)
		e.apply(s, store.Put(key, val))
		if got := e.get(s, key); !bytes.Equal(got, val) {
			e.t.Fatalf("Get of a %d-byte value returned %d bytes", len(val), len(got))
		}
	}},
	{name: "the store keeps none of the caller's slices", run: func(e *env) {
		s := e.farm("f")
		v := []byte("original")
		e.apply(s, store.Put("k", v))
		copy(v, "CHANGED!")
		got := e.get(s, "k")
		if string(got) != "original" {
			e.t.Fatalf("changing the put slice changed the store: %q", got)
		}
		copy(got, "CHANGED!")
		if again := e.get(s, "k"); string(again) != "original" {
			e.t.Fatalf("changing Get's result changed the store: %q", again)
		}
		kvs := e.list(s, "")
		copy(kvs[0].Value, "CHANGED!")
		if again := e.get(s, "k"); string(again) != "original" {
			e.t.Fatalf("changing List's result changed the store: %q", again)
		}
	}},
	{name: "farm namespaces are isolated whatever their names", run: func(e *env) {
		names := []string{"a", "a/b", "ab", "a/", "b"}
		for _, n := range names {
			e.apply(e.farm(n), store.Put("k", []byte(n)), store.Put("b/k", []byte(n)))
		}
		for _, n := range names {
			want := []string{"b/k=" + n, "k=" + n}
			if got := pairs(e.list(e.farm(n), "")); !slices.Equal(got, want) {
				e.t.Fatalf("farm %q lists %v, want %v", n, got, want)
			}
		}
		e.apply(e.farm("a"), store.DeletePrefix(""))
		if got := e.list(e.farm("a"), ""); len(got) != 0 {
			e.t.Fatalf("farm a after DeletePrefix(\"\"): %v", pairs(got))
		}
		for _, n := range names[1:] {
			if got := e.get(e.farm(n), "k"); string(got) != n {
				e.t.Fatalf("emptying farm a changed farm %q: k=%q", n, got)
			}
		}
	}},
	{name: "two handles of one farm see each other's writes", run: func(e *env) {
		one, two := e.farm("shared"), e.farm("shared")
		e.apply(one, store.Put("k", []byte("from one")))
		if got := e.get(two, "k"); string(got) != "from one" {
			e.t.Fatalf("second handle reads %q", got)
		}
		e.apply(two, store.Delete("k"))
		if _, err := one.Get(e.ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			e.t.Fatalf("first handle after the second deleted: %v, want ErrNotFound", err)
		}
	}},
	{name: "an empty farm name is refused", run: func(e *env) {
		if _, err := e.db.Farm(""); !errors.Is(err, store.ErrInvalid) {
			e.t.Fatalf("Farm(\"\") = %v, want ErrInvalid", err)
		}
	}},
	{name: "a done context fails every call and changes nothing", run: func(e *env) {
		s := e.farm("f")
		e.apply(s, store.Put("k", []byte("old")))
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		if err := s.Apply(ctx, store.Put("k", []byte("new"))); err == nil {
			e.t.Error("Apply with a cancelled context succeeded")
		}
		if _, err := s.Get(ctx, "k"); err == nil {
			e.t.Error("Get with a cancelled context succeeded")
		}
		if _, err := s.List(ctx, ""); err == nil {
			e.t.Error("List with a cancelled context succeeded")
		}
		if got := e.get(s, "k"); string(got) != "old" {
			e.t.Fatalf("Apply with a cancelled context wrote %q", got)
		}
	}},
	{name: "a concurrent reader sees a batch whole or not at all", run: func(e *env) {
		s := e.farm("f")
		const keys, rounds = 8, 60
		batch := func(i int) []store.Op {
			ops := make([]store.Op, keys)
			for k := range ops {
				ops[k] = store.Put(fmt.Sprintf("k%d", k), []byte(fmt.Sprint(i)))
			}
			return ops
		}
		e.apply(s, batch(0)...)
		var wg sync.WaitGroup
		done := make(chan struct{})
		var torn string
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				kvs, err := s.List(e.ctx, "k")
				if err != nil {
					torn = "List: " + err.Error()
					return
				}
				for _, kv := range kvs[1:] {
					if len(kvs) != keys || !bytes.Equal(kv.Value, kvs[0].Value) {
						torn = fmt.Sprint(pairs(kvs))
						return
					}
				}
			}
		})
		for i := 1; i <= rounds; i++ {
			e.apply(s, batch(i)...)
		}
		close(done)
		wg.Wait()
		if torn != "" {
			e.t.Fatalf("a reader saw part of a batch: %s", torn)
		}
	}},
	{name: "concurrent writers lose no write", run: func(e *env) {
		s := e.farm("f")
		const writers, each = 6, 15
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if err := s.Apply(e.ctx, store.Put(fmt.Sprintf("w%d/%02d", w, i), []byte("x"))); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			e.t.Fatalf("concurrent Apply: %v", err)
		}
		if got := e.list(s, "w"); len(got) != writers*each {
			e.t.Fatalf("after %d concurrent puts the store lists %d keys", writers*each, len(got))
		}
	}},
	{name: "every call after Close fails with ErrClosed", run: func(e *env) {
		s := e.farm("f")
		e.apply(s, store.Put("k", []byte("v")))
		if err := e.db.Close(); err != nil {
			e.t.Fatalf("Close: %v", err)
		}
		if err := e.db.Close(); err != nil {
			e.t.Fatalf("a second Close: %v", err)
		}
		if _, err := s.Get(e.ctx, "k"); !errors.Is(err, store.ErrClosed) {
			e.t.Errorf("Get after Close = %v, want ErrClosed", err)
		}
		if _, err := s.List(e.ctx, ""); !errors.Is(err, store.ErrClosed) {
			e.t.Errorf("List after Close = %v, want ErrClosed", err)
		}
		if err := s.Apply(e.ctx, store.Put("k", nil)); !errors.Is(err, store.ErrClosed) {
			e.t.Errorf("Apply after Close = %v, want ErrClosed", err)
		}
		if s2, err := e.db.Farm("f"); err == nil {
			if _, err := s2.Get(e.ctx, "k"); !errors.Is(err, store.ErrClosed) {
				e.t.Errorf("Get through a handle made after Close = %v, want ErrClosed", err)
			}
		} else if !errors.Is(err, store.ErrClosed) {
			e.t.Errorf("Farm after Close = %v, want ErrClosed or a handle that fails", err)
		}
	}},
	{name: "writes survive closing and reopening", durable: true, run: func(e *env) {
		e.apply(e.farm("f"), store.Put("a", []byte("1")), store.Put("b", []byte("2")), store.Put("c", []byte("3")))
		e.apply(e.farm("f"), store.Delete("b"))
		e.apply(e.farm("other"), store.Put("a", []byte("x")))
		e.db = e.h.Reopen(e.t, e.db)
		want := []string{"a=1", "c=3"}
		if got := pairs(e.list(e.farm("f"), "")); !slices.Equal(got, want) {
			e.t.Fatalf("after reopening: %v, want %v", got, want)
		}
		if got := e.get(e.farm("other"), "a"); string(got) != "x" {
			e.t.Fatalf("after reopening, farm other: a=%q", got)
		}
		e.apply(e.farm("f"), store.Put("d", []byte("4")))
		if got := e.get(e.farm("f"), "d"); string(got) != "4" {
			e.t.Fatalf("a write after reopening reads back %q", got)
		}
	}},
}
