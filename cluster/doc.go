// Package cluster lets several controller processes share many farms on
// etcd: each farm has exactly one owner at a time, farms move when a
// controller joins or dies, and an owner that lost its lease stops acting
// before another starts.
//
// # Members and owners
//
// Each controller process Joins the cluster: it takes an etcd lease of
// Options.TTL and registers itself under it (Prefix+"members/ID"). Run
// then shares a list of farms: the owner of a farm is the live member with
// the highest rendezvous score for it (Owner), so a member that dies moves
// only its own farms, and one that joins takes only the farms it now
// scores highest on. A member takes a farm by creating the farm's
// ownership key (Prefix+"owners/FARM") under its own lease, only when no
// key exists, and calls the WorkFunc for it; it hands a farm to a member
// that has been live for Options.Settle by ending the farm's work, waiting
// until it returned, and only then deleting the key.
//
//	m, err := cluster.Join(ctx, etcdClient, &cluster.Options{ID: "ctl-1", TTL: 10 * time.Second})
//	defer m.Close()
//	err = m.Run(ctx, farmNames, func(ctx context.Context, o *cluster.Ownership) error {
//		st, _ := db.Fenced(o.Farm, o)    // the farm's state, every write fenced by o
//		... build the farm over st, Launch (adopts what runs), Run until ctx ends ...
//	})
//
// When a member dies, etcd expires its lease after at most TTL, which
// deletes its keys; the other members see that (a watch, and a re-read
// every TTL/4) and take its farms, which resume from their stored state:
// within two TTLs.
//
// # Fencing
//
// The ownership key's revision is the fencing token: Ownership.Cmp is the
// comparison "the key still has the revision I created it with", and a
// store that writes for an owner puts it in the same etcd transaction as
// the write (Ownership.Txn does so for direct etcd writes). A member that
// lost the farm, whatever it believes, can then not write its state: the
// write fails with ErrNotOwner and the ownership ends.
//
// Cloud calls cannot be fenced by etcd, so the member also stops by time:
// it renews its lease every TTL/4 and takes as its local expiry the time
// the last successful renewal was sent, plus TTL, less Options.Margin,
// which is earlier than etcd's own expiry of the lease. When the local
// expiry passes, every farm's work context ends (a LeaseExpired event and
// a Lost event per farm) and Ownership.Check fails, before etcd can give
// the farms to another member. Call Check right before an unfenced action.
// A process paused in the middle of a cloud call (a long GC pause, a frozen
// VM) may finish that call after its lease expired: this is why launches
// carry idempotency tokens and why every state write is fenced.
//
// # When etcd is unreachable
//
// A member whose etcd does not answer (each call is bounded by
// Options.RequestTimeout) reports Unreachable, stops acting on every farm
// at its local expiry, and never acts unfenced. It goes on trying: once
// etcd answers, it renews the lease if etcd still has it, or registers
// again under a new lease (LeaseLost, Rejoined), and takes farms again.
// Options.OnEvent receives these events; Member.Err and Member.Acting tell
// the state at any time.
package cluster
