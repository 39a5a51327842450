package roles

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/farmhand/farmhand/farm"
)

// HAProxyBackends is the farm.Backends of the HAProxy preset: it keeps the
// servers of backend "farm" of every HAProxy in service of the preset's role
// equal to the servers the farm gives it, through HAProxy's runtime API
// over the admin socket (socat on the load balancer, run over SSH):
//
//   - a new server: "add server farm/ID ADDR:PORT check", "enable health",
//     "enable server";
//   - a server that changed address: "set server farm/ID addr ... port ...";
//   - a server that leaves: "set server farm/ID state drain", a wait until
//     its current sessions are 0 (bounded by the drain timeout and the
//     context), then "state maint", "shutdown sessions" and "del server".
//
// Where the runtime API cannot add or delete a server (an HAProxy older than
// 2.5, or servers written in the configuration), it falls back to rewriting
// the server lines of the configuration, checking it with "haproxy -c" and
// reloading HAProxy (haproxy_reload). Either way the server lines of the
// configuration follow, so that a restarted HAProxy starts with the same
// servers. A load balancer server that enters
// service gets the current servers before its HostUp (it is a hook on the
// preset's role, BeforeHostUp).
type HAProxyBackends struct {
	lbBase
	drain time.Duration

	// Address returns the address HAProxy sends a server's requests to, an
	// IP (with haproxy_backend_port) or "IP:port"; nil means its private
	// IP. Set it before Bind.
	Address func(farm.Server) string

	fmu       sync.Mutex
	fallbacks int // configuration rewrites
}

var _ farm.Backends = (*HAProxyBackends)(nil)

func newHAProxyBackends(name string, role farm.RoleSpec, drain time.Duration) *HAProxyBackends {
	b := &HAProxyBackends{lbBase: newLBBase("HAProxy", name, role), drain: drain}
	b.lbBase.apply = b.apply
	return b
}

// Fallbacks returns how many times a configuration rewrite and reload
// replaced the runtime API.
func (b *HAProxyBackends) Fallbacks() int {
	b.fmu.Lock()
	defer b.fmu.Unlock()
	return b.fallbacks
}

// backendState is one server of backend "farm" as HAProxy reports it.
type backendState struct {
	addr    string // host:port
	admin   int    // srv_admin_state bits: 0x01 maint (forced), 0x08 drain (forced)
	dynamic bool
}

// apply makes one HAProxy's servers the given ones.
func (b *HAProxyBackends) apply(ctx context.Context, f Farm, lbID string, servers []farm.Server) error {
	cur, err := b.state(ctx, f, lbID)
	if err != nil {
		return err
	}
	want := map[string]string{}
	var order []string
	for _, s := range servers {
		addr := b.addr(s)
		if addr == "" {
			continue
		}
		want[s.ID] = addr
		order = append(order, s.ID)
	}
	var cmds []string
	for _, id := range order {
		st, ok := cur[id]
		switch {
		case !ok:
			cmds = append(cmds, "add server "+haproxyBackend+"/"+id+" "+want[id]+" check",
				"enable health "+haproxyBackend+"/"+id, "enable server "+haproxyBackend+"/"+id)
		case st.addr != want[id]:
			host, port, _ := net.SplitHostPort(want[id])
			cmds = append(cmds, "set server "+haproxyBackend+"/"+id+" addr "+host+" port "+port,
				"enable server "+haproxyBackend+"/"+id)
		case st.admin != 0:
			cmds = append(cmds, "enable server "+haproxyBackend+"/"+id)
		}
	}
	fallback := false
	if len(cmds) > 0 {
		replies, err := b.cli(ctx, f, lbID, cmds...)
		if err != nil {
			return err
		}
		for i, r := range replies {
			switch {
			case strings.HasPrefix(cmds[i], "add server") && !strings.Contains(r, "New server registered"):
				if !unsupported(r) {
					return fmt.Errorf("%q: %s", cmds[i], strings.TrimSpace(r))
				}
				fallback = true
			case cliFailed(r) && !strings.HasPrefix(cmds[i], "add server") && !fallback:
				return fmt.Errorf("%q: %s", cmds[i], strings.TrimSpace(r))
			}
		}
	}
	var leaving []string
	for id := range cur {
		if _, ok := want[id]; !ok {
			leaving = append(leaving, id)
		}
	}
	slices.Sort(leaving)
	if len(leaving) > 0 {
		if err := b.drainAndDelete(ctx, f, lbID, leaving, cur, &fallback); err != nil {
			return err
		}
	}
	if fallback || len(cmds) > 0 || len(leaving) > 0 {
		// The configuration follows, so that a restarted HAProxy starts
		// with the same servers; it is reloaded only when the runtime API
		// could not do the change.
		return b.rewrite(ctx, f, lbID, order, want, fallback)
	}
	return nil
}

