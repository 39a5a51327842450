package farm

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// DatabaseSpec makes a role a database with one master and replicas.
//
// The first server of the role to enter service becomes the master
// ([Server.Master]); the others are replicas. When the master is lost (the
// cloud reports it gone, stopped or failed; a health check fails past its
// threshold; or it is about to be terminated) the farm picks a replica (in
// the old master's zone first, then healthy before unknown, then the one
// longest in service; with a PositionScript, the most advanced in
// replication before all of those), fences the old master (FenceScript,
// or termination at the cloud when that fails), runs PromoteScript on it, marks it master, moves the
// role's DNS names of select "master" with a compare-and-swap on their old
// value, checks the move at the authoritative servers ([Options.DNSVerify])
// and fires [NewDBMaster], to which the dependent roles bind their
// reconnect scripts. The role's normal reconciliation then launches a
// replacement replica. With no replica left, the next server of the role
// to enter service becomes master the same way.
type DatabaseSpec struct {
	// PromoteScript names the script that turns a replica into the master
	// (for MySQL, "STOP SLAVE; RESET SLAVE ALL" and read_only off). It runs
	// on the chosen replica with the event NewDBMaster and the parameters
	// old_master_id, old_master_ip, new_master_id and new_master_ip, before
	// the replica is marked master; if it fails, the next replica is
	// tried. Empty means the farm only marks the replica.
	PromoteScript string `yaml:"promote_script,omitempty"`
	// DemoteScript names the script run on a former master that is seen in
	// service again (its health checks recover), to make it a replica of
	// the new master. Empty means the farm terminates a former master
	// instead, and launches a fresh replica.
	DemoteScript string `yaml:"demote_script,omitempty"`
	// OldMaster says what happens to a former master that is still in
	// service after a failover: "demote" (run DemoteScript once it is
	// healthy; the default when DemoteScript is set) or "terminate" (the
	// default otherwise).
	OldMaster string `yaml:"old_master,omitempty"`
	// PromoteTimeout bounds the promote, demote and fence scripts; 0
	// means DefaultPromoteTimeout.
	PromoteTimeout time.Duration `yaml:"promote_timeout,omitempty"`
	// PositionScript names a script that prints a replica's replication
	// position (see [ParsePosition]: a GTID list such as "0-1-57", or an
	// integer). At a failover it runs on every replica that could be
	// promoted, after the old master is fenced, and the most advanced
	// replica is promoted first, whatever its zone: with semi-synchronous
	// replication that replica holds every write the master acknowledged.
	// A replica whose script fails ranks after those with a position.
	// Empty means the zone, health and age rules alone choose.
	PositionScript string `yaml:"position_script,omitempty"`
	// PositionTimeout bounds the position scripts of one failover; 0
	// means DefaultPositionTimeout.
	PositionTimeout time.Duration `yaml:"position_timeout,omitempty"`
	// FenceScript names a script run on the lost master, while it is
	// still listed by the cloud, before any replica is promoted and before
	// the DNS names move: it must leave the old master unable to accept
	// writes (read_only on, or the database process stopped) and exit 0.
	// When it fails (the server does not answer), the farm terminates the
	// old master at the cloud instead; when that fails too, the failover
	// waits and is tried again at the next event of the role, so that the
	// role never has two writable masters. Empty means no fencing: the
	// old master is only unmarked (and replaced, or demoted).
	FenceScript string `yaml:"fence_script,omitempty"`
}

// DefaultPositionTimeout bounds the position scripts of one failover when
// the spec gives no timeout.
const DefaultPositionTimeout = 10 * time.Second

func (d *DatabaseSpec) positionTimeout() time.Duration {
	if d == nil || d.PositionTimeout <= 0 {
		return DefaultPositionTimeout
	}
	return d.PositionTimeout
}

// The values of DatabaseSpec.OldMaster.
const (
	OldMasterDemote    = "demote"
	OldMasterTerminate = "terminate"
)

// DefaultPromoteTimeout bounds a promote or demote script when the spec
// gives no timeout.
const DefaultPromoteTimeout = 5 * time.Minute

// oldMasterPolicy returns what to do with a former master.
func (d *DatabaseSpec) oldMasterPolicy() string {
	switch {
	case d == nil:
		return OldMasterTerminate
	case d.OldMaster != "":
		return d.OldMaster
	case d.DemoteScript != "":
		return OldMasterDemote
	}
	return OldMasterTerminate
}

func (d *DatabaseSpec) promoteTimeout() time.Duration {
	if d == nil || d.PromoteTimeout <= 0 {
		return DefaultPromoteTimeout
	}
	return d.PromoteTimeout
}

// cloneBehaviours deep-copies a role's DNS names and its database and NFS
// behaviours. RoleSpec.clone calls it.
func (r RoleSpec) cloneBehaviours() RoleSpec {
	if r.DNS != nil {
		r.DNS = append([]DNSName(nil), r.DNS...)
	}
	if r.Database != nil {
		d := *r.Database
		r.Database = &d
	}
	if r.NFS != nil {
		n := *r.NFS
		r.NFS = &n
	}
	if r.Backup != nil {
		b := *r.Backup
		r.Backup = &b
	}
	return r
}

// primaryRole reports whether the role has one master: a database or NFS
// role.
func (r RoleSpec) primaryRole() bool { return r.Database != nil || r.NFS != nil }

