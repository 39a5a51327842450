package farm

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// scriptRig is a rig whose fake servers answer SSH on loopback (real SSH
// servers running /bin/sh in sandbox directories) and whose farm runs
// scripts from lib.
type scriptRig struct {
	*rig
	lib  *scripting.Library
	log  *scripting.MemoryLog
	dial *dialCounter
	res  *resultRecorder
}

// newScriptRig saves scripts (name → body) in a new library and starts a
// farm with scripting on. tune may change the scripting options.
func newScriptRig(t *testing.T, spec Spec, scripts map[string]string, tune func(*Options)) *scriptRig {
	t.Helper()
	noLeaks(t)
	lib := scripting.NewLibrary(nil)
	for _, name := range sortedKeys(scripts) {
		if _, err := lib.Save(scripting.Script{Name: name, Body: scripts[name]}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := scripting.GenerateKey("farm-test")
	if err != nil {
		t.Fatal(err)
	}
	log := scripting.NewMemoryLog(0)
	dc := &dialCounter{}
	rec := &resultRecorder{}
	opts := &Options{Scripting: &ScriptingOptions{
		Library: lib, Key: key, Log: log, User: "farmhand", OnResult: rec.add,
		SSH: scripting.ExecutorOptions{DialTimeout: 10 * time.Second, Dial: dc.dial},
	}}
	if tune != nil {
		tune(opts)
	}
	r := newRig(t, spec, opts, fake.Options{SSH: &fake.SSHOptions{Dir: t.TempDir()}})
	return &scriptRig{rig: r, lib: lib, log: log, dial: dc, res: rec}
}

// upAll launches the farm and ticks until it is ready.
func (r *scriptRig) upAll() {
	r.t.Helper()
	if err := r.farm.Launch(r.ctx); err != nil {
		r.t.Fatal(err)
	}
	r.settle()
	for range 12 {
		if r.farm.Status().Ready() {
			return
		}
		r.tick(30 * time.Second)
	}
	r.t.Fatalf("farm not ready:\n%s", r.farm.Status())
}

// entries returns the scripting log's entries matching q, oldest first.
func (r *scriptRig) entries(q scripting.LogQuery) []scripting.LogEntry {
	r.t.Helper()
	es, err := r.log.Query(context.Background(), q)
	if err != nil {
		r.t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

// outputs returns "role/server: stdout" lines of entries, trimmed.
func outputs(es []scripting.LogEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s/%s: %s", e.Role, e.Server, strings.TrimSpace(e.Stdout)))
	}
	return out
}

// noLeaks checks, after the test's other cleanups, that the test left no
// goroutine running: script runs, SSH connections and subscribers end
// with the farm.
func noLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// dialCounter counts the TCP connections the executor opens.
type dialCounter struct {
	mu sync.Mutex
	n  int
}

func (d *dialCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.n++
	d.mu.Unlock()
	return dialer(nil).DialContext(ctx, network, addr)
}

func (d *dialCounter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// resultRecorder keeps what ScriptingOptions.OnResult got.
type resultRecorder struct {
	mu   sync.Mutex
	list []string
}

func (rr *resultRecorder) add(ev Event, r scripting.Result) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.list = append(rr.list, fmt.Sprintf("%s %s v%d on %s/%s: %s", ev.Type, r.Script, r.Version, r.Target.Role, r.Target.ServerID, r.Status()))
}

func (rr *resultRecorder) lines() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]string(nil), rr.list...)
}
