package farm

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/farmhand/farmhand/scripting"
)

// A replication position as a database's position script reports it, and
// how the failover ranks replicas by it.

// ParsePosition reads the replication position a database role's
// PositionScript printed: the last non-empty line of its output, either a
// MariaDB GTID list ("0-1-57" or "0-1-57,1-3-12", as @@gtid_current_pos
// and Gtid_IO_Pos show it) or a plain non-negative integer (a log offset, a
// transaction count). It returns the position as one number that grows with
// replication: the sum of the sequence numbers over the GTID list's
// domains (for the usual single domain, its sequence number), or the
// integer. An empty output is position 0: a replica that has received
// nothing.
func ParsePosition(out string) (int64, error) {
	line := ""
	for l := range strings.Lines(out) {
		if t := strings.TrimSpace(l); t != "" {
			line = t
		}
	}
	if line == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(line, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("position %q is negative", line)
		}
		return n, nil
	}
	var sum int64
	for gtid := range strings.SplitSeq(line, ",") {
		parts := strings.Split(strings.TrimSpace(gtid), "-")
		if len(parts) != 3 {
			return 0, fmt.Errorf("position %q is neither a number nor a GTID list (domain-server-sequence)", clipPosition(line))
		}
		for i, p := range parts {
			n, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("position %q: GTID %q has a non-numeric part", clipPosition(line), gtid)
			}
			if i == 2 {
				sum += int64(n & (1<<62 - 1))
			}
		}
	}
	return sum, nil
}

func clipPosition(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// probePositions runs the role's position script on every server that
// could be promoted and returns the positions it could read. A server whose
// script fails or prints no position is left out (ranked after the others),
// with the reason in skipped.
func (d *dnsControl) probePositions(ctx context.Context, ps *primaryState, servers []Server, prev Server) (map[string]int64, []string) {
	db := ps.spec.Database
	if db == nil || db.PositionScript == "" {
		return nil, nil
	}
	f := d.f
	pctx, cancel := withTimeout(ctx, f.clk, db.positionTimeout())
	defer cancel()
	var mu sync.Mutex
	pos := map[string]int64{}
	var skipped []string
	var g errgroup.Group
	g.SetLimit(16)
	for _, s := range servers {
		if s.ID == prev.ID || !masterUsable(s) {
			continue
		}
		g.Go(func() error {
			out, err := d.position(pctx, s.ID, db.PositionScript, failoverParams(prev, s))
			var n int64
			if err == nil {
				n, err = ParsePosition(out)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s: position unknown: %v", s.ID, err))
				f.log.Warn("farm: replica position unknown", "role", ps.role, "server", s.ID, "err", err)
				return nil
			}
			pos[s.ID] = n
			return nil
		})
	}
	_ = g.Wait()
	f.log.Info("farm: replica positions", "role", ps.role, "positions", fmt.Sprint(pos))
	return pos, skipped
}

// position runs a position script and returns its standard output.
func (d *dnsControl) position(ctx context.Context, serverID, script string, params map[string]string) (string, error) {
	if d.runPosition != nil {
		return d.runPosition(ctx, serverID, script, params)
	}
	res, err := d.f.RunScript(ctx, serverID, scripting.ScriptRef{Name: script, Version: scripting.Latest}, string(NewDBMaster), params)
	if err != nil {
		return "", err
	}
	return res.Stdout, nil
}

// fence makes sure the lost master prev can take no more writes before
// another server is promoted: it runs the role's fence script on it and,
// when that fails, terminates it at the cloud. A master the cloud no longer
// lists, or one that is already terminating, needs no fence. It returns an
// error when the master could be fenced neither way; the failover then
// waits, since promoting would risk two writable masters.
func (d *dnsControl) fence(ctx context.Context, ps *primaryState, prev Server, fo *Failover) error {
	db := ps.spec.Database
	if db == nil || db.FenceScript == "" || prev.ID == "" {
		return nil
	}
	f := d.f
	s, ok := f.Server(prev.ID)
	if !ok || !s.State.live() {
		return nil
	}
	sctx, cancel := withTimeout(ctx, f.clk, db.promoteTimeout())
	err := d.script(sctx, prev.ID, db.FenceScript, NewDBMaster, failoverParams(prev, Server{}))
	cancel()
	if err == nil {
		fo.Fenced = "script"
		f.log.Info("farm: old master fenced", "role", ps.role, "server", prev.ID)
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.log.Warn("farm: fence script failed; terminating the old master", "role", ps.role, "server", prev.ID, "err", err)
	tctx, tcancel := withTimeout(ctx, f.clk, db.promoteTimeout())
	defer tcancel()
	if terr := f.terminateCall(tctx, []string{prev.ID}); terr != nil {
		return fmt.Errorf("old master %s: fence script: %v; terminate: %w", prev.ID, err, terr)
	}
	f.retire(prev.ID, "fenced: former master terminated")
	fo.Fenced = "terminated"
	return nil
}
