package mariadbtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/farmhand/farmhand/farm"
)

// FailoverResult is what CrashMaster saw.
type FailoverResult struct {
	// Acked is the number of rows the writer saw acknowledged; Lost those
	// of them missing on the new master.
	Acked     int
	AckedRows []int
	Lost      []int
	// WritesResumed is the time from the master's SIGKILL to the writer's
	// first acknowledged commit after it.
	WritesResumed time.Duration
	// MaxWritable is the largest number of servers seen answering with
	// read_only off at once (sampled every 50 ms).
	MaxWritable int
	// KilledAt is when the master's mariadbd got SIGKILL.
	KilledAt time.Time
	// Failover is the farm's timeline.
	Failover farm.Failover
	// Sources maps each surviving replica to the host it replicates from
	// at the end.
	Sources map[string]string
}

// CrashMaster runs the failover scenario: a writer commits numbered rows
// through the master name; after warm rows the master's mariadbd is
// SIGKILLed; the farm fails over; the writer goes on until it has
// committed more rows through the new master; then the rows are compared
// and the surviving replicas are checked to replicate every row from the
// new master.
func (r *Farm) CrashMaster(ctx context.Context, warm int) (res FailoverResult, err error) {
	w, err := r.StartWriter(ctx)
	if err != nil {
		return res, err
	}
	defer w.Stop()
	if err := w.WaitAcked(ctx, warm); err != nil {
		return res, err
	}
	old, ok := r.Master()
	if !ok {
		return res, fmt.Errorf("no master")
	}
	wctx, stopWatch := context.WithCancel(ctx)
	var watch sync.WaitGroup
	maxWritable := 0
	watch.Go(func() {
		for wctx.Err() == nil {
			maxWritable = max(maxWritable, len(r.Writable(wctx)))
			select {
			case <-wctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	defer func() {
		stopWatch()
		watch.Wait()
		res.MaxWritable = maxWritable // the named result, after the watcher ended
	}()

	killedAt := time.Now()
	res.KilledAt = killedAt
	if err := Kill(r.Dir(old.ID)); err != nil {
		return res, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		fos := r.Farm.Failovers()
		if i := slices.IndexFunc(fos, func(f farm.Failover) bool { return f.OldMaster == old.ID && f.NewMaster != "" }); i >= 0 {
			res.Failover = fos[i]
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("no failover from %s within 60 s\n%s", old.ID, r.Farm.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		if at, ok := w.ResumedAfter(killedAt); ok {
			res.WritesResumed = at.Sub(killedAt)
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("writes did not resume through %s", r.Name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.WaitAcked(ctx, len(w.Acked())+50); err != nil {
		return res, err
	}
	acked := w.Stop()
	res.Acked, res.AckedRows = len(acked), acked
	rows, err := r.Rows(ctx, res.Failover.NewMaster)
	if err != nil {
		return res, err
	}
	for _, n := range acked {
		if !rows[n] {
			res.Lost = append(res.Lost, n)
		}
	}
	// The surviving replicas follow the new master and have every row.
	res.Sources = map[string]string{}
	for _, s := range r.Farm.Servers(r.Role) {
		if s.ID == old.ID || s.ID == res.Failover.NewMaster || Pid(r.Dir(s.ID)) == 0 {
			continue
		}
		var last error
		for {
			src, err := r.ReplicaSource(ctx, s.ID)
			got, rerr := r.Rows(ctx, s.ID)
			res.Sources[s.ID] = src
			if err == nil && rerr == nil && src == res.Failover.NewMasterIP && len(got) >= len(rows) {
				break
			}
			last = fmt.Errorf("replica %s: source %q (%v), %d of %d rows (%v)", s.ID, src, err, len(got), len(rows), rerr)
			if time.Now().After(deadline.Add(30 * time.Second)) {
				return res, last
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return res, nil
}
