package fake

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/provider"
)

// Defaults for the zero [Options].
const (
	DefaultBootTime = 2 * time.Second
	DefaultPageSize = 50
	// TerminatedRetention is how long a terminated server stays listed (in
	// StateTerminated) before it vanishes, as on EC2.
	TerminatedRetention = time.Hour
)

// DefaultZones are the zones of a fake cloud whose Options name none.
var DefaultZones = []string{"fake-1a", "fake-1b", "fake-1c"}

// Options configure a fake cloud. The zero value is a usable cloud on the
// real clock.
type Options struct {
	// Clock is the cloud's time; nil means clock.Real(). Server states are
	// computed from it: a server launched at T is pending until T+BootTime.
	Clock clock.Clock
	// Zones are the availability zones; nil means DefaultZones.
	Zones []string
	// BootTime is how long a server stays pending after launch (and how long
	// a reboot keeps its SSH endpoint closed). 0 means DefaultBootTime; a
	// negative value means servers are running at once.
	BootTime time.Duration
	// Seed seeds the deterministic random numbers behind FailRate and the
	// servers' host keys. Two clouds with the same Seed, given the same calls
	// in the same order, behave the same.
	Seed int64
	// PageSize caps how many servers one List page holds, so that callers
	// really follow pages. 0 means DefaultPageSize.
	PageSize int
	// Logger receives debug lines on launches, terminations, crashes and
	// injected faults; nil discards.
	Logger *slog.Logger
	// SSH, when set, gives each server an SSH endpoint on loopback that runs
	// commands in a sandbox directory. nil means no SSH endpoints.
	SSH *SSHOptions
	// LoadBalancers names the load balancers that exist at start (see
	// [Provider.CreateLoadBalancer]).
	LoadBalancers []string
}

// Provider is an in-memory cloud. It implements provider.Provider and the
// optional HostKeyReader, ConsoleReader, Snapshotter and LoadBalancer
// capabilities. It is safe for concurrent use.
type Provider struct {
	clock    clock.Clock
	zones    []string
	bootTime time.Duration
	seed     int64
	pageSize int
	log      *slog.Logger
	ssh      *sshHost // nil without SSH

	mu        sync.Mutex
	servers   map[string]*server
	order     []string             // server IDs in launch order
	all       []*server            // servers in launch order (server.seq is the position)
	byFarm    map[string][]*server // servers by their provider.TagFarm tag, in launch order
	tokens    map[string]*launchRecord
	nextID    int
	ips       ipPool
	knobs     map[Op]*knob
	capacity  map[string]int // zone -> max live servers; absent = unlimited
	calls     []*Call
	volumes   map[string]*provider.Volume
	nextVol   int
	snapshots map[string]*provider.Snapshot
	snapOrder []string
	nextSnap  int
	lbs       map[string]map[string]bool
	closed    bool
}

var (
	_ provider.Provider      = (*Provider)(nil)
	_ provider.HostKeyReader = (*Provider)(nil)
	_ provider.ConsoleReader = (*Provider)(nil)
	_ provider.Snapshotter   = (*Provider)(nil)
	_ provider.LoadBalancer  = (*Provider)(nil)
	_ io.Closer              = (*Provider)(nil)
)

// server is the cloud's record of one server.
type server struct {
	s          provider.Server // ID, IPs, zone, image, type, LaunchedAt, Tags
	spec       provider.LaunchSpec
	state      provider.State // explicit state: stopped, failed, terminated; "" = by clock
	goneAt     time.Time      // when it was terminated or crashed
	startedAt  time.Time      // launch or last Start: pending until startedAt+BootTime
	bootedAt   time.Time      // launch, Start or last reboot: SSH closed until bootedAt+BootTime
	hostKey    ed25519.PrivateKey
	seq        int // position in launch order
	rootVolume string
	load       [3]float64
	reboots    int
	hung       bool
}

type launchRecord struct {
	spec provider.LaunchSpec
	ids  []string
}

