// Package boltstore is the embedded store.DB: every farm's controller state
// in one file, through go.etcd.io/bbolt. It needs no server; each Apply is
// one bbolt transaction, fsynced before it returns, so a controller killed
// at any instant finds on restart every write that had returned.
//
// One process at a time: Open takes the file's lock and waits at most
// Options.LockTimeout for a process that holds it. A file that is not a
// bbolt file, fails bbolt's consistency check, or was written by a newer
// farmhand (a higher schema version) is refused with an error that says so,
// and is never written to.
//
//	db, err := boltstore.Open("/var/lib/shop/farmhand.db", nil)
//	if err != nil { ... }            // corrupt, locked, or newer: fix the file, do not delete it blindly
//	defer db.Close()
//	st, err := db.Farm(spec.Name)
//	f, err := farm.New(spec, cloud, &farm.Options{Store: st})
//
// # Layout
//
// The file holds a bucket "farmhand" with the key "schema" (the decimal
// schema version, SchemaVersion) and a bucket "farms" with one nested bucket
// per farm name holding that farm's keys as they are.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/farmhand/farmhand/store"
)

// SchemaVersion is the layout this package writes. Open refuses a file
// with a higher one.
const SchemaVersion = 1

var (
	metaBucket  = []byte("farmhand")
	farmsBucket = []byte("farms")
	schemaKey   = []byte("schema")
)

// Errors Open returns, wrapped with the path and the cause; test them with
// errors.Is.
var (
	// ErrLocked: another process (or another DB in this one) holds the file.
	ErrLocked = errors.New("boltstore: the file is locked by another process")
	// ErrCorrupt: the file is not a bbolt file, or fails its check.
	ErrCorrupt = errors.New("boltstore: the file is corrupt or not a farmhand store")
	// ErrNewerSchema: the file was written by a newer farmhand.
	ErrNewerSchema = errors.New("boltstore: the file has a newer schema version")
)

// Options tune Open. The zero value (or nil) is the default.
type Options struct {
	// LockTimeout is how long Open waits for another process to release
	// the file; zero means 1 s.
	LockTimeout time.Duration
}

// DB is a store.DB in one bbolt file.
type DB struct {
	path   string
	mu     sync.RWMutex // held for reading by every call, for writing by Close
	bolt   *bolt.DB
	closed bool
}

var _ store.DB = (*DB)(nil)

// Open opens, or creates, the store file at path.
func Open(path string, opts *Options) (*DB, error) {
	timeout := time.Second
	if opts != nil && opts.LockTimeout > 0 {
		timeout = opts.LockTimeout
	}
	if err := checkLength(path); err != nil {
		return nil, err
	}
	b, err := openBolt(path, timeout)
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, timeout)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
			errors.Is(err, berrors.ErrVersionMismatch):
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	if err := prepare(b, path); err != nil {
		b.Close()
		return nil, err
	}
	return &DB{path: path, bolt: b}, nil
}

// openBolt opens the file with bbolt, turning a fault while bbolt reads a
// damaged mapping into an error instead of a crash of the process.
func openBolt(path string, timeout time.Duration) (b *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
}

// checkLength refuses a file shorter than its own meta pages say it is (a
// copy cut short, a full disk): bbolt would map pages past its end.
func checkLength(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	size := info.Size()
	if size == 0 {
		return nil // a new store
	}
	// bbolt's meta page: a 16-byte page header, then magic, version and
	// page size (uint32 each), flags, the root bucket (16 bytes), the
	// freelist page and the high-water page id (uint64 each).
	const magic = 0xED0CDAED
	need := int64(0)
	head := make([]byte, 64)
	for offset := int64(0); ; {
		if _, err := f.ReadAt(head, offset); err != nil {
			break
		}
		if binary.LittleEndian.Uint32(head[16:]) != magic {
			break
		}
		pageSize := int64(binary.LittleEndian.Uint32(head[24:]))
		pgid := int64(binary.LittleEndian.Uint64(head[56:]))
		if pageSize > 0 && pgid > 0 {
			need = max(need, pgid*pageSize)
		}
		if offset > 0 || pageSize <= 0 {
			break
		}
		offset = pageSize
	}
	if need > size {
		return fmt.Errorf("%w: %s: %d bytes, its meta pages say %d: the file was cut short", ErrCorrupt, path, size, need)
	}
	return nil
}

