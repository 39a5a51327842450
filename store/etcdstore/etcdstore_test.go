package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/farmhand/farmhand/internal/etcdtest"
	"github.com/farmhand/farmhand/store"
	"github.com/farmhand/farmhand/store/etcdstore"
	"github.com/farmhand/farmhand/store/storetest"
)

var etcd etcdtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	if err := etcd.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func client(t testing.TB) *clientv3.Client {
	t.Helper()
	srv := etcd.Get(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

var prefixes atomic.Int64

// newPrefix is a prefix no other test uses.
func newPrefix() string { return "test/" + strconv.FormatInt(prefixes.Add(1), 10) + "/" }

func open(t testing.TB, cli *clientv3.Client, prefix string) *etcdstore.DB {
	t.Helper()
	db, err := etcdstore.New(context.Background(), cli, &etcdstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	cli := client(t)
	prefixOf := map[store.DB]string{}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.DB {
			p := newPrefix()
			db := open(t, cli, p)
			prefixOf[db] = p
			return db
		},
		Reopen: func(t *testing.T, db store.DB) store.DB {
			p := prefixOf[db]
			db.Close()
			again := open(t, cli, p)
			prefixOf[again] = p
			return again
		},
	})
}

// Random batches give the same state in etcd as in memory, whatever their
// mix of puts, deletes and prefix deletions over one another.
func TestBatchesMatchTheMemoryStore(t *testing.T) {
	cli := client(t)
	ctx := context.Background()
	keys := []string{"a", "a/b", "a/b/c", "a/c", "b", "b/a", "ab", ""}
	rapid.Check(t, func(rt *rapid.T) {
		e, err := open(t, cli, newPrefix()).Farm("shop")
		if err != nil {
			rt.Fatal(err)
		}
		m, _ := store.NewMemory().Farm("shop")
		for b := rapid.IntRange(1, 3).Draw(rt, "batches"); b > 0; b-- {
			n := rapid.IntRange(1, 12).Draw(rt, "ops")
			var ops []store.Op
			for i := 0; i < n; i++ {
				k := rapid.SampledFrom(keys).Draw(rt, "key")
				switch rapid.IntRange(0, 2).Draw(rt, "kind") {
				case 0:
					if k == "" {
						k = "z"
					}
					ops = append(ops, store.Put(k, []byte(strconv.Itoa(i))))
				case 1:
					if k == "" {
						k = "z"
					}
					ops = append(ops, store.Delete(k))
				case 2:
					ops = append(ops, store.DeletePrefix(k))
				}
			}
			if err := e.Apply(ctx, ops...); err != nil {
				rt.Fatalf("etcd Apply(%v): %v", ops, err)
			}
			if err := m.Apply(ctx, ops...); err != nil {
				rt.Fatal(err)
			}
			got, err := e.List(ctx, "")
			if err != nil {
				rt.Fatal(err)
			}
			want, _ := m.List(ctx, "")
			if fmt.Sprint(got) != fmt.Sprint(want) {
				rt.Fatalf("after %v: etcd has %v, memory %v", ops, got, want)
			}
		}
	})
}

func TestBatchOverEtcdsTxnOpLimit(t *testing.T) {
	cli := client(t)
	ctx := context.Background()
	s, _ := open(t, cli, newPrefix()).Farm("shop")
	if err := s.Apply(ctx, store.Put("old", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	// One prefix deletion and 99 puts inside it: 199 etcd ops.
	ops := []store.Op{store.DeletePrefix("")}
	for i := 0; i < store.MaxOps-1; i++ {
		ops = append(ops, store.Put(fmt.Sprintf("k%03d", i), []byte("v")))
	}
	if err := s.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	kvs, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != store.MaxOps-1 || kvs[0].Key != "k000" {
		t.Fatalf("listed %d keys starting %v; want the 99 puts and not \"old\"", len(kvs), kvs[:1])
	}
}

// fence is a Fence on one etcd key's revision.
type fence struct {
	key    string
	rev    int64
	fenced atomic.Bool
}

func (f *fence) Cmp() (clientv3.Cmp, error) {
	if f.fenced.Load() {
		return clientv3.Cmp{}, errors.New("already fenced off")
	}
	return clientv3.Compare(clientv3.ModRevision(f.key), "=", f.rev), nil
}
func (f *fence) Fenced() { f.fenced.Store(true) }

func TestFencedWritesStopWhenTheOwnerChanges(t *testing.T) {
	cli := client(t)
	ctx := context.Background()
	prefix := newPrefix()
	db := open(t, cli, prefix)
	put, err := cli.Put(ctx, prefix+"owner", "a")
	if err != nil {
		t.Fatal(err)
	}
	f := &fence{key: prefix + "owner", rev: put.Header.Revision}
	s, err := db.Fenced("shop", f)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, store.Put("desired/app", []byte("4"))); err != nil {
		t.Fatalf("write of the owner: %v", err)
	}
	if _, err := cli.Put(ctx, prefix+"owner", "b"); err != nil { // another owner
		t.Fatal(err)
	}
	if err := s.Apply(ctx, store.Put("desired/app", []byte("9"))); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("write after the owner changed: %v, want ErrFenced", err)
	}
	if !f.fenced.Load() {
		t.Fatal("the fence was not told")
	}
	if err := s.Apply(ctx, store.Put("desired/app", []byte("9"))); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("write after the fence knew: %v, want ErrFenced", err)
	}
	unfenced, _ := db.Farm("shop")
	v, err := unfenced.Get(ctx, "desired/app")
	if err != nil || string(v) != "4" {
		t.Fatalf("state = %q, %v; want the owner's 4", v, err)
	}
}

func TestNewerSchemaIsRefusedAndLeftAlone(t *testing.T) {
	cli := client(t)
	ctx := context.Background()
	prefix := newPrefix()
	if _, err := cli.Put(ctx, prefix+"schema", "99"); err != nil {
		t.Fatal(err)
	}
	_, err := etcdstore.New(ctx, cli, &etcdstore.Options{Prefix: prefix})
	if !errors.Is(err, etcdstore.ErrNewerSchema) {
		t.Fatalf("New over schema 99: %v, want ErrNewerSchema", err)
	}
	resp, _ := cli.Get(ctx, prefix+"schema")
	if string(resp.Kvs[0].Value) != "99" {
		t.Fatalf("schema rewritten to %s", resp.Kvs[0].Value)
	}
}

func TestUnreachableEtcdFailsWithinTheRequestTimeout(t *testing.T) {
	srv := etcdtest.Start(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	db, err := etcdstore.New(ctx, cli, &etcdstore.Options{Prefix: "p/", RequestTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := db.Farm("shop")
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	start := time.Now()
	err = s.Apply(ctx, store.Put("k", []byte("v")))
	if err == nil {
		t.Fatal("a write to a paused etcd succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("the write returned after %v: %v", d, err)
	}
	if _, err := s.Get(ctx, "k"); err == nil {
		t.Fatal("a read from a paused etcd succeeded")
	}
}
