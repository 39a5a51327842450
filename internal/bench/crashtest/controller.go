package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/internal/provrpc"
	"github.com/farmhand/farmhand/scripting"
	"github.com/farmhand/farmhand/store/boltstore"
)

// childEnv makes the program (or the test binary) run as the controller;
// the harness passes the rest in the environment and in files of the work
// directory.
const childEnv = "FARMHAND_CRASHTEST_CONTROLLER"

// The goals of a controller run.
const (
	goalLaunch    = "launch"    // launch the farm (db 2, app 2)
	goalScaleOut  = "scaleout"  // the scaling API sets app to 4
	goalScaleIn   = "scalein"   // the scaling API sets app to 2: BeforeHostTerminate scripts run
	goalFailover  = "failover"  // the harness crashes the database master
	goalTerminate = "terminate" // terminate the farm
)

const (
	farmName = "crash"
	dbName   = "db.crash.test."
)

// setup is what the harness writes to the work directory for every
// controller run.
type setup struct {
	Cloud     string `json:"cloud"`      // provrpc address
	DNS       string `json:"dns"`        // named's address
	Zone      string `json:"zone"`       // named's zone
	KeyName   string `json:"key_name"`   // TSIG key name
	KeyAlg    string `json:"key_alg"`    // TSIG algorithm
	KeyFile   string `json:"key_file"`   // TSIG secret, alone in a 0600 file
	SSHKey    string `json:"ssh_key"`    // the client key's PEM, 0600
	StorePath string `json:"store_path"` // the boltstore file
	Tick      string `json:"tick"`
}

// report is what a controller prints once it has converged.
type report struct {
	Servers []reportServer `json:"servers"`
	AppWant int            `json:"app_desired"`
	Log     map[uint64]string
}

type reportServer struct {
	ID, Role string
	Index    int
	State    string
	Master   bool
	IP       string
}

func spec() farm.Spec {
	return farm.Spec{Name: farmName, Roles: []farm.RoleSpec{
		{
			Name: "db", Image: "img-db", Min: 2, Max: 2, Desired: 2,
			Database: &farm.DatabaseSpec{PromoteScript: "promote", PromoteTimeout: 20 * time.Second},
			DNS:      []farm.DNSName{{Name: dbName, Select: farm.DNSSelectMaster, TTL: 30 * time.Second}},
			Scripts: []farm.ScriptBinding{
				{Event: farm.HostInit, Script: "init-db", Blocking: true, Timeout: 20 * time.Second},
			},
			LaunchTimeout: 20 * time.Second, InitTimeout: 30 * time.Second, TerminateTimeout: 20 * time.Second,
		},
		{
			Name: "app", Image: "img-app", Min: 0, Max: 6, Desired: 2, DependsOn: []string{"db"},
			Scaling: &farm.ScalingSpec{API: &farm.APISpec{}, EvaluationInterval: time.Second, CooldownUp: -1, CooldownDown: -1},
			Scripts: []farm.ScriptBinding{
				{Event: farm.HostUp, Script: "hello"},
				{Event: farm.BeforeHostTerminate, Script: "drain", Timeout: 20 * time.Second},
				{Event: farm.NewDBMaster, Script: "reconnect"},
			},
			LaunchTimeout: 20 * time.Second, InitTimeout: 30 * time.Second, TerminateTimeout: 20 * time.Second,
		},
	}}
}

var scripts = map[string]string{
	"init-db":   "echo db-init > init.txt",
	"promote":   "echo promoted > promoted.txt",
	"hello":     "echo hello from %server_id%",
	"drain":     "sleep 0.2; echo drained %server_id%",
	"reconnect": "echo reconnect to the new master",
}

// out writes the lines the harness reads; one writer at a time.
type out struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *out) line(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, format+"\n", args...)
	o.w.Flush()
}

func entryHash(e scripting.LogEntry) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%s|%d|%s|%s", e.Server, e.Event, e.Script, e.ExitCode, e.Stdout, e.Err)))
	return hex.EncodeToString(h[:8])
}

// controllerMain runs one controller toward its goal, printing its
// progress; the harness may kill it at any line.
func controllerMain() int {
	if err := control(); err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		return 1
	}
	return 0
}

