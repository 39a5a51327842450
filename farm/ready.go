package farm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// WaitReady returns nil once every role has its desired number of servers
// Running, none launching or leaving, every database or NFS role its
// master ([Status.Ready]), and the HostUp scripts of the Running servers
// have finished. Something must drive the farm meanwhile
// (Run, or calls of Reconcile).
//
// It returns a *[ReadyError] as soon as a server has failed since Launch
// (or since WaitReady last reported a failure): a blocking script or hook
// that failed its initialisation (HostInitFailed), a script that did not
// exit 0 (ScriptFailed, HostUp scripts included), or a health check past
// its threshold (CheckFailed). The error names each server and why. The
// farm itself goes on healing (a failed server is replaced); call
// WaitReady again to wait for that. WaitReady on a farm that is not
// launched returns an error at once, since nothing would come up.
func (f *Farm) WaitReady(ctx context.Context) error {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return ErrClosed
		}
		if !f.launched {
			f.mu.Unlock()
			return errors.New("farm: WaitReady: the farm is not launched (call Launch first)")
		}
		if len(f.failures) > 0 {
			err := &ReadyError{Farm: f.spec.Name, Failures: f.failures}
			f.failures = nil
			f.mu.Unlock()
			return err
		}
		st := f.statusLocked()
		ready := st.Ready() && f.hostUpDoneLocked(st)
		ch := f.changed
		f.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hostUpDoneLocked reports whether no Running server has HostUp scripts
// still to finish.
func (f *Farm) hostUpDoneLocked(st Status) bool {
	for _, r := range st.Roles {
		for _, s := range r.Servers {
			if s.State == StateRunning && f.hostUpPending[s.ID] > 0 {
				return false
			}
		}
	}
	return true
}

// ReadyError is the error of [Farm.WaitReady] when servers failed while
// the farm came up.
type ReadyError struct {
	// Farm is the farm's name.
	Farm string
	// Failures are the failure events, oldest first (see
	// [EventType.Failure]); each names its role, server and reason.
	Failures []Event
}

// Error names every failed server and why, one per line after the first:
//
//	farm "shop": 1 failure:
//	  ScriptFailed app64/i-000002 (127.100.0.2): script "install-apache" v1 failed on app64/i-000002: exit status 1
func (e *ReadyError) Error() string {
	var b strings.Builder
	n := len(e.Failures)
	fmt.Fprintf(&b, "farm %q: %d failure", e.Farm, n)
	if n != 1 {
		b.WriteString("s")
	}
	b.WriteString(":")
	for _, ev := range e.Failures {
		ev.Time = time.Time{}
		b.WriteString("\n  " + ev.String())
	}
	return b.String()
}
