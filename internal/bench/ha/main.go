// Command ha measures how several controller processes share farms on
// etcd and take over the farms of one that dies.
//
//	go run ./internal/bench/ha
//	ha controllers=3 farms=60 servers=6000 takeover_ms=5212 double_actions=0
//
// It starts a real etcd on loopback (Debian's etcd-server, through
// internal/etcdtest), one in-memory cloud (provider/fake) served to the
// controllers over loopback (internal/provrpc), and -controllers controller
// processes (this program again), which share -farms farms of
// -servers/-farms servers each through package cluster. Once the farms
// are shared out and every farm runs all its servers, it kills the
// controller owning the most farms with SIGKILL, and reports:
//
//   - takeover_ms: from the kill until the last of the dead controller's
//     farms was acted on (its cloud listed) by its new owner; at most two
//     lease TTLs (-ttl) is the target;
//   - double_actions: pairs of owners of one farm whose actions overlap in
//     time, from the action log every controller writes (each cloud call
//     stamped with the controller and its ownership's revision);
//
// and checks that the farms settle back with every server running and none
// launched twice, and that their state is in etcd (each farm's Store is an
// etcdstore fenced by its ownership, so a new owner resumes from it). It
// exits 1 when a check fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/farmhand/farmhand/cluster"
	"github.com/farmhand/farmhand/internal/actionlog"
	"github.com/farmhand/farmhand/internal/etcdtest"
	"github.com/farmhand/farmhand/internal/provrpc"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
)

// config is what one run measures.
type config struct {
	controllers, farms, servers int
	ttl, tick                   time.Duration
	limit                       time.Duration // for the whole run
	verbose                     bool
}

// result is what a run found.
type result struct {
	takeover      time.Duration
	doubles       []actionlog.Double
	moved         int // farms of the killed controller
	launched      int // servers ever launched
	running       int // servers running at the end
	actions       int
	stateKeys     int64 // the farms' records in etcd
	controllerOut []string
}

func (r result) line(c config) string {
	return fmt.Sprintf("ha controllers=%d farms=%d servers=%d takeover_ms=%d double_actions=%d",
		c.controllers, c.farms, r.running, r.takeover.Milliseconds(), len(r.doubles))
}

