package scaling

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRunner answers ProcCommand with a fixed output or error per server.
type fakeRunner struct {
	out   map[string][]byte
	err   map[string]error
	block map[string]bool // block until ctx ends

	mu       sync.Mutex
	commands []string
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func (f *fakeRunner) Run(ctx context.Context, id, command string) ([]byte, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.commands = append(f.commands, id+": "+command)
	f.mu.Unlock()
	if f.block[id] {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	time.Sleep(time.Millisecond) // let the fan-out overlap
	if err := f.err[id]; err != nil {
		return nil, err
	}
	out, ok := f.out[id]
	if !ok {
		return nil, errors.New("no such server")
	}
	return out, nil
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/proc/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestProcSource(t *testing.T) {
	debian := readTestdata(t, "debian12.txt")
	centos := readTestdata(t, "centos6.txt")
	runner := &fakeRunner{
		out: map[string][]byte{
			"deb": debian,
			"old": centos,
			"bad": []byte("bash: cat: command not found\n"),
		},
		err: map[string]error{"down": errors.New("ssh: handshake failed: EOF")},
	}
	src := &Proc{Runner: runner, Clock: nil}
	tgt := Target{Role: "app", Servers: []Server{{ID: "deb"}, {ID: "old"}, {ID: "bad"}, {ID: "down"}}}
	samples, err := src.Sample(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]Sample)
	for _, s := range samples {
		got[s.Metric] = s
	}
	if len(got) != 4 {
		t.Fatalf("%d metrics, want load1/5/15 and free RAM", len(got))
	}
	wantDebian := parseFirstLoad(t, debian)
	l1 := got[MetricLoad1]
	if l1.Scope != PerServer || !near(l1.PerServer["deb"], wantDebian[0]) || !near(l1.PerServer["old"], 0.08) {
		t.Errorf("load1 %+v", l1.PerServer)
	}
	if !near(got[MetricLoad5].PerServer["old"], 0.03) || !near(got[MetricLoad15].PerServer["old"], 0.05) ||
		!near(got[MetricLoad15].PerServer["deb"], wantDebian[2]) {
		t.Errorf("load5 %+v load15 %+v", got[MetricLoad5].PerServer, got[MetricLoad15].PerServer)
	}
	free := got[MetricFreeRAM].PerServer
	if want := float64(301648+140944+971560) / 1024; !near(free["old"], want) {
		t.Errorf("free RAM without MemAvailable: %v MiB, want MemFree+Buffers+Cached %v", free["old"], want)
	}
	if want := memAvailableMiB(t, debian); !near(free["deb"], want) {
		t.Errorf("free RAM %v MiB, want MemAvailable %v", free["deb"], want)
	}
	for _, m := range []string{MetricLoad1, MetricFreeRAM} {
		s := got[m]
		if _, ok := s.PerServer["bad"]; ok {
			t.Errorf("%s: unreadable output gave a value", m)
		}
		if err := s.Missing["bad"]; err == nil || !strings.Contains(err.Error(), "no /proc/loadavg line") {
			t.Errorf("%s: bad server missing error %v", m, err)
		}
		if err := s.Missing["down"]; err == nil || !strings.Contains(err.Error(), "handshake failed") {
			t.Errorf("%s: unreachable server missing error %v", m, err)
		}
	}
	for _, c := range runner.commands {
		if !strings.HasSuffix(c, ": "+ProcCommand) {
			t.Errorf("ran %q", c)
		}
	}

	// Decide sees the failures as missing data: the low average must not
	// shrink the role.
	in := Input{Policy: loadPolicy(), Now: l1.Time, Current: 4, Servers: tgt.Servers, Metrics: metrics(samples...)}
	in.Metrics[MetricLoad1] = Sample{Metric: MetricLoad1, Time: l1.Time, Scope: PerServer,
		PerServer: map[string]float64{"deb": 0.1, "old": 0.1}, Missing: l1.Missing}
	if d := Decide(in); d.Action != None || !strings.Contains(d.Reason, "scale-in blocked") {
		t.Errorf("decision on partial data: %s (%s)", d.Action, d.Reason)
	}
}

func parseFirstLoad(t *testing.T, out []byte) [3]float64 {
	t.Helper()
	l, ok := parseLoadavg(strings.SplitN(string(out), "\n", 2)[0])
	if !ok {
		t.Fatal("testdata loadavg line unreadable")
	}
	return l
}

func memAvailableMiB(t *testing.T, out []byte) float64 {
	t.Helper()
	for _, line := range strings.Split(string(out), "\n") {
		var kb float64
		if n, _ := fmt.Sscanf(line, "MemAvailable: %f kB", &kb); n == 1 {
			return kb / 1024
		}
	}
	t.Fatal("no MemAvailable in testdata")
	return 0
}

func TestParseProc(t *testing.T) {
	cases := []struct {
		name    string
		out     string
		load    [3]float64
		free    float64
		freeErr bool
		err     string
	}{
		{name: "loadavg then meminfo", out: "0.52 0.58 0.59 1/389 12345\nMemAvailable: 2048 kB\n", load: [3]float64{0.52, 0.58, 0.59}, free: 2},
		{name: "meminfo before loadavg", out: "MemAvailable: 1048576 kB\n1.00 2.00 3.00 4/5 6\n", load: [3]float64{1, 2, 3}, free: 1024},
		{name: "carriage returns are ignored", out: "0.10 0.20 0.30 1/2 3\r\nMemAvailable: 1024 kB\r\n", load: [3]float64{0.1, 0.2, 0.3}, free: 1},
		{name: "a login banner is ignored", out: "Welcome to Ubuntu 22.04.3 LTS\n1 2 3 of 4\n0.10 0.20 0.30 1/2 3\nMemAvailable: 1024 kB\n", load: [3]float64{0.1, 0.2, 0.3}, free: 1},
		{name: "loadavg alone leaves free RAM unknown", out: "0.10 0.20 0.30 1/2 3\n", load: [3]float64{0.1, 0.2, 0.3}, freeErr: true},
		{name: "no loadavg line is an error", out: "MemAvailable: 1024 kB\n", err: "no /proc/loadavg line"},
		{name: "empty output is an error", out: "", err: "no /proc/loadavg line in 0 bytes"},
		{name: "negative load is not a loadavg line", out: "-1.0 0.2 0.3 1/2 3\n", err: "no /proc/loadavg line"},
		{name: "NaN load is not a loadavg line", out: "NaN 0.2 0.3 1/2 3\n", err: "no /proc/loadavg line"},
		{name: "a bad meminfo value is skipped", out: "0.1 0.2 0.3 1/2 3\nMemAvailable: lots kB\nMemFree: 2048 kB\n", load: [3]float64{0.1, 0.2, 0.3}, free: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := parseProc([]byte(c.out))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if !near(st.load[i], c.load[i]) {
					t.Fatalf("load %v, want %v", st.load, c.load)
				}
			}
			if c.freeErr != (st.freeErr != nil) {
				t.Fatalf("free RAM error %v, want error %v", st.freeErr, c.freeErr)
			}
			if !c.freeErr && !near(st.freeMiB, c.free) {
				t.Fatalf("free %v MiB, want %v", st.freeMiB, c.free)
			}
		})
	}
}

