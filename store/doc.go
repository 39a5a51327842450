// Package store is the contract between a farm's controller and the place
// it keeps its own state: a small ordered key/value map per farm (Store),
// opened from a DB that holds many farms, written in atomic batches.
//
// What a controller keeps there is what the cloud's tags cannot tell a
// restarted controller: the desired count of each role and capacity set
// through the scaling API, cooldowns and scaling history, the database
// master of each role and a failover in progress, launches written ahead of
// the cloud call (intent and idempotency token), the scripting log, host-key
// pins, and the records later features add. The farm package owns the keys
// and their encoding; a Store only keeps bytes.
//
// # Implementations
//
//   - Memory (NewMemory): the process's memory. Nothing survives the
//     process; two farm objects made in turn on it (a test of a restart)
//     share their state. (A farm whose Options name no Store writes
//     nowhere: it keeps its state in its own memory.)
//   - store/boltstore: one file through go.etcd.io/bbolt, fsynced on every
//     batch. The embedded default for a controller that must survive a kill.
//   - store/etcdstore: etcd, for several controllers sharing farms (package
//     cluster): each write is fenced by the farm's ownership in the same
//     etcd transaction.
//
// # Writing a store
//
// The "must" sentences on Store and DB are the contract;
// store/storetest.Run checks them, and every implementation's tests run it:
//
//	storetest.Run(t, storetest.Harness{
//		Open:   func(t *testing.T) store.DB { ... a new, empty DB ... },
//		Reopen: func(t *testing.T, db store.DB) store.DB { ... the same state, reopened ... },
//	})
//
// A store that acts for an owner (a controller holding a lease on the
// farm) makes every Apply conditional on still owning it, in the same
// atomic step, and fails with ErrFenced otherwise: a controller that lost
// its farm can then never overwrite the state of the one that took it.
//
// # Keys
//
// Keys are chosen by the caller; the farm package uses "/"-separated
// names ("desired/app", "launch/<token>", "log/<sequence>") so that List
// and DeletePrefix work on a kind of record. Keys are at most MaxKeySize
// bytes, values at most MaxValueSize, a batch at most MaxOps ops: limits
// every backend (etcd's defaults included) accepts.
package store
