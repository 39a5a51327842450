package farm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/farmhand/farmhand/store"
)

// This file carries rollouts out: Reconcile calls stepRolloutsLocked after
// folding in the cloud's listing and before planning, so that a batch's
// surge and the old servers it replaces are planned in the same tick.

// rolloutReplace starts the reasons of the servers a rollout replaces.
const rolloutReplace = "rollout: "

// keyRollout + role holds a Rollout (JSON) in the farm's Store.
const keyRollout = "rollout/"

// The rollout's events. Role is the role; Params "from" and "to" (the
// builds), "batch" (its number), and "servers" (IDs, comma-separated)
// where a batch names servers; Reason says what happened in words.
const (
	// RolloutStarted fires when [Farm.Apply] starts replacing a role's
	// servers with a new image or instance type.
	RolloutStarted EventType = "RolloutStarted"
	// RolloutBatchStarted fires when a batch launches its new servers;
	// "servers" are the old servers it replaces.
	RolloutBatchStarted EventType = "RolloutBatchStarted"
	// RolloutBatchDone fires when a batch's new servers are in service
	// (HostUp passed, health checks passed) and its old servers are being
	// terminated; "servers" are the new servers.
	RolloutBatchDone EventType = "RolloutBatchDone"
	// RolloutBatchFailed fires when a new server of a batch failed or the
	// batch was not ready in time; "servers" are its new servers, which
	// are terminated.
	RolloutBatchFailed EventType = "RolloutBatchFailed"
	// RollbackStarted fires when a failed rollout starts replacing the
	// new build's servers with the old build.
	RollbackStarted EventType = "RollbackStarted"
	// RolloutPaused fires when a failed rollout stops (OnFailure "pause",
	// or its rollback failed too).
	RolloutPaused EventType = "RolloutPaused"
	// RolloutFinished fires when every server of the role runs the new build.
	RolloutFinished EventType = "RolloutFinished"
	// RollbackFinished fires when every server runs the old build again.
	RollbackFinished EventType = "RollbackFinished"
	// ScriptsRerun fires when [Farm.Apply] re-ran a script of a new
	// version on a role's servers in service: Params "script", "version",
	// "servers" (how many ran it) and "failed" (how many failed).
	ScriptsRerun EventType = "ScriptsRerun"
)

// ErrRolloutFailed is wrapped by the errors of rollouts that did not end
// with every server on the new build (rolled back or paused).
var ErrRolloutFailed = errors.New("rollout failed")

// Rollouts returns the farm's rollouts, under way or last ended, by role
// in spec order.
func (f *Farm) Rollouts() []Rollout {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Rollout
	for _, name := range f.order {
		if ro := f.rollouts[name]; ro != nil {
			out = append(out, ro.clone())
		}
	}
	return out
}

// rolloutErrLocked is the error of a role's rollout that ended without
// reaching its build; nil while under way or done.
func (f *Farm) rolloutErrLocked(role string) error {
	ro := f.rollouts[role]
	if ro == nil || ro.Phase.Active() || ro.Phase == PhaseDone {
		return nil
	}
	return fmt.Errorf("farm: role %q: rollout %s: %s: %w", role, ro.Phase, ro.Reason, ErrRolloutFailed)
}

// setRoleBuildLocked makes a role launch build b from now on.
func (f *Farm) setRoleBuildLocked(role string, b Build) {
	rs := f.roles[role]
	rs.spec.Image, rs.spec.InstanceType = b.Image, b.InstanceType
	for i := range f.spec.Roles {
		if f.spec.Roles[i].Name == role {
			f.spec.Roles[i].Image, f.spec.Roles[i].InstanceType = b.Image, b.InstanceType
		}
	}
}

// rolloutSurgeLocked is how many servers a role's rollout wants over its
// desired count.
func (f *Farm) rolloutSurgeLocked(role string) int {
	if ro := f.rollouts[role]; ro != nil && ro.Phase.Active() {
		return ro.Surge
	}
	return 0
}

// stepRolloutsLocked moves every rollout under way along, as far as the
// servers allow in this tick.
func (f *Farm) stepRolloutsLocked(now time.Time) {
	if f.terminating {
		return
	}
	for _, name := range f.order {
		ro := f.rollouts[name]
		// A finished batch lets the next one start in the same tick.
		for range 2 {
			if ro == nil || !ro.Phase.Active() || !f.stepRolloutLocked(ro, now) {
				break
			}
		}
	}
}

