package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/farm"
	"github.com/farmhand/farmhand/farm/roles"
	"github.com/farmhand/farmhand/internal/bindtest"
	"github.com/farmhand/farmhand/provider/fake"
	"github.com/farmhand/farmhand/scripting"
)

// FarmOptions configure StartFarm.
type FarmOptions struct {
	// Replicas next to the master; 0 means 2.
	Replicas int
	// CheckInterval is the database role's health check interval; 0
	// means 1 s.
	CheckInterval time.Duration
	// Logger gets the farm's log; nil discards it.
	Logger *slog.Logger
	// Tune, when set, changes the spec and options before the farm is
	// built (adding roles, saving their scripts in
	// opts.Scripting.Library).
	Tune func(spec *farm.Spec, opts *farm.Options) error
	// Built, when set, is called with the farm before it launches.
	Built func(*farm.Farm)
	// Scripts are saved in the library next to the preset's.
	Scripts []scripting.Script
}

// Farm is a farm whose database role is the MariaDB preset, on the fake
// cloud with SSH endpoints that run the scripts on this machine: each fake
// server runs a real mariadbd bound to its own loopback address, and the
// master's name lives in a real BIND.
type Farm struct {
	Farm    *farm.Farm
	Cloud   *fake.Provider
	BIND    *bindtest.Server
	Sandbox string
	Port    int
	// Name is the master's DNS name, without the trailing dot.
	Name string
	Role string

	netName string
	cancel  context.CancelFunc
	done    chan error
	dnsDir  string
}

// The application user's credentials in the preset's variables.
const (
	AppUser     = "app"
	AppPassword = "apppw"
)

var netSeq atomic.Int64

