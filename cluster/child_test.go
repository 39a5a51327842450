package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/farmhand/farmhand/cluster"
	"github.com/farmhand/farmhand/internal/actionlog"
)

// The test binary runs as a controller process when childEnv is set: it
// joins the cluster and acts on the farms it owns until SIGTERM (or
// SIGKILL, which is the point).
const childEnv = "FARMHAND_CLUSTER_CHILD"

// actEvery is how often a child acts on each farm it owns.
const actEvery = 20 * time.Millisecond

// act is one action on a farm: a check of the ownership, an unfenced
// step standing for a cloud call, and a fenced state write. It is
// recorded whether or not the write was fenced off, since the unfenced
// step happened.
func act(ctx context.Context, o *cluster.Ownership, stateKey, member string, rec func(actionlog.Action)) error {
	start := time.Now()
	if err := o.Check(); err != nil {
		return err
	}
	time.Sleep(2 * time.Millisecond) // the cloud call
	_, err := o.Txn(ctx, nil, []clientv3.Op{clientv3.OpPut(stateKey, member)}, nil)
	rec(actionlog.Action{Farm: o.Farm, Member: member, Epoch: o.Revision, Start: start, End: time.Now()})
	return err
}

// actLoop acts on a farm every actEvery until its ownership ends.
// The state is written under statePrefix.
func actLoop(ctx context.Context, o *cluster.Ownership, statePrefix, member string, rec func(actionlog.Action)) error {
	t := time.NewTicker(actEvery)
	defer t.Stop()
	for {
		if err := act(ctx, o, statePrefix+o.Farm, member, rec); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func childMain() int {
	endpoint, prefix, id := os.Getenv("CLUSTER_ENDPOINT"), os.Getenv("CLUSTER_PREFIX"), os.Getenv("CLUSTER_ID")
	farms := strings.Split(os.Getenv("CLUSTER_FARMS"), ",")
	ttl, err := time.ParseDuration(os.Getenv("CLUSTER_TTL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	log, err := actionlog.OpenFile(os.Getenv("CLUSTER_LOG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer log.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer cli.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	m, err := cluster.Join(ctx, cli, &cluster.Options{Prefix: prefix, ID: id, TTL: ttl, Settle: ttl / 2,
		OnEvent: func(ev cluster.Event) { fmt.Println(ev) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	err = m.Run(ctx, farms, func(ctx context.Context, o *cluster.Ownership) error {
		return actLoop(ctx, o, prefix+"state/", id, func(a actionlog.Action) { _ = log.Record(a) })
	})
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// child is a controller process of a test.
type child struct {
	id, log, out string
	cmd          *exec.Cmd
	done         chan struct{}
}

func startChild(t *testing.T, endpoint, prefix, id string, farms []string) *child {
	t.Helper()
	dir := t.TempDir()
	c := &child{id: id, log: filepath.Join(dir, "actions"), out: filepath.Join(dir, "out"), done: make(chan struct{})}
	out, err := os.Create(c.out)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"=1",
		"CLUSTER_ENDPOINT="+endpoint, "CLUSTER_PREFIX="+prefix, "CLUSTER_ID="+id,
		"CLUSTER_FARMS="+strings.Join(farms, ","), "CLUSTER_TTL="+testTTL.String(), "CLUSTER_LOG="+c.log)
	c.cmd.Stdout, c.cmd.Stderr = out, out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			b, _ := os.ReadFile(c.out)
			t.Logf("controller %s said:\n%s", c.id, b)
		}
	})
	return c
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
}
