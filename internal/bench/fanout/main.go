// Command fanout measures farmhand's SSH fan-out against pdsh on one real
// OpenSSH sshd on 127.0.0.1 that plays N hosts at N loopback addresses:
// both clients address each host by its own address (host keys are pinned
// per address) and connect to the one sshd (farmhand through
// sshdtest.Server.Dial, ssh through HostName 127.0.0.1). The program dials
// loopback only, and fails if anything tries otherwise.
//
//	go run ./internal/bench/fanout -hosts 200 -width 200
//
// It starts sshd as the tests do (internal/sshdtest), runs
//
//	echo "I am a %role_name%"; cat /proc/loadavg
//
// on N loopback addresses (127.0.1.1, 127.0.1.2, ...) through
// scripting.Executor.RunMany and prints
//
//	fanout hosts=N ok=K width=W kex=ALG wall_ms=X cpu_ms=Y
//
// where ALG is the key exchange farmhand negotiated (x/crypto/ssh's default
// preference, untouched) and cpu_ms is this process's user+system CPU
// during the fan-out. Where pdsh is installed it then runs
// "pdsh -R ssh -f W" on the same hosts against the same sshd, with ssh told
// to use the same key exchange, and prints
//
//	pdsh hosts=N ok=K width=W kex=ALG wall_ms=X cpu_ms=Y
//
// where ok counts hosts whose output came back complete and cpu_ms is pdsh's
// and all its ssh children's CPU. A last line gives farmhand/pdsh ratios.
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
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/internal/netguard"
	"github.com/farmhand/farmhand/internal/sshdtest"
	"github.com/farmhand/farmhand/scripting"
)

const role = "app"

func main() {
	hosts := flag.Int("hosts", 200, "number of loopback hosts (127.0.1.1 ...)")
	width := flag.Int("width", 200, "fan-out width (parallel connections)")
	runPdsh := flag.Bool("pdsh", true, "also run pdsh when it is installed")
	runs := flag.Int("runs", 1, "repeat farmhand and pdsh this many times (alternating) and report the median ratios")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the farmhand fan-out to this file")
	flag.Parse()
	profilePath = *cpuProfile
	guard := netguard.LoopbackOnly()
	err := run(*hosts, *width, *runs, *runPdsh)
	if err == nil {
		err = guard.Err()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func run(hosts, width, runs int, runPdsh bool) error {
	if hosts < 1 || hosts > 250*250 {
		return fmt.Errorf("-hosts %d: want 1 to 62500", hosts)
	}
	if !sshdtest.Available() {
		return fmt.Errorf("%s is not installed (apt-get install openssh-server)", sshdtest.Binary)
	}
	dir, err := os.MkdirTemp("", "farmhand-bench-")
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

	addrs := make([]string, hosts)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250)
	}

	pdsh := ""
	if runPdsh {
		if p, err := exec.LookPath("pdsh"); err == nil {
			pdsh = p
		} else {
			fmt.Println("pdsh not installed: skipped")
		}
	}
	var wallRatios, cpuRatios []float64
	for range max(runs, 1) {
		kex, err := runFarmhand(ctx, srv, addrs, width)
		if err != nil {
			return err
		}
		if pdsh == "" {
			continue
		}
		w, c, err := runPdshBench(pdsh, srv, dir, addrs, width, kex)
		if err != nil {
			return err
		}
		wallRatios, cpuRatios = append(wallRatios, w), append(cpuRatios, c)
	}
	if len(wallRatios) > 1 {
		fmt.Printf("median of %d runs farmhand/pdsh wall=%.2f cpu=%.3f\n", len(wallRatios), median(wallRatios), median(cpuRatios))
	}
	return nil
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

var (
	farmhandWall, farmhandCPU time.Duration
	sshdFarmhand              time.Duration
	profilePath               string
)

func runFarmhand(ctx context.Context, srv *sshdtest.Server, addrs []string, width int) (string, error) {
	hk, err := scripting.NewHostKeys(nil)
	if err != nil {
		return "", err
	}
	targets := make([]scripting.Target, len(addrs))
	for i, a := range addrs {
		addr := net.JoinHostPort(a, strconv.Itoa(srv.Port))
		hk.Pin(addr, srv.HostKeys...)
		targets[i] = scripting.Target{
			Addr: addr, User: srv.User, ServerID: fmt.Sprint("i-", i+1), Role: role,
			Vars: scripting.ServerVars(scripting.FarmInfo{ID: "bench", Name: "bench"}, scripting.ServerInfo{
				ID: fmt.Sprint("i-", i+1), Role: role, Index: i + 1, InternalIP: a,
			}),
		}
	}
	e, err := scripting.NewExecutor(scripting.ExecutorOptions{
		Signers: []ssh.Signer{srv.ClientSigner}, HostKeys: hk, DialTimeout: 30 * time.Second, Dial: srv.Dial,
	})
	if err != nil {
		return "", err
	}
	job := scripting.Job{
		Script:  scripting.Script{Name: "bench", Version: 1, Body: `echo "I am a %role_name%"; cat /proc/loadavg`},
		Timeout: time.Minute,
	}
	kex := ""
	var firstErr error
	if profilePath != "" {
		f, err := os.Create(profilePath)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return "", err
		}
		defer pprof.StopCPUProfile()
	}
	sshd0, _ := srv.CPU()
	cpu0 := cpuSelf()
	start := time.Now()
	sum, err := e.RunMany(ctx, targets, job, &scripting.FanOutOptions{Width: width, OnResult: func(r scripting.Result) {
		if r.OK() && kex == "" {
			kex = r.KeyExchange
		}
		if !r.OK() && firstErr == nil {
			firstErr = fmt.Errorf("%s: %s: %v %s", r.Target.Addr, r.Status(), r.Err, r.Stderr)
		}
	}})
	wall := time.Since(start)
	cpu := cpuSelf() - cpu0
	sshd1, _ := srv.CPU()
	if err != nil {
		return "", err
	}
	sshdFarmhand = sshd1 - sshd0
	farmhandWall, farmhandCPU = wall, cpu
	fmt.Printf("fanout hosts=%d ok=%d width=%d kex=%s wall_ms=%d cpu_ms=%d\n", len(addrs), sum.OK, width, kex, wall.Milliseconds(), cpu.Milliseconds())
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "first failure:", firstErr)
	}
	if kex == "" {
		return "", fmt.Errorf("no host succeeded, so the key exchange is unknown")
	}
	return kex, nil
}

