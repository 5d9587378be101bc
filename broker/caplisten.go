package broker

import (
	"net"
	"sync"
)

// capListener accepts at most a fixed number of connections at once; an
// Accept past the cap waits until one of its connections closes, and
// clients wait meanwhile in the kernel's accept queue. Unlike x/net's
// netutil.LimitListener, its connections expose the connection they wrap
// (NetConn), so that backlogOf finds the nbConn under a WS connection and
// max_queued_bytes bounds WS and WSS clients as it does TCP ones.
type capListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newCapListener(ln net.Listener, n int) *capListener {
	return &capListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free place, then for a connection.
func (l *capListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &capConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close closes the listener and ends an Accept waiting for a place.
func (l *capListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// capConn is a connection of a capListener; closing it frees its place.
type capConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and frees its place once.
func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// NetConn returns the connection c wraps.
func (c *capConn) NetConn() net.Conn { return c.Conn }
