// Command mariadb measures a MariaDB failover with the roles package's
// MariaDB preset and real parts: a farm of one master and two replicas on
// the fake cloud, each fake server running a real mariadbd bound to its own
// loopback address (started by the preset's scripts over the fake's SSH
// endpoints), the master's name in a real BIND, and a 1 s TCP health check.
//
//	go run ./internal/bench/mariadb [-rounds 1] [-warm 100]
//
// A writer commits numbered rows through the master's name (resolved at
// BIND at every connection, with go-sql-driver/mysql) while the master's
// mariadbd is SIGKILLed. After the failover it prints, per round,
//
//	dbfailover real=mariadb acked=N lost=L writes_resumed_ms=X detect_ms=D promote_ms=P dns_ms=V max_writable=W
//
// where acked counts the commits the writer saw acknowledged, lost those
// of them missing on the new master (target 0), writes_resumed_ms the time
// from the SIGKILL to the first commit acknowledged through the name after
// the writer saw the outage (target 5,000), detect_ms, promote_ms and dns_ms
// the farm's timeline from the kill (loss detected, replica promoted, name
// verified at BIND), and max_writable the most servers seen writable at
// once (target 1). It needs mariadb-server, mariadb-client, bind9 and
// bind9-dnsutils, and exits 1 when a round loses a row.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/farmhand/farmhand/internal/bindtest"
	"github.com/farmhand/farmhand/internal/mariadbtest"
)

func main() {
	rounds := flag.Int("rounds", 1, "failovers to measure, each on a fresh farm")
	warm := flag.Int("warm", 100, "rows acknowledged before the master is killed")
	flag.Parse()
	if _, err := os.Stat(mariadbtest.Mariadbd); err != nil || !bindtest.Available() {
		fmt.Fprintln(os.Stderr, "mariadb: needs mariadbd and named: apt-get install -y mariadb-server mariadb-client bind9 bind9-dnsutils")
		os.Exit(2)
	}
	failed := false
	for range *rounds {
		if err := round(*warm); err != nil {
			fmt.Fprintln(os.Stderr, "mariadb:", err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func round(warm int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := mariadbtest.StartFarm(ctx, mariadbtest.FarmOptions{})
	if err != nil {
		return err
	}
	defer r.Close()
	res, err := r.CrashMaster(ctx, warm)
	if err != nil {
		return err
	}
	fo := res.Failover
	// The farm runs on the real clock: its timeline compares with the
	// kill's time.
	killed := res.KilledAt
	ms := func(t time.Time) int64 {
		if t.IsZero() {
			return -1
		}
		return t.Sub(killed).Milliseconds()
	}
	fmt.Printf("dbfailover real=mariadb acked=%d lost=%d writes_resumed_ms=%d detect_ms=%d promote_ms=%d dns_ms=%d max_writable=%d\n",
		res.Acked, len(res.Lost), res.WritesResumed.Milliseconds(), ms(fo.Detected), ms(fo.Promoted), ms(fo.Verified), res.MaxWritable)
	if len(res.Lost) > 0 {
		return fmt.Errorf("lost acknowledged rows %v", res.Lost)
	}
	return nil
}
