package cluster

import (
	"fmt"
	"time"
)

// EventType names what happened to a member.
type EventType string

// The event types.
const (
	// Acquired: the member took Farm (its key, at Revision) and started
	// its work.
	Acquired EventType = "Acquired"
	// Released: the member handed Farm over (To names the member that
	// should own it now; empty at the end of Run) after its work returned.
	Released EventType = "Released"
	// Lost: the member stopped acting on Farm without handing it over; Err
	// says why (the lease's local expiry passed, a fenced write found
	// another owner, the lease is gone at etcd).
	Lost EventType = "Lost"
	// WorkEnded: the work of Farm returned (Err is what it returned) while
	// the member still owned it; it is called again at the next round.
	WorkEnded EventType = "WorkEnded"
	// Unreachable: etcd did not answer (Err). The member goes on trying;
	// when the lease's local expiry passes it stops acting on every farm.
	Unreachable EventType = "Unreachable"
	// Reachable: etcd answers again after Unreachable.
	Reachable EventType = "Reachable"
	// LeaseExpired: the lease was not renewed before its local expiry; the
	// member stopped acting on every farm (each gets a Lost event).
	LeaseExpired EventType = "LeaseExpired"
	// LeaseLost: etcd no longer knows the member's lease (it expired
	// there): every ownership under it is gone.
	LeaseLost EventType = "LeaseLost"
	// Rejoined: after LeaseLost, the member registered again under a new
	// lease, and takes farms again.
	Rejoined EventType = "Rejoined"
)

// Event is something that happened to a member.
type Event struct {
	// Type says what happened.
	Type EventType
	// Member is the ID of the member it happened to.
	Member string
	// Farm names the farm of Acquired, Released, Lost and WorkEnded;
	// empty for events about the member itself.
	Farm string
	// Revision is the etcd revision of the farm's ownership key.
	Revision int64
	// To names the member a Released farm goes to.
	To string
	// Err is the cause, for the events that have one.
	Err error
	// Time is when it happened, on the member's clock.
	Time time.Time
}

// String renders the event on one line, such as
// "Acquired member=c1 farm=shop revision=12".
func (e Event) String() string {
	s := fmt.Sprintf("%s member=%s", e.Type, e.Member)
	if e.Farm != "" {
		s += " farm=" + e.Farm
	}
	if e.Revision != 0 {
		s += fmt.Sprintf(" revision=%d", e.Revision)
	}
	if e.To != "" {
		s += " to=" + e.To
	}
	if e.Err != nil {
		s += fmt.Sprintf(" err=%q", e.Err.Error())
	}
	return s
}
