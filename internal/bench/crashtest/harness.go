package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/internal/bindtest"
	"github.com/farmhand/farmhand/internal/provrpc"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// config is one run.
type config struct {
	points  int
	shift   int // moves every kill point by this many lines
	tick    time.Duration
	limit   time.Duration
	verbose bool
}

// result is what a run found.
type result struct {
	points, late              int // kills; of them, after the step had converged
	orphans, duplicates, lost int
	mastersOK                 int
	failures                  []string
}

func (r result) line() string {
	return fmt.Sprintf("crashtest points=%d orphans=%d duplicates=%d masters_ok=%d lost_log=%d",
		r.points, r.orphans, r.duplicates, r.mastersOK, r.lost)
}

func (r result) ok() bool {
	return len(r.failures) == 0 && r.orphans == 0 && r.duplicates == 0 && r.lost == 0 && r.mastersOK == r.points
}

// step is one point: a goal, and the line of progress the controller is
// killed after.
type step struct {
	goal   string
	api    int // the count the scaling API sets, 0 for none
	db     int // servers db must run after the step
	app    int // servers app must run after the step
	killAt int
}

// phases is the cycle of goals, with the number of progress lines a goal
// roughly takes (the kill points of a goal are spread over them).
var phases = []struct {
	goal     string
	api      int
	db, app  int
	progress int
}{
	{goalLaunch, 0, 2, 2, 18},
	{goalScaleOut, 4, 2, 4, 9},
	{goalScaleIn, 2, 2, 2, 6},
	{goalFailover, 0, 2, 2, 8},
	{goalTerminate, 0, 0, 0, 9},
}

func stepOf(i, shift int) step {
	ph := phases[i%len(phases)]
	cycle := i / len(phases)
	// 1, 1+7, 1+14, ... modulo the goal's length: every line in turn.
	k := 1 + (cycle*7+i%len(phases)+shift)%ph.progress
	return step{goal: ph.goal, api: ph.api, db: ph.db, app: ph.app, killAt: k}
}

// env is the parts that outlive the controller.
type env struct {
	dir   string
	cloud *fake.Provider
	rpc   *provrpc.Server
	bind  *bindtest.Server
	acked map[uint64]string // scripting log entries shown, by Seq
	log   io.Writer
	cfg   config
}

// run runs c.points points.
func run(ctx context.Context, c config, log io.Writer) (result, error) {
	var r result
	if !bindtest.Available() {
		return r, fmt.Errorf("%s is not installed (Debian package bind9)", bindtest.Binary)
	}
	dir, err := os.MkdirTemp("", "crashtest-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	e, err := start(ctx, dir, c, log)
	if err != nil {
		return r, err
	}
	defer e.close()
	for i := 0; i < c.points; i++ {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("after %d points: %w", i, err)
		}
		st := stepOf(i, c.shift)
		msg, late, err := e.point(ctx, st, &r)
		if err != nil {
			return r, fmt.Errorf("point %d (%s, kill after line %d): %w", i+1, st.goal, st.killAt, err)
		}
		r.points++
		if late {
			r.late++
		}
		if msg != "" {
			r.failures = append(r.failures, fmt.Sprintf("point %d (%s, kill after line %d): %s", i+1, st.goal, st.killAt, msg))
			fmt.Fprintln(log, r.failures[len(r.failures)-1])
			if len(r.failures) >= 3 {
				return r, errors.New("stopping after 3 failed points")
			}
		}
		if c.verbose {
			fmt.Fprintf(log, "point %d %s killed after line %d (late %v) %s\n", i+1, st.goal, st.killAt, late, r.line())
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "controller.stderr")); strings.Contains(string(data), "DATA RACE") || strings.Contains(string(data), "panic:") {
		r.failures = append(r.failures, "a controller reported a data race or a panic:\n"+e.tail())
	}
	fmt.Fprintf(log, "crashtest: %d of %d kills came before the step had converged; %d scripting log entries acknowledged\n", r.points-r.late, r.points, len(e.acked))
	return r, nil
}

