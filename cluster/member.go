package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/farmhand/farmhand/clock"
)

// Defaults for zero Options fields.
const (
	DefaultPrefix = "farmhand/cluster/"
	DefaultTTL    = 10 * time.Second
	// MinTTL is the shortest lease etcd grants (it rounds shorter ones up).
	MinTTL = 2 * time.Second
)

// Errors of the package; test them with errors.Is.
var (
	// ErrNotOwner is returned by a fenced write, and by Ownership.Check,
	// when this member no longer owns the farm: its lease expired locally,
	// the farm was released or another member's key replaced its own.
	ErrNotOwner = errors.New("cluster: not the owner of the farm")
	// ErrMemberExists is returned by Join when a live member has the ID.
	ErrMemberExists = errors.New("cluster: a live member has this ID")
	// ErrClosed is returned by a closed Member's methods.
	ErrClosed = errors.New("cluster: member closed")
)

// Options configure a Member. Zero fields take the defaults given.
type Options struct {
	// Prefix is the etcd key prefix every member of one cluster shares;
	// members are registered under Prefix+"members/" and farms owned under
	// Prefix+"owners/". Empty means DefaultPrefix.
	Prefix string
	// ID names this member; it must be unique among the live members.
	// A process restarted under the ID of its crashed run may use it (Join
	// waits for the old registration to expire). Empty means
	// "HOSTNAME-PID".
	ID string
	// TTL is the lease's time to live, a whole number of seconds, at least
	// MinTTL: a member that dies loses its farms after at most TTL, and
	// they are taken over within two TTLs. Zero means DefaultTTL.
	TTL time.Duration
	// Margin is how long before etcd would expire the lease the member
	// stops acting when it cannot renew it: the local expiry is the time
	// the last successful renewal was sent, plus TTL, less Margin, so a
	// member that lost its lease has stopped before etcd hands its farms
	// to another. It covers clock rate differences and the time to stop.
	// Zero means TTL/5; it must be less than TTL/2.
	Margin time.Duration
	// Settle is how long a member that joins while this one runs must stay
	// live before farms are handed to it, so that a member that comes and
	// goes does not make farms move back and forth (the members already
	// registered when Run starts count as settled). Zero means TTL.
	Settle time.Duration
	// RequestTimeout bounds each etcd call. Zero means TTL/5.
	RequestTimeout time.Duration
	// Clock is the member's time; nil means clock.Real().
	Clock clock.Clock
	// Logger receives the member's logs; nil discards them.
	Logger *slog.Logger
	// OnEvent receives every Event, one at a time, from the member's
	// goroutines; it must return quickly. Nil drops them (Member.Err still
	// tells whether etcd answers).
	OnEvent func(Event)
}

