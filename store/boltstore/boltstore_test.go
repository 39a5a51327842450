package boltstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/farmhand/farmhand/store"
	"github.com/farmhand/farmhand/store/boltstore"
	"github.com/farmhand/farmhand/store/storetest"
)

func TestBoltStoreConforms(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.DB {
			db, err := boltstore.Open(filepath.Join(t.TempDir(), "state.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
		Reopen: func(t *testing.T, old store.DB) store.DB {
			path := old.(*boltstore.DB).Path()
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			db, err := boltstore.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
	})
}

// written returns the path of a store file holding one key.
func written(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := db.Farm("shop")
	if err := st.Apply(context.Background(), store.Put("desired/app", []byte("4"))); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// refused opens path, wants an error wrapping want that names the path, and
// checks the file's bytes did not change.
func refused(t *testing.T, path string, want error, words string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := boltstore.Open(path, &boltstore.Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		db.Close()
		t.Fatalf("Open(%s) succeeded", path)
	}
	if !errors.Is(err, want) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), words) {
		t.Fatalf("Open error = %q, want %v naming the path and saying %q", err, want, words)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("the refused file was written to")
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	t.Run("a file that is not a bbolt file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		os.WriteFile(path, bytes.Repeat([]byte("not a database\n"), 1000), 0o600)
		refused(t, path, boltstore.ErrCorrupt, "corrupt")
	})
	t.Run("a store file cut short", func(t *testing.T) {
		path := written(t)
		data, _ := os.ReadFile(path)
		os.WriteFile(path, data[:len(data)/3], 0o600)
		refused(t, path, boltstore.ErrCorrupt, "corrupt")
	})
	t.Run("a store file with both meta pages overwritten", func(t *testing.T) {
		path := written(t)
		data, _ := os.ReadFile(path)
		page := os.Getpagesize()
		for i := 16; i < 2*page && i < len(data); i++ {
			if i%page >= 16 && i%page < 80 {
				data[i] ^= 0x5a
			}
		}
		os.WriteFile(path, data, 0o600)
		refused(t, path, boltstore.ErrCorrupt, "corrupt")
	})
	t.Run("a bbolt file of another program", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		b, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("someone-else")); return err })
		b.Close()
		refused(t, path, boltstore.ErrCorrupt, "without farmhand's")
	})
	t.Run("a file of a newer schema version", func(t *testing.T) {
		path := written(t)
		b, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("farmhand")).Put([]byte("schema"), []byte("2")) })
		b.Close()
		refused(t, path, boltstore.ErrNewerSchema, "has version 2, this farmhand reads up to 1")
	})
	t.Run("a file locked by another process", func(t *testing.T) {
		path := written(t)
		holder := exec.Command(os.Args[0], "-test.run=^TestHoldLockChild$")
		holder.Env = append(os.Environ(), "FARMHAND_BOLTSTORE_HOLD="+path)
		stdout, _ := holder.StdoutPipe()
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { holder.Process.Kill(); holder.Wait() }()
		buf := make([]byte, 6)
		if _, err := stdout.Read(buf); err != nil || string(buf) != "locked" {
			t.Fatalf("the child did not take the lock: %q %v", buf, err)
		}
		refused(t, path, boltstore.ErrLocked, "locked by another process")
		holder.Process.Kill()
		holder.Wait()
		db, err := boltstore.Open(path, nil)
		if err != nil {
			t.Fatalf("Open after the other process died: %v", err)
		}
		st, _ := db.Farm("shop")
		if v, err := st.Get(context.Background(), "desired/app"); err != nil || string(v) != "4" {
			t.Fatalf("after the lock holder died: %q, %v", v, err)
		}
		db.Close()
	})
}

// TestHoldLockChild holds a store file open until killed; it does something
// only as the child of TestOpenRefusesBadFiles.
func TestHoldLockChild(t *testing.T) {
	path := os.Getenv("FARMHAND_BOLTSTORE_HOLD")
	if path == "" {
		t.Skip("runs only as a child of TestOpenRefusesBadFiles")
	}
	db, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	os.Stdout.WriteString("locked")
	time.Sleep(time.Minute)
}

func TestAnEmptyFileBecomesAStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	os.WriteFile(path, nil, 0o600)
	db, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	db.Close()
}