// New returns a fake cloud. With opts.SSH set it starts an SSH endpoint per
// server; call [Provider.Close] to stop them.
func New(opts Options) *Provider {
	p := &Provider{
		clock:     clock.Or(opts.Clock),
		zones:     slices.Clone(opts.Zones),
		bootTime:  opts.BootTime,
		seed:      opts.Seed,
		pageSize:  opts.PageSize,
		log:       opts.Logger,
		servers:   map[string]*server{},
		tokens:    map[string]*launchRecord{},
		knobs:     map[Op]*knob{},
		capacity:  map[string]int{},
		volumes:   map[string]*provider.Volume{},
		snapshots: map[string]*provider.Snapshot{},
		lbs:       map[string]map[string]bool{},
		byFarm:    map[string][]*server{},
	}
	if len(p.zones) == 0 {
		p.zones = slices.Clone(DefaultZones)
	}
	switch {
	case p.bootTime == 0:
		p.bootTime = DefaultBootTime
	case p.bootTime < 0:
		p.bootTime = 0
	}
	if p.pageSize <= 0 {
		p.pageSize = DefaultPageSize
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	for _, lb := range opts.LoadBalancers {
		p.lbs[lb] = map[string]bool{}
	}
	if opts.SSH != nil {
		p.ssh = newSSHHost(p, *opts.SSH)
	}
	return p
}

// Name returns "fake".
func (p *Provider) Name() string { return "fake" }

// As reports false: the fake has no underlying client.
func (p *Provider) As(any) bool { return false }

// Zones returns the cloud's zones.
func (p *Provider) Zones(ctx context.Context) ([]string, error) {
	c, err := p.begin(ctx, OpZones, "")
	if err != nil {
		return nil, err
	}
	return finish(p, c, slices.Clone(p.zones), nil)
}

// List returns one page of the servers matching opts.Tags, in launch order.
// Terminated servers are listed for TerminatedRetention after they went.
// Pages hold at most min(opts.PageSize, Options.PageSize) servers; the page
// token is the ID of the last server of the previous page, so a page
// sequence stays consistent while servers are launched in between.
func (p *Provider) List(ctx context.Context, opts provider.ListOptions) (provider.Page, error) {
	c, err := p.begin(ctx, OpList, fmt.Sprintf("tags=%v page=%q", opts.Tags, opts.PageToken))
	if err != nil {
		return provider.Page{}, err
	}
	size := p.pageSize
	if opts.PageSize > 0 && opts.PageSize < size {
		size = opts.PageSize
	}
	p.mu.Lock()
	// A listing by farm, the controller's every tick, reads only that
	// farm's servers.
	candidates, filter := p.all, len(opts.Tags) > 0
	if farm, ok := opts.Tags[provider.TagFarm]; ok {
		candidates, filter = p.byFarm[farm], len(opts.Tags) > 1
	}
	start := 0
	if opts.PageToken != "" {
		last, ok := p.servers[opts.PageToken]
		if !ok {
			p.mu.Unlock()
			return finish(p, c, provider.Page{}, provider.Errorf(provider.InvalidArgument, "fake.List", "page token %q is not one this cloud gave out", opts.PageToken))
		}
		start = sort.Search(len(candidates), func(i int) bool { return candidates[i].seq > last.seq })
	}
	page := provider.Page{Servers: make([]provider.Server, 0, min(size, len(candidates)-start))}
	for _, srv := range candidates[start:] {
		if !p.visibleLocked(srv) || filter && !hasTags(srv.s.Tags, opts.Tags) {
			continue
		}
		if len(page.Servers) == size {
			page.NextPageToken = page.Servers[len(page.Servers)-1].ID
			break
		}
		page.Servers = append(page.Servers, p.viewOneLocked(srv))
	}
	p.mu.Unlock()
	return finish(p, c, page, nil)
}

// Get returns one server. A server terminated more than TerminatedRetention
// ago, or never launched, is NotFound.
func (p *Provider) Get(ctx context.Context, id string) (provider.Server, error) {
	c, err := p.begin(ctx, OpGet, id)
	if err != nil {
		return provider.Server{}, err
	}
	p.mu.Lock()
	srv, err := p.lookupLocked("fake.Get", id)
	var out provider.Server
	if err == nil {
		out = p.viewOneLocked(srv)
	}
	p.mu.Unlock()
	return finish(p, c, out, err)
}

// Terminate terminates the servers at once (state terminated). Unknown and
// already terminated IDs are ignored. Their SSH endpoints stop, their root
// volumes are deleted and they leave every load balancer.
func (p *Provider) Terminate(ctx context.Context, ids ...string) error {
	c, err := p.begin(ctx, OpTerminate, fmt.Sprint(ids))
	if err != nil {
		return err
	}
	p.mu.Lock()
	var gone []string
	for _, id := range ids {
		srv, ok := p.servers[id]
		if !ok || p.stateLocked(srv).Gone() {
			continue
		}
		p.terminateLocked(srv)
		gone = append(gone, id)
	}
	p.mu.Unlock()
	p.stopSSH(gone...)
	if len(gone) > 0 {
		p.log.Debug("fake: terminated", "ids", gone)
	}
	_, err = finish(p, c, struct{}{}, nil)
	return err
}

func (p *Provider) terminateLocked(srv *server) {
	srv.state = provider.StateTerminated
	srv.goneAt = p.clock.Now()
	p.ips.release(srv.s.PrivateIP, srv.s.PublicIP)
	delete(p.volumes, srv.rootVolume)
	for _, members := range p.lbs {
		delete(members, srv.s.ID)
	}
}

// Reboot restarts a running server: it stays running as far as the cloud
// says, its SSH endpoint drops its connections and is closed for BootTime,
// and a hung server (see Hang) answers again. Rebooting a pending, stopped
// or failed server is accepted and changes nothing; a gone server is
// NotFound once it has vanished and InvalidArgument while still listed.
func (p *Provider) Reboot(ctx context.Context, id string) error {
	c, err := p.begin(ctx, OpReboot, id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	srv, err := p.lookupLocked("fake.Reboot", id)
	if err == nil && p.stateLocked(srv).Gone() {
		err = provider.Errorf(provider.InvalidArgument, "fake.Reboot", "server %s is terminated", id)
	}
	rebooted := false
	if err == nil && p.stateLocked(srv) == provider.StateRunning {
		srv.bootedAt = p.clock.Now()
		srv.reboots++
		srv.hung = false
		rebooted = true
	}
	p.mu.Unlock()
	if rebooted && p.ssh != nil {
		p.ssh.dropConnections(id)
	}
	_, err = finish(p, c, struct{}{}, err)
	return err
}

// lookupLocked finds a server that the cloud still reports.
func (p *Provider) lookupLocked(op, id string) (*server, error) {
	srv, ok := p.servers[id]
	if !ok || !p.visibleLocked(srv) {
		return nil, provider.Errorf(provider.NotFound, op, "server %q does not exist", id)
	}
	return srv, nil
}

// stateLocked computes a server's state from the clock.
func (p *Provider) stateLocked(srv *server) provider.State {
	if srv.state != "" {
		return srv.state
	}
	if p.clock.Now().Before(srv.startedAt.Add(p.bootTime)) {
		return provider.StatePending
	}
	return provider.StateRunning
}

// visibleLocked reports whether the cloud still reports the server.
func (p *Provider) visibleLocked(srv *server) bool {
	return srv.state != provider.StateTerminated || p.clock.Since(srv.goneAt) < TerminatedRetention
}

// sshReadyLocked reports whether the server's SSH endpoint answers now.
func (p *Provider) sshReadyLocked(srv *server) bool {
	return p.stateLocked(srv) == provider.StateRunning && !p.clock.Now().Before(srv.bootedAt.Add(p.bootTime))
}

func (p *Provider) viewOneLocked(srv *server) provider.Server {
	out := srv.s.Clone()
	out.State = p.stateLocked(srv)
	if out.State.Gone() {
		out.PrivateIP, out.PublicIP, out.SSHAddress = "", "", ""
	} else if p.ssh != nil {
		out.SSHAddress = p.ssh.address(srv.s.ID)
	}
	return out
}

func (p *Provider) viewLocked(ids []string) []provider.Server {
	out := make([]provider.Server, 0, len(ids))
	for _, id := range ids {
		out = append(out, p.viewOneLocked(p.servers[id]))
	}
	return out
}

// Servers returns every server ever launched, in launch order and in every
// state, including those that List no longer reports. Tests use it for
// assertions such as "no duplicates were launched".
func (p *Provider) Servers() []provider.Server {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.viewLocked(p.order)
}

// Close stops every SSH endpoint, kills the commands they run and waits for
// their goroutines. The cloud's API keeps working afterwards; servers
// launched after Close have no SSH endpoint. Close may be called twice.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	if p.ssh != nil {
		return p.ssh.close()
	}
	return nil
}

func (p *Provider) stopSSH(ids ...string) {
	if p.ssh == nil {
		return
	}
	for _, id := range ids {
		p.ssh.stop(id)
	}
}

func hasTags(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
