package farm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/store"
)

// farmRecord is the "farm" key.
type farmRecord struct {
	Name        string `json:"name"`
	Launched    bool   `json:"launched,omitempty"`
	Terminating bool   `json:"terminating,omitempty"`
}

// roleRecord is a "role/" key: the desired count and the bounds.
type roleRecord struct {
	Desired int  `json:"desired"`
	ByUser  bool `json:"by_user,omitempty"` // set by the program, the API or the policy
	// Min and Max are the bounds in force (a schedule window's, say);
	// BaseMin and BaseMax the role's own, as the spec or SetBounds set
	// them, over which the policy's windows apply.
	Min     int `json:"min"`
	Max     int `json:"max"`
	BaseMin int `json:"base_min"`
	BaseMax int `json:"base_max"`
}

// scalingRecord is a "scaling/" key: the policy's state between
// evaluations (cooldowns, streaks, the API-set count) and the last
// decision.
type scalingRecord struct {
	State scaling.State     `json:"state"`
	Last  *scaling.Decision `json:"last,omitempty"`
	Next  time.Time         `json:"next,omitzero"`
}

// masterRecord is a "master/" key: the role's master.
type masterRecord struct {
	ID        string    `json:"id"`
	PrivateIP string    `json:"private_ip,omitempty"`
	PublicIP  string    `json:"public_ip,omitempty"`
	Since     time.Time `json:"since"`
}

// failoverRecord is a "failover/" key: a failover under way, written
// before the promote script runs and removed once it is announced.
type failoverRecord struct {
	Old       masterRecord `json:"old"`
	Candidate string       `json:"candidate"`
	Reason    string       `json:"reason,omitempty"`
	Detected  time.Time    `json:"detected,omitzero"`
}

// launchRecord is a "launch/" key: a launch whose outcome is not known
// yet, written before the cloud is called. The launch spec is rebuilt from
// the role's spec and these fields (the token is derived from them), so no
// user data or key is kept.
type launchRecord struct {
	Role    string    `json:"role"`
	Zone    string    `json:"zone"`
	Slots   []int     `json:"slots"`
	Attempt int       `json:"attempt"`
	Since   time.Time `json:"since"`
}

func historyKey(role string, seq uint64) string {
	return fmt.Sprintf("%s%s/%020d", keyHistory, role, seq)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("farm: encoding a store record: %v", err)) // only plain structs are encoded
	}
	return b
}

// encodeLocked returns the writes that bring one dirty record key up to
// date with the farm's state.
func (f *Farm) encodeLocked(key string) []store.Op {
	p := f.persist
	switch {
	case key == keySchema:
		return []store.Op{store.Put(keySchema, []byte(strconv.Itoa(recordSchema)))}
	case key == keyFarm:
		return []store.Op{store.Put(keyFarm, mustJSON(farmRecord{Name: f.spec.Name, Launched: f.launched, Terminating: f.terminating}))}
	case strings.HasPrefix(key, keyRole):
		rs := f.roles[key[len(keyRole):]]
		if rs == nil {
			return nil
		}
		rec := roleRecord{Desired: rs.desired, ByUser: rs.desiredByUser, Min: rs.min, Max: rs.max, BaseMin: rs.min, BaseMax: rs.max}
		if rsc := f.scaling.roles[rs.spec.Name]; rsc != nil {
			p := rsc.ev.Policy()
			rec.BaseMin, rec.BaseMax = p.Min, p.Max
		}
		return []store.Op{store.Put(key, mustJSON(rec))}
	case strings.HasPrefix(key, keyScaling):
		rsc := f.scaling.roles[key[len(keyScaling):]]
		if rsc == nil {
			return nil
		}
		return []store.Op{store.Put(key, mustJSON(scalingRecord{State: rsc.ev.State(), Last: rsc.last, Next: rsc.next}))}
	case strings.HasPrefix(key, keyRollout):
		return f.encodeRolloutLocked(key) // see rollout_run.go
	case key == keyLaunch:
		var ops []store.Op
		now := map[string]bool{}
		for _, name := range f.order {
			for _, in := range f.roles[name].inflight {
				k := keyLaunch + in.spec.Token
				now[k] = true
				if p.launches[k] {
					continue
				}
				attempt, _ := strconv.Atoi(in.spec.Tags[TagAttempt])
				ops = append(ops, store.Put(k, mustJSON(launchRecord{
					Role: name, Zone: in.spec.Zone, Slots: in.slots, Attempt: attempt, Since: in.since,
				})))
			}
		}
		for _, k := range sortedKeys(p.launches) {
			if !now[k] {
				ops = append(ops, store.Delete(k))
			}
		}
		p.nextLaunches = now // in force once the batch is written
		return ops
	case key == keyLeaving:
		var ops []store.Op
		now := map[string]bool{}
		for id, r := range f.records { // the order of the ops does not matter
			if !r.terminating || r.srv.State == StateTerminated || r.asked {
				continue
			}
			k := keyLeaving + id
			now[k] = true
			if !p.leaving[k] {
				ops = append(ops, store.Put(k, []byte(r.srv.Reason)))
			}
		}
		for id := range p.gone {
			now[keyLeaving+id] = true // restored, not listed yet
		}
		for _, k := range sortedKeys(p.leaving) {
			if !now[k] {
				ops = append(ops, store.Delete(k))
			}
		}
		p.nextLeaving = now
		return ops
	}
	return nil
}