// primarySpec validates a role's database and NFS behaviours.
func (v *validator) primarySpec(path, role string, r RoleSpec, masterNames int) {
	if r.Database != nil && r.NFS != nil {
		v.add(path+".nfs", role, "a role is either a database or an nfs server, not both")
	}
	if d := r.Database; d != nil {
		dp := path + ".database"
		v.scriptName(dp+".promote_script", role, "promote_script", d.PromoteScript)
		v.scriptName(dp+".demote_script", role, "demote_script", d.DemoteScript)
		v.scriptName(dp+".position_script", role, "position_script", d.PositionScript)
		v.scriptName(dp+".fence_script", role, "fence_script", d.FenceScript)
		if d.PositionTimeout < 0 {
			v.add(dp+".position_timeout", role, "database position_timeout %s is negative", d.PositionTimeout)
		}
		switch d.OldMaster {
		case "", OldMasterTerminate:
		case OldMasterDemote:
			if d.DemoteScript == "" {
				v.add(dp+".old_master", role, "database old_master %q needs a demote_script", d.OldMaster)
			}
		default:
			v.add(dp+".old_master", role, "database old_master %q is not %q or %q", d.OldMaster, OldMasterDemote, OldMasterTerminate)
		}
		if d.PromoteTimeout < 0 {
			v.add(dp+".promote_timeout", role, "database promote_timeout %s is negative", d.PromoteTimeout)
		}
	}
	if n := r.NFS; n != nil {
		np := path + ".nfs"
		if masterNames == 0 {
			v.add(np, role, "an nfs role needs a dns name with select %q for its clients to mount", DNSSelectMaster)
		}
		if n.Export != "" && !strings.HasPrefix(n.Export, "/") {
			v.add(np+".export", role, "nfs export %q is not an absolute path", n.Export)
		}
	}
}

// scriptName checks a script name field; empty is allowed.
func (v *validator) scriptName(path, role, field, name string) {
	switch {
	case name == "":
	case strings.TrimSpace(name) == "":
		v.add(path, role, "%s %q is blank", field, name)
	case len(name) > 200:
		v.add(path, role, "%s is longer than 200 bytes", field)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		v.add(path, role, "%s %q has a control character", field, name)
	}
}

// The failover's decisions, as pure functions of server snapshots.

// masterUsable reports whether a server can serve as its role's master:
// in service and not failing its health checks. A server being
// terminated is PendingTerminate, so it does not qualify.
func masterUsable(s Server) bool {
	return s.State == StateRunning && s.Health.Status != HealthUnhealthy
}

// splitMasters sorts a role's servers marked master into those still
// usable and those lost.
func splitMasters(servers []Server) (usable, lost []Server) {
	for _, s := range servers {
		if !s.Master {
			continue
		}
		if masterUsable(s) {
			usable = append(usable, s)
		} else {
			lost = append(lost, s)
		}
	}
	return usable, lost
}

// chooseMaster picks the server to make master among a role's servers,
// skipping the IDs in exclude (candidates whose promotion failed). prev is
// the master being replaced (zero when there was none); pos holds the
// replication positions read from the candidates (nil without a position
// script). The rules, in order:
//
//  1. Only servers that can serve (in service, not unhealthy) qualify.
//  2. With positions, a server with a known position before one without,
//     and the most advanced first: it holds every write the old master
//     acknowledged, which matters more than locality.
//  3. A server in prev's zone first: it is likely nearest in replication
//     and keeps the clients' traffic in their zone.
//  4. Healthy before unknown health (no check has passed yet).
//  5. The one longest in service (earliest UpAt), then launched first.
//  6. The lower ID, so that the choice is deterministic.
func chooseMaster(servers []Server, prev Server, exclude map[string]bool, pos map[string]int64) (Server, bool) {
	var best Server
	found := false
	rank := func(s Server) [2]int {
		var r [2]int
		if prev.Zone != "" && s.Zone == prev.Zone {
			r[0] = 1
		}
		if s.Health.Status == HealthHealthy {
			r[1] = 1
		}
		return r
	}
	better := func(a, b Server) bool {
		pa, oka := pos[a.ID]
		pb, okb := pos[b.ID]
		if oka != okb {
			return oka
		}
		if pa != pb {
			return pa > pb
		}
		ra, rb := rank(a), rank(b)
		for i := range ra {
			if ra[i] != rb[i] {
				return ra[i] > rb[i]
			}
		}
		if !a.UpAt.Equal(b.UpAt) {
			return a.UpAt.Before(b.UpAt)
		}
		if !a.LaunchedAt.Equal(b.LaunchedAt) {
			return a.LaunchedAt.Before(b.LaunchedAt)
		}
		return a.ID < b.ID
	}
	for _, s := range servers {
		if s.ID == prev.ID || exclude[s.ID] || !masterUsable(s) {
			continue
		}
		if !found || better(s, best) {
			best, found = s, true
		}
	}
	return best, found
}

// failoverParams are the parameters of NewDBMaster and NFSServerChanged,
// and of the promote script.
func failoverParams(prev, next Server) map[string]string {
	return map[string]string{
		"old_master_id": prev.ID, "old_master_ip": prev.PrivateIP, "old_master_external_ip": prev.PublicIP,
		"new_master_id": next.ID, "new_master_ip": next.PrivateIP, "new_master_external_ip": next.PublicIP,
	}
}

// masterReason describes why a master counts as lost.
func masterReason(s Server) string {
	switch {
	case s.State == StateRunning && s.Health.Status == HealthUnhealthy:
		return fmt.Sprintf("master %s fails its health checks", s.ID)
	case s.Reason != "":
		return fmt.Sprintf("master %s is %s: %s", s.ID, s.State, s.Reason)
	}
	return fmt.Sprintf("master %s is %s", s.ID, s.State)
}