func control() error {
	dir := os.Getenv("CRASHTEST_DIR")
	goal := os.Getenv("CRASHTEST_GOAL")
	apiCount := os.Getenv("CRASHTEST_API") // empty: no API call
	b, err := os.ReadFile(filepath.Join(dir, "setup.json"))
	if err != nil {
		return err
	}
	var s setup
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tick, _ := time.ParseDuration(s.Tick)
	o := &out{w: bufio.NewWriter(os.Stdout)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	db, err := boltstore.Open(s.StorePath, &boltstore.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Farm(farmName)
	if err != nil {
		return err
	}
	cloud, err := provrpc.Dial(s.Cloud)
	if err != nil {
		return err
	}
	defer cloud.Close()
	secret, err := os.ReadFile(s.KeyFile)
	if err != nil {
		return err
	}
	upd, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: s.DNS, Zone: s.Zone,
		Key: &dnsupdate.TSIGKey{Name: s.KeyName, Algorithm: s.KeyAlg, Secret: strings.TrimSpace(string(secret))}})
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(s.SSHKey)
	if err != nil {
		return err
	}
	signer, err := scripting.ParsePrivateKey(pem)
	if err != nil {
		return err
	}
	key := &scripting.KeyPair{Signer: signer, AuthorizedKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))}
	lib := scripting.NewLibrary(nil)
	for name, body := range scripts {
		if _, err := lib.Save(scripting.Script{Name: name, Body: body}); err != nil {
			return err
		}
	}
	// The fake cloud's host keys are not served over the wire: trust on
	// first use, with the pins kept in the Store across restarts.
	hk, err := scripting.NewHostKeys(&scripting.HostKeysOptions{TrustOnFirstUse: true})
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "controller.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f, err := farm.New(spec(), cloud, &farm.Options{
		Store: st, DNS: upd, TickInterval: tick, Logger: logger,
		Scripting: &farm.ScriptingOptions{Library: lib, Key: key, User: "farmhand",
			SSH: scripting.ExecutorOptions{HostKeys: hk, DialTimeout: 10 * time.Second}},
	})
	if err != nil {
		return err
	}
	defer f.Close()
	n := 0
	f.Subscribe(func(ev farm.Event) {
		n++
		id := ""
		if ev.Server != nil {
			id = ev.Server.ID
		}
		o.line("event %d %s %s %s", n, ev.Type, ev.Role, id)
	})
	go ackLog(ctx, f, o)

	runDone := make(chan struct{})
	if goal == goalTerminate {
		o.line("ready")
		if err := f.Terminate(ctx); err != nil {
			return err
		}
		close(runDone)
	} else {
		if err := f.Launch(ctx); err != nil {
			logger.Warn("launch", "err", err) // the next ticks retry
		}
		go func() {
			defer close(runDone)
			f.Run(ctx)
		}()
		if err := f.SyncDNS(ctx); err != nil {
			logger.Warn("sync dns", "err", err)
		}
		old := ""
		if goal != goalLaunch {
			if err := converge(ctx, f, -1, ""); err != nil {
				return err
			}
			if goal == goalFailover {
				old = os.Getenv("CRASHTEST_OLD_MASTER")
			}
		}
		o.line("ready")
		if apiCount != "" {
			want, _ := strconv.Atoi(apiCount)
			for {
				err := f.APITarget().SetDesired(ctx, "app", want)
				if err == nil {
					break
				}
				logger.Warn("api", "err", err)
				time.Sleep(tick)
			}
			o.line("api-ack app %d", want)
		}
		// A restarted controller is told the count the API set before
		// (CRASHTEST_WANT), not the call: it must find it in the Store.
		want := -1
		if w := cmp.Or(apiCount, os.Getenv("CRASHTEST_WANT")); w != "" {
			want, _ = strconv.Atoi(w)
		}
		if err := converge(ctx, f, want, old); err != nil {
			return err
		}
	}
	f.Settle(ctx)
	rep := report{Log: map[uint64]string{}}
	for _, sv := range f.Servers("") {
		if sv.State == farm.StateTerminated {
			continue
		}
		rep.Servers = append(rep.Servers, reportServer{ID: sv.ID, Role: sv.Role, Index: sv.Index, State: string(sv.State), Master: sv.Master, IP: sv.PrivateIP})
	}
	if rs, ok := f.Status().Role("app"); ok {
		rep.AppWant = rs.Desired
	}
	entries, _ := f.ScriptingLog().Query(ctx, scripting.LogQuery{})
	for _, e := range entries {
		rep.Log[e.Seq] = entryHash(e)
	}
	j, _ := json.Marshal(rep)
	o.line("converged")
	o.line("report %s", j)
	cancel()
	<-runDone
	return nil
}

// converge waits until the farm is ready with one master other than
// notMaster (its DNS name written), and app's desired count is want (any
// when want < 0).
func converge(ctx context.Context, f *farm.Farm, want int, notMaster string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		err := f.Wait(ctx, func(st farm.Status) bool {
			app, _ := st.Role("app")
			if !st.Ready() || want >= 0 && app.Desired != want {
				return false
			}
			db, _ := st.Role("db")
			masters := 0
			for _, s := range db.Servers {
				if s.Master && s.State == farm.StateRunning && s.ID != notMaster {
					masters++
				}
			}
			return masters == 1
		})
		if err != nil {
			return fmt.Errorf("not converged: %w\n%s", err, f.Status())
		}
		if err := f.SyncDNS(ctx); err != nil {
			continue
		}
		return nil
	}
}

// ackLog prints every scripting log entry as the log shows it: from then
// on the entry is acknowledged and must not be lost.
func ackLog(ctx context.Context, f *farm.Farm, o *out) {
	var last uint64
	for ctx.Err() == nil {
		entries, err := f.ScriptingLog().Query(ctx, scripting.LogQuery{})
		if err == nil {
			for i := len(entries) - 1; i >= 0; i-- {
				if e := entries[i]; e.Seq > last {
					o.line("log-ack %d %s %s %s", e.Seq, entryHash(e), e.Script, e.Server)
					last = e.Seq
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}