// runPdshBench runs pdsh and returns farmhand/pdsh ratios of wall time and
// client CPU.
func runPdshBench(pdsh string, srv *sshdtest.Server, dir string, addrs []string, width int, kex string) (wallRatio, cpuRatio float64, err error) {
	cfgPath, err := srv.WriteSSHConfig(dir, addrs)
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.Command(pdsh, "-R", "ssh", "-f", strconv.Itoa(width), "-w", strings.Join(addrs, ","),
		fmt.Sprintf(`echo "I am a %s"; cat /proc/loadavg`, role))
	cmd.Env = append(os.Environ(),
		"PDSH_SSH_ARGS_APPEND=-F "+cfgPath+" -o KexAlgorithms="+kex,
		"PDSH_RCMD_TYPE=ssh")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	sshd0, _ := srv.CPU()
	cpu0 := cpuChildren()
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	cpu := cpuChildren() - cpu0
	sshd1, _ := srv.CPU()
	sshdPdsh := sshd1 - sshd0

	// A host is ok when both lines of its output came back.
	greeted, loadavg := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		host, text, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch {
		case text == "I am a "+role:
			greeted[host] = true
		case len(strings.Fields(text)) == 5:
			loadavg[host] = true
		}
	}
	ok := 0
	for _, a := range addrs {
		if greeted[a] && loadavg[a] {
			ok++
		}
	}
	fmt.Printf("pdsh hosts=%d ok=%d width=%d kex=%s wall_ms=%d cpu_ms=%d\n", len(addrs), ok, width, kex, wall.Milliseconds(), cpu.Milliseconds())
	if ok < len(addrs) {
		first, _, _ := strings.Cut(stderr.String(), "\n")
		fmt.Fprintf(os.Stderr, "pdsh: %v; first error line: %s\n", runErr, first)
	}
	if wall > 0 && cpu > 0 {
		wallRatio, cpuRatio = float64(farmhandWall)/float64(wall), float64(farmhandCPU)/float64(cpu)
		fmt.Printf("ratio farmhand/pdsh wall=%.2f cpu=%.3f (sshd cpu_ms: %d serving farmhand, %d serving pdsh)\n",
			wallRatio, cpuRatio, sshdFarmhand.Milliseconds(), sshdPdsh.Milliseconds())
	}
	return wallRatio, cpuRatio, nil
}

func cpuSelf() time.Duration     { return rusage(syscall.RUSAGE_SELF) }
func cpuChildren() time.Duration { return rusage(syscall.RUSAGE_CHILDREN) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
