// Command observe measures reading the load average of many servers over
// SSH: on pooled connections (scripting.Pool), on a fresh connection per
// read (scripting.Executor), and with pdsh, against one real OpenSSH sshd
// on 127.0.0.1 that plays every host (farmhand dials it through
// sshdtest.Server.Dial, ssh through HostName 127.0.0.1).
//
//	go run ./internal/bench/observe
//
// It starts sshd as the tests do (internal/sshdtest), reads
// /proc/loadavg on N loopback addresses (127.0.1.1, 127.0.1.2, ...) all at
// once (Width in parallel), and prints
//
//	observe hosts=N pooled_ms=P fresh_ms=F pdsh_ms=D
//
// where each figure is the median wall time of one sweep over all hosts:
// pooled sweeps run on connections a first sweep opened (as a controller
// reading its servers every few seconds does), fresh sweeps open and close
// one connection per host, and pdsh ("pdsh -R ssh", when installed; -1
// otherwise) uses the key exchange farmhand negotiated. Pooled sweeps read
// the file over the SFTP session each pooled connection keeps
// (scripting.Pool.ReadFile); a second line gives pooled/fresh, the median
// of pooled sweeps that run cat in a session instead (Pool.Output), and the
// pool's dial and reuse counts. Every sweep must read
// every host, or the command fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"

	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/scripting"
)

const command = "cat /proc/loadavg"

func main() {
	hosts := flag.Int("hosts", 200, "number of loopback hosts (127.0.1.1 ...)")
	width := flag.Int("width", 200, "reads in parallel")
	sweeps := flag.Int("sweeps", 5, "sweeps of each kind (the median is printed)")
	runPdsh := flag.Bool("pdsh", true, "also run pdsh when it is installed")
	flag.Parse()
	if err := run(*hosts, *width, *sweeps, *runPdsh); err != nil {
		fmt.Fprintln(os.Stderr, "observe:", err)
		os.Exit(1)
	}
}

