package farm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/store"
)

// Host-key pins in the Store: a key pinned for a server's address (from
// the provider, known_hosts or trust on first use) is saved once the
// server has answered with it, and dropped when the server leaves. A
// controller restarted on the Store trusts the same keys, which matters
// most for keys trusted on first use: the provider cannot tell them again.

// savePin saves the keys pinned for addr, which server id answered at.
func (e *scriptEngine) savePin(addr, id string) {
	st := e.store()
	if st == nil || addr == "" {
		return
	}
	keys := e.hostKeys.Pinned(addr)
	if len(keys) == 0 {
		return
	}
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
	}
	joined := id + "\n" + strings.Join(lines, "\n")
	e.mu.Lock()
	same := e.savedPins[addr] == joined
	e.mu.Unlock()
	if same {
		return
	}
	ctx, cancel := context.WithTimeout(e.f.closeCtx, storeTimeout)
	defer cancel()
	b, _ := json.Marshal(pinRecord{Server: id, Keys: lines})
	if err := st.Apply(ctx, store.Put(pinKey(addr), b)); err != nil {
		e.logger.Warn("farm: host key pin not saved", "server", id, "addr", addr, "err", err)
		// A pin the Store lacks is trusted again after a restart only if
		// the provider can tell the key again: the program must know.
		e.f.opFailed(OpStore, "", nil, fmt.Errorf("host key pin of %s (%s) not saved: %w", id, addr, err),
			map[string]string{"server": id})
		return
	}
	e.mu.Lock()
	e.savedPins[addr] = joined
	e.mu.Unlock()
}

// dropPins removes the saved pins of addresses (their server left).
func (e *scriptEngine) dropPins(addrs []string) {
	st := e.store()
	if st == nil || len(addrs) == 0 {
		return
	}
	var ops []store.Op
	e.mu.Lock()
	for _, a := range addrs {
		if _, ok := e.savedPins[a]; ok {
			delete(e.savedPins, a)
			ops = append(ops, store.Delete(pinKey(a)))
		}
	}
	e.mu.Unlock()
	if len(ops) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(e.f.closeCtx, storeTimeout)
	defer cancel()
	for len(ops) > 0 {
		n := min(len(ops), store.MaxOps)
		if err := st.Apply(ctx, ops[:n]...); err != nil {
			e.logger.Warn("farm: dropping saved host key pins", "err", err)
			e.f.opFailed(OpStore, "", nil, fmt.Errorf("saved host key pins not dropped: %w", err), nil)
			return
		}
		ops = ops[n:]
	}
}

// restorePins pins the saved keys again. New calls it.
func (e *scriptEngine) restorePins(kvs []store.KV) error {
	for _, kv := range kvs {
		var r pinRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			return fmt.Errorf("farm: store key %q: %w", kv.Key, err)
		}
		addr := strings.TrimPrefix(kv.Key, keyPin)
		if err := e.hostKeys.PinAuthorizedKeys(addr, r.Keys...); err != nil {
			return fmt.Errorf("farm: store key %q: %w", kv.Key, err)
		}
		e.mu.Lock()
		e.addrOwner[addr] = r.Server
		if e.addrs[r.Server] == nil {
			e.addrs[r.Server] = map[string]bool{}
		}
		e.addrs[r.Server][addr] = true
		e.savedPins[addr] = r.Server + "\n" + strings.Join(r.Keys, "\n")
		e.mu.Unlock()
	}
	return nil
}

func (e *scriptEngine) store() store.Store {
	if e.f == nil || e.f.persist == nil {
		return nil
	}
	return e.f.persist.st
}