// unsupported reports a runtime API reply that means "this HAProxy cannot
// do it at run time": the configuration must change instead.
func unsupported(reply string) bool {
	for _, s := range []string{"Unknown command", "dynamic load balancing", "not a dynamic server", "Only servers added at runtime"} {
		if strings.Contains(reply, s) {
			return true
		}
	}
	return false
}

// cliFailed reports a runtime API reply that is an error.
func cliFailed(reply string) bool {
	for _, s := range []string{"No such", "Unknown", "not found", "Require", "Invalid", "error"} {
		if strings.Contains(reply, s) {
			return true
		}
	}
	return false
}

// drainAndDelete drains the leaving servers, waits for their sessions to
// end, and deletes them.
func (b *HAProxyBackends) drainAndDelete(ctx context.Context, f Farm, lbID string, ids []string, cur map[string]backendState, fallback *bool) error {
	var cmds []string
	for _, id := range ids {
		cmds = append(cmds, "set server "+haproxyBackend+"/"+id+" state drain")
	}
	replies, err := b.cli(ctx, f, lbID, cmds...)
	if err != nil {
		return err
	}
	for i, r := range replies {
		if cliFailed(r) {
			return fmt.Errorf("%q: %s", cmds[i], strings.TrimSpace(r))
		}
	}
	dctx, cancel := context.WithTimeout(ctx, b.drain)
	defer cancel()
	for {
		busy, err := b.sessions(dctx, f, lbID, ids)
		if err != nil && dctx.Err() == nil {
			return err
		}
		if busy == 0 || dctx.Err() != nil {
			break
		}
		select {
		case <-dctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, id := range ids {
		srv := haproxyBackend + "/" + id
		for attempt := 0; ; attempt++ {
			replies, err := b.cli(ctx, f, lbID, "set server "+srv+" state maint", "shutdown sessions server "+srv, "del server "+srv)
			if err != nil {
				return err
			}
			r := replies[2]
			switch {
			case strings.Contains(r, "Server deleted"):
			case unsupported(r) || !cur[id].dynamic && strings.Contains(r, "dynamic"):
				*fallback = true
			case strings.Contains(r, "still has connections") && attempt < 20:
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
				continue
			default:
				return fmt.Errorf("del server %s: %s", srv, strings.TrimSpace(r))
			}
			break
		}
	}
	return nil
}

// sessions returns the current sessions of the given servers.
func (b *HAProxyBackends) sessions(ctx context.Context, f Farm, lbID string, ids []string) (int, error) {
	replies, err := b.cli(ctx, f, lbID, "show stat")
	if err != nil {
		return 0, err
	}
	lines := strings.Split(replies[0], "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "# ") {
		return 0, fmt.Errorf("show stat: unexpected reply %q", firstLine(replies[0]))
	}
	head := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	px, sv, scur := slices.Index(head, "pxname"), slices.Index(head, "svname"), slices.Index(head, "scur")
	if px < 0 || sv < 0 || scur < 0 {
		return 0, fmt.Errorf("show stat: no pxname, svname or scur column")
	}
	total := 0
	for _, l := range lines[1:] {
		fs := strings.Split(l, ",")
		if len(fs) <= scur || fs[px] != haproxyBackend || !slices.Contains(ids, fs[sv]) {
			continue
		}
		n, _ := strconv.Atoi(fs[scur])
		total += n
	}
	return total, nil
}

// state reads backend "farm"'s servers.
func (b *HAProxyBackends) state(ctx context.Context, f Farm, lbID string) (map[string]backendState, error) {
	replies, err := b.cli(ctx, f, lbID, "show servers state "+haproxyBackend)
	if err != nil {
		return nil, err
	}
	return parseServersState(replies[0])
}

// parseServersState parses the reply of "show servers state BACKEND".
func parseServersState(reply string) (map[string]backendState, error) {
	out := map[string]backendState{}
	var head []string
	for _, l := range strings.Split(reply, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || l == "1":
			continue
		case strings.HasPrefix(l, "# "):
			head = strings.Fields(strings.TrimPrefix(l, "# "))
			continue
		case head == nil:
			return nil, fmt.Errorf("show servers state: unexpected reply %q", firstLine(reply))
		}
		fs := strings.Fields(l)
		get := func(name string) string {
			if i := slices.Index(head, name); i >= 0 && i < len(fs) {
				return fs[i]
			}
			return ""
		}
		admin, _ := strconv.Atoi(get("srv_admin_state"))
		// Servers of the configuration have a forced ID (srv_f_forced_id 1 is
		// not reliable across versions); the farm names its servers by ID.
		out[get("srv_name")] = backendState{
			addr:    net.JoinHostPort(get("srv_addr"), get("srv_port")),
			admin:   admin,
			dynamic: true,
		}
	}
	return out, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// addr is where HAProxy sends a server's requests.
func (b *HAProxyBackends) addr(s farm.Server) string {
	ip := s.PrivateIP
	if b.Address != nil {
		ip = b.Address(s)
	}
	if ip == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(ip); err == nil {
		return ip
	}
	return net.JoinHostPort(ip, b.vars["haproxy_backend_port"])
}

const replyEnd = "@@farmhand-end@@"

// cli runs runtime API commands on one load balancer, one connection each,
// in one SSH command, and returns their replies.
func (b *HAProxyBackends) cli(ctx context.Context, f Farm, lbID string, cmds ...string) ([]string, error) {
	var sb strings.Builder
	sb.WriteString("SOCK=" + shellQuote(b.vars["haproxy_socket"]) + "\n")
	sb.WriteString(`case "$SOCK" in /*) ;; *) SOCK="$PWD/$SOCK" ;; esac` + "\n")
	sb.WriteString(`hc() { printf '%s\n' "$1" | socat -t 5 - "UNIX-CONNECT:$SOCK" || echo "socat failed: $?"; echo ` + replyEnd + "; }\n")
	for _, c := range cmds {
		sb.WriteString("hc " + shellQuote(c) + "\n")
	}
	out, err := f.Exec(ctx, lbID, sb.String())
	if err != nil {
		return nil, fmt.Errorf("runtime API: %w", err)
	}
	parts := strings.Split(string(out), replyEnd+"\n")
	if len(parts) < len(cmds) {
		return nil, fmt.Errorf("runtime API: %d replies to %d commands", len(parts), len(cmds))
	}
	for i, p := range parts[:len(cmds)] {
		if strings.HasPrefix(p, "socat failed") || strings.Contains(p, "\nsocat failed") {
			return nil, fmt.Errorf("runtime API %q: %s", cmds[i], strings.TrimSpace(p))
		}
	}
	return parts[:len(cmds)], nil
}

// rewrite puts the servers in the configuration and checks it, and with
// reload reloads HAProxy: the fallback when the runtime API cannot add or
// delete servers.
func (b *HAProxyBackends) rewrite(ctx context.Context, f Farm, lbID string, order []string, want map[string]string, reload bool) error {
	var lines strings.Builder
	for _, id := range order {
		fmt.Fprintf(&lines, "    server %s %s check\n", id, want[id])
	}
	cmd := prelude + "CONF=$(fh_abs " + shellQuote(b.vars["haproxy_config"]) + ")\n" +
		"SOCK=$(fh_abs " + shellQuote(b.vars["haproxy_socket"]) + ")\n" +
		"PIDFILE=$(dirname \"$SOCK\")/haproxy.pid\n" +
		"LINES=" + shellQuote(lines.String()) + "\n" +
		`awk -v lines="$LINES" '/# farmhand servers begin/ {print; printf "%s", lines; skip=1; next} /# farmhand servers end/ {skip=0} !skip {print}' "$CONF" > "$CONF.farmhand-new"` + "\n" +
		`haproxy -c -f "$CONF.farmhand-new" >/dev/null` + "\n" +
		`mv "$CONF.farmhand-new" "$CONF"` + "\n"
	if !reload {
		if _, err := f.Exec(ctx, lbID, cmd); err != nil {
			return fmt.Errorf("configuration rewrite: %w", err)
		}
		return nil
	}
	if _, err := f.Exec(ctx, lbID, cmd+b.vars["haproxy_reload"]+"\n"); err != nil {
		return fmt.Errorf("configuration rewrite and reload: %w", err)
	}
	b.fmu.Lock()
	b.fallbacks++
	b.fmu.Unlock()
	return nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
