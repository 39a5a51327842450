package scripting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// FanOutOptions configure [Executor.RunMany]. nil means the defaults.
type FanOutOptions struct {
	// Width is how many targets run at once; 0 means DefaultWidth (64).
	Width int
	// OnResult, when set, is called once per target as soon as its result
	// is known, one call at a time (never concurrently), so a caller can
	// show progress or stream results.
	OnResult func(Result)
}

// Summary counts the results of a fan-out.
type Summary struct {
	Targets  int
	OK       int
	Failed   int
	TimedOut int
	// Errors counts targets where the script did not run (unreachable,
	// host key refused, login failed, upload failed, cancelled).
	Errors   int
	Started  time.Time
	Finished time.Time
	// Fastest, Median and Slowest are per-target durations (connection
	// included).
	Fastest, Median, Slowest time.Duration
}

// Wall is how long the whole fan-out took.
func (s Summary) Wall() time.Duration { return s.Finished.Sub(s.Started) }

// String is a one-line account: counts by outcome, wall time and the
// fastest, median and slowest target.
func (s Summary) String() string {
	return fmt.Sprintf("%d targets: %d ok, %d failed, %d timed out, %d errors in %v (per target: fastest %v, median %v, slowest %v)",
		s.Targets, s.OK, s.Failed, s.TimedOut, s.Errors, s.Wall().Round(time.Millisecond),
		s.Fastest.Round(time.Millisecond), s.Median.Round(time.Millisecond), s.Slowest.Round(time.Millisecond))
}

// RunMany runs job on every target, at most Width at a time, each on its
// own connection (targets behind one bastion share the connection to it).
// A slow or unreachable target holds up only its own slot: each dial is
// bounded by DialTimeout and each run by the job's timeout.
//
// The script is rendered for every target first: if any target lacks a
// variable or has an invalid one, RunMany returns the error (naming the
// script, the variables and the targets) and nothing runs. Otherwise it
// returns when every target has a result, and the error is nil; per-target
// failures are in the results and counted in the Summary.
func (e *Executor) RunMany(ctx context.Context, targets []Target, job Job, opts *FanOutOptions) (Summary, error) {
	if opts == nil {
		opts = &FanOutOptions{}
	}
	width := opts.Width
	if width < 0 {
		return Summary{}, fmt.Errorf("fan-out width %d is negative", width)
	}
	if width == 0 {
		width = DefaultWidth
	}
	bodies := make([]rendered, len(targets))
	var errs []error
	for i, t := range targets {
		if t.Addr == "" {
			errs = append(errs, fmt.Errorf("target %d (server %q): Addr is empty", i, t.ServerID))
			continue
		}
		r, err := renderFor(job, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %d (%s): %w", i, t.Addr, err))
			continue
		}
		bodies[i] = r
	}
	if len(errs) > 0 {
		return Summary{Targets: len(targets)}, errors.Join(errs...)
	}

	sum := Summary{Targets: len(targets), Started: e.clock.Now()}
	durations := make([]time.Duration, 0, len(targets))
	var mu sync.Mutex // serialises OnResult and the summary
	record := func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Status() {
		case StatusOK:
			sum.OK++
		case StatusFailed:
			sum.Failed++
		case StatusTimedOut:
			sum.TimedOut++
		default:
			sum.Errors++
		}
		durations = append(durations, r.Duration())
		if opts.OnResult != nil {
			opts.OnResult(r)
		}
	}

	scope := e.newScope()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(width, len(targets)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(targets) {
					return
				}
				var r Result
				if err := ctx.Err(); err != nil {
					r = e.failed(targets[i], job, fmt.Errorf("%s: not started: %w", targets[i].Addr, err))
				} else {
					r = e.runRendered(ctx, scope, targets[i], job, bodies[i])
				}
				record(e.finish(ctx, job, r))
			}
		})
	}
	wg.Wait()
	scope.close()
	sum.Finished = e.clock.Now()
	if len(durations) > 0 {
		slices.Sort(durations)
		sum.Fastest, sum.Median, sum.Slowest = durations[0], durations[len(durations)/2], durations[len(durations)-1]
	}
	return sum, nil
}
