package scaling

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
)

// CommandRunner runs a shell command on one server and returns its standard
// output. Package farm satisfies it with package scripting's SSH execution.
type CommandRunner interface {
	Run(ctx context.Context, serverID string, command string) (stdout []byte, err error)
}

// FileReader is a [CommandRunner] that can also read a server's files
// without starting a process there (package farm reads them over an SFTP
// session it keeps open). [Proc] prefers it: it reads /proc/loadavg and
// /proc/meminfo, the files ProcCommand prints.
type FileReader interface {
	CommandRunner
	ReadFile(ctx context.Context, serverID, path string) ([]byte, error)
}

// procFiles are the files ProcCommand prints.
var procFiles = [...]string{"/proc/loadavg", "/proc/meminfo"}

// ProcCommand is the command [Proc] runs on each server.
const ProcCommand = "cat /proc/loadavg /proc/meminfo"

// Proc is a [Source] that reads /proc/loadavg and /proc/meminfo on every
// server of the role through a [CommandRunner], giving [MetricLoad1],
// [MetricLoad5], [MetricLoad15] and [MetricFreeRAM] per server. A server
// that fails to answer, or answers with something unreadable, is missing
// data for that evaluation.
type Proc struct {
	// Runner runs ProcCommand on a server.
	Runner CommandRunner
	// Parallel bounds the servers read at once; 0 means 16.
	Parallel int
	// Timeout bounds each server's read; 0 means 10 s.
	Timeout time.Duration
	// Clock stamps the samples; nil means the real clock.
	Clock clock.Clock
}

var _ Source = (*Proc)(nil)

var procMetrics = []string{MetricLoad1, MetricLoad5, MetricLoad15, MetricFreeRAM}

// Metrics returns the load averages and free RAM.
func (p *Proc) Metrics() []string { return append([]string(nil), procMetrics...) }

// Sample reads every server of t. It fails only when ctx ends first or
// Runner is nil; a server's failure is recorded in the samples' Missing.
func (p *Proc) Sample(ctx context.Context, t Target) ([]Sample, error) {
	if p.Runner == nil {
		return nil, errors.New("proc source: Runner is nil")
	}
	parallel := p.Parallel
	if parallel <= 0 {
		parallel = 16
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	type result struct {
		stats procStats
		err   error
	}
	results := make([]result, len(t.Servers))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, srv := range t.Servers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, fmt.Errorf("proc source: %w", ctx.Err())
		}
		wg.Go(func() {
			defer func() { <-sem }()
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out, err := p.read(sctx, srv.ID)
			if err != nil {
				results[i].err = err
				return
			}
			results[i].stats, results[i].err = parseProc(out)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("proc source: %w", err)
	}
	now := clock.Or(p.Clock).Now()
	samples := make([]Sample, len(procMetrics))
	for i, m := range procMetrics {
		samples[i] = Sample{Metric: m, Time: now, Scope: PerServer, PerServer: make(map[string]float64), Missing: make(map[string]error)}
	}
	for i, srv := range t.Servers {
		r := results[i]
		if r.err != nil {
			for _, s := range samples {
				s.Missing[srv.ID] = r.err
			}
			continue
		}
		samples[0].PerServer[srv.ID] = r.stats.load[0]
		samples[1].PerServer[srv.ID] = r.stats.load[1]
		samples[2].PerServer[srv.ID] = r.stats.load[2]
		if r.stats.freeErr != nil {
			samples[3].Missing[srv.ID] = r.stats.freeErr
		} else {
			samples[3].PerServer[srv.ID] = r.stats.freeMiB
		}
	}
	return samples, nil
}

// read returns ProcCommand's output for one server, from the files when
// the runner can read them.
func (p *Proc) read(ctx context.Context, serverID string) ([]byte, error) {
	fr, ok := p.Runner.(FileReader)
	if !ok {
		return p.Runner.Run(ctx, serverID, ProcCommand)
	}
	var out []byte
	for _, path := range procFiles {
		b, err := fr.ReadFile(ctx, serverID, path)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// procStats is what one server's /proc files say.
type procStats struct {
	load    [3]float64
	freeMiB float64
	freeErr error // free RAM unreadable while the load was fine
}

// parseProc reads the output of ProcCommand: the /proc/loadavg line
// ("0.52 0.58 0.59 1/389 12345") and the /proc/meminfo lines
// ("MemAvailable:    8123456 kB"), in any order, ignoring anything else.
func parseProc(out []byte) (procStats, error) {
	var st procStats
	foundLoad := false
	mem := make(map[string]float64)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if key, rest, ok := strings.Cut(line, ":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				continue
			}
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			if len(f) > 1 && strings.EqualFold(f[1], "kB") {
				v *= 1024
			}
			mem[strings.TrimSpace(key)] = v // bytes
			continue
		}
		if !foundLoad {
			if l, ok := parseLoadavg(line); ok {
				st.load, foundLoad = l, true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("reading /proc output: %w", err)
	}
	if !foundLoad {
		return st, fmt.Errorf("no /proc/loadavg line in %d bytes of output", len(out))
	}
	if avail, ok := mem["MemAvailable"]; ok {
		st.freeMiB = avail / (1 << 20)
	} else if free, ok := mem["MemFree"]; ok {
		st.freeMiB = (free + mem["Buffers"] + mem["Cached"]) / (1 << 20)
	} else {
		st.freeErr = errors.New("no MemAvailable or MemFree in /proc/meminfo output")
	}
	return st, nil
}

// parseLoadavg parses a /proc/loadavg line: three non-negative numbers,
// "running/total" and the last PID. Other lines (a login banner, a shell's
// complaint) do not match.
func parseLoadavg(line string) ([3]float64, bool) {
	var l [3]float64
	f := strings.Fields(line)
	if len(f) != 5 {
		return l, false
	}
	for i := range 3 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return l, false
		}
		l[i] = v
	}
	running, total, ok := strings.Cut(f[3], "/")
	if !ok || !isDigits(running) || !isDigits(total) || !isDigits(f[4]) {
		return l, false
	}
	return l, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
