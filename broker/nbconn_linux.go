package broker

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// nbConn (a connection of non-blocking calls) is an accepted TCP
// connection whose reads and writes are system calls the Go scheduler
// does not see (syscall.RawSyscall) instead of ordinary ones
// (syscall.Syscall), while it still waits for the socket in the runtime's
// network poller, with the connection's deadlines.
//
// Why: an ordinary system call made by a process whose threads were all
// idle wakes the runtime's monitor thread (sysmon), which then polls every
// 20 µs until the process is idle again, so that it could take the
// processor back from a call that blocks. A broker's socket calls never
// block (the socket is non-blocking), but at a moderate message rate the
// process goes idle between bursts, and every burst paid a futex wake-up
// and about five short sleeps on another CPU: 40 % of the broker's system
// calls at 5,000 msg/s, and on a virtual machine each of those sleeps is a
// timer interrupt and a wake-up of an idle virtual CPU.
//
// An nbConn also takes packets into a pending buffer of its own (queue),
// which the batcher writes out when the reader that produced them has
// handled what it read: see batcher.
type nbConn struct {
	*net.TCPConn
	rc syscall.RawConn
	b  *batcher
	// win is set while this connection's reader handles what its last
	// Read returned: from that Read to the next.
	win atomic.Bool

	// read state, under rmu (mochi reads from one goroutine; a closing
	// guardConn may drain what is left from another)
	rmu    sync.Mutex
	rbuf   []byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool

	// write state, under wmu: held for every write to the socket, so that
	// packets are never interleaved
	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werr    syscall.Errno
	writeFn func(fd uintptr) bool
	tryFn   func(fd uintptr)

	// pending output, under pmu: whole packets queued and not yet written
	pmu      sync.Mutex
	pending  []byte
	spare    []byte // a written pending buffer kept for reuse
	marked   bool   // on the batcher's dirty list
	closed   bool
	draining atomic.Bool // a goroutine writes pending out, waiting for room
}

// maxPending bounds the bytes queued for one connection that its socket
// does not take: past it, further QoS 0 messages to it are dropped, as
// mochi drops them when a client's queue of pending writes is full. A
// message is queued whatever its size while less is pending, so that one
// larger than the bound still reaches a subscriber that keeps up, as
// through mochi's path.
const maxPending = 1 << 20

// keepSpare is the largest pending buffer kept for reuse.
const keepSpare = 64 << 10

// nbListener wraps every TCP connection it accepts in an nbConn.
type nbListener struct {
	net.Listener
	b *batcher
}

// Accept accepts the next connection and wraps it.
func (l nbListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newNBConn(c, l.b), nil
}

// newNBListener returns ln wrapped so that its connections are nbConns
// that batch their queued output through b.
func newNBListener(ln net.Listener, b *batcher) net.Listener { return nbListener{ln, b} }

// newNBConn wraps c, or returns it as it is when it offers no raw access.
func newNBConn(c net.Conn, b *batcher) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &nbConn{TCPConn: tc, rc: rc, b: b}
	// Built once: a closure made per call would escape to the heap.
	r.readFn = r.doRead
	r.writeFn = r.doWrite
	r.tryFn = func(fd uintptr) { r.doWrite(fd) }
	return r
}

// doRead is one attempt to read into rbuf; false means "not ready, wait".
func (r *nbConn) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.rbuf[0])), uintptr(len(r.rbuf)))
		switch e {
		case 0:
			r.rn, r.rerr = int(n), 0
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			r.rn, r.rerr = 0, e
			return true
		}
	}
}

// Read reads what is there, waiting in the network poller when nothing
// is. Before it reads, it has the output the reader queued while it
// handled its previous read written out.
func (r *nbConn) Read(p []byte) (int, error) {
	if r.win.CompareAndSwap(true, false) {
		r.b.leave()
	}
	r.b.flushIfDirty()
	if len(p) == 0 {
		return 0, nil
	}
	r.rmu.Lock()
	defer r.rmu.Unlock()
	r.rbuf, r.rn, r.rerr = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case r.rerr != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: os.NewSyscallError("read", r.rerr)}
	case r.rn == 0:
		return 0, io.EOF
	}
	if r.win.CompareAndSwap(false, true) {
		r.b.enter()
	}
	return r.rn, nil
}

// doWrite writes as much of wbuf[wn:] as the socket takes; false means
// "socket full, wait".
func (r *nbConn) doWrite(fd uintptr) bool {
	for r.wn < len(r.wbuf) {
		b := r.wbuf[r.wn:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			r.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.werr = e
			return true
		}
	}
	return true
}

// writeLocked writes all of p, waiting in the network poller while the
// socket's buffer is full. The caller holds wmu.
func (r *nbConn) writeLocked(p []byte) (int, error) {
	r.wbuf, r.wn, r.werr = p, 0, 0
	err := r.rc.Write(r.writeFn)
	n := r.wn
	r.wbuf = nil
	switch {
	case err != nil:
		return n, err
	case r.werr != 0:
		return n, &net.OpError{Op: "write", Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: os.NewSyscallError("write", r.werr)}
	}
	return n, nil
}

