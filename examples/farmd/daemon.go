package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/metrics"
	"github.com/farmhand/farmhand/farm/status"
	"github.com/farmhand/farmhand/provider"
	"github.com/farmhand/farmhand/scaling"
	"github.com/farmhand/farmhand/scripting"
	"github.com/farmhand/farmhand/store/boltstore"
)

// daemon runs the farms of one directory.
type daemon struct {
	c      config
	out    io.Writer
	cloud  provider.Provider // wrapped by the collector
	db     *boltstore.DB
	key    *scripting.KeyPair
	coll   *metrics.Collector
	status *status.Handler
	auth   scaling.Authenticator
	mux    *http.ServeMux

	mu    sync.Mutex
	farms map[string]*running // by farm name
	files map[string]string   // file → farm name
	bad   map[string][32]byte // files that failed, by content, so they are reported once
	wg    sync.WaitGroup
}

// running is one farm farmd runs.
type running struct {
	f       *farm.Farm
	file    string
	sum     [32]byte
	api     http.Handler
	cancel  context.CancelFunc
	unwatch []func()
}

func newDaemon(c config, cloud provider.Provider, out io.Writer) (*daemon, error) {
	if st, err := os.Stat(c.dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("-dir %q is not a directory", c.dir)
	}
	db, err := boltstore.Open(c.db, nil)
	if err != nil {
		return nil, err
	}
	key, err := loadKey(filepath.Join(filepath.Dir(c.db), "farmd_key"))
	if err != nil {
		db.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	coll := metrics.New(nil)
	reg.MustRegister(coll)
	token := os.Getenv(c.tokenEnv)
	if token == "" {
		fmt.Fprintf(out, "farmd: $%s is empty: the scaling API refuses every call\n", c.tokenEnv)
	}
	d := &daemon{
		c: c, out: out, cloud: coll.Provider(cloud), db: db, key: key, coll: coll,
		status: status.NewHandler(&status.Options{Title: "farmd"}),
		auth:   scaling.BearerToken(token),
		mux:    http.NewServeMux(),
		farms:  map[string]*running{}, files: map[string]string{}, bad: map[string][32]byte{},
	}
	d.mux.Handle("/status/", http.StripPrefix("/status", d.status))
	d.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	d.mux.HandleFunc("/farms/{farm}/scaling/", d.serveScaling)
	d.mux.Handle("/{$}", http.RedirectHandler("/status/", http.StatusFound))
	return d, nil
}

// loadKey reads farmd's SSH client key, or makes one and saves it, so a
// restarted farmd logs in to the servers it launched before.
func loadKey(path string) (*scripting.KeyPair, error) {
	pemBytes, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := scripting.GenerateKey("farmd")
		if err != nil {
			return nil, err
		}
		return k, os.WriteFile(path, k.PrivateKeyPEM, 0o600)
	}
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " farmd"
	return &scripting.KeyPair{Signer: signer, AuthorizedKey: line, PrivateKeyPEM: pemBytes}, nil
}

// serveScaling hands a scaling API call to its farm's handler.
func (d *daemon) serveScaling(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("farm")
	d.mu.Lock()
	rf := d.farms[name]
	d.mu.Unlock()
	if rf == nil {
		http.Error(w, fmt.Sprintf("no farm %q", name), http.StatusNotFound)
		return
	}
	http.StripPrefix("/farms/"+name, rf.api).ServeHTTP(w, r)
}

// loop reads the directory now and every rescan until ctx ends.
func (d *daemon) loop(ctx context.Context) error {
	t := time.NewTicker(d.c.rescan)
	defer t.Stop()
	for {
		d.scan(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// scan starts the farms of new files and applies changed ones.
func (d *daemon) scan(ctx context.Context) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(d.c.dir, pat))
		files = append(files, m...)
	}
	slices.Sort(files)
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(d.out, "farmd: %v\n", err)
			continue
		}
		sum := sha256.Sum256(b)
		d.mu.Lock()
		name, known := d.files[file]
		rf := d.farms[name]
		seenBad := d.bad[file] == sum
		d.mu.Unlock()
		if seenBad || (known && rf.sum == sum) {
			continue
		}
		if known {
			err = d.apply(ctx, rf, file, sum)
		} else {
			err = d.start(ctx, file, sum)
		}
		d.mu.Lock()
		if err != nil {
			d.bad[file] = sum
			fmt.Fprintf(d.out, "farmd: %s: %v\n", filepath.Base(file), err)
		} else {
			delete(d.bad, file)
		}
		d.mu.Unlock()
	}
}

// start launches the farm of a new file and runs it.
func (d *daemon) start(ctx context.Context, file string, sum [32]byte) error {
	spec, err := farm.LoadFile(file)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if other := d.farms[spec.Name]; other != nil {
		d.mu.Unlock()
		return fmt.Errorf("farm %q is already run from %s", spec.Name, filepath.Base(other.file))
	}
	d.mu.Unlock()
	st, err := d.db.Farm(spec.Name)
	if err != nil {
		return err
	}
	f, err := farm.New(spec, d.cloud, &farm.Options{
		Store:        st,
		TickInterval: d.c.tick,
		Scripting: &farm.ScriptingOptions{
			Library: scripting.NewLibrary(nil), Key: d.key, OnResult: d.coll.ScriptResult,
		},
	})
	if err != nil {
		return err
	}
	rf := &running{f: f, file: file, sum: sum, api: scaling.NewHandler(f.APITarget(), d.auth, nil)}
	for _, w := range []func(*farm.Farm) (func(), error){d.coll.Watch, d.status.Watch} {
		stop, err := w(f)
		if err != nil {
			f.Close()
			return err
		}
		rf.unwatch = append(rf.unwatch, stop)
	}
	if err := f.Launch(ctx); err != nil {
		for _, stop := range rf.unwatch {
			stop()
		}
		f.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	rf.cancel = cancel
	d.wg.Go(func() {
		if err := f.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(d.out, "farmd: farm %q stopped: %v\n", spec.Name, err)
		}
	})
	d.mu.Lock()
	d.farms[spec.Name] = rf
	d.files[file] = spec.Name
	d.mu.Unlock()
	fmt.Fprintf(d.out, "farmd: %s: farm %q launched (%d roles)\n", filepath.Base(file), spec.Name, len(spec.Roles))
	return nil
}

// apply plans a changed file against its running farm and applies it.
func (d *daemon) apply(ctx context.Context, rf *running, file string, sum [32]byte) error {
	spec, err := farm.LoadFile(file)
	if err != nil {
		return err
	}
	plan, err := rf.f.Plan(spec)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "farmd: %s changed; plan:\n%s", filepath.Base(file), plan)
	fmt.Fprint(d.out, b.String())
	if _, err := rf.f.Apply(ctx, spec, &farm.ApplyOptions{NoWait: true, RerunScripts: true}); err != nil {
		return err
	}
	d.mu.Lock()
	rf.sum = sum
	d.mu.Unlock()
	fmt.Fprintf(d.out, "farmd: %s: applied\n", filepath.Base(file))
	return nil
}

// close stops every farm (leaving its servers running: a restarted farmd
// adopts them from the Store) and closes the database.
func (d *daemon) close() {
	d.mu.Lock()
	farms := make([]*running, 0, len(d.farms))
	for _, rf := range d.farms {
		farms = append(farms, rf)
	}
	d.mu.Unlock()
	for _, rf := range farms {
		rf.cancel()
	}
	d.wg.Wait()
	for _, rf := range farms {
		for _, stop := range rf.unwatch {
			stop()
		}
		rf.f.Close()
	}
	d.db.Close()
}
