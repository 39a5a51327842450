package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/farmhand/farmhand/cluster"
	"github.com/farmhand/farmhand/internal/actionlog"
)

// Three controller processes share 24 farms; one is killed with SIGKILL.
// Its farms must be owned by the others within two lease TTLs, every farm
// by exactly one live controller, and no farm acted on by two controllers
// in overlapping time.
func TestKilledControllerProcessFarmsMoveWithoutDoubleAction(t *testing.T) {
	srv := etcd.Get(t)
	cli := newClient(t, srv)
	pfx := prefix(t)
	farms := make([]string, 24)
	for i := range farms {
		farms[i] = fmt.Sprintf("farm%02d", i)
	}
	ids := []string{"c1", "c2", "c3"}
	var kids []*child
	for _, id := range ids {
		kids = append(kids, startChild(t, srv.Endpoint, pfx, id, farms))
	}
	wantOwner := func(live []string) func() bool {
		return func() bool {
			got := owners(t, cli, pfx)
			for _, f := range farms {
				if got[f] != cluster.Owner(live, f) {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 30*time.Second, "every farm owned by its rendezvous owner among c1, c2, c3", wantOwner(ids))
	time.Sleep(500 * time.Millisecond) // let every owner act a while

	victim := kids[0]
	before := owners(t, cli, pfx)
	killed := time.Now()
	victim.kill(t)
	live := ids[1:]
	waitFor(t, 2*testTTL+5*time.Second, "the killed controller's farms owned by c2 and c3", wantOwner(live))
	took := time.Since(killed)
	// Every moved farm acted on by its new owner.
	waitFor(t, 5*time.Second, "the new owners act on the moved farms", func() bool {
		acts, err := actionlog.ReadFiles(kids[1].log, kids[2].log)
		if err != nil {
			t.Fatal(err)
		}
		acted := map[string]bool{}
		for _, a := range acts {
			if a.Start.After(killed) {
				acted[a.Farm] = true
			}
		}
		for f, o := range before {
			if o == victim.id && !acted[f] {
				return false
			}
		}
		return true
	})
	t.Logf("farms of the killed controller owned again after %v (TTL %v)", took, testTTL)
	if took > 2*testTTL {
		t.Errorf("takeover took %v, more than two TTLs (%v)", took, 2*testTTL)
	}
	time.Sleep(300 * time.Millisecond)

	acts, err := actionlog.ReadFiles(kids[0].log, kids[1].log, kids[2].log)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) < len(farms)*10 {
		t.Fatalf("only %d actions recorded", len(acts))
	}
	for _, d := range actionlog.Doubles(acts) {
		t.Errorf("double action: %v", d)
	}
}

// A controller process stopped with SIGSTOP (a long pause: GC, a frozen
// VM) loses its lease while it cannot run. The others take its farms; once
// it runs again it must start no action on them, and its fenced writes
// must be refused.
func TestPausedControllerStartsNoActionAfterTakeover(t *testing.T) {
	srv := etcd.Get(t)
	cli := newClient(t, srv)
	pfx := prefix(t)
	farms := make([]string, 12)
	for i := range farms {
		farms[i] = fmt.Sprintf("farm%02d", i)
	}
	ids := []string{"c1", "c2"}
	kids := []*child{startChild(t, srv.Endpoint, pfx, "c1", farms), startChild(t, srv.Endpoint, pfx, "c2", farms)}
	waitFor(t, 30*time.Second, "every farm owned", func() bool {
		got := owners(t, cli, pfx)
		for _, f := range farms {
			if got[f] != cluster.Owner(ids, f) {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond)
	paused := kids[0]
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*testTTL+5*time.Second, "c2 owns every farm while c1 is paused", func() bool {
		got := owners(t, cli, pfx)
		for _, f := range farms {
			if got[f] != "c2" {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond)
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "c1 reports that it lost its lease", func() bool {
		b, _ := os.ReadFile(paused.out)
		return strings.Contains(string(b), "LeaseExpired") || strings.Contains(string(b), "LeaseLost")
	})
	time.Sleep(500 * time.Millisecond)

	acts, err := actionlog.ReadFiles(kids[0].log, kids[1].log)
	if err != nil {
		t.Fatal(err)
	}
	// The first action of c2 on each farm it took from c1.
	took := map[string]actionlog.Action{}
	for _, a := range acts {
		if a.Member == "c2" && cluster.Owner(ids, a.Farm) == "c1" {
			if s, ok := took[a.Farm]; !ok || a.Start.Before(s.Start) {
				took[a.Farm] = a
			}
		}
	}
	if len(took) == 0 {
		t.Fatal("c2 never acted on a farm of c1")
	}
	// c1 may own a farm again later (under a newer revision), but under
	// its old one it must start nothing once c2 started.
	for _, a := range acts {
		if s, ok := took[a.Farm]; ok && a.Member == "c1" && a.Epoch < s.Epoch && a.Start.After(s.Start) {
			t.Errorf("c1 started an action on %s at %s under revision %d, after c2 took it at %s under %d", a.Farm, a.Start, a.Epoch, s.Start, s.Epoch)
		}
	}
	for _, d := range actionlog.Doubles(acts) {
		t.Logf("overlap (a pause in the middle of an action): %v", d)
	}
	// No state write of c1 got through after c2 took over: the state
	// keys of c2's farms say c2 (or were written by c1 again only once it
	// owned the farm again).
	ctx := context.Background()
	resp, err := cli.Get(ctx, pfx+"state/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	own := owners(t, cli, pfx)
	for _, kv := range resp.Kvs {
		farm := strings.TrimPrefix(string(kv.Key), pfx+"state/")
		if string(kv.Value) != own[farm] {
			t.Errorf("state of %s written by %s, owned by %s", farm, kv.Value, own[farm])
		}
	}
}