// appendHistoryLocked saves one scaling record, dropping the oldest past
// ScalingHistoryLimit.
func (f *Farm) appendHistoryLocked(rec ScalingRecord) {
	p := f.persist
	if p == nil {
		return
	}
	p.history[rec.Role]++
	seq := p.history[rec.Role]
	p.appended = append(p.appended, store.Put(historyKey(rec.Role, seq), mustJSON(rec)))
	if seq > ScalingHistoryLimit {
		p.appended = append(p.appended, store.Delete(historyKey(rec.Role, seq-ScalingHistoryLimit)))
	}
}

// saveMasterLocked saves the role's master.
func (f *Farm) saveMasterLocked(role string, s Server) {
	p := f.persist
	if p == nil {
		return
	}
	p.appended = append(p.appended, store.Put(keyMaster+role, mustJSON(masterRecord{
		ID: s.ID, PrivateIP: s.PrivateIP, PublicIP: s.PublicIP, Since: f.clk.Now(),
	})))
}

// saveFailoverLocked saves a failover under way (rec non-nil) or clears it.
func (f *Farm) saveFailoverLocked(role string, rec *failoverRecord) {
	p := f.persist
	if p == nil {
		return
	}
	if rec == nil {
		p.appended = append(p.appended, store.Delete(keyFailover+role))
		return
	}
	p.appended = append(p.appended, store.Put(keyFailover+role, mustJSON(rec)))
}

// saved is what a Store holds for a farm, read once by New.
type saved struct {
	schema    int
	farm      *farmRecord
	roles     map[string]roleRecord
	scaling   map[string]scalingRecord
	history   map[string][]ScalingRecord
	historyN  map[string]uint64
	masters   map[string]masterRecord
	failovers map[string]failoverRecord
	launches  map[string]launchRecord
	leaving   map[string]string
	log       []store.KV
	pins      []store.KV
	other     []store.KV // keys of later features, for recordsSaved
}

// parseSaved decodes a farm's keys. Keys it does not know are left alone:
// later features keep records of their own.
func parseSaved(kvs []store.KV) (*saved, error) {
	s := &saved{
		roles: map[string]roleRecord{}, scaling: map[string]scalingRecord{}, history: map[string][]ScalingRecord{},
		historyN: map[string]uint64{}, masters: map[string]masterRecord{}, failovers: map[string]failoverRecord{},
		launches: map[string]launchRecord{}, leaving: map[string]string{},
	}
	decode := func(kv store.KV, v any) error {
		if err := json.Unmarshal(kv.Value, v); err != nil {
			return fmt.Errorf("farm: store key %q holds %q: %w", kv.Key, truncate(string(kv.Value), 80), err)
		}
		return nil
	}
	for _, kv := range kvs {
		k := kv.Key
		var err error
		switch {
		case k == keySchema:
			s.schema, err = strconv.Atoi(string(kv.Value))
			if err != nil || s.schema < 1 {
				return nil, fmt.Errorf("farm: store key %q holds %q, not a schema version", k, truncate(string(kv.Value), 80))
			}
		case k == keyFarm:
			s.farm = &farmRecord{}
			err = decode(kv, s.farm)
		case strings.HasPrefix(k, keyRole):
			var r roleRecord
			err = decode(kv, &r)
			s.roles[k[len(keyRole):]] = r
		case strings.HasPrefix(k, keyScaling):
			var r scalingRecord
			err = decode(kv, &r)
			s.scaling[k[len(keyScaling):]] = r
		case strings.HasPrefix(k, keyHistory):
			rest := k[len(keyHistory):]
			i := strings.LastIndexByte(rest, '/')
			seq, perr := strconv.ParseUint(rest[i+1:], 10, 64)
			if i < 0 || perr != nil {
				return nil, fmt.Errorf("farm: store key %q: not a scaling history key", k)
			}
			var r ScalingRecord
			err = decode(kv, &r)
			role := rest[:i]
			s.history[role] = append(s.history[role], r)
			s.historyN[role] = max(s.historyN[role], seq)
		case strings.HasPrefix(k, keyMaster):
			var r masterRecord
			err = decode(kv, &r)
			s.masters[k[len(keyMaster):]] = r
		case strings.HasPrefix(k, keyFailover):
			var r failoverRecord
			err = decode(kv, &r)
			s.failovers[k[len(keyFailover):]] = r
		case strings.HasPrefix(k, keyLaunch):
			var r launchRecord
			err = decode(kv, &r)
			s.launches[k[len(keyLaunch):]] = r
		case strings.HasPrefix(k, keyLeaving):
			s.leaving[k[len(keyLeaving):]] = string(kv.Value)
		case strings.HasPrefix(k, keyLog):
			s.log = append(s.log, kv)
		case strings.HasPrefix(k, keyPin):
			s.pins = append(s.pins, kv)
		default:
			s.other = append(s.other, kv)
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
