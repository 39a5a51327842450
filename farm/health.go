package farm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/farmhand/farmhand/internal/netguard"
	"github.com/farmhand/farmhand/provider"
)

// HealthCheck tells whether a server works. Check returns nil for a
// healthy server and an error saying what is wrong otherwise. It must
// return promptly when ctx ends; the farm bounds each call with the check's
// Timeout. Implementations must be safe for concurrent use: the farm checks
// many servers at once.
type HealthCheck interface {
	Check(ctx context.Context, srv Server) error
}

// HealthCheckFunc adapts a function to [HealthCheck].
type HealthCheckFunc func(ctx context.Context, srv Server) error

// Check calls f.
func (f HealthCheckFunc) Check(ctx context.Context, srv Server) error { return f(ctx, srv) }

// CommandRunner runs a command on a server, for the "command" health check.
// The scripting package provides one that runs it over SSH. Run returns nil
// when the command exits with status 0.
type CommandRunner interface {
	RunCommand(ctx context.Context, srv Server, command string) error
}

// CheckVariables are the variables a health check's URL or Host may use,
// written %name% as in scripts.
var CheckVariables = []string{"internal_ip", "external_ip", "server_id", "role_name", "zone", "instance_index"}

var checkVarRE = regexp.MustCompile(`%([A-Za-z_][A-Za-z0-9_]*)%`)

// sampleCheckServer fills templates when validating them.
var sampleCheckServer = Server{ID: "i-0", Role: "role", Index: 1, PrivateIP: "10.0.0.1", PublicIP: "192.0.2.1", Zone: "zone-a"}

func unknownCheckVariables(tmpl string) []string {
	var unknown []string
	for _, m := range checkVarRE.FindAllStringSubmatch(tmpl, -1) {
		if !slices.Contains(CheckVariables, m[1]) {
			unknown = append(unknown, m[1])
		}
	}
	return unknown
}

// expandCheckTemplate replaces the [CheckVariables] in tmpl with srv's
// values. Unknown names are left as they are (Validate rejects them).
func expandCheckTemplate(tmpl string, srv Server) string {
	return checkVarRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		switch m[1 : len(m)-1] {
		case "internal_ip":
			return srv.PrivateIP
		case "external_ip":
			return srv.PublicIP
		case "server_id":
			return srv.ID
		case "role_name":
			return srv.Role
		case "zone":
			return srv.Zone
		case "instance_index":
			return strconv.Itoa(srv.Index)
		}
		return m
	})
}

// TCPCheck passes when a TCP connection to Host:Port opens.
type TCPCheck struct {
	// Host may use [CheckVariables]; empty means "%internal_ip%".
	Host string
	Port int
	// Dialer dials; nil means a zero net.Dialer.
	Dialer *net.Dialer
}

// Check dials the server.
func (c *TCPCheck) Check(ctx context.Context, srv Server) error {
	host := c.Host
	if host == "" {
		host = "%internal_ip%"
	}
	host = expandCheckTemplate(host, srv)
	if host == "" {
		return errors.New("tcp check: the server has no address yet")
	}
	conn, err := guardedDial(ctx, c.Dialer, net.JoinHostPort(host, strconv.Itoa(c.Port)))
	if err != nil {
		return fmt.Errorf("tcp check: %w", err)
	}
	return conn.Close()
}

// SSHCheck passes when the server's sshd answers with an SSH banner. It
// connects to the server's SSHAddress, or to its private IP on Port (22 when
// 0).
type SSHCheck struct {
	Port   int
	Dialer *net.Dialer
	// Dial, when set, opens the connection instead of Dialer. The farm
	// sets it to Options.Scripting.SSH.Dial, so that a check reaches a
	// server the way its scripts do.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Provider, when it implements provider.SSHReacher, is asked first;
	// a server it says has no reachable sshd fails the check without a
	// dial. The farm sets it for the checks of a spec.
	Provider provider.Provider
}

