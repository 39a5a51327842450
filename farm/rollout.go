package farm

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the rollout's decisions as pure functions: given a
// rollout's state and the role's servers, what to do next. rollout_run.go
// carries them out inside Reconcile.

// Build is what a rollout changes on a role's servers: the image and the
// instance type they boot.
type Build struct {
	// Image is the image the servers boot.
	Image string `json:"image"`
	// InstanceType empty means the provider's default, which any server
	// matches.
	InstanceType string `json:"instance_type,omitempty"`
}

// String prints the build as "image" or "image/type".
func (b Build) String() string {
	if b.InstanceType == "" {
		return b.Image
	}
	return b.Image + "/" + b.InstanceType
}

// matches reports whether s runs this build.
func (b Build) matches(s Server) bool {
	return s.Image == b.Image && (b.InstanceType == "" || s.InstanceType == b.InstanceType)
}

// RolloutPhase is where a rollout is.
type RolloutPhase string

const (
	// PhaseRolling: replacing the role's servers with the new build.
	PhaseRolling RolloutPhase = "rolling"
	// PhaseRollingBack: a batch failed; replacing the servers of the new
	// build with the old one.
	PhaseRollingBack RolloutPhase = "rolling-back"
	// PhaseDone: every server runs the new build.
	PhaseDone RolloutPhase = "done"
	// PhaseRolledBack: every server runs the old build again.
	PhaseRolledBack RolloutPhase = "rolled-back"
	// PhasePaused: a batch failed and ApplyOptions.OnFailure is
	// "pause", or the rollback itself failed. The role launches the old
	// build; [Farm.Apply] of the new spec starts over.
	PhasePaused RolloutPhase = "paused"
)

// Active reports whether the phase still replaces servers.
func (p RolloutPhase) Active() bool { return p == PhaseRolling || p == PhaseRollingBack }

// FailureAction says what a rollout does when a batch fails.
type FailureAction string

const (
	// RollBack replaces the servers of the new build with the old build
	// again, in batches (the default).
	RollBack FailureAction = "rollback"
	// Pause stops the rollout, terminates the failed batch's new servers
	// and leaves the others as they are.
	Pause FailureAction = "pause"
)

// Rollout is the state of one role's rolling replacement. The farm keeps
// it in its Store (when it has one), so a restarted controller resumes it.
type Rollout struct {
	// Role names the role, and Phase says where the rollout is.
	Role  string       `json:"role"`
	Phase RolloutPhase `json:"phase"`
	// From is the build the role ran, To the build it moves to (swapped
	// while rolling back).
	From Build `json:"from"`
	To   Build `json:"to"`
	// Batch numbers the current (or last) batch, from 1.
	Batch int `json:"batch"`
	// BatchSize, MinHealthy, BatchTimeout and OnFailure are the rollout's
	// options, resolved (see [ApplyOptions]).
	BatchSize    int           `json:"batch_size"`
	MinHealthy   int           `json:"min_healthy"`
	BatchTimeout time.Duration `json:"batch_timeout"`
	OnFailure    FailureAction `json:"on_failure"`
	// Old are the servers the current batch replaces; empty between
	// batches.
	Old []string `json:"old,omitempty"`
	// Accepted are the servers of the To build that were there when the
	// current batch started; the others are the batch's new servers.
	Accepted []string `json:"accepted,omitempty"`
	// Surge is how many servers the current batch launches over the
	// role's desired count.
	Surge int `json:"surge,omitempty"`
	// Replaced counts the servers replaced in this phase.
	Replaced int `json:"replaced"`
	// StartedAt is when the rollout began, BatchStarted when the current
	// batch did.
	StartedAt    time.Time `json:"started_at"`
	BatchStarted time.Time `json:"batch_started,omitzero"`
	// Reason says why it paused or rolled back.
	Reason string `json:"reason,omitempty"`

	// resumed is set on a rollout restored from the Store with a batch
	// under way: the new servers another controller launched may not
	// have run their hooks, so they are replaced.
	resumed bool
	// waiting says what the current batch waits for (not saved).
	waiting string
}