func run(hosts, width, sweeps int, runPdsh bool) error {
	if hosts < 1 || hosts > 250*250 {
		return fmt.Errorf("-hosts %d: want 1 to 62500", hosts)
	}
	if width < 1 || sweeps < 1 {
		return fmt.Errorf("-width %d -sweeps %d: want at least 1 each", width, sweeps)
	}
	if !sshdtest.Available() {
		return fmt.Errorf("%s is not installed (apt-get install openssh-server)", sshdtest.Binary)
	}
	dir, err := os.MkdirTemp("", "farmhand-observe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	srv, err := sshdtest.Launch(ctx, dir, nil)
	if err != nil {
		return err
	}
	defer srv.Close()

	hk, err := scripting.NewHostKeys(nil)
	if err != nil {
		return err
	}
	addrs := make([]string, hosts)
	targets := make([]scripting.Target, hosts)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250)
		addr := net.JoinHostPort(addrs[i], strconv.Itoa(srv.Port))
		hk.Pin(addr, srv.HostKeys...)
		targets[i] = scripting.Target{Addr: addr, User: srv.User, ServerID: fmt.Sprint("i-", i+1)}
	}
	e, err := scripting.NewExecutor(scripting.ExecutorOptions{
		Signers: []ssh.Signer{srv.ClientSigner}, HostKeys: hk, DialTimeout: 30 * time.Second, Dial: srv.Dial,
	})
	if err != nil {
		return err
	}
	pool := scripting.NewPool(e, &scripting.PoolOptions{MaxConns: hosts, SessionsPerConn: 4})
	defer pool.Close()

	var kex atomic.Value
	kex.Store("")
	pooled := func(ctx context.Context, t scripting.Target) error {
		out, err := pool.ReadFile(ctx, t, "/proc/loadavg")
		return checkLoadavg(t, out, err)
	}
	pooledExec := func(ctx context.Context, t scripting.Target) error {
		out, err := pool.Output(ctx, t, command)
		return checkLoadavg(t, out, err)
	}
	fresh := func(ctx context.Context, t scripting.Target) error {
		r := e.Run(ctx, t, scripting.Job{Script: scripting.Script{Name: "loadavg", Body: command}, Timeout: time.Minute})
		if r.OK() {
			kex.Store(r.KeyExchange)
		}
		var err error
		if !r.OK() {
			err = fmt.Errorf("%s: %v %s", r.Status(), r.Err, r.Stderr)
		}
		return checkLoadavg(t, []byte(r.Stdout), err)
	}
	// The first pooled sweep opens the connections.
	if _, err := sweep(ctx, targets, width, pooled); err != nil {
		return fmt.Errorf("opening the pool: %w", err)
	}
	var pooledTimes, execTimes, freshTimes, pdshTimes []time.Duration
	for range sweeps {
		d, err := sweep(ctx, targets, width, pooled)
		if err != nil {
			return fmt.Errorf("pooled sweep: %w", err)
		}
		pooledTimes = append(pooledTimes, d)
		if d, err = sweep(ctx, targets, width, pooledExec); err != nil {
			return fmt.Errorf("pooled exec sweep: %w", err)
		}
		execTimes = append(execTimes, d)
		if d, err = sweep(ctx, targets, width, fresh); err != nil {
			return fmt.Errorf("fresh sweep: %w", err)
		}
		freshTimes = append(freshTimes, d)
	}
	pdshMS := int64(-1)
	if p, err := exec.LookPath("pdsh"); err == nil && runPdsh {
		for range sweeps {
			d, err := runPdshSweep(p, srv, dir, addrs, width, kex.Load().(string))
			if err != nil {
				return err
			}
			pdshTimes = append(pdshTimes, d)
		}
		pdshMS = median(pdshTimes).Milliseconds()
	} else if runPdsh {
		fmt.Fprintln(os.Stderr, "pdsh not installed: pdsh_ms=-1")
	}
	pm, fm := median(pooledTimes), median(freshTimes)
	fmt.Printf("observe hosts=%d pooled_ms=%d fresh_ms=%d pdsh_ms=%d\n", hosts, pm.Milliseconds(), fm.Milliseconds(), pdshMS)
	st := pool.Stats()
	fmt.Printf("pooled/fresh=%.3f (target <= 0.1) pooled_exec_ms=%d kex=%s width=%d sweeps=%d pool dials=%d reuses=%d open=%d\n",
		float64(pm)/float64(fm), median(execTimes).Milliseconds(), kex.Load(), width, sweeps, st.Dials, st.Reuses, st.Open)
	return nil
}

// sweep reads every target, width at a time, and returns the wall time.
func sweep(ctx context.Context, targets []scripting.Target, width int, read func(context.Context, scripting.Target) error) (time.Duration, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(width)
	start := time.Now()
	for _, t := range targets {
		g.Go(func() error { return read(gctx, t) })
	}
	err := g.Wait()
	return time.Since(start), err
}

func checkLoadavg(t scripting.Target, out []byte, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", t.Addr, err)
	}
	if len(strings.Fields(string(out))) != 5 {
		return fmt.Errorf("%s: /proc/loadavg read %q", t.Addr, out)
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// runPdshSweep reads every host's load average with pdsh over OpenSSH.
func runPdshSweep(pdsh string, srv *sshdtest.Server, dir string, addrs []string, width int, kex string) (time.Duration, error) {
	cfgPath, err := srv.WriteSSHConfig(dir, addrs)
	if err != nil {
		return 0, err
	}
	args := "-F " + cfgPath
	if kex != "" {
		args += " -o KexAlgorithms=" + kex
	}
	cmd := exec.Command(pdsh, "-R", "ssh", "-f", strconv.Itoa(width), "-w", strings.Join(addrs, ","), command)
	cmd.Env = append(os.Environ(), "PDSH_SSH_ARGS_APPEND="+args, "PDSH_RCMD_TYPE=ssh")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	read := map[string]bool{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if host, text, ok := strings.Cut(sc.Text(), ": "); ok && len(strings.Fields(text)) == 5 {
			read[host] = true
		}
	}
	if len(read) < len(addrs) {
		first, _, _ := strings.Cut(stderr.String(), "\n")
		return 0, fmt.Errorf("pdsh read %d of %d hosts (%v): %s", len(read), len(addrs), runErr, first)
	}
	return wall, nil
}