func start(ctx context.Context, dir string, c config, log io.Writer) (*env, error) {
	e := &env{dir: dir, acked: map[uint64]string{}, log: log, cfg: c}
	if err := os.MkdirAll(filepath.Join(dir, "bind"), 0o700); err != nil {
		return nil, err
	}
	bind, err := bindtest.Launch(ctx, filepath.Join(dir, "bind"), &bindtest.Options{Zone: "crash.test.", SOAMinimum: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	e.bind = bind
	key, err := scripting.GenerateKey("crashtest")
	if err != nil {
		e.close()
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key.AuthorizedKey))
	if err != nil {
		e.close()
		return nil, err
	}
	e.cloud = fake.New(fake.Options{BootTime: 100 * time.Millisecond, Seed: 1,
		SSH: &fake.SSHOptions{Dir: filepath.Join(dir, "sandbox"), AuthorizedKeys: []ssh.PublicKey{pub}}})
	e.rpc, err = provrpc.Serve(e.cloud)
	if err != nil {
		e.close()
		return nil, err
	}
	k := bind.Keys[0]
	s := setup{
		Cloud: e.rpc.Addr(), DNS: bind.Addr, Zone: bind.Zone, KeyName: k.Name, KeyAlg: k.Algorithm,
		KeyFile: filepath.Join(dir, "tsig.secret"), SSHKey: filepath.Join(dir, "ssh_key"),
		StorePath: filepath.Join(dir, "farm.db"), Tick: c.tick.String(),
	}
	for path, data := range map[string][]byte{s.KeyFile: []byte(k.Secret), s.SSHKey: key.PrivateKeyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			e.close()
			return nil, err
		}
	}
	b, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "setup.json"), b, 0o600); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	if e.rpc != nil {
		e.rpc.Close()
	}
	if e.cloud != nil {
		e.cloud.Close()
	}
	if e.bind != nil {
		e.bind.Close()
	}
}

// child is one controller process.
type child struct {
	cmd   *exec.Cmd
	lines chan string
}

func (e *env) spawn(goal string, api int, master string, want int) (*child, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CRASHTEST_DIR="+e.dir, "CRASHTEST_GOAL="+goal, "CRASHTEST_OLD_MASTER="+master)
	if api > 0 {
		cmd.Env = append(cmd.Env, "CRASHTEST_API="+strconv.Itoa(api))
	}
	if want > 0 && goal != goalTerminate {
		cmd.Env = append(cmd.Env, "CRASHTEST_WANT="+strconv.Itoa(want))
	}
	stderr, err := os.OpenFile(filepath.Join(e.dir, "controller.stderr"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, lines: make(chan string, 1024)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c, nil
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	for range c.lines {
	}
	c.cmd.Wait()
}

// point runs one step: the controller toward the goal, killed after
// st.killAt lines of progress, then restarted until it converges; and
// checks the farm. It returns what a check found wrong ("" when nothing),
// and whether the kill came only after the step had converged.
func (e *env) point(ctx context.Context, st step, r *result) (string, bool, error) {
	prevMaster := e.master(ctx)
	c, err := e.spawn(st.goal, st.api, prevMaster, 0)
	if err != nil {
		return "", false, err
	}
	apiAcked, late, progress, ready := false, false, 0, false
	timeout := time.NewTimer(2 * time.Minute)
	defer timeout.Stop()
first:
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.kill()
				return "", false, fmt.Errorf("the controller exited before the kill:\n%s", e.tail())
			}
			switch {
			case line == "ready":
				ready = true
				if st.goal == goalFailover && prevMaster != "" {
					if err := e.cloud.Crash(prevMaster); err != nil {
						c.kill()
						return "", false, err
					}
				}
				continue
			case line == "converged":
				late = true
				break first
			case strings.HasPrefix(line, "log-ack "):
				e.ack(line)
			case strings.HasPrefix(line, "api-ack "):
				apiAcked = true
			}
			if ready {
				progress++
				if progress >= st.killAt {
					break first
				}
			}
		case <-timeout.C:
			c.kill()
			return "", false, fmt.Errorf("no progress line %d within 2 minutes:\n%s", st.killAt, e.tail())
		case <-ctx.Done():
			c.kill()
			return "", false, ctx.Err()
		}
	}
	c.kill() // SIGKILL: no deferred call, no flush, no Close runs

	api := st.api
	if apiAcked {
		api = 0 // the count must come from the Store now
	}
	c, err = e.spawn(st.goal, api, prevMaster, st.app)
	if err != nil {
		return "", late, err
	}
	defer c.kill()
	var rep report
	timeout.Reset(3 * time.Minute)
	for got := false; !got; {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return "", late, fmt.Errorf("the restarted controller exited before converging:\n%s", e.tail())
			}
			switch {
			case strings.HasPrefix(line, "log-ack "):
				e.ack(line)
			case strings.HasPrefix(line, "report "):
				if err := json.Unmarshal([]byte(line[len("report "):]), &rep); err != nil {
					return "", late, err
				}
				got = true
			}
		case <-timeout.C:
			return "", late, fmt.Errorf("the restarted controller did not converge within 3 minutes:\n%s", e.tail())
		case <-ctx.Done():
			return "", late, ctx.Err()
		}
	}
	return e.check(ctx, st, rep, r), late, nil
}