// prepare checks the file's consistency and schema, and writes the schema
// of a new file. It writes nothing to a file it refuses.
func prepare(b *bolt.DB, path string) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// bbolt panics on some shapes of damage rather than returning
		// an error; a damaged file is refused either way.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		}
	}()
	fresh := false
	err = b.View(func(tx *bolt.Tx) error {
		var damage error
		for cerr := range tx.Check() { // drained whole: Check's goroutine ends
			if damage == nil {
				damage = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, cerr)
			}
		}
		if damage != nil {
			return damage
		}
		meta := tx.Bucket(metaBucket)
		if meta == nil {
			empty := true
			tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return fmt.Errorf("%w: %s: a bbolt file without farmhand's %q bucket", ErrCorrupt, path, metaBucket)
			}
			fresh = true
			return nil
		}
		raw := meta.Get(schemaKey)
		v, perr := strconv.Atoi(string(raw))
		if perr != nil || v < 1 {
			return fmt.Errorf("%w: %s: schema version %q", ErrCorrupt, path, raw)
		}
		if v > SchemaVersion {
			return fmt.Errorf("%w: %s has version %d, this farmhand reads up to %d: upgrade farmhand", ErrNewerSchema, path, v, SchemaVersion)
		}
		if tx.Bucket(farmsBucket) == nil {
			return fmt.Errorf("%w: %s: no %q bucket", ErrCorrupt, path, farmsBucket)
		}
		return nil
	})
	if err != nil || !fresh {
		return err
	}
	return b.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put(schemaKey, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
		_, err = tx.CreateBucket(farmsBucket)
		return err
	})
}

// Path returns the file's path.
func (db *DB) Path() string { return db.path }

// Farm returns the named farm's namespace.
func (db *DB) Farm(name string) (store.Store, error) {
	if err := store.CheckFarmName(name); err != nil {
		return nil, err
	}
	return &farmStore{db: db, name: []byte(name)}, nil
}

// Close releases the file and its lock.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	return db.bolt.Close()
}

// do runs fn with the DB open, after checking ctx.
func (db *DB) do(ctx context.Context, fn func(*bolt.DB) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return store.ErrClosed
	}
	if err := fn(db.bolt); err != nil {
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			return store.ErrClosed
		}
		return err
	}
	return nil
}

type farmStore struct {
	db   *DB
	name []byte
}

var _ store.Store = (*farmStore)(nil)

func (s *farmStore) bucket(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket(farmsBucket).Bucket(s.name)
}

func (s *farmStore) Get(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.db.do(ctx, func(b *bolt.DB) error {
		return b.View(func(tx *bolt.Tx) error {
			var v []byte
			if fb := s.bucket(tx); fb != nil && key != "" {
				v = fb.Get([]byte(key))
			}
			if v == nil {
				return fmt.Errorf("%w: %q", store.ErrNotFound, key)
			}
			out = bytes.Clone(v)
			return nil
		})
	})
	return out, err
}

func (s *farmStore) List(ctx context.Context, prefix string) ([]store.KV, error) {
	var out []store.KV
	err := s.db.do(ctx, func(b *bolt.DB) error {
		return b.View(func(tx *bolt.Tx) error {
			fb := s.bucket(tx)
			if fb == nil {
				return nil
			}
			p := []byte(prefix)
			c := fb.Cursor()
			for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
				out = append(out, store.KV{Key: string(k), Value: bytes.Clone(v)})
			}
			return nil
		})
	})
	return out, err
}

func (s *farmStore) Apply(ctx context.Context, ops ...store.Op) error {
	if err := store.CheckOps(ops); err != nil {
		return err
	}
	return s.db.do(ctx, func(b *bolt.DB) error {
		return b.Update(func(tx *bolt.Tx) error {
			fb, err := tx.Bucket(farmsBucket).CreateBucketIfNotExists(s.name)
			if err != nil {
				return fmt.Errorf("boltstore: farm %q: %w", s.name, err)
			}
			for _, op := range ops {
				switch op.Kind {
				case store.OpPut:
					// bbolt keeps a nil value as "no value"; store empty.
					v := op.Value
					if v == nil {
						v = []byte{}
					}
					err = fb.Put([]byte(op.Key), v)
				case store.OpDelete:
					err = fb.Delete([]byte(op.Key))
				case store.OpDeletePrefix:
					err = deletePrefix(fb, []byte(op.Key))
				}
				if err != nil {
					return fmt.Errorf("boltstore: farm %q key %q: %w", s.name, op.Key, err)
				}
			}
			return nil
		})
	})
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
