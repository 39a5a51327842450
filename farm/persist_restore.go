package farm

import (
	"context"
	"fmt"
	"slices"

	"github.com/farmhand/farmhand/store"
)

// restore reads the farm's state from its Store, once, in New: a
// controller restarted on the same Store continues where the last one
// stopped instead of guessing from the cloud's tags. It refuses a Store
// that holds another farm or records of a newer schema.
func (f *Farm) restore() error {
	p := f.persist
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	kvs, err := p.st.List(ctx, "")
	if err != nil {
		return fmt.Errorf("farm: reading the farm's state from the store: %w", err)
	}
	s, err := parseSaved(kvs)
	if err != nil {
		return err
	}
	switch {
	case s.schema > recordSchema:
		return fmt.Errorf("farm: the store holds records of schema %d, written by a newer farmhand; this one reads up to %d", s.schema, recordSchema)
	case s.farm != nil && s.farm.Name != f.spec.Name:
		return fmt.Errorf("farm: the store holds the state of farm %q, not %q: open the store's namespace of this farm", s.farm.Name, f.spec.Name)
	case len(kvs) > 0 && (s.farm == nil || s.schema == 0):
		return fmt.Errorf("farm: the store holds %d keys (the first %q) but no farm record: it is not a farm's state", len(kvs), kvs[0].Key)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(kvs) == 0 {
		f.markLocked(keySchema, keyFarm)
		for _, name := range f.order {
			f.markLocked(keyRole + name)
		}
		return nil
	}
	p.restored = true
	p.other = s.other
	f.launched, f.terminating = s.farm.Launched, s.farm.Terminating
	for _, name := range sortedKeys(s.roles) {
		rr, rs := s.roles[name], f.roles[name]
		if rs == nil {
			continue // the spec no longer has the role
		}
		valid := func(lo, hi int) bool { return lo >= 0 && hi >= 1 && lo <= hi }
		if valid(rr.BaseMin, rr.BaseMax) && (rr.BaseMin != rs.spec.Min || rr.BaseMax != rs.spec.Max) {
			// SetBounds moved the role's own bounds.
			if err := f.setScalingBaseLocked(name, rr.BaseMin, rr.BaseMax); err == nil {
				rs.min, rs.max = rr.BaseMin, rr.BaseMax
			} else {
				f.log.Warn("farm: saved bounds do not fit the role's policy; keeping the spec's", "role", name, "err", err)
			}
		}
		if valid(rr.Min, rr.Max) {
			rs.min, rs.max = rr.Min, rr.Max // the bounds in force, until the policy's next evaluation
		}
		rs.desired = min(max(rr.Desired, rs.min), rs.max)
		if f.terminating {
			rs.desired = 0
		}
		rs.desiredByUser = rr.ByUser
	}
	for _, name := range sortedKeys(s.scaling) {
		sr, rsc := s.scaling[name], f.scaling.roles[name]
		if rsc == nil {
			continue
		}
		rsc.ev.SetState(sr.State)
		rsc.last, rsc.next = sr.Last, sr.Next
	}
	for role, h := range s.history {
		if f.roles[role] != nil {
			f.scaling.history[role] = h
			p.history[role] = s.historyN[role]
		}
	}
	if err := f.restoreRolloutsLocked(kvs); err != nil { // see rollout_run.go
		return err
	}
	for _, token := range sortedKeys(s.launches) {
		lr := s.launches[token]
		rs := f.roles[lr.Role]
		if rs == nil || len(lr.Slots) == 0 || lr.Attempt < 1 || f.terminating {
			p.appended = append(p.appended, store.Delete(keyLaunch+token))
			continue
		}
		spec := f.launchSpecLocked(rs, lr.Zone, lr.Slots, lr.Attempt)
		if spec.Token != token {
			// The role's spec changed the token's inputs; the tags of
			// what it launched still let the listing adopt it.
			p.appended = append(p.appended, store.Delete(keyLaunch+token))
			continue
		}
		for _, i := range lr.Slots {
			rs.attempts[i] = max(rs.attempts[i], lr.Attempt)
		}
		rs.inflight = append(rs.inflight, &inflightLaunch{spec: spec, slots: slices.Clone(lr.Slots), indexes: slices.Clone(lr.Slots), since: lr.Since})
		p.launches[keyLaunch+token] = true
	}
	for id, why := range s.leaving {
		p.gone[id] = why
		p.leaving[keyLeaving+id] = true
	}
	if f.dns != nil {
		f.restoreMastersLocked(s)
	}
	if e := f.scripts; e != nil {
		if e.saved != nil {
			if err := e.saved.restore(s.log); err != nil {
				return err
			}
		}
		if err := e.restorePins(s.pins); err != nil {
			return err
		}
	}
	f.log.Info("farm: state restored from the store", "keys", len(kvs), "launches", len(p.launches), "terminating", f.terminating)
	return nil
}

// restoreMastersLocked gives each database and NFS role the master the
// store names: it is marked again when the first listing shows it in
// service, and when it is not, its loss is a failover from it (with the
// promote script), not the election of a first master. A failover cut
// short resumes with the same candidate.
func (f *Farm) restoreMastersLocked(s *saved) {
	p := f.persist
	d := f.dns
	for role, ps := range d.roles {
		m, hasMaster := s.masters[role]
		fo, hasFailover := s.failovers[role]
		switch {
		case hasFailover:
			ps.prev = Server{ID: fo.Old.ID, Role: role, PrivateIP: fo.Old.PrivateIP, PublicIP: fo.Old.PublicIP, Master: true}
			ps.lossAt, ps.lossReason = fo.Detected, fo.Reason
			ps.stale[fo.Old.ID] = true // demoted or retired if it still serves
			p.prefer[role] = fo.Candidate
		case hasMaster:
			ps.prev = Server{ID: m.ID, Role: role, PrivateIP: m.PrivateIP, PublicIP: m.PublicIP, Master: true}
			p.masters[role] = m.ID
		}
	}
}

// applyRestoredLocked applies, after the first listing of a restored
// farm, what the store said about the servers: the masters are marked, and
// the servers that were being terminated continue (their
// BeforeHostTerminate hooks run again). Reconcile calls it.
func (f *Farm) applyRestoredLocked() {
	p := f.persist
	if p == nil || !p.restored {
		return
	}
	p.restored = false
	for role, id := range p.masters {
		r := f.records[id]
		if r != nil && r.srv.Role == role && r.srv.State == StateRunning && !r.terminating {
			r.srv.Master = true
			f.log.Info("farm: master restored from the store", "role", role, "server", id)
		}
		delete(p.masters, role)
	}
	for _, id := range sortedKeys(p.gone) {
		why := p.gone[id]
		delete(p.gone, id)
		r := f.records[id]
		if r == nil || !r.srv.State.live() || r.terminating {
			continue
		}
		if why == "" {
			why = "scale-in under way when the controller stopped"
		}
		f.decideTerminationLocked(r, termination{id: id, reason: why, graceful: true})
	}
	f.markLocked(keyLeaving)
}

// preferredMaster returns the candidate of a failover that the last
// controller started and did not finish, once.
func (f *Farm) preferredMaster(role string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.persist == nil {
		return ""
	}
	id := f.persist.prefer[role]
	delete(f.persist.prefer, role)
	return id
}

// pinKey is the store key of the host keys pinned for an address.
func pinKey(addr string) string { return keyPin + addr }

// pinRecord is a "pin/" key.
type pinRecord struct {
	Server string   `json:"server"`
	Keys   []string `json:"keys"` // authorized_keys lines
}