func (e *env) ack(line string) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err == nil {
		e.acked[seq] = f[2]
	}
}

// check compares the controller's report with the cloud and BIND.
func (e *env) check(ctx context.Context, st step, rep report, r *result) string {
	var problems []string
	live := map[string]provider.Server{}
	for _, s := range e.cloud.Servers() {
		if s.Tags[provider.TagFarm] == farmName && !s.State.Gone() {
			live[s.ID] = s
		}
	}
	known := map[string]reportServer{}
	for _, s := range rep.Servers {
		known[s.ID] = s
	}
	for id, s := range live {
		if _, ok := known[id]; !ok {
			r.orphans++
			problems = append(problems, fmt.Sprintf("orphan %s (%s, %s)", id, s.Tags[provider.TagRole], s.State))
		}
	}
	count := map[string]int{}
	slots := map[string]int{}
	var masters []reportServer
	for _, s := range rep.Servers {
		if _, ok := live[s.ID]; !ok {
			problems = append(problems, fmt.Sprintf("the controller knows %s (%s), which the cloud does not run", s.ID, s.State))
			continue
		}
		count[s.Role]++
		slot := fmt.Sprintf("%s/%d", s.Role, s.Index)
		if slots[slot]++; slots[slot] > 1 {
			r.duplicates++
			problems = append(problems, "two servers for "+slot)
		}
		if s.Master {
			masters = append(masters, s)
		}
	}
	if count["db"] != st.db || count["app"] != st.app {
		problems = append(problems, fmt.Sprintf("db runs %d, app %d; want %d and %d", count["db"], count["app"], st.db, st.app))
	}
	if st.goal != goalTerminate && rep.AppWant != st.app {
		problems = append(problems, fmt.Sprintf("app desired %d, want %d", rep.AppWant, st.app))
	}
	mastersOK := false
	if st.goal == goalTerminate {
		mastersOK = len(masters) == 0 && count["db"] == 0
	} else if len(masters) == 1 {
		vals, _, err := e.bind.Values(ctx, dbName, dns.TypeA)
		mastersOK = err == nil && slices.Equal(vals, []string{masters[0].IP})
		if !mastersOK {
			problems = append(problems, fmt.Sprintf("%s = %v (%v), the master %s is at %s", dbName, vals, err, masters[0].ID, masters[0].IP))
		}
	} else {
		problems = append(problems, fmt.Sprintf("%d database masters", len(masters)))
	}
	if mastersOK {
		r.mastersOK++
	}
	for _, seq := range sortedSeqs(e.acked) {
		if rep.Log[seq] != e.acked[seq] {
			r.lost++
			problems = append(problems, fmt.Sprintf("acknowledged log entry %d lost", seq))
		}
	}
	return strings.Join(problems, "; ")
}

func sortedSeqs(m map[uint64]string) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// master returns the database master the cloud runs, as the last report
// named it: the server of role db whose DNS name points at it.
func (e *env) master(ctx context.Context) string {
	vals, _, err := e.bind.Values(ctx, dbName, dns.TypeA)
	if err != nil || len(vals) != 1 {
		return ""
	}
	for _, s := range e.cloud.Servers() {
		if s.Tags[provider.TagRole] == "db" && !s.State.Gone() && s.PrivateIP == vals[0] {
			return s.ID
		}
	}
	return ""
}

// tail returns the end of the controllers' logs, for an error.
func (e *env) tail() string {
	var b strings.Builder
	for _, name := range []string{"controller.stderr", "controller.log"} {
		data, _ := os.ReadFile(filepath.Join(e.dir, name))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, data)
	}
	return b.String()
}
