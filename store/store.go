package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Errors a Store returns; test them with errors.Is.
var (
	// ErrNotFound is what Get must return (wrapped or not) for a key the
	// farm's namespace does not hold.
	ErrNotFound = errors.New("store: key not found")
	// ErrFenced is what a write must return when the handle no longer owns
	// its farm (another controller took it over). A fenced write changes
	// nothing. Stores without owners (Memory, boltstore) never return it.
	ErrFenced = errors.New("store: fenced: this controller no longer owns the farm")
	// ErrClosed is what every call must return after its DB was closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalid is what Apply must return for an op it refuses (an empty
	// key, an unknown kind, too many ops); nothing of the batch is applied.
	ErrInvalid = errors.New("store: invalid operation")
)

// Limits every Store must accept and callers must stay within. They are
// etcd's defaults less a margin, so one contract fits every backend.
const (
	// MaxOps is the most ops one Apply carries.
	MaxOps = 100
	// MaxValueSize is the largest value, in bytes.
	MaxValueSize = 1 << 20
	// MaxKeySize is the longest key, in bytes.
	MaxKeySize = 512
)

// OpKind says what an Op does.
type OpKind uint8

// The op kinds.
const (
	// OpPut sets Key to Value.
	OpPut OpKind = iota + 1
	// OpDelete removes Key; removing a key that is not there is not an error.
	OpDelete
	// OpDeletePrefix removes every key that starts with Key; an empty Key
	// empties the farm's namespace (and no other).
	OpDeletePrefix
)

// Op is one write of an atomic batch.
type Op struct {
	// Kind is a put, a delete or a prefix deletion.
	Kind OpKind
	// Key is the key, or the prefix of an OpDeletePrefix.
	Key string
	// Value is what an OpPut writes.
	Value []byte
}

// Put returns an op that sets key to value.
func Put(key string, value []byte) Op { return Op{Kind: OpPut, Key: key, Value: value} }

// Delete returns an op that removes key.
func Delete(key string) Op { return Op{Kind: OpDelete, Key: key} }

// DeletePrefix returns an op that removes every key starting with prefix.
func DeletePrefix(prefix string) Op { return Op{Kind: OpDeletePrefix, Key: prefix} }

// KV is one key and its value, as List returns them.
type KV struct {
	// Key is the key, within the farm's namespace.
	Key string
	// Value is its value.
	Value []byte
}

// Store is one farm's namespace of controller state: a small ordered map
// from string keys to byte values. The farm package writes its records
// (desired counts, scaling state, the database master, launches written
// ahead of the cloud call, the scripting log, host-key pins) through it and
// reads them back when a controller starts.
//
// The contract, which store/storetest checks:
//
//   - Get must return the value last put under key, or an error wrapping
//     ErrNotFound when there is none. The returned slice belongs to the
//     caller: changing it must not change the store.
//   - List must return every key of the namespace that starts with prefix,
//     with its value, in ascending byte order of the key; an empty prefix
//     lists the whole namespace. No match is an empty result, not an error.
//   - Apply must apply every op of the batch, in order, or none: a
//     concurrent Get or List sees the state before the batch or after it,
//     never a part. A batch with an invalid op (empty key for OpPut or
//     OpDelete, an unknown kind, more than MaxOps ops, a key over
//     MaxKeySize, a value over MaxValueSize) must fail with an error
//     wrapping ErrInvalid and change nothing. Apply must not keep the
//     caller's value slices: changing one after Apply returns must not
//     change the store.
//   - A write that returned nil must be durable to the degree the store
//     promises (Memory: for the life of the process; boltstore: on disk,
//     fsynced, before Apply returns; etcd: committed by a quorum), and
//     visible to every later Get and List through any handle of the same
//     farm.
//   - Namespaces are isolated: no key, prefix or deletion of one farm may
//     reach another farm, whatever the farm names (including names that
//     are prefixes of each other or contain "/").
//   - Every call must honour ctx: when ctx is done before the call starts
//     it must return an error (wrapping ctx.Err() where the backend can)
//     and, for Apply, change nothing.
//   - A store that writes on behalf of an owner (etcd with farm ownership)
//     must make each Apply conditional on still owning the farm, in the
//     same atomic step, and fail with an error wrapping ErrFenced when it
//     does not.
//   - Calls must be safe from many goroutines at once.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	List(ctx context.Context, prefix string) ([]KV, error)
	Apply(ctx context.Context, ops ...Op) error
}

// DB holds the stores of many farms, each in its own namespace.
//
// Farm must return the namespace of the named farm, creating nothing until
// the first write; it must refuse an empty name with an error wrapping
// ErrInvalid. Calling Farm twice with one name must return handles that see
// each other's writes. Close must release the DB's resources (a file lock,
// connections); every call on it or its handles afterwards must fail with
// an error wrapping ErrClosed. Close twice is not an error.
type DB interface {
	Farm(name string) (Store, error)
	Close() error
}

// CheckOps returns an error wrapping ErrInvalid when ops break the limits
// of the contract; stores call it before applying anything.
func CheckOps(ops []Op) error {
	if len(ops) > MaxOps {
		return fmt.Errorf("%w: %d ops in one batch, at most %d", ErrInvalid, len(ops), MaxOps)
	}
	for i, op := range ops {
		switch op.Kind {
		case OpPut, OpDelete:
			if op.Key == "" {
				return fmt.Errorf("%w: op %d: empty key", ErrInvalid, i)
			}
		case OpDeletePrefix:
		default:
			return fmt.Errorf("%w: op %d: unknown kind %d", ErrInvalid, i, op.Kind)
		}
		if len(op.Key) > MaxKeySize {
			return fmt.Errorf("%w: op %d: key of %d bytes, at most %d", ErrInvalid, i, len(op.Key), MaxKeySize)
		}
		if len(op.Value) > MaxValueSize {
			return fmt.Errorf("%w: op %d: value of %d bytes for key %q, at most %d", ErrInvalid, i, len(op.Value), op.Key, MaxValueSize)
		}
	}
	return nil
}

// CheckFarmName returns an error wrapping ErrInvalid for a name no
// namespace can have.
func CheckFarmName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty farm name", ErrInvalid)
	}
	if strings.ContainsRune(name, 0) {
		return fmt.Errorf("%w: farm name %q contains a NUL byte", ErrInvalid, name)
	}
	return nil
}
