package storetest_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/farmhand/farmhand/store"
	"github.com/farmhand/farmhand/store/storetest"
)

// brokenEnv selects, in a child test process, which broken store
// TestBrokenStoreChild runs the suite against.
const brokenEnv = "FARMHAND_STORETEST_BROKEN"

// brokenDB wraps store.Memory and breaks one promise of the contract.
type brokenDB struct {
	*store.Memory
	flaw string
}

func (b *brokenDB) Farm(name string) (store.Store, error) {
	if b.flaw == "farm names are joined with a slash" {
		// "a" + "/b/k" and "a/b" + "/k" meet in one flat map.
		s, err := b.Memory.Farm("all")
		return &brokenStore{Store: s, flaw: b.flaw, prefix: name + "/"}, err
	}
	if b.flaw == "an empty farm name is accepted" && name == "" {
		name = "default"
	}
	s, err := b.Memory.Farm(name)
	if err != nil {
		return nil, err
	}
	return &brokenStore{Store: s, flaw: b.flaw}, nil
}

type brokenStore struct {
	store.Store
	flaw   string
	prefix string
	kept   []byte
}

func (b *brokenStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := b.Store.Get(ctx, b.prefix+key)
	switch b.flaw {
	case "get of a missing key returns nil":
		if err != nil {
			return nil, nil
		}
	case "get hands out the stored slice":
		if b.kept != nil {
			return b.kept, err
		}
	}
	return v, err
}

func (b *brokenStore) List(ctx context.Context, prefix string) ([]store.KV, error) {
	kvs, err := b.Store.List(ctx, b.prefix+prefix)
	for i := range kvs {
		kvs[i].Key = strings.TrimPrefix(kvs[i].Key, b.prefix)
	}
	if b.flaw == "list is in no order" && len(kvs) > 1 {
		slices.Reverse(kvs)
	}
	return kvs, err
}

func (b *brokenStore) Apply(ctx context.Context, ops ...store.Op) error {
	switch b.flaw {
	case "apply ignores a done context":
		ctx = context.Background()
	case "apply is not atomic":
		for _, op := range ops {
			if err := b.Store.Apply(ctx, op); err != nil {
				return err
			}
		}
		return nil
	case "apply has no batch limit":
		for len(ops) > 0 {
			n := min(len(ops), store.MaxOps)
			if err := b.Store.Apply(ctx, ops[:n]...); err != nil {
				return err
			}
			ops = ops[n:]
		}
		return nil
	case "get hands out the stored slice":
		for _, op := range ops {
			if op.Kind == store.OpPut {
				b.kept = op.Value
			}
		}
	case "delete prefix deletes everything":
		for i := range ops {
			if ops[i].Kind == store.OpDeletePrefix {
				ops[i].Key = ""
			}
		}
	}
	if b.prefix != "" {
		ops = slices.Clone(ops)
		for i := range ops {
			if ops[i].Key != "" || ops[i].Kind == store.OpDeletePrefix {
				ops[i].Key = b.prefix + ops[i].Key
			}
		}
	}
	return b.Store.Apply(ctx, ops...)
}

func harness(flaw string) storetest.Harness {
	return storetest.Harness{
		Open: func(t *testing.T) store.DB { return &brokenDB{Memory: store.NewMemory(), flaw: flaw} },
	}
}

func TestTheMemoryStoreWrappedUnbrokenPasses(t *testing.T) {
	storetest.Run(t, harness(""))
}

// TestBrokenStoreChild runs the suite against a broken store; it does
// something only in the child process that TestTheSuiteCatchesBrokenStores
// starts.
func TestBrokenStoreChild(t *testing.T) {
	flaw := os.Getenv(brokenEnv)
	if flaw == "" {
		t.Skip("runs only as a child of TestTheSuiteCatchesBrokenStores")
	}
	storetest.Run(t, harness(flaw))
}

func TestTheSuiteCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child test process per flaw")
	}
	for _, tc := range []struct {
		flaw       string
		wantFailed string // a subtest that must fail
	}{
		{"get of a missing key returns nil", "get_of_a_missing_key_is_not_found"},
		{"get hands out the stored slice", "the_store_keeps_none_of_the_caller's_slices"},
		{"list is in no order", "list_returns_the_keys_with_the_prefix_in_byte_order"},
		{"apply is not atomic", "a_batch_with_an_invalid_op_changes_nothing"},
		{"apply has no batch limit", "a_batch_of_MaxOps_ops_is_accepted_and_one_more_is_refused"},
		{"apply ignores a done context", "a_done_context_fails_every_call_and_changes_nothing"},
		{"delete prefix deletes everything", "delete_prefix_removes_only_the_keys_with_that_prefix"},
		{"farm names are joined with a slash", "farm_namespaces_are_isolated_whatever_their_names"},
		{"an empty farm name is accepted", "an_empty_farm_name_is_refused"},
	} {
		t.Run(tc.flaw, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStoreChild$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tc.flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store whose %s:\n%s", tc.flaw, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenStoreChild/"+tc.wantFailed) {
				t.Fatalf("the suite failed, but not in %s:\n%s", tc.wantFailed, out)
			}
		})
	}
}