func TestProcSourceBoundsFanOutAndTimesOut(t *testing.T) {
	out := []byte("0.1 0.2 0.3 1/2 3\nMemAvailable: 1024 kB\n")
	runner := &fakeRunner{out: map[string][]byte{}, block: map[string]bool{"hung": true}}
	var tgt Target
	for i := range 40 {
		id := string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		runner.out[id] = out
		tgt.Servers = append(tgt.Servers, Server{ID: id})
	}
	tgt.Servers = append(tgt.Servers, Server{ID: "hung"})
	src := &Proc{Runner: runner, Parallel: 4, Timeout: 50 * time.Millisecond}
	samples, err := src.Sample(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if m := runner.maxSeen.Load(); m > 4 {
		t.Errorf("%d servers read at once, want at most 4", m)
	}
	s := samples[0]
	if len(s.PerServer) != 40 {
		t.Errorf("%d servers measured, want 40", len(s.PerServer))
	}
	if err := s.Missing["hung"]; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung server: %v, want deadline exceeded", err)
	}
}

func TestProcSourceHonoursCancellation(t *testing.T) {
	runner := &fakeRunner{block: map[string]bool{"a": true, "b": true}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for runner.inFlight.Load() < 2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := (&Proc{Runner: runner}).Sample(ctx, Target{Servers: []Server{{ID: "a"}, {ID: "b"}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}