func init() {
	// The driver logs each broken connection; the failover breaks them on
	// purpose, and the writer counts its errors itself.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// StartFarm launches the farm and waits until replication runs on every
// replica. Close stops everything it started.
func StartFarm(ctx context.Context, o FarmOptions) (_ *Farm, err error) {
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = time.Second
	}
	r := &Farm{Role: "db", Name: "db.farm.test", Port: 20000 + os.Getpid()%10000, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	// Unix socket paths must stay short: the sandbox is not under t.TempDir.
	if r.Sandbox, err = os.MkdirTemp("", "mdb"); err != nil {
		return nil, err
	}
	if r.dnsDir, err = os.MkdirTemp("", "mdbdns"); err != nil {
		return nil, err
	}
	if r.BIND, err = bindtest.Launch(ctx, r.dnsDir, &bindtest.Options{SOAMinimum: time.Second}); err != nil {
		return nil, err
	}
	k := r.BIND.Keys[0]
	upd, err := dnsupdate.NewRFC2136(dnsupdate.RFC2136Options{Server: r.BIND.Addr, Zone: r.BIND.Zone,
		Key: &dnsupdate.TSIGKey{Name: k.Name, Algorithm: k.Algorithm, Secret: k.Secret}})
	if err != nil {
		return nil, err
	}
	role, scripts, err := roles.MariaDB(roles.MariaDBOptions{
		Image: "debian-12", MasterName: r.Name, Replicas: o.Replicas, Port: r.Port,
		CheckInterval: o.CheckInterval, MasterTTL: time.Second,
		ReplicationPassword: "replpw", AppPassword: AppPassword,
		Variables: map[string]string{
			"mariadb_dir":                 "$HOME/mariadb",
			"mariadb_backup_dir":          "$HOME/backups",
			"mariadb_os_user":             "root",
			"mariadb_semisync_timeout_ms": "1000",
			"mariadb_options":             "innodb-buffer-pool-size=32M\ninnodb-log-file-size=16M",
			"mariadb_install":             "echo 'mariadbd is missing' >&2; exit 1",
			"mariadb_resolve":             fmt.Sprintf(`dig +short +time=1 +tries=1 -p %d @127.0.0.1 "$master_name" A | tail -n 1`, r.BIND.Port),
		},
	})
	if err != nil {
		return nil, err
	}
	role.Database.PromoteTimeout = 30 * time.Second
	lib := scripting.NewLibrary(nil)
	for _, s := range append(scripts, o.Scripts...) {
		if _, err := lib.Save(s); err != nil {
			return nil, err
		}
	}
	key, err := scripting.GenerateKey("mariadbtest")
	if err != nil {
		return nil, err
	}
	r.Cloud = fake.New(fake.Options{BootTime: 50 * time.Millisecond, SSH: &fake.SSHOptions{Dir: r.Sandbox}})
	spec := farm.Spec{Name: "dbfarm", Roles: []farm.RoleSpec{role}}
	opts := &farm.Options{
		TickInterval: 200 * time.Millisecond,
		Logger:       o.Logger,
		DNS:          upd,
		DNSVerify:    &farm.DNSVerify{Servers: []string{r.BIND.Addr}, Timeout: 10 * time.Second, Interval: 20 * time.Millisecond},
		Scripting: &farm.ScriptingOptions{Library: lib, Key: key,
			SSH: scripting.ExecutorOptions{DialTimeout: 10 * time.Second}},
	}
	if o.Tune != nil {
		if err := o.Tune(&spec, opts); err != nil {
			return nil, err
		}
	}
	if r.Farm, err = farm.New(spec, r.Cloud, opts); err != nil {
		return nil, err
	}
	if o.Built != nil {
		o.Built(r.Farm)
	}
	rctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	if err := r.Farm.Launch(ctx); err != nil {
		return nil, err
	}
	go func() { r.done <- r.Farm.Run(rctx) }()
	if err := r.Farm.WaitReady(ctx); err != nil {
		return nil, fmt.Errorf("farm not ready: %w\n%s", err, r.Farm.Status())
	}
	r.netName = fmt.Sprintf("farmdns%d", netSeq.Add(1))
	mysql.RegisterDialContext(r.netName, r.dial)
	if err := r.WaitReplicating(ctx, o.Replicas); err != nil {
		return nil, err
	}
	return r, nil
}

// Close stops the farm, every mariadbd it started and BIND, and removes
// the directories.
func (r *Farm) Close() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	if r.Farm != nil {
		r.Farm.Close()
	}
	if r.Cloud != nil {
		r.Cloud.Close()
	}
	if r.Sandbox != "" {
		dirs, _ := filepath.Glob(filepath.Join(r.Sandbox, "*", "mariadb"))
		var wg sync.WaitGroup
		for _, d := range dirs {
			wg.Go(func() { Stop(d) })
		}
		wg.Wait()
		os.RemoveAll(r.Sandbox)
	}
	if r.BIND != nil {
		r.BIND.Close()
	}
	if r.dnsDir != "" {
		os.RemoveAll(r.dnsDir)
	}
}

// Dir is the mariadb directory of a server.
func (r *Farm) Dir(serverID string) string { return filepath.Join(r.Sandbox, serverID, "mariadb") }

// Master returns the farm's master.
func (r *Farm) Master() (farm.Server, bool) {
	for _, s := range r.Farm.Servers(r.Role) {
		if s.Master {
			return s, true
		}
	}
	return farm.Server{}, false
}

// Resolve returns the address the master name has at BIND now.
func (r *Farm) Resolve(ctx context.Context) (string, error) {
	vals, _, err := r.BIND.Values(ctx, r.Name+".", dns.TypeA)
	if err != nil {
		return "", err
	}
	if len(vals) != 1 {
		return "", fmt.Errorf("%s has %d addresses", r.Name, len(vals))
	}
	return vals[0], nil
}

// dial resolves the master name at BIND at every connection, as a client
// whose resolver honours the short TTL would.
func (r *Farm) dial(ctx context.Context, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ip, err := r.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
}

// DB opens the application database through the master name.
func (r *Farm) DB() (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = AppUser, AppPassword, "app"
	cfg.Net, cfg.Addr = r.netName, net.JoinHostPort(r.Name, strconv.Itoa(r.Port))
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = time.Second, 5*time.Second, 5*time.Second
	return sql.Open("mysql", cfg.FormatDSN())
}

// DBAt opens the application database on one server's address.
func (r *Farm) DBAt(ip string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = AppUser, AppPassword, "app"
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(ip, strconv.Itoa(r.Port))
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = time.Second, 5*time.Second, 5*time.Second
	return sql.Open("mysql", cfg.FormatDSN())
}