func (o *Options) withDefaults() (Options, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.ID == "" {
		host, _ := os.Hostname()
		opts.ID = host + "-" + strconv.Itoa(os.Getpid())
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.TTL < MinTTL || opts.TTL%time.Second != 0 {
		return opts, fmt.Errorf("cluster: TTL %v: want a whole number of seconds, at least %v", opts.TTL, MinTTL)
	}
	if opts.Margin == 0 {
		opts.Margin = opts.TTL / 5
	}
	if opts.Margin < 0 || opts.Margin >= opts.TTL/2 {
		return opts, fmt.Errorf("cluster: Margin %v: want more than 0 and less than TTL/2 (%v)", opts.Margin, opts.TTL/2)
	}
	if opts.Settle == 0 {
		opts.Settle = opts.TTL
	}
	if opts.Settle < 0 {
		return opts, fmt.Errorf("cluster: Settle %v is negative", opts.Settle)
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = opts.TTL / 5
	}
	if opts.RequestTimeout < 0 {
		return opts, fmt.Errorf("cluster: RequestTimeout %v is negative", opts.RequestTimeout)
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return opts, nil
}

// Member is one controller's membership of a cluster: a lease it keeps
// alive, its registration under that lease, and the farms it owns. Join
// makes one; Run shares farms; Close leaves.
type Member struct {
	cli       *clientv3.Client
	opts      Options
	clk       clock.Clock
	memberKey string

	mu         sync.Mutex
	lease      clientv3.LeaseID
	validUntil time.Time // local expiry: no acting from then on
	expired    bool      // validUntil passed and the works were stopped
	lastErr    error     // etcd's last error, nil when it answers
	held       map[string]*Ownership
	running    bool
	closed     bool

	renewed chan struct{} // wakes the watchdog when validUntil moves
	eventMu sync.Mutex

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Join registers a member of the cluster under a new lease of opts.TTL and
// keeps the lease alive until Close. When the ID is registered already,
// Join waits up to a TTL for that registration to expire (a process
// restarted under its old ID finds its previous run's), and then fails with
// ErrMemberExists: a live member has the ID. It fails when etcd does not
// answer within opts.RequestTimeout.
func Join(ctx context.Context, cli *clientv3.Client, opts *Options) (*Member, error) {
	if cli == nil {
		return nil, errors.New("cluster: Join: nil etcd client")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Member{
		cli:       cli,
		opts:      o,
		clk:       o.Clock,
		memberKey: o.Prefix + "members/" + o.ID,
		held:      make(map[string]*Ownership),
		renewed:   make(chan struct{}, 1),
	}
	if err := m.registerWaiting(ctx); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	m.stop = stop
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.keepAlive(bg) }()
	go func() { defer m.wg.Done(); m.watchdog(bg) }()
	return m, nil
}

// ID returns the member's ID.
func (m *Member) ID() string { return m.opts.ID }

// TTL returns the lease's time to live.
func (m *Member) TTL() time.Duration { return m.opts.TTL }

// registerWaiting registers the member, waiting for a registration of the
// same ID to expire: a process restarted under its old ID finds its
// previous run's key until that lease's TTL has passed. A key that is still
// there after a TTL belongs to a live member.
func (m *Member) registerWaiting(ctx context.Context) error {
	deadline := m.clk.Now().Add(m.opts.TTL + m.opts.RequestTimeout)
	for {
		err := m.register(ctx)
		if !errors.Is(err, ErrMemberExists) || !m.clk.Now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-m.clk.After(m.opts.TTL / 10):
		}
	}
}

// register grants a lease and puts the member key under it, unless a live
// member holds the key.
func (m *Member) register(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
	defer cancel()
	sent := m.clk.Now()
	g, err := m.cli.Grant(ctx, int64(m.opts.TTL/time.Second))
	if err != nil {
		return fmt.Errorf("cluster: grant a lease: %w", err)
	}
	resp, err := m.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(m.memberKey), "=", 0)).
		Then(clientv3.OpPut(m.memberKey, m.opts.ID, clientv3.WithLease(g.ID))).
		Commit()
	if err == nil && !resp.Succeeded {
		err = fmt.Errorf("%w: %q (key %s)", ErrMemberExists, m.opts.ID, m.memberKey)
	}
	if err != nil {
		rctx, rcancel := context.WithTimeout(context.Background(), m.opts.RequestTimeout)
		_, _ = m.cli.Revoke(rctx, g.ID)
		rcancel()
		return fmt.Errorf("cluster: register member %q: %w", m.opts.ID, err)
	}
	m.mu.Lock()
	m.lease = g.ID
	m.validUntil = sent.Add(time.Duration(g.TTL)*time.Second - m.opts.Margin)
	m.expired = false
	m.mu.Unlock()
	m.wake()
	return nil
}

func (m *Member) wake() {
	select {
	case m.renewed <- struct{}{}:
	default:
	}
}

