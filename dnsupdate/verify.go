package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/farmhand/farmhand/clock"
)

// Defaults of [VerifyOptions].
const (
	DefaultVerifyInterval = 200 * time.Millisecond
	DefaultVerifyTimeout  = 30 * time.Second
	DefaultVerifyQuery    = 2 * time.Second
)

// VerifyOptions say what to check and where.
type VerifyOptions struct {
	// Servers are the authoritative servers to ask, as "host:port".
	// Required.
	Servers []string
	// Name and Type name the set; Want are the values every server must
	// serve (order and text form do not matter). An empty Want means the
	// set must not exist.
	Name string
	Type string
	Want []string
	// MinSerial, when not zero, is the zone serial every server must have
	// reached (RFC 1982 comparison): read the serial with ReadSOA before
	// the update and pass it plus one to be sure a server has applied the
	// update rather than serving an older set that happens to match.
	MinSerial uint32
	// Interval is the wait between rounds; default DefaultVerifyInterval.
	Interval time.Duration
	// QueryTimeout bounds one query; default DefaultVerifyQuery.
	QueryTimeout time.Duration
	// Dial opens the TCP connections; nil means a net.Dialer.
	Dial DialFunc
	// Clock times the waits between rounds; nil means the real clock.
	Clock clock.Clock
	// Logger gets a line when the change is verified; nil discards it.
	Logger *slog.Logger
}

// ServerState is what one server served at the last query.
type ServerState struct {
	// Server is the server's address.
	Server string
	// Values are the values it served (none when the set is absent).
	Values []string
	// Serial is its zone serial, when MinSerial was asked for.
	Serial uint32
	// Err is why the server could not be read (timeout, refused, not
	// authoritative).
	Err error
}

// String says what the server serves (values and serial), or its error.
func (s ServerState) String() string {
	if s.Err != nil {
		return s.Server + ": " + s.Err.Error()
	}
	out := s.Server + " serves " + joinValues(s.Values)
	if s.Serial != 0 {
		out += fmt.Sprintf(" at serial %d", s.Serial)
	}
	return out
}

// LagError is Verify's error: the servers that did not serve the wanted set
// in time, and what they served. It matches ErrLagging and the context's
// error with errors.Is.
type LagError struct {
	Name, Type string
	Want       []string
	MinSerial  uint32
	// Lagging are the servers not yet in sync, in the order given.
	Lagging []ServerState
	// Cause is the context's error that ended the wait.
	Cause error
}

// Error names the record, the values (and serial) wanted and what each
// lagging server served.
func (e *LagError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dnsupdate: verify %s %s: want %s", e.Name, e.Type, joinValues(e.Want))
	if e.MinSerial != 0 {
		fmt.Fprintf(&b, " at serial >= %d", e.MinSerial)
	}
	b.WriteString("; lagging: ")
	for i, s := range e.Lagging {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s.String())
	}
	if e.Cause != nil {
		b.WriteString(" (" + e.Cause.Error() + ")")
	}
	return b.String()
}

// Unwrap returns ErrLagging and the cause.
func (e *LagError) Unwrap() []error { return []error{ErrLagging, e.Cause} }

// Verify asks every server in opts.Servers directly, over TCP and without
// recursion, until all of them serve opts.Want for the name and type (and
// have reached opts.MinSerial), and returns nil then. A server that is in
// sync once is not asked again. When ctx has no deadline, Verify allows
// DefaultVerifyTimeout. At the deadline it returns a *LagError naming each
// lagging server and what it served.
func Verify(ctx context.Context, opts VerifyOptions) error {
	const op = "verify"
	if len(opts.Servers) == 0 {
		return invalidf(op, "servers: empty; want at least one host:port")
	}
	name, typ, err := normalizeKey(op, opts.Name, opts.Type)
	if err != nil {
		return err
	}
	want := []string{}
	if len(opts.Want) > 0 {
		if want, err = canonicalValues(typ, opts.Want); err != nil {
			return &Error{Kind: ErrInvalid, Op: op, Name: name, Type: typ, Err: fmt.Errorf("want: %w", err)}
		}
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = DefaultVerifyInterval
	}
	clk := clock.Or(opts.Clock)
	logger := orDiscard(opts.Logger)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultVerifyTimeout)
		defer cancel()
	}

	pending := slices.Clone(opts.Servers)
	states := make(map[string]ServerState, len(pending))
	start := clk.Now()
	for round := 1; ; round++ {
		var mu sync.Mutex
		var wg sync.WaitGroup
		var still []string
		for _, srv := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, ok := checkServer(ctx, opts, srv, name, typ, want)
				mu.Lock()
				defer mu.Unlock()
				if prev, seen := states[srv]; seen && st.Err != nil && cutShort(ctx) {
					// The deadline cut this query short: what the
					// server served last time says more.
					st = prev
				}
				states[srv] = st
				if !ok {
					still = append(still, srv)
				}
			}()
		}
		wg.Wait()
		// Keep the caller's order of servers.
		pending = slices.DeleteFunc(pending, func(s string) bool { return !slices.Contains(still, s) })
		if len(pending) == 0 {
			logger.LogAttrs(ctx, slog.LevelInfo, "dns change verified", slog.String("name", name), slog.String("type", typ),
				slog.Any("values", want), slog.Int("servers", len(opts.Servers)), slog.Int("rounds", round),
				slog.Duration("took", clk.Since(start)))
			return nil
		}
		if ctx.Err() == nil {
			t := clk.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C():
			}
		}
		if ctx.Err() != nil {
			lag := &LagError{Name: name, Type: typ, Want: want, MinSerial: opts.MinSerial, Cause: ctx.Err()}
			for _, srv := range pending {
				lag.Lagging = append(lag.Lagging, states[srv])
			}
			return lag
		}
	}
}

// cutShort reports whether ctx has ended or reached its deadline (a
// query's own timer can fire a moment before the context's).
func cutShort(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// checkServer reads one server and reports whether it is in sync.
func checkServer(ctx context.Context, opts VerifyOptions, server, name, typ string, want []string) (ServerState, bool) {
	st := ServerState{Server: server}
	timeout := opts.QueryTimeout
	if timeout <= 0 {
		timeout = DefaultVerifyQuery
	}
	r, err := query(ctx, opts.Dial, server, name, dns.StringToType[typ], timeout)
	if err != nil {
		st.Err = err
		return st, false
	}
	if !r.Authoritative || (r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError) {
		st.Err = fmt.Errorf("answered %s, authoritative %t", rcodeName(r.Rcode), r.Authoritative)
		return st, false
	}
	st.Values = valuesOf(r, name, typ)
	if opts.MinSerial != 0 {
		soa, ok := soaOf(r, name)
		if !ok {
			// A positive answer need not carry the SOA; ask for it.
			s, err := readSOA(ctx, opts.Dial, server, name, timeout)
			if err != nil {
				st.Err = errors.Unwrap(err)
				if st.Err == nil {
					st.Err = err
				}
				return st, false
			}
			soa = s
		}
		st.Serial = soa.Serial
		if !serialAtLeast(soa.Serial, opts.MinSerial) {
			return st, false
		}
	}
	return st, slices.Equal(st.Values, want)
}