// WaitReplicating waits until the master counts n semi-synchronous
// replicas and every replica's threads run.
func (r *Farm) WaitReplicating(ctx context.Context, n int) error {
	var last string
	for {
		m, ok := r.Master()
		if ok {
			st, err := SQL(ctx, r.Dir(m.ID), "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'")
			last = fmt.Sprintf("master %s: %s %v", m.ID, st, err)
			if err == nil && strings.Fields(st + " x x")[1] == strconv.Itoa(n) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replication not running: %s: %w", last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReplicaSource returns the host a server replicates from ("" for none).
func (r *Farm) ReplicaSource(ctx context.Context, serverID string) (string, error) {
	st, err := SlaveStatus(ctx, r.Dir(serverID))
	if err != nil {
		return "", err
	}
	return st["Master_Host"], nil
}

// Writable returns the servers of the role whose mariadbd answers and has
// read_only off.
func (r *Farm) Writable(ctx context.Context) []string {
	var out []string
	for _, s := range r.Farm.Servers(r.Role) {
		got, err := SQL(ctx, r.Dir(s.ID), "SELECT @@read_only")
		if err == nil && got == "0" {
			out = append(out, s.ID)
		}
	}
	return out
}

// Writer commits numbered rows through the master name, one at a time,
// retrying a number until a commit of it is acknowledged.
type Writer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	acked []int
	ackAt []time.Time
	errAt []time.Time
}

// StartWriter creates the table app.t and starts writing.
func (r *Farm) StartWriter(ctx context.Context) (*Writer, error) {
	db, err := r.DB()
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS t (n INT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))"); err != nil {
		db.Close()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	w := &Writer{db: db, cancel: cancel, done: make(chan struct{})}
	go w.run(wctx)
	return w, nil
}

func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	n := 1
	for ctx.Err() == nil {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := w.db.ExecContext(ectx, "INSERT INTO t (n) VALUES (?) ON DUPLICATE KEY UPDATE n = n", n)
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, n)
			w.ackAt = append(w.ackAt, time.Now())
			n++
		} else {
			w.errAt = append(w.errAt, time.Now())
		}
		w.mu.Unlock()
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// Stop stops the writer and returns the acknowledged numbers, in order.
func (w *Writer) Stop() []int {
	w.cancel()
	<-w.done
	w.db.Close()
	return w.Acked()
}

// Acked returns the acknowledged numbers so far.
func (w *Writer) Acked() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.acked...)
}

// ResumedAfter returns the first acknowledgement after the writer's first
// failed commit after t: when writes resumed after an outage that began at
// t. An acknowledgement that was on its way when the outage began does not
// count.
func (w *Writer) ResumedAfter(t time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var start time.Time
	for _, e := range w.errAt {
		if e.After(t) {
			start = e
			break
		}
	}
	if start.IsZero() {
		return time.Time{}, false
	}
	for _, at := range w.ackAt {
		if at.After(start) {
			return at, true
		}
	}
	return time.Time{}, false
}

// WaitAcked waits until n rows are acknowledged.
func (w *Writer) WaitAcked(ctx context.Context, n int) error {
	for len(w.Acked()) < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d rows acknowledged, want %d: %w", len(w.Acked()), n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Rows returns the numbers in app.t on a server, read over its socket.
func (r *Farm) Rows(ctx context.Context, serverID string) (map[int]bool, error) {
	out, err := SQL(ctx, r.Dir(serverID), "SELECT n FROM app.t")
	if err != nil {
		return nil, err
	}
	rows := map[int]bool{}
	for f := range strings.FieldsSeq(out) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, errors.New("app.t: " + f)
		}
		rows[n] = true
	}
	return rows, nil
}

// FailedScripts describes the failed script runs of the farm so far.
func (r *Farm) FailedScripts(ctx context.Context) string {
	entries, err := r.Farm.ScriptingLog().Query(ctx, scripting.LogQuery{FailuresOnly: true})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %s %s exit %d %s: %s\n", e.Server, e.Event, e.Script, e.ExitCode, e.Err, strings.TrimSpace(e.Stderr))
	}
	return b.String()
}