// Write writes all of p, after any output still pending, waiting in the
// network poller while the socket's buffer is full.
func (r *nbConn) Write(p []byte) (int, error) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if buf := r.takePending(); len(buf) > 0 {
		_, err := r.writeLocked(buf)
		r.recycle(buf)
		if err != nil {
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	return r.writeLocked(p)
}

// Close closes the connection, dropping output still pending.
func (r *nbConn) Close() error {
	if r.win.CompareAndSwap(true, false) {
		r.b.leave()
	}
	r.pmu.Lock()
	r.closed, r.pending, r.spare = true, nil, nil
	r.pmu.Unlock()
	return r.TCPConn.Close()
}

// queue appends the encoded packet pk to the pending output and puts the
// connection on the batcher's dirty list. It reports false, queuing
// nothing, when the connection is closed or its pending output is still
// full once the socket has taken what it takes now.
func (r *nbConn) queue(pk []byte) bool {
	r.pmu.Lock()
	if len(r.pending) >= maxPending && !r.closed {
		// A big batch (a flow that answers one message with many)
		// need not wait for its reader's next read: what the socket
		// takes now makes room; a subscriber that does not read leaves
		// it full.
		r.pmu.Unlock()
		r.flushPending()
		r.pmu.Lock()
	}
	if r.closed || len(r.pending) >= maxPending {
		r.pmu.Unlock()
		return false
	}
	if r.pending == nil {
		r.pending, r.spare = r.spare[:0], nil
	}
	r.pending = append(r.pending, pk...)
	mark := !r.marked
	r.marked = true
	r.pmu.Unlock()
	if mark {
		r.b.mark(r)
	}
	return true
}

// takePending takes the pending output, leaving none.
func (r *nbConn) takePending() []byte {
	r.pmu.Lock()
	buf := r.pending
	r.pending, r.marked = nil, false
	r.pmu.Unlock()
	return buf
}

// recycle keeps a written pending buffer for the next queue.
func (r *nbConn) recycle(buf []byte) {
	if cap(buf) > keepSpare {
		return
	}
	r.pmu.Lock()
	if !r.closed && r.spare == nil {
		r.spare = buf[:0]
	}
	r.pmu.Unlock()
}

// flushPending writes the pending output without waiting: what the socket
// does not take, or all of it when another goroutine is writing, is left
// to a goroutine that waits for room.
func (r *nbConn) flushPending() {
	if !r.wmu.TryLock() {
		r.drainLater()
		return
	}
	buf := r.takePending()
	if len(buf) == 0 {
		r.wmu.Unlock()
		return
	}
	r.wbuf, r.wn, r.werr = buf, 0, 0
	if err := r.rc.Control(r.tryFn); err != nil {
		r.werr = syscall.EBADF
	}
	n, failed := r.wn, r.werr != 0
	r.wbuf = nil
	if !failed && n < len(buf) {
		// The rest goes back before wmu is let go: another writer
		// taking it first would write whole packets of its own into
		// the middle of one of these.
		r.pmu.Lock()
		if !r.closed {
			r.pending = append(buf[n:len(buf):len(buf)], r.pending...)
		}
		r.pmu.Unlock()
	}
	r.wmu.Unlock()
	switch {
	case failed:
		// The connection is broken: mochi's own reads and writes will
		// notice and close it; the rest is dropped with it.
	case n < len(buf):
		r.drainLater()
	default:
		r.recycle(buf)
	}
}

// drainLater starts a goroutine that writes the pending output out,
// waiting for room, unless one is running.
func (r *nbConn) drainLater() {
	if r.draining.CompareAndSwap(false, true) {
		go r.drain()
	}
}

// drain writes the pending output until there is none, waiting for room.
func (r *nbConn) drain() {
	for {
		r.wmu.Lock()
		buf := r.takePending()
		if len(buf) > 0 {
			_, err := r.writeLocked(buf)
			r.wmu.Unlock()
			if err == nil {
				r.recycle(buf)
				continue
			}
			r.takePending() // broken: drop the rest too
		} else {
			r.wmu.Unlock()
		}
		r.draining.Store(false)
		// Output queued after the last check, whose flush saw this
		// goroutine still running, would otherwise wait.
		r.pmu.Lock()
		more := len(r.pending) > 0 && !r.closed
		r.pmu.Unlock()
		if !more || !r.draining.CompareAndSwap(false, true) {
			return
		}
	}
}

// queuer returns the nbConn under c, if there is one.
func queuer(c net.Conn) packetQueuer {
	if g, ok := c.(*guardConn); ok {
		c = g.Conn
	}
	if r, ok := c.(*nbConn); ok {
		return r
	}
	return nil
}