// stepRolloutLocked takes one step of a rollout and reports whether
// another may follow at once.
func (f *Farm) stepRolloutLocked(ro *Rollout, now time.Time) bool {
	rs := f.roles[ro.Role]
	var srvs []Server
	for _, id := range sortedKeys(f.records) {
		r := f.records[id]
		// A server on its way out is neither old nor new, unless it
		// failed: a failed new server fails its batch.
		failed := r.srv.State == StateFailed || r.srv.Health.Status == HealthUnhealthy
		if r.srv.Role != ro.Role || (r.terminating || r.replace != "") && !failed || strings.HasPrefix(r.replace, rolloutReplace) {
			continue
		}
		srvs = append(srvs, r.srv)
	}
	if ro.resumed {
		ro.resumed = false
		kept := srvs[:0]
		for _, s := range srvs {
			r := f.records[s.ID]
			if len(ro.Old) > 0 && slices.Contains(freshOf(*ro, []Server{s}), s.ID) && s.State.live() && !r.terminating && r.replace == "" {
				r.replace = rolloutReplace + "launched by a controller that stopped before the server was in service"
				continue
			}
			kept = append(kept, s)
		}
		srvs = kept
	}
	step := nextRolloutStep(*ro, srvs, len(rs.checks) > 0, now)
	params := func(ids []string) map[string]string {
		return map[string]string{"from": ro.From.String(), "to": ro.To.String(), "batch": strconv.Itoa(ro.Batch), "servers": strings.Join(ids, ",")}
	}
	emit := func(t EventType, ids []string, reason string) {
		f.emitLocked(Event{Type: t, Role: ro.Role, Reason: reason, Params: params(ids)})
	}
	if step.kind == stepWait {
		ro.waiting = step.reason // nothing to save
		return false
	}
	defer func() {
		f.markLocked(keyRollout + ro.Role)
		f.notifyLocked()
	}()
	switch step.kind {
	case stepStartBatch:
		ro.waiting = ""
		ro.Batch++
		ro.Old, ro.Accepted, ro.Surge, ro.BatchStarted = step.old, step.accepted, len(step.old), now
		emit(RolloutBatchStarted, step.old, step.reason)
		return false
	case stepFinishBatch:
		for _, id := range ro.Old {
			if r := f.records[id]; r != nil && r.srv.State.live() && !r.terminating && r.replace == "" {
				r.replace = fmt.Sprintf(rolloutReplace+"replaced by %s (batch %d)", ro.To, ro.Batch)
			}
		}
		ro.Replaced += len(ro.Old)
		ro.Old, ro.Accepted, ro.Surge = nil, nil, 0
		emit(RolloutBatchDone, step.fresh, step.reason)
		return true
	case stepDone:
		ro.Old, ro.Accepted, ro.Surge = nil, nil, 0
		if ro.Phase == PhaseRollingBack {
			ro.Phase = PhaseRolledBack
			emit(RollbackFinished, nil, fmt.Sprintf("every server runs %s again after: %s", ro.To, ro.Reason))
		} else {
			ro.Phase = PhaseDone
			emit(RolloutFinished, nil, fmt.Sprintf("every server runs %s (%s replaced)", ro.To, nServers(ro.Replaced)))
		}
		return false
	}
	// stepFail: the batch's new servers go; its old ones stay.
	for _, id := range step.fresh {
		if r := f.records[id]; r != nil && r.srv.State.live() && !r.terminating && r.replace == "" {
			r.replace = rolloutReplace + step.reason
		}
	}
	ro.Old, ro.Accepted, ro.Surge = nil, nil, 0
	ro.Reason = step.reason
	emit(RolloutBatchFailed, step.fresh, step.reason)
	if ro.Phase == PhaseRolling && ro.OnFailure == RollBack {
		ro.Phase = PhaseRollingBack
		ro.From, ro.To = ro.To, ro.From
		ro.Batch, ro.Replaced = 0, 0
		f.setRoleBuildLocked(ro.Role, ro.To)
		emit(RollbackStarted, nil, fmt.Sprintf("rolling back to %s: %s", ro.To, step.reason))
		return false
	}
	good := ro.From // rolling: the build the role ran
	if ro.Phase == PhaseRollingBack {
		good = ro.To
	}
	ro.Phase = PhasePaused
	f.setRoleBuildLocked(ro.Role, good)
	emit(RolloutPaused, nil, fmt.Sprintf("rollout paused, the role launches %s: %s", good, step.reason))
	return false
}

// rolloutStatusLocked is a copy of a role's rollout for Status, nil
// without one.
func (f *Farm) rolloutStatusLocked(role string) *Rollout {
	ro := f.rollouts[role]
	if ro == nil {
		return nil
	}
	c := ro.clone()
	return &c
}

// statusLine is the rollout's line in Status: its String, and what it
// waits for while under way.
func (r Rollout) statusLine() string {
	if r.Phase.Active() && r.waiting != "" {
		return r.String() + " (" + r.waiting + ")"
	}
	return r.String()
}

// encodeRolloutLocked is the Store record of a role's rollout.
func (f *Farm) encodeRolloutLocked(key string) []store.Op {
	ro := f.rollouts[key[len(keyRollout):]]
	if ro == nil {
		return []store.Op{store.Delete(key)}
	}
	return []store.Op{store.Put(key, mustJSON(ro))}
}

// restoreRolloutsLocked takes the rollouts the Store holds: one under way
// makes its role launch the build it moves to, before the restored
// launches are rebuilt.
func (f *Farm) restoreRolloutsLocked(kvs []store.KV) error {
	for _, kv := range kvs {
		if !strings.HasPrefix(kv.Key, keyRollout) {
			continue
		}
		var ro Rollout
		if err := json.Unmarshal(kv.Value, &ro); err != nil {
			return fmt.Errorf("farm: store key %q holds %q: %w", kv.Key, truncate(string(kv.Value), 80), err)
		}
		if f.roles[ro.Role] == nil || kv.Key != keyRollout+ro.Role {
			continue // the spec no longer has the role
		}
		if f.rollouts == nil {
			f.rollouts = map[string]*Rollout{}
		}
		ro.resumed = len(ro.Old) > 0
		f.rollouts[ro.Role] = &ro
		if ro.Phase.Active() {
			f.setRoleBuildLocked(ro.Role, ro.To)
		}
	}
	return nil
}
