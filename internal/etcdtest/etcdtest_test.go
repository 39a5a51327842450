package etcdtest_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/internal/etcdtest"
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

func client(t *testing.T, s *etcdtest.Server) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func get(ctx context.Context, cli *clientv3.Client, key string, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return "", err
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

func TestSharedServerStoresKeysAndAnswersLeases(t *testing.T) {
	s := etcd.Get(t)
	if again := etcd.Get(t); again != s {
		t.Fatal("Shared.Get started a second server")
	}
	cli := client(t, s)
	ctx := context.Background()
	if _, err := cli.Put(ctx, "etcdtest/shared/a", "1"); err != nil {
		t.Fatal(err)
	}
	if v, err := get(ctx, cli, "etcdtest/shared/a", 5*time.Second); err != nil || v != "1" {
		t.Fatalf("get = %q, %v; want 1", v, err)
	}
	st, err := cli.Status(ctx, s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version == "" {
		t.Fatal("status reports no version")
	}
	lease, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "etcdtest/shared/leased", "x", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	// Without keep-alives the key goes with its lease.
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := get(ctx, cli, "etcdtest/shared/leased", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if v == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a key of an expired lease is still there")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestKillPauseAndRestart(t *testing.T) {
	s := etcdtest.Start(t)
	cli := client(t, s)
	ctx := context.Background()
	if _, err := cli.Put(ctx, "k", "before"); err != nil {
		t.Fatal(err)
	}

	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if _, err := get(ctx, cli, "k", 500*time.Millisecond); err == nil {
		t.Fatal("a paused etcd answered")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if v, err := get(ctx, cli, "k", 10*time.Second); err != nil || v != "before" {
		t.Fatalf("after Resume: get = %q, %v", v, err)
	}

	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.Pid() != 0 {
		t.Fatal("Pid after Kill is not 0")
	}
	if err := s.Healthy(ctx); err == nil {
		t.Fatal("a killed etcd is healthy")
	}
	if _, err := get(ctx, cli, "k", 500*time.Millisecond); err == nil {
		t.Fatal("a killed etcd answered")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := get(ctx, cli, "k", 10*time.Second); err != nil || v != "before" {
		t.Fatalf("after Restart: get = %q, %v; want the key written before the kill", v, err)
	}
}

func TestClosePausedServer(t *testing.T) {
	s := etcdtest.Start(t)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 9*time.Second {
		t.Fatalf("Close of a paused etcd took %v: it was killed after the grace period, not resumed", d)
	}
	if err := s.Pause(); err == nil {
		t.Fatal("Pause of a closed server succeeded")
	}
}
