// Package provrpc serves a provider.Provider to other processes over
// net/rpc on loopback, so that controller processes of a test or a
// benchmark share one in-memory cloud (provider/fake) that outlives them.
//
// Serve exposes a provider's core methods (Zones, Launch, List, Get,
// Terminate, Reboot); Dial returns a provider.Provider that calls them.
// Errors keep their provider.Code across the wire, so errors.Is and the
// farm's retry classification work as with the provider itself. A call
// whose context ends returns at once with the context's error; the remote
// call may still complete, as a cloud call whose answer was lost does.
package provrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"sync"

	"github.com/farmhand/farmhand/provider"
)

// Server serves one provider.
type Server struct {
	l     net.Listener
	done  chan struct{}
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Serve listens on a free port of 127.0.0.1 and serves p until Close.
func Serve(p provider.Provider) (*Server, error) {
	rs := rpc.NewServer()
	if err := rs.RegisterName("Cloud", &service{p: p}); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{l: l, done: make(chan struct{}), conns: map[net.Conn]bool{}}
	go func() {
		defer close(s.done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[conn] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				rs.ServeConn(conn)
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
			}()
		}
	}()
	return s, nil
}

// Addr is the address clients Dial.
func (s *Server) Addr() string { return s.l.Addr().String() }

// Close stops serving: it closes the listener and every connection, and
// waits for the calls in progress.
func (s *Server) Close() error {
	err := s.l.Close()
	<-s.done
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// remoteError carries a provider error's code over the wire.
type remoteError struct {
	Code provider.Code
	Msg  string
}

type service struct{ p provider.Provider }

// Reply is what every call returns: its result and an error with its code.
type Reply struct {
	Servers []provider.Server
	Server  provider.Server
	Page    provider.Page
	Zones   []string
	Err     *remoteError
}

func wrap(err error) *remoteError {
	if err == nil {
		return nil
	}
	var pe *provider.Error
	code := provider.Code(0)
	if errors.As(err, &pe) {
		code = pe.Code
	}
	return &remoteError{Code: code, Msg: err.Error()}
}

// TerminateArgs are the arguments of Terminate.
type TerminateArgs struct{ IDs []string }

func (s *service) Zones(_ struct{}, r *Reply) error {
	z, err := s.p.Zones(context.Background())
	r.Zones, r.Err = z, wrap(err)
	return nil
}

func (s *service) Launch(spec provider.LaunchSpec, r *Reply) error {
	srv, err := s.p.Launch(context.Background(), spec)
	r.Servers, r.Err = srv, wrap(err)
	return nil
}

func (s *service) List(opts provider.ListOptions, r *Reply) error {
	pg, err := s.p.List(context.Background(), opts)
	r.Page, r.Err = pg, wrap(err)
	return nil
}

func (s *service) Get(id string, r *Reply) error {
	srv, err := s.p.Get(context.Background(), id)
	r.Server, r.Err = srv, wrap(err)
	return nil
}

func (s *service) Terminate(a TerminateArgs, r *Reply) error {
	r.Err = wrap(s.p.Terminate(context.Background(), a.IDs...))
	return nil
}

func (s *service) Reboot(id string, r *Reply) error {
	r.Err = wrap(s.p.Reboot(context.Background(), id))
	return nil
}

// Client is a provider.Provider served by another process.
type Client struct {
	c    *rpc.Client
	name string
}

var _ provider.Provider = (*Client)(nil)

// Dial connects to a Server's address.
func Dial(addr string) (*Client, error) {
	c, err := rpc.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Client{c: c, name: "rpc"}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

func (c *Client) call(ctx context.Context, method string, args any) (*Reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var r Reply
	call := c.c.Go("Cloud."+method, args, &r, make(chan *rpc.Call, 1))
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-call.Done:
	}
	if call.Error != nil {
		return nil, provider.NewError(provider.Unavailable, "rpc."+method, call.Error)
	}
	if r.Err != nil {
		return &r, provider.NewError(r.Err.Code, "rpc."+method, errors.New(r.Err.Msg))
	}
	return &r, nil
}

// Name returns "rpc".
func (c *Client) Name() string { return c.name }

// Zones asks the served provider.
func (c *Client) Zones(ctx context.Context) ([]string, error) {
	r, err := c.call(ctx, "Zones", struct{}{})
	if err != nil {
		return nil, err
	}
	return r.Zones, nil
}

// Launch asks the served provider.
func (c *Client) Launch(ctx context.Context, spec provider.LaunchSpec) ([]provider.Server, error) {
	r, err := c.call(ctx, "Launch", spec)
	if err != nil {
		return nil, err
	}
	return r.Servers, nil
}

// List asks the served provider.
func (c *Client) List(ctx context.Context, opts provider.ListOptions) (provider.Page, error) {
	r, err := c.call(ctx, "List", opts)
	if err != nil {
		return provider.Page{}, err
	}
	for i := range r.Page.Servers {
		if r.Page.Servers[i].Tags == nil {
			r.Page.Servers[i].Tags = map[string]string{}
		}
	}
	return r.Page, nil
}

// Get asks the served provider.
func (c *Client) Get(ctx context.Context, id string) (provider.Server, error) {
	r, err := c.call(ctx, "Get", id)
	if err != nil {
		return provider.Server{}, err
	}
	return r.Server, nil
}

// Terminate asks the served provider.
func (c *Client) Terminate(ctx context.Context, ids ...string) error {
	_, err := c.call(ctx, "Terminate", TerminateArgs{IDs: ids})
	return err
}

// Reboot asks the served provider.
func (c *Client) Reboot(ctx context.Context, id string) error {
	_, err := c.call(ctx, "Reboot", id)
	return err
}

// As hands out nothing: the client is behind the wire.
func (c *Client) As(any) bool { return false }

func (e *remoteError) Error() string { return fmt.Sprintf("%s (code %d)", e.Msg, e.Code) }