// Check connects and reads the banner.
func (c *SSHCheck) Check(ctx context.Context, srv Server) error {
	if c.Provider != nil {
		if err := sshReachable(c.Provider, srv.ID); err != nil {
			return fmt.Errorf("ssh check: %w", err)
		}
	}
	addr := srv.SSHAddress
	if addr == "" {
		if srv.PrivateIP == "" {
			return errors.New("ssh check: the server has no address yet")
		}
		port := c.Port
		if port == 0 {
			port = 22
		}
		addr = net.JoinHostPort(srv.PrivateIP, strconv.Itoa(port))
	}
	var conn net.Conn
	var err error
	if c.Dial != nil {
		if err = netguard.Check("tcp", addr); err == nil {
			conn, err = c.Dial(ctx, "tcp", addr)
		}
	} else {
		conn, err = guardedDial(ctx, c.Dialer, addr)
	}
	if err != nil {
		return fmt.Errorf("ssh check: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	// RFC 4253 allows other lines before the identification string.
	r := bufio.NewReader(io.LimitReader(conn, 8<<10))
	for {
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, "SSH-") {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ssh check: %s sent no SSH banner: %w", addr, err)
		}
	}
}

// HTTPCheck passes when a GET of URL answers with ExpectStatus (any 2xx
// when 0).
type HTTPCheck struct {
	// URL may use [CheckVariables].
	URL          string
	ExpectStatus int
	// Client sends the request; nil means a client without keep-alives,
	// so that checks of many servers hold no idle connections.
	Client *http.Client
}

var checkHTTPClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil, DialContext: netguard.DialContext},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Check sends the request.
func (c *HTTPCheck) Check(ctx context.Context, srv Server) error {
	u := expandCheckTemplate(c.URL, srv)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("http check: %w", err)
	}
	req.Header.Set("User-Agent", "farmhand-health-check")
	if err := netguard.Check("tcp", req.URL.Host); err != nil {
		return fmt.Errorf("http check: %w", err)
	}
	client := c.Client
	if client == nil {
		client = checkHTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("http check: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if c.ExpectStatus != 0 {
		ok = resp.StatusCode == c.ExpectStatus
	}
	if !ok {
		want := "2xx"
		if c.ExpectStatus != 0 {
			want = strconv.Itoa(c.ExpectStatus)
		}
		return fmt.Errorf("http check: GET %s: status %d, want %s", u, resp.StatusCode, want)
	}
	return nil
}

// CommandCheck passes when Command exits with status 0 on the server.
type CommandCheck struct {
	Command string
	Runner  CommandRunner
}

// Check runs the command.
func (c *CommandCheck) Check(ctx context.Context, srv Server) error {
	if c.Runner == nil {
		return errors.New("command check: no CommandRunner is configured")
	}
	if err := c.Runner.RunCommand(ctx, srv, c.Command); err != nil {
		return fmt.Errorf("command check: %w", err)
	}
	return nil
}

// guardedDial passes the loopback guard tests install, then dials.
func guardedDial(ctx context.Context, d *net.Dialer, addr string) (net.Conn, error) {
	if err := netguard.Check("tcp", addr); err != nil {
		return nil, err
	}
	return dialer(d).DialContext(ctx, "tcp", addr)
}

func dialer(d *net.Dialer) *net.Dialer {
	if d == nil {
		return &net.Dialer{}
	}
	return d
}

// buildCheck turns a spec into the check to run.
func buildCheck(c HealthCheckSpec, p provider.Provider, o *Options) (HealthCheck, error) {
	runner := o.CommandRunner
	if c.Check != nil {
		return c.Check, nil
	}
	switch c.Kind {
	case "tcp":
		return &TCPCheck{Host: c.Host, Port: c.Port}, nil
	case "ssh":
		sc := &SSHCheck{Port: c.Port, Provider: p}
		if o.Scripting != nil {
			sc.Dial = o.Scripting.SSH.Dial
		}
		return sc, nil
	case "http":
		return &HTTPCheck{URL: c.URL, ExpectStatus: c.ExpectStatus}, nil
	case "command":
		if runner == nil {
			return nil, fmt.Errorf("health check %q: kind \"command\" needs Options.CommandRunner", c.Name)
		}
		return &CommandCheck{Command: c.Command, Runner: runner}, nil
	}
	return nil, fmt.Errorf("health check %q: unknown kind %q", c.Name, c.Kind)
}