func main() {
	if os.Getenv(controllerEnv) != "" {
		os.Exit(controllerMain())
	}
	var c config
	flag.IntVar(&c.controllers, "controllers", 3, "controller processes")
	flag.IntVar(&c.farms, "farms", 60, "farms they share")
	flag.IntVar(&c.servers, "servers", 6000, "servers in all the farms")
	flag.DurationVar(&c.ttl, "ttl", 5*time.Second, "lease TTL of the controllers")
	flag.DurationVar(&c.tick, "tick", time.Second, "each farm's reconciliation interval")
	flag.DurationVar(&c.limit, "limit", 5*time.Minute, "time limit of the whole run")
	flag.BoolVar(&c.verbose, "v", false, "print the controllers' events")
	flag.Parse()
	r, err := run(context.Background(), c)
	if c.verbose {
		for _, out := range r.controllerOut {
			fmt.Fprintln(os.Stderr, out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ha:", err)
		os.Exit(1)
	}
	fmt.Println(r.line(c))
	fmt.Printf("  moved_farms=%d launched=%d actions=%d state_keys=%d ttl_ms=%d\n", r.moved, r.launched, r.actions, r.stateKeys, c.ttl.Milliseconds())
	if len(r.doubles) > 0 || r.takeover > 2*c.ttl {
		for _, d := range r.doubles {
			fmt.Fprintln(os.Stderr, "double action:", d)
		}
		os.Exit(1)
	}
}

// controller is one controller process.
type controller struct {
	id, log, out string
	cmd          *exec.Cmd
	done         chan struct{}
}

func run(ctx context.Context, c config) (result, error) {
	var r result
	if c.controllers < 2 || c.farms < 1 || c.servers < c.farms || c.servers%c.farms != 0 {
		return r, fmt.Errorf("need at least 2 controllers and servers a multiple of farms: %+v", c)
	}
	if !etcdtest.Available() {
		return r, fmt.Errorf("%s is not installed (apt-get install etcd-server)", etcdtest.Binary)
	}
	ctx, cancel := context.WithTimeout(ctx, c.limit)
	defer cancel()
	dir, err := os.MkdirTemp("", "bench-ha-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	srv, err := etcdtest.Launch(ctx, dir)
	if err != nil {
		return r, err
	}
	defer srv.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		return r, err
	}
	defer cli.Close()

	cloud := fake.New(fake.Options{BootTime: 500 * time.Millisecond, PageSize: 500})
	defer cloud.Close()
	served, err := provrpc.Serve(cloud)
	if err != nil {
		return r, err
	}
	defer served.Close()

	perFarm := c.servers / c.farms
	var ctls []*controller
	defer func() {
		for _, k := range ctls {
			_ = k.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-k.done:
			case <-time.After(10 * time.Second):
				_ = k.cmd.Process.Kill()
				<-k.done
			}
		}
	}()
	for i := 1; i <= c.controllers; i++ {
		k := &controller{id: "c" + strconv.Itoa(i), log: filepath.Join(dir, fmt.Sprintf("c%d.actions", i)),
			out: filepath.Join(dir, fmt.Sprintf("c%d.out", i)), done: make(chan struct{})}
		out, err := os.Create(k.out)
		if err != nil {
			return r, err
		}
		k.cmd = exec.Command(os.Args[0], "-test.run=^$")
		k.cmd.Env = append(os.Environ(), controllerEnv+"=1", "HA_ID="+k.id, "HA_LOG="+k.log,
			"HA_FARMS="+strconv.Itoa(c.farms), "HA_PER_FARM="+strconv.Itoa(perFarm),
			"HA_TTL="+c.ttl.String(), "HA_TICK="+c.tick.String(),
			"HA_ETCD="+srv.Endpoint, "HA_CLOUD="+served.Addr())
		k.cmd.Stdout, k.cmd.Stderr = out, out
		err = k.cmd.Start()
		out.Close()
		if err != nil {
			return r, err
		}
		go func() { _ = k.cmd.Wait(); close(k.done) }()
		ctls = append(ctls, k)
	}
	defer func() {
		for _, k := range ctls {
			b, _ := os.ReadFile(k.out)
			r.controllerOut = append(r.controllerOut, "== "+k.id+"\n"+string(b))
		}
	}()

	ids := make([]string, len(ctls))
	for i, k := range ctls {
		ids[i] = k.id
	}
	// Steady state: each farm owned by its rendezvous owner among all
	// controllers (a controller that joined last gets its farms once it
	// has been live for the settle time), and every server running.
	for {
		owners, err := readOwners(ctx, cli)
		if err != nil {
			return r, err
		}
		balanced := true
		for i := 0; i < c.farms; i++ {
			if owners[farmName(i)] != cluster.Owner(ids, farmName(i)) {
				balanced = false
			}
		}
		if balanced {
			break
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return r, fmt.Errorf("farms not shared by rendezvous: %v: %w", owners, err)
		}
	}
	if err := waitAllRunning(ctx, cloud, c.farms, perFarm, ctls); err != nil {
		return r, fmt.Errorf("farms did not come up: %w", err)
	}
	// The victim is the controller with the most farms.
	owned := map[string][]string{}
	for i := 0; i < c.farms; i++ {
		o := cluster.Owner(ids, farmName(i))
		owned[o] = append(owned[o], farmName(i))
	}
	victim := ctls[0]
	for _, k := range ctls {
		if len(owned[k.id]) > len(owned[victim.id]) {
			victim = k
		}
	}
	moved := owned[victim.id]
	sort.Strings(moved)
	r.moved = len(moved)

	killed := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return r, err
	}
	<-victim.done

	// Takeover: each moved farm acted on by a live controller after the kill.
	var live []*controller
	var liveLogs []string
	for _, k := range ctls {
		if k != victim {
			live = append(live, k)
			liveLogs = append(liveLogs, k.log)
		}
	}
	for {
		acts, err := actionlog.ReadFiles(liveLogs...)
		if err != nil {
			return r, err
		}
		first := map[string]time.Time{}
		for _, a := range acts {
			if a.Start.After(killed) {
				if t, ok := first[a.Farm]; !ok || a.Start.Before(t) {
					first[a.Farm] = a.Start
				}
			}
		}
		var last time.Time
		all := true
		for _, f := range moved {
			t, ok := first[f]
			if !ok {
				all = false
				break
			}
			if t.After(last) {
				last = t
			}
		}
		if all {
			r.takeover = last.Sub(killed)
			break
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return r, fmt.Errorf("the killed controller's farms were not taken over: %w", err)
		}
	}

	// The farms settle: every server running, none launched twice.
	if err := waitAllRunning(ctx, cloud, c.farms, perFarm, live); err != nil {
		return r, fmt.Errorf("farms did not settle after the takeover: %w", err)
	}
	if err := sleep(ctx, 2*c.tick); err != nil {
		return r, err
	}
	r.launched = len(cloud.Servers())
	r.running = countRunning(ctx, cloud, c.farms)
	var logs []string
	for _, k := range ctls {
		logs = append(logs, k.log)
	}
	acts, err := actionlog.ReadFiles(logs...)
	if err != nil {
		return r, err
	}
	r.actions = len(acts)
	r.doubles = actionlog.Doubles(acts)
	keys, err := cli.Get(ctx, statePrefix+"farms/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return r, err
	}
	r.stateKeys = keys.Count
	if r.stateKeys < int64(c.farms) {
		return r, fmt.Errorf("%d records in etcd for %d farms: the farms do not write their state", r.stateKeys, c.farms)
	}
	if r.launched != c.servers {
		return r, fmt.Errorf("%d servers launched for %d wanted: a farm launched twice", r.launched, c.servers)
	}
	return r, nil
}

// waitAllRunning waits until every farm has perFarm running servers, and
// fails early when a controller process exits.
func waitAllRunning(ctx context.Context, cloud *fake.Provider, farms, perFarm int, ctls []*controller) error {
	for {
		if countRunning(ctx, cloud, farms) == farms*perFarm {
			return nil
		}
		for _, k := range ctls {
			select {
			case <-k.done:
				b, _ := os.ReadFile(k.out)
				return fmt.Errorf("controller %s exited: %s", k.id, lastLines(string(b), 10))
			default:
			}
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func countRunning(ctx context.Context, cloud *fake.Provider, farms int) int {
	n := 0
	for i := 0; i < farms; i++ {
		servers, err := provider.ListAll(ctx, cloud, map[string]string{provider.TagFarm: farmName(i)})
		if err != nil {
			return -1
		}
		for _, s := range servers {
			if s.State == provider.StateRunning {
				n++
			}
		}
	}
	return n
}

func readOwners(ctx context.Context, cli *clientv3.Client) (map[string]string, error) {
	resp, err := cli.Get(ctx, clusterPrefix+"owners/", clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), clusterPrefix+"owners/")] = string(kv.Value)
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