// String describes the rollout in one line, as in
// "role app: rolling ami-1 -> ami-2, batch 2, 2 replaced".
func (r Rollout) String() string {
	s := fmt.Sprintf("role %s: %s %s -> %s, batch %d, %d replaced", r.Role, r.Phase, r.From, r.To, r.Batch, r.Replaced)
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

func (r Rollout) clone() Rollout {
	r.Old = slices.Clone(r.Old)
	r.Accepted = slices.Clone(r.Accepted)
	return r
}

// rolloutStepKind is what a rollout does next.
type rolloutStepKind int

const (
	stepWait        rolloutStepKind = iota
	stepStartBatch                  // launch Surge servers of the To build
	stepFinishBatch                 // the new servers are in service: replace Old
	stepFail                        // the batch failed
	stepDone                        // no server of another build is left
)

func (k rolloutStepKind) String() string {
	return [...]string{"wait", "start batch", "finish batch", "fail", "done"}[k]
}

// rolloutStep is nextRolloutStep's answer.
type rolloutStep struct {
	kind rolloutStepKind
	// old: the servers a starting batch replaces, or a finishing batch
	// terminates.
	old []string
	// accepted: the servers of the To build a starting batch finds.
	accepted []string
	// fresh: the batch's new servers (a failing batch's are dropped).
	fresh  []string
	reason string
}

// inService reports whether a server serves: Running and not failing its
// checks.
func inService(s Server) bool {
	return s.State == StateRunning && s.Health.Status != HealthUnhealthy
}

// nextRolloutStep decides a rollout's next step. servers are the role's
// servers; gated says the role has health checks, so that a new server
// counts as ready only once they passed (Health healthy), not merely
// Running (its HostInit and BeforeHostUp hooks passed).
//
// A batch launches its new servers first (the role runs Surge servers over
// its desired count), and terminates the old ones only once every new one
// is ready and the servers left in service are at least MinHealthy: the
// role never has fewer servers in service than before the batch. A new
// server that fails (init failure, failed checks, a stopped server) or a
// batch not ready within BatchTimeout fails the batch.
func nextRolloutStep(ro Rollout, servers []Server, gated bool, now time.Time) rolloutStep {
	if len(ro.Old) == 0 {
		var old []Server
		var accepted []string
		for _, s := range servers {
			switch {
			case ro.To.matches(s) && s.State != StateTerminated:
				accepted = append(accepted, s.ID)
			case !s.State.live() || ro.To.matches(s):
			default:
				old = append(old, s)
			}
		}
		if len(old) == 0 {
			return rolloutStep{kind: stepDone}
		}
		size := min(max(ro.BatchSize, 1), len(old))
		var ids []string
		for _, v := range ChooseVictims(old, size, OldestFirst) {
			ids = append(ids, v.ID)
		}
		return rolloutStep{kind: stepStartBatch, old: ids, accepted: accepted,
			reason: fmt.Sprintf("batch %d: replacing %s of %d left on %s", ro.Batch+1, nServers(len(ids)), len(old), ro.From)}
	}

	var fresh []string
	ready, serving := 0, 0
	for _, s := range servers {
		isOld := slices.Contains(ro.Old, s.ID)
		if !isOld && !slices.Contains(ro.Accepted, s.ID) && ro.To.matches(s) && s.State != StateTerminated {
			fresh = append(fresh, s.ID)
			switch {
			case s.State == StateFailed:
				return rolloutStep{kind: stepFail, fresh: freshOf(ro, servers),
					reason: fmt.Sprintf("batch %d: new server %s (index %d) failed: %s", ro.Batch, s.ID, s.Index, s.Reason)}
			case s.State == StateRunning && s.Health.Status == HealthUnhealthy:
				return rolloutStep{kind: stepFail, fresh: freshOf(ro, servers),
					reason: fmt.Sprintf("batch %d: new server %s (index %d) failed its health checks: %s", ro.Batch, s.ID, s.Index, checkErrors(s.Health))}
			case s.State == StateRunning && (!gated || s.Health.Status == HealthHealthy):
				ready++
			}
		}
		if !isOld && inService(s) {
			serving++
		}
	}
	if ready >= ro.Surge && serving >= ro.MinHealthy {
		return rolloutStep{kind: stepFinishBatch, old: slices.Clone(ro.Old), fresh: fresh,
			reason: fmt.Sprintf("batch %d: %s of %s in service", ro.Batch, nServers(ready), ro.To)}
	}
	wait := fmt.Sprintf("batch %d: %d of %d new servers ready", ro.Batch, ready, ro.Surge)
	if ready >= ro.Surge {
		wait = fmt.Sprintf("batch %d: %d servers would stay in service, fewer than %d", ro.Batch, serving, ro.MinHealthy)
	}
	if ro.BatchTimeout > 0 && now.Sub(ro.BatchStarted) > ro.BatchTimeout {
		return rolloutStep{kind: stepFail, fresh: fresh, reason: fmt.Sprintf("%s after %s", wait, ro.BatchTimeout)}
	}
	return rolloutStep{kind: stepWait, fresh: fresh, reason: wait}
}

// freshOf lists the batch's new servers not terminated yet.
func freshOf(ro Rollout, servers []Server) []string {
	var out []string
	for _, s := range servers {
		if !slices.Contains(ro.Old, s.ID) && !slices.Contains(ro.Accepted, s.ID) && ro.To.matches(s) && s.State != StateTerminated {
			out = append(out, s.ID)
		}
	}
	return out
}

func checkErrors(h Health) string {
	var parts []string
	for _, c := range h.Checks {
		if c.Status == HealthUnhealthy {
			parts = append(parts, fmt.Sprintf("%s: %s", c.Name, c.LastError))
		}
	}
	if len(parts) == 0 {
		return "unhealthy"
	}
	return strings.Join(parts, "; ")
}

// batchSize resolves ApplyOptions' batch size for a role of n servers:
// size when set, else percent of n rounded up, else 1; never below 1.
func batchSize(size, percent, n int) int {
	switch {
	case size > 0:
		return size
	case percent > 0:
		return max(1, (n*percent+99)/100)
	}
	return 1
}
