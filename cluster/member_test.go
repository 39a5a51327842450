package cluster_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/farmhand/farmhand/cluster"
	"github.com/farmhand/farmhand/internal/actionlog"
	"github.com/farmhand/farmhand/internal/etcdtest"
	"github.com/farmhand/farmhand/store"
	"github.com/farmhand/farmhand/store/etcdstore"
)

// running is a member in this process, running until stop.
type running struct {
	m    *cluster.Member
	evs  *events
	stop func()
	err  chan error
}

func runMember(t *testing.T, cli *clientv3.Client, opts cluster.Options, farms []string, work cluster.WorkFunc) *running {
	t.Helper()
	r := &running{evs: &events{}, err: make(chan error, 1)}
	opts.OnEvent = r.evs.add
	if opts.TTL == 0 {
		opts.TTL = testTTL
	}
	m, err := cluster.Join(context.Background(), cli, &opts)
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.err <- m.Run(ctx, farms, work) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			<-r.err
			_ = m.Close()
		})
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			t.Logf("events of %s:\n%s", m.ID(), r.evs)
		}
	})
	return r
}

// waitWork is a work that waits for the end of its ownership.
func waitWork(ctx context.Context, o *cluster.Ownership) error {
	<-ctx.Done()
	return nil
}

func TestJoinRefusesBadOptionsAndADuplicateID(t *testing.T) {
	srv := etcd.Get(t)
	cli := newClient(t, srv)
	ctx := context.Background()
	for _, opts := range []cluster.Options{
		{TTL: 1500 * time.Millisecond},
		{TTL: time.Second},
		{TTL: 10 * time.Second, Margin: 5 * time.Second},
	} {
		if _, err := cluster.Join(ctx, cli, &opts); err == nil {
			t.Errorf("Join(%+v) succeeded", opts)
		}
	}
	opts := cluster.Options{Prefix: prefix(t), ID: "same", TTL: testTTL}
	m, err := cluster.Join(ctx, cli, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := cluster.Join(ctx, cli, &opts); !errors.Is(err, cluster.ErrMemberExists) {
		t.Fatalf("second Join with ID %q: %v, want ErrMemberExists", opts.ID, err)
	}
}

// A process restarted under its ID after a crash joins once the previous
// run's lease has expired.
func TestJoinWaitsForACrashedRunOfTheSameID(t *testing.T) {
	srv := etcd.Get(t)
	cli := newClient(t, srv)
	ctx := context.Background()
	pfx := prefix(t)
	// The crashed run: its registration under a lease nobody renews.
	lease, err := cli.Grant(ctx, int64(testTTL/time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, pfx+"members/ctl", "ctl", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, err := cluster.Join(ctx, cli, &cluster.Options{Prefix: pfx, ID: "ctl", TTL: testTTL})
	if err != nil {
		t.Fatalf("Join after the crashed run: %v", err)
	}
	defer m.Close()
	if d := time.Since(start); d < testTTL/2 {
		t.Fatalf("Join returned after %v, before the old registration could expire", d)
	}
}

func TestMembersShareFarmsAndHandThemOverOnJoinAndLeave(t *testing.T) {
	srv := etcd.Get(t)
	cli := newClient(t, srv)
	pfx := prefix(t)
	farms := farmList(20)
	var log actionlog.Log
	acting := func(id string) cluster.WorkFunc {
		return func(ctx context.Context, o *cluster.Ownership) error {
			return actLoop(ctx, o, pfx+"state/", id, log.Record)
		}
	}
	opts := cluster.Options{Prefix: pfx, Settle: 500 * time.Millisecond}
	opts.ID = "a"
	a := runMember(t, cli, opts, farms, acting("a"))
	waitFor(t, 20*time.Second, "a owns every farm", func() bool { return len(a.m.Owned()) == len(farms) })

	opts.ID = "b"
	b := runMember(t, cli, opts, farms, acting("b"))
	both := []string{"a", "b"}
	waitFor(t, 20*time.Second, "the farms split between a and b by rendezvous", func() bool {
		got := owners(t, cli, pfx)
		for _, f := range farms {
			if got[f] != cluster.Owner(both, f) {
				return false
			}
		}
		return len(a.m.Owned())+len(b.m.Owned()) == len(farms)
	})
	if n := len(a.evs.of(cluster.Released)); n == 0 || n == len(farms) {
		t.Errorf("a released %d farms when b joined; want some, not all", n)
	}
	time.Sleep(200 * time.Millisecond)

	// b leaves (Close revokes its lease): a takes its farms at once.
	left := time.Now()
	b.stop()
	waitFor(t, 20*time.Second, "a owns every farm again", func() bool { return len(a.m.Owned()) == len(farms) })
	if d := time.Since(left); d > testTTL {
		t.Errorf("farms of a member that left took %v to move, more than the TTL", d)
	}
	time.Sleep(200 * time.Millisecond)
	a.stop()
	acts := log.Actions()
	if len(acts) < 3*len(farms) {
		t.Fatalf("only %d actions", len(acts))
	}
	for _, d := range actionlog.Doubles(acts) {
		t.Errorf("double action: %v", d)
	}
}

// A member notices, without writing, that its ownership key was replaced,
// and stops acting on the farm.
func TestReplacedKeyStopsTheWork(t *testing.T) {
	srv := etcd.Get(t)
	cli := newClient(t, srv)
	got := make(chan *cluster.Ownership, 1)
	r := runMember(t, cli, cluster.Options{Prefix: prefix(t), ID: "a"}, []string{"shop"}, func(ctx context.Context, o *cluster.Ownership) error {
		got <- o
		<-ctx.Done()
		return nil
	})
	var o *cluster.Ownership
	select {
	case o = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no ownership")
	}
	if _, err := cli.Put(context.Background(), o.Key, "intruder"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testTTL, "the work's context ends", func() bool { return o.Context().Err() != nil })
	if !errors.Is(context.Cause(o.Context()), cluster.ErrNotOwner) {
		t.Fatalf("cause %v", context.Cause(o.Context()))
	}
	if lost := r.evs.of(cluster.Lost); len(lost) != 1 {
		t.Fatalf("Lost events %v", lost)
	}
}

func TestWorkThatReturnsIsCalledAgain(t *testing.T) {
	srv := etcd.Get(t)
	cli := newClient(t, srv)
	var calls atomic.Int32
	r := runMember(t, cli, cluster.Options{Prefix: prefix(t), ID: "a"}, []string{"shop"}, func(ctx context.Context, o *cluster.Ownership) error {
		if calls.Add(1) == 1 {
			return errors.New("first call fails")
		}
		<-ctx.Done()
		return nil
	})
	waitFor(t, 20*time.Second, "work called twice", func() bool { return calls.Load() >= 2 })
	ended := r.evs.of(cluster.WorkEnded)
	if len(ended) != 1 || ended[0].Err == nil || ended[0].Farm != "shop" {
		t.Fatalf("WorkEnded events %v; want one for shop with the error", ended)
	}
	if got := r.m.Owned(); len(got) != 1 {
		t.Fatalf("Owned() = %v after the work was called again", got)
	}
}

func TestFencedWriteFailsOnceTheKeyChanged(t *testing.T) {
	srv := etcd.Get(t)
	cli := newClient(t, srv)
	pfx := prefix(t)
	got := make(chan *cluster.Ownership, 1)
	r := runMember(t, cli, cluster.Options{Prefix: pfx, ID: "a"}, []string{"shop"}, func(ctx context.Context, o *cluster.Ownership) error {
		got <- o
		<-ctx.Done()
		return nil
	})
	var o *cluster.Ownership
	select {
	case o = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no ownership")
	}
	ctx := context.Background()
	if _, err := o.Txn(ctx, nil, []clientv3.Op{clientv3.OpPut(pfx+"state/shop", "1")}, nil); err != nil {
		t.Fatalf("fenced write of the owner: %v", err)
	}
	db, err := etcdstore.New(ctx, cli, &etcdstore.Options{Prefix: pfx + "store/"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.Fenced(o.Farm, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(ctx, store.Put("desired/app", []byte("4"))); err != nil {
		t.Fatalf("store write of the owner: %v", err)
	}
	// Another controller's key replaces ours (as after a takeover).
	if _, err := cli.Put(ctx, o.Key, "intruder"); err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(ctx, store.Put("desired/app", []byte("9"))); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("store write after the key changed: %v, want store.ErrFenced", err)
	}
	if v, err := st.Get(ctx, "desired/app"); err != nil || string(v) != "4" {
		t.Fatalf("stored desired = %q, %v; want the owner's 4", v, err)
	}
	_, err = o.Txn(ctx, nil, []clientv3.Op{clientv3.OpPut(pfx+"state/shop", "2")}, nil)
	if !errors.Is(err, cluster.ErrNotOwner) {
		t.Fatalf("fenced write after the key changed: %v, want ErrNotOwner", err)
	}
	if v, _ := cli.Get(ctx, pfx+"state/shop"); string(v.Kvs[0].Value) != "1" {
		t.Fatalf("a fenced-off write changed the state to %s", v.Kvs[0].Value)
	}
	if o.Context().Err() == nil || o.Check() == nil {
		t.Fatal("the ownership goes on after a fenced write failed")
	}
	waitFor(t, 10*time.Second, "a Lost event", func() bool { return len(r.evs.of(cluster.Lost)) > 0 })
	// The key is someone else's: a does not take the farm back.
	time.Sleep(testTTL / 2)
	if len(r.m.Owned()) != 0 {
		t.Fatalf("a owns %v after another member's key replaced its own", r.m.Owned())
	}
}

// An unreachable etcd (paused: it accepts connections and never answers;
// killed: it refuses them) stops the member acting on every farm before
// etcd would expire its lease, and says so; when etcd is back, the member
// acts again.
func TestUnreachableEtcdStopsActingBeforeTheLeaseExpires(t *testing.T) {
	for _, how := range []string{"paused", "killed"} {
		t.Run(how, func(t *testing.T) {
			srv := etcdtest.Start(t)
			cli := newClient(t, srv)
			farms := farmList(4)
			var mu sync.Mutex
			stopped := map[string]time.Time{}
			r := runMember(t, cli, cluster.Options{Prefix: "u/", ID: "a"}, farms, func(ctx context.Context, o *cluster.Ownership) error {
				<-ctx.Done()
				mu.Lock()
				defer mu.Unlock()
				if _, again := stopped[o.Farm]; again {
					return nil
				}
				stopped[o.Farm] = time.Now()
				if !errors.Is(context.Cause(ctx), cluster.ErrNotOwner) {
					t.Errorf("cause %v does not wrap ErrNotOwner", context.Cause(ctx))
				}
				return nil
			})
			waitFor(t, 20*time.Second, "a owns every farm", func() bool { return len(r.m.Owned()) == len(farms) })
			time.Sleep(testTTL / 2)
			broke := time.Now()
			switch how {
			case "paused":
				if err := srv.Pause(); err != nil {
					t.Fatal(err)
				}
			case "killed":
				if err := srv.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 2*testTTL, "every work stopped", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(stopped) == len(farms)
			})
			mu.Lock()
			for f, at := range stopped {
				if d := at.Sub(broke); d >= testTTL {
					t.Errorf("work of %s stopped %v after etcd became unreachable: not before the lease's TTL", f, d)
				}
			}
			mu.Unlock()
			if len(r.evs.of(cluster.Unreachable)) == 0 || len(r.evs.of(cluster.LeaseExpired)) == 0 || len(r.evs.of(cluster.Lost)) < len(farms) {
				t.Fatalf("want Unreachable, LeaseExpired and a Lost per farm; got\n%s", r.evs)
			}
			if r.m.Err() == nil || r.m.Acting() {
				t.Fatalf("Err() = %v, Acting() = %v while etcd is unreachable", r.m.Err(), r.m.Acting())
			}
			switch how {
			case "paused":
				if err := srv.Resume(); err != nil {
					t.Fatal(err)
				}
			case "killed":
				if err := srv.Restart(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 4*testTTL+10*time.Second, "a acts on every farm again", func() bool { return len(r.m.Owned()) == len(farms) })
			if r.m.Err() != nil {
				t.Errorf("Err() = %v after etcd came back", r.m.Err())
			}
		})
	}
}

func farmList(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "f" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return out
}

// An ownership fences the writes of a farm's etcd store.
var _ etcdstore.Fence = (*cluster.Ownership)(nil)
