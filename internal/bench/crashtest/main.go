// Command crashtest proves that a farm's controller loses nothing when it
// is killed: it runs the controller as a child process over a cloud that
// outlives it, kills it with SIGKILL at many points, restarts it on the
// same Store, and checks the farm after it converges.
//
//	go run ./internal/bench/crashtest
//	crashtest points=100 orphans=0 duplicates=0 masters_ok=100 lost_log=0
//
// The cloud is provider/fake, served to the controller over loopback
// (internal/provrpc) by this process, with a real SSH endpoint per server
// so that the farm's scripts really run; DNS is a real BIND 9 named
// (internal/bindtest) taking RFC 2136 updates signed with TSIG; the Store
// is one bbolt file (store/boltstore). The farm has a database role (two
// servers, a promote script, its master's DNS name) and an app role whose
// count the scaling API sets, with HostUp, BeforeHostTerminate and
// NewDBMaster scripts.
//
// Each point is one step of a cycle: launch the farm; scale app out to 4
// and in to 2 through the scaling API (the BeforeHostTerminate scripts
// run); crash the database master at the cloud (a failover with the
// promote script, the DNS move and the app's reconnect scripts); terminate
// the farm. The controller is killed after the k-th line of progress it
// prints (an event, a scripting log entry it acknowledged, the API call's
// answer), k varying from point to point, then restarted with the same
// goal until it converges, and the harness checks:
//
//   - orphans: servers with the farm's tag the cloud runs and the
//     controller does not account for;
//   - duplicates: two servers the cloud runs for one role and index;
//   - the count of each role: db 2, app the count last set through the API
//     (0 once terminated);
//   - masters_ok: points with exactly one database master, running, and
//     the master's DNS name at BIND on its address (after a terminate: no
//     server left to be master);
//   - lost_log: scripting log entries the controller had shown (and so
//     acknowledged) that the restarted controller's log lacks.
//
// It exits 1 when a check fails. -points sets N; the test of this package
// runs a short variant.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	if os.Getenv(childEnv) != "" {
		os.Exit(controllerMain())
	}
	var c config
	flag.IntVar(&c.points, "points", 100, "kill points (steps of the launch, scale-out, scale-in, failover, terminate cycle)")
	flag.IntVar(&c.shift, "shift", 0, "move every kill point by this many lines (another run, other points)")
	flag.DurationVar(&c.tick, "tick", 100*time.Millisecond, "the controller's reconciliation interval")
	flag.DurationVar(&c.limit, "limit", 30*time.Minute, "bound on the whole run")
	flag.BoolVar(&c.verbose, "v", false, "print each point")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), c.limit)
	defer cancel()
	r, err := run(ctx, c, os.Stderr)
	fmt.Println(r.line())
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
	if !r.ok() {
		os.Exit(1)
	}
}
