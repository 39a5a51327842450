package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Memory is a DB in the process's memory. Its state lives as long as the
// process: farm objects made in turn on it within one process (a test of a
// restarted controller) find each other's state, but a restarted process
// starts from nothing and rebuilds what the cloud's tags can tell it.
type Memory struct {
	mu     sync.RWMutex
	farms  map[string]map[string][]byte
	closed bool
}

var _ DB = (*Memory)(nil)

// NewMemory returns an empty in-memory DB.
func NewMemory() *Memory {
	return &Memory{farms: make(map[string]map[string][]byte)}
}

// Farm returns the named farm's namespace.
func (m *Memory) Farm(name string) (Store, error) {
	if err := CheckFarmName(name); err != nil {
		return nil, err
	}
	return &memoryFarm{m: m, name: name}, nil
}

// Close empties the DB; later calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.farms = nil
	return nil
}

type memoryFarm struct {
	m    *Memory
	name string
}

func (f *memoryFarm) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.m.mu.RLock()
	defer f.m.mu.RUnlock()
	if f.m.closed {
		return nil, ErrClosed
	}
	v, ok := f.m.farms[f.name][key]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return append([]byte(nil), v...), nil
}

func (f *memoryFarm) List(ctx context.Context, prefix string) ([]KV, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.m.mu.RLock()
	defer f.m.mu.RUnlock()
	if f.m.closed {
		return nil, ErrClosed
	}
	var out []KV
	for k, v := range f.m.farms[f.name] {
		if strings.HasPrefix(k, prefix) {
			out = append(out, KV{Key: k, Value: append([]byte(nil), v...)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (f *memoryFarm) Apply(ctx context.Context, ops ...Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckOps(ops); err != nil {
		return err
	}
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.m.closed {
		return ErrClosed
	}
	kv := f.m.farms[f.name]
	if kv == nil {
		kv = make(map[string][]byte)
		f.m.farms[f.name] = kv
	}
	for _, op := range ops {
		switch op.Kind {
		case OpPut:
			kv[op.Key] = append([]byte{}, op.Value...)
		case OpDelete:
			delete(kv, op.Key)
		case OpDeletePrefix:
			for k := range kv {
				if strings.HasPrefix(k, op.Key) {
					delete(kv, k)
				}
			}
		}
	}
	return nil
}
