package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/farmhand/farmhand/cluster"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/internal/actionlog"
	"github.com/farmhand/farmhand/internal/provrpc"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/store/etcdstore"
)

// controllerEnv makes the program (or the test binary) run as one
// controller process; the parent passes the rest in the environment.
const controllerEnv = "FARMHAND_HA_CONTROLLER"

// Key prefixes in etcd.
const (
	clusterPrefix = "ha/cluster/"
	statePrefix   = "ha/state/"
)

// farmName names farm i.
func farmName(i int) string { return fmt.Sprintf("farm-%03d", i) }

// farmSpec is the spec of every farm: one role of n servers.
func farmSpec(name string, n int) farm.Spec {
	return farm.Spec{Name: name, Roles: []farm.RoleSpec{{Name: "app", Image: "ami-app", Min: n, Max: n, Desired: n}}}
}

// guarded is the cloud as one owner of one farm sees it: every call checks
// the ownership first and is recorded, stamped with the owner and the
// ownership's revision, in the controller's action log.
type guarded struct {
	provider.Provider
	o      *cluster.Ownership
	member string
	log    *actionlog.File
}

func (g *guarded) do(op string, call func() error) error {
	start := time.Now()
	if err := g.o.Check(); err != nil {
		return provider.NewError(provider.PermissionDenied, "ha."+op, err)
	}
	err := call()
	_ = g.log.Record(actionlog.Action{Farm: g.o.Farm, Member: g.member, Epoch: g.o.Revision, Start: start, End: time.Now()})
	return err
}

func (g *guarded) Launch(ctx context.Context, spec provider.LaunchSpec) (out []provider.Server, err error) {
	err = g.do("Launch", func() error { out, err = g.Provider.Launch(ctx, spec); return err })
	return out, err
}

func (g *guarded) List(ctx context.Context, opts provider.ListOptions) (out provider.Page, err error) {
	err = g.do("List", func() error { out, err = g.Provider.List(ctx, opts); return err })
	return out, err
}

func (g *guarded) Get(ctx context.Context, id string) (out provider.Server, err error) {
	err = g.do("Get", func() error { out, err = g.Provider.Get(ctx, id); return err })
	return out, err
}

func (g *guarded) Terminate(ctx context.Context, ids ...string) error {
	return g.do("Terminate", func() error { return g.Provider.Terminate(ctx, ids...) })
}

func (g *guarded) Reboot(ctx context.Context, id string) error {
	return g.do("Reboot", func() error { return g.Provider.Reboot(ctx, id) })
}

// controllerMain is one controller process: it joins the cluster and runs
// the farms it owns over the shared cloud until SIGTERM.
func controllerMain() int {
	if err := runController(); err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		return 1
	}
	return 0
}

func runController() error {
	env := func(k string) string { return os.Getenv("HA_" + k) }
	id := env("ID")
	farms, err1 := strconv.Atoi(env("FARMS"))
	perFarm, err2 := strconv.Atoi(env("PER_FARM"))
	ttl, err3 := time.ParseDuration(env("TTL"))
	tick, err4 := time.ParseDuration(env("TICK"))
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return fmt.Errorf("bad environment: %v %v %v %v", err1, err2, err3, err4)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log, err := actionlog.OpenFile(env("LOG"))
	if err != nil {
		return err
	}
	defer log.Close()
	cloud, err := provrpc.Dial(env("CLOUD"))
	if err != nil {
		return err
	}
	defer cloud.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{env("ETCD")}, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	db, err := etcdstore.New(ctx, cli, &etcdstore.Options{Prefix: statePrefix})
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := cluster.Join(ctx, cli, &cluster.Options{Prefix: clusterPrefix, ID: id, TTL: ttl,
		OnEvent: func(ev cluster.Event) { fmt.Println(time.Now().Format(time.RFC3339Nano), ev) }})
	if err != nil {
		return err
	}
	names := make([]string, farms)
	for i := range names {
		names[i] = farmName(i)
	}
	err = m.Run(ctx, names, func(ctx context.Context, o *cluster.Ownership) error {
		st, err := db.Fenced(o.Farm, o)
		if err != nil {
			return err
		}
		f, err := farm.New(farmSpec(o.Farm, perFarm), &guarded{Provider: cloud, o: o, member: id, log: log},
			&farm.Options{TickInterval: tick, Store: st})
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Launch(ctx); err != nil {
			return err
		}
		return f.Run(ctx)
	})
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return err
}