// keepAlive renews the lease every TTL/4, one request at a time, each
// bounded by RequestTimeout; the local expiry moves to the time the request
// was sent plus the TTL etcd answers, less Margin. When etcd says the lease
// is gone, the member registers again under a new one.
func (m *Member) keepAlive(ctx context.Context) {
	t := m.clk.NewTicker(m.opts.TTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		m.mu.Lock()
		lease := m.lease
		m.mu.Unlock()
		sent := m.clk.Now()
		rctx, cancel := context.WithTimeout(ctx, m.opts.RequestTimeout)
		resp, err := m.cli.KeepAliveOnce(rctx, lease)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			m.mu.Lock()
			m.validUntil = sent.Add(time.Duration(resp.TTL)*time.Second - m.opts.Margin)
			m.expired = !m.clk.Now().Before(m.validUntil)
			m.mu.Unlock()
			m.wake()
			m.setErr(nil)
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			m.expireAll(fmt.Errorf("%w: lease %x is gone at etcd", ErrNotOwner, lease))
			m.emit(Event{Type: LeaseLost, Err: err})
			if err := m.register(ctx); err != nil {
				m.setErr(err)
				continue
			}
			m.setErr(nil)
			m.emit(Event{Type: Rejoined})
		default:
			m.setErr(fmt.Errorf("cluster: renew lease: %w", err))
		}
	}
}

// setErr records whether etcd answers, with an Unreachable or Reachable
// event when that changes.
func (m *Member) setErr(err error) {
	m.mu.Lock()
	was := m.lastErr
	m.lastErr = err
	m.mu.Unlock()
	switch {
	case err != nil && was == nil:
		m.opts.Logger.Warn("etcd unreachable", "member", m.opts.ID, "err", err)
		m.emit(Event{Type: Unreachable, Err: err})
	case err == nil && was != nil:
		m.opts.Logger.Info("etcd reachable again", "member", m.opts.ID)
		m.emit(Event{Type: Reachable})
	}
}

// Err returns the last error etcd gave the member, or nil when its last
// call succeeded.
func (m *Member) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// watchdog stops every work when the local expiry passes without a
// renewal.
func (m *Member) watchdog(ctx context.Context) {
	for {
		m.mu.Lock()
		left := m.validUntil.Sub(m.clk.Now())
		expired := m.expired
		m.mu.Unlock()
		if left <= 0 && !expired {
			m.expireAll(fmt.Errorf("%w: lease not renewed before its local expiry (TTL %v less margin %v)", ErrNotOwner, m.opts.TTL, m.opts.Margin))
			m.emit(Event{Type: LeaseExpired, Err: m.Err()})
			left = time.Duration(math.MaxInt64)
		}
		if left <= 0 {
			left = time.Duration(math.MaxInt64)
		}
		t := m.clk.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-m.renewed:
			t.Stop()
		case <-t.C():
		}
	}
}

// Acting reports whether the member may act now: its lease's local expiry
// has not passed.
func (m *Member) Acting() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.actingLocked()
}

func (m *Member) actingLocked() bool {
	return !m.closed && m.clk.Now().Before(m.validUntil)
}

// expireAll stops every work at once, with cause.
func (m *Member) expireAll(cause error) {
	m.mu.Lock()
	m.expired = true
	held := make([]*Ownership, 0, len(m.held))
	for _, o := range m.held {
		held = append(held, o)
	}
	m.mu.Unlock()
	for _, o := range held {
		o.lose(cause)
	}
}

func (m *Member) emit(ev Event) {
	ev.Member = m.opts.ID
	if ev.Time.IsZero() {
		ev.Time = m.clk.Now()
	}
	if m.opts.OnEvent == nil {
		return
	}
	m.eventMu.Lock()
	defer m.eventMu.Unlock()
	m.opts.OnEvent(ev)
}

// Close leaves the cluster: it stops renewing the lease and revokes it,
// which deletes the member's registration and ownership keys at once, so
// other members take its farms without waiting for the TTL. Call it after
// Run has returned. A second Close does nothing.
func (m *Member) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	lease := m.lease
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.RequestTimeout)
	defer cancel()
	if _, err := m.cli.Revoke(ctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("cluster: revoke lease of %q: %w", m.opts.ID, err)
	}
	return nil
}
