// Package stall gives tests servers that accept and never answer: a TCP
// listener on loopback that accepts every connection and holds it open
// without sending a byte (a stalled DNS server over TCP, an SSH port that
// never speaks, a cloud API that never answers), and an HTTP server whose
// handler never responds. The code under test must give up by its own
// deadlines. Both stop, closing what they hold, when the test ends.
package stall

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Listener accepts connections on 127.0.0.1 and holds them.
type Listener struct {
	l    net.Listener
	mu   sync.Mutex
	conn []net.Conn
	done chan struct{}
}

// Listen starts a Listener on a free loopback port; it is closed, with
// every connection it holds, when t ends.
func Listen(t testing.TB) *Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stall: listen: %v", err)
	}
	s := &Listener{l: l, done: make(chan struct{})}
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

func (s *Listener) accept() {
	defer close(s.done)
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conn = append(s.conn, c)
		s.mu.Unlock()
	}
}

// Addr is the listener's host:port.
func (s *Listener) Addr() string { return s.l.Addr().String() }

// Accepted is how many connections it has accepted so far.
func (s *Listener) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conn)
}

// Close stops accepting and closes the held connections.
func (s *Listener) Close() {
	s.l.Close()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conn {
		c.Close()
	}
	s.conn = nil
}

// HTTP starts an HTTP server on loopback that reads each request and never
// answers it (its handler returns only when the client gives up or the
// test ends). It returns the server's base URL.
func HTTP(t testing.TB) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() {
		close(stop)
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}
