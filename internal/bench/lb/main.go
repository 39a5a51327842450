// Command lb runs a real HAProxy (the farm/roles preset) in front of real
// nginx app servers on the fake cloud, with a request loop through HAProxy
// while the farm scales out, scales in and replaces a crashed server, and
// prints
//
//	lb requests=N failed=F scale_events=M crash_failed=C fallbacks=R
//
// failed counts the requests that failed during the planned changes
// (target 0); crash_failed those around the crash.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/farmhand/farmhand/internal/lbtest"
)

func main() {
	verbose := flag.Bool("v", false, "print progress")
	kind := flag.String("kind", "haproxy", "the load balancer: haproxy or nginx")
	flag.Parse()
	if m := lbtest.Missing(); len(m) > 0 {
		fmt.Fprintf(os.Stderr, "lb: needs %s on the PATH (apt-get install -y haproxy nginx socat)\n", strings.Join(m, ", "))
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "bench-lb-")
	if err != nil {
		log.Fatal(err)
	}
	if os.Getenv("LB_KEEP") == "" {
		defer os.RemoveAll(dir)
	}
	fmt.Fprintln(os.Stderr, "dir", dir)
	o := lbtest.Options{Dir: dir, Kind: *kind}
	if *verbose {
		o.Log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := lbtest.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lb:", err)
		os.Exit(1)
	}
	fmt.Printf("lb requests=%d failed=%d scale_events=%d crash_failed=%d fallbacks=%d\n",
		res.Requests, res.PlannedFailed, res.ScaleEvents, res.CrashFailed, res.Fallbacks)
	for _, e := range res.Errors {
		fmt.Fprintln(os.Stderr, "lb: failed request:", e)
	}
	if res.PlannedFailed != 0 {
		os.Exit(1)
	}
}
