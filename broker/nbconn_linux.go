package broker

import (
	"crypto/tls"
	"errors"
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
//
// No call of an nbConn waits for room in the socket: what the socket does
// not take at once is kept in the pending buffer, which a goroutine of its
// own writes out as the client reads (drain). mochi writes to a client
// while it holds the client's lock, which every publisher to that client
// takes too (for a packet id), so a write that waited for a client that
// stopped reading would stall every publisher of its topics, and through
// them everyone else. The pending buffer is bounded: guardConn and fastOut
// drop messages once it holds outLimits.soft bytes, and a connection whose
// pending output, already past outLimits.soft, would pass outLimits.hard
// (control packets to a client that sends but never reads) is closed.
type nbConn struct {
	*net.TCPConn
	rc  syscall.RawConn
	b   *batcher
	lim *outLimits
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
	// packets are never interleaved, and never while waiting for room
	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werr    syscall.Errno
	tryFn   func(fd uintptr)
	drainFn func(fd uintptr) bool

	// pending output, under pmu: whole packets queued, of which
	// pending[poff:] is not written yet. Appends never move the bytes in
	// front of poff, so a writer that holds wmu may write from pending
	// without pmu; only such a writer moves them (compact).
	pmu      sync.Mutex
	pending  []byte
	poff     int
	marked   bool // on the batcher's dirty list
	closed   bool
	broken   error        // a write failed: the connection is being closed
	shut     bool         // CloseWrite once pending is written
	queued   atomic.Int64 // len(pending)-poff, for guardConn's checks
	draining atomic.Bool  // a goroutine writes pending out, waiting for room
}

// errStalled closes a connection whose pending output passed the hard
// bound.
var errStalled = errors.New("client does not read: pending output over the limit, connection closed")

// keepSpare is the largest pending buffer kept for reuse.
const keepSpare = 64 << 10

// nbListener wraps every TCP connection it accepts in an nbConn.
type nbListener struct {
	net.Listener
	b   *batcher
	lim *outLimits
}

// Accept accepts the next connection and wraps it.
func (l nbListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newNBConn(c, l.b, l.lim), nil
}

// newNBListener returns ln wrapped so that its connections are nbConns
// that batch their queued output through b and bound it by lim.
func newNBListener(ln net.Listener, b *batcher, lim *outLimits) net.Listener {
	return nbListener{ln, b, lim}
}

// newNBConn wraps c, or returns it as it is when it offers no raw access.
func newNBConn(c net.Conn, b *batcher, lim *outLimits) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &nbConn{TCPConn: tc, rc: rc, b: b, lim: lim}
	// Built once: a closure made per call would escape to the heap.
	r.readFn = r.doRead
	r.tryFn = func(fd uintptr) { r.doWrite(fd) }
	r.drainFn = r.drainOnce
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

// tryWrite writes as much of p as the socket takes now. The caller holds
// wmu.
func (r *nbConn) tryWrite(p []byte) (int, syscall.Errno) {
	r.wbuf, r.wn, r.werr = p, 0, 0
	if err := r.rc.Control(r.tryFn); err != nil {
		r.werr = syscall.EBADF
	}
	n, e := r.wn, r.werr
	r.wbuf = nil
	return n, e
}

// opError wraps a failed write's errno as net's own errors are.
func (r *nbConn) opError(e syscall.Errno) error {
	return &net.OpError{Op: "write", Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: os.NewSyscallError("write", e)}
}

// Write writes p after any output still pending. It never waits for room
// in the socket: what the socket does not take now is kept pending and
// written by a goroutine that waits for room (drain), and Write reports
// all of p written. It fails if the connection is closed or broken, or if
// the pending output would pass the hard bound, which closes it.
func (r *nbConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.wmu.Lock()
	r.pmu.Lock()
	if err := r.unusable(); err != nil {
		r.pmu.Unlock()
		r.wmu.Unlock()
		return 0, err
	}
	if len(r.pending) > r.poff {
		err := r.appendLocked(p)
		r.pmu.Unlock()
		r.wmu.Unlock()
		if err != nil {
			return 0, err
		}
		r.drainLater()
		return len(p), nil
	}
	r.pmu.Unlock()
	n, e := r.tryWrite(p)
	if e != 0 {
		r.wmu.Unlock()
		return n, r.opError(e)
	}
	if n == len(p) {
		r.wmu.Unlock()
		return n, nil
	}
	// The rest goes before what was queued meanwhile (queue does not
	// take wmu), and before wmu is let go: another writer must not put
	// whole packets of its own into the middle of this one.
	r.pmu.Lock()
	err := r.unusable()
	if err == nil {
		err = r.prependLocked(p[n:])
	}
	r.pmu.Unlock()
	r.wmu.Unlock()
	if err != nil {
		return n, err
	}
	r.drainLater()
	return len(p), nil
}

// unusable returns why nothing more can be written, if so. The caller
// holds pmu.
func (r *nbConn) unusable() error {
	switch {
	case r.closed:
		return &net.OpError{Op: "write", Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: net.ErrClosed}
	case r.broken != nil:
		return r.broken
	}
	return nil
}

// appendLocked adds p at the end of the pending output; the caller holds
// pmu. Past the hard bound it breaks the connection instead.
func (r *nbConn) appendLocked(p []byte) error {
	if r.overLocked(len(p)) {
		r.breakLocked(errStalled)
		return errStalled
	}
	if r.poff == len(r.pending) {
		// All written: no writer holds a part of it.
		r.pending, r.poff = r.pending[:0], 0
	}
	r.pending = append(r.pending, p...)
	r.queued.Store(int64(len(r.pending) - r.poff))
	return nil
}

// overLocked reports whether n more bytes of output pass the hard bound;
// the caller holds pmu. Output that starts below the soft bound passes
// whatever its size, as a message of any size is let through to a client
// that keeps up (outPolicy), so that the hard bound need not leave room
// for the largest packet.
func (r *nbConn) overLocked(n int) bool {
	held := len(r.pending) - r.poff
	return held >= r.lim.soft && held+n > r.lim.hard
}

// prependLocked puts the rest of a packet partly written in front of the
// pending output; the caller holds pmu and wmu.
func (r *nbConn) prependLocked(p []byte) error {
	if r.poff == len(r.pending) {
		return r.appendLocked(p)
	}
	if r.overLocked(len(p)) {
		r.breakLocked(errStalled)
		return errStalled
	}
	buf := make([]byte, 0, len(p)+len(r.pending)-r.poff)
	r.pending = append(append(buf, p...), r.pending[r.poff:]...)
	r.poff = 0
	r.queued.Store(int64(len(r.pending)))
	return nil
}

// breakLocked drops the pending output and closes the socket, so that
// mochi's reader ends the client; the caller holds pmu. The socket is
// closed from another goroutine: closing waits for the calls on it to end,
// and the caller may be one (drainOnce), or one may wait for pmu.
func (r *nbConn) breakLocked(err error) {
	if r.broken == nil {
		r.broken = err
		go r.TCPConn.Close()
	}
	r.pending, r.poff = nil, 0
	r.queued.Store(0)
}

// backlog returns the bytes of output pending, not yet taken by the
// socket.
func (r *nbConn) backlog() int { return int(r.queued.Load()) }

// CloseWrite shuts the sending side down once the pending output is
// written.
func (r *nbConn) CloseWrite() error {
	r.pmu.Lock()
	if len(r.pending) > r.poff || r.draining.Load() {
		r.shut = true
		r.pmu.Unlock()
		return nil
	}
	r.pmu.Unlock()
	return r.TCPConn.CloseWrite()
}

// Close closes the connection, dropping output still pending.
func (r *nbConn) Close() error {
	if r.win.CompareAndSwap(true, false) {
		r.b.leave()
	}
	r.pmu.Lock()
	r.closed, r.pending, r.poff = true, nil, 0
	r.queued.Store(0)
	r.pmu.Unlock()
	return r.TCPConn.Close()
}

// queue appends the encoded packet pk to the pending output and puts the
// connection on the batcher's dirty list. It reports false, queuing
// nothing, when the connection is closed or its pending output is still
// at the soft bound once the socket has taken what it takes now. A
// message is queued whatever its size while less is pending, so that one
// larger than the bound still reaches a subscriber that keeps up, as
// through mochi's path.
func (r *nbConn) queue(pk []byte) bool {
	r.pmu.Lock()
	if len(r.pending)-r.poff >= r.lim.soft && !r.closed {
		// A big batch (a flow that answers one message with many)
		// need not wait for its reader's next read: what the socket
		// takes now makes room; a subscriber that does not read leaves
		// it full.
		r.pmu.Unlock()
		r.flushPending()
		r.pmu.Lock()
	}
	if r.closed || r.broken != nil || len(r.pending)-r.poff >= r.lim.soft {
		r.pmu.Unlock()
		return false
	}
	if r.poff == len(r.pending) {
		r.pending, r.poff = r.pending[:0], 0
	}
	r.pending = append(r.pending, pk...)
	r.queued.Store(int64(len(r.pending) - r.poff))
	mark := !r.marked
	r.marked = true
	r.pmu.Unlock()
	if mark {
		r.b.mark(r)
	}
	return true
}

// unwritten returns the pending output not written yet, for a writer
// that holds wmu, and takes the connection off the dirty list: what is
// queued after this is marked again.
func (r *nbConn) unwritten() []byte {
	r.pmu.Lock()
	buf := r.pending[r.poff:]
	r.marked = false
	r.pmu.Unlock()
	return buf
}

// wrote records that n bytes of the pending output were written; the
// caller holds wmu. Written output is let go: the buffer is reused when
// small (keepSpare), dropped when all of it is written, and compacted
// when more than half of it is.
func (r *nbConn) wrote(n int) {
	r.pmu.Lock()
	if r.closed || r.broken != nil {
		r.pmu.Unlock()
		return
	}
	r.poff += n
	switch {
	case r.poff == len(r.pending) && cap(r.pending) > keepSpare:
		r.pending, r.poff = nil, 0
	case r.poff == len(r.pending):
		r.pending, r.poff = r.pending[:0], 0
	case r.poff > len(r.pending)/2 && cap(r.pending) > keepSpare:
		r.pending = append(make([]byte, 0, max(keepSpare, 2*(len(r.pending)-r.poff))), r.pending[r.poff:]...)
		r.poff = 0
	}
	r.queued.Store(int64(len(r.pending) - r.poff))
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
	buf := r.unwritten()
	if len(buf) == 0 {
		r.wmu.Unlock()
		return
	}
	n, e := r.tryWrite(buf)
	if e == 0 {
		r.wrote(n)
	}
	r.wmu.Unlock()
	switch {
	case e != 0:
		r.fail(r.opError(e))
	case n < len(buf):
		r.drainLater()
	}
}

// fail breaks the connection after a write failed.
func (r *nbConn) fail(err error) {
	r.pmu.Lock()
	if !r.closed {
		r.breakLocked(err)
	}
	r.pmu.Unlock()
}

// drainLater starts a goroutine that writes the pending output out,
// waiting for room, unless one is running.
func (r *nbConn) drainLater() {
	if r.draining.CompareAndSwap(false, true) {
		go r.drain()
	}
}

// drainOnce writes pending output until there is none (true) or the
// socket is full (false: the network poller waits for room, then calls it
// again). It holds wmu only while it writes, never while it waits.
func (r *nbConn) drainOnce(fd uintptr) bool {
	for {
		r.wmu.Lock()
		buf := r.unwritten()
		if len(buf) == 0 {
			r.wmu.Unlock()
			return true
		}
		r.wbuf, r.wn, r.werr = buf, 0, 0
		r.doWrite(fd)
		n, e := r.wn, r.werr
		r.wbuf = nil
		if e == 0 {
			r.wrote(n)
		}
		r.wmu.Unlock()
		switch {
		case e != 0:
			r.fail(r.opError(e))
			return true
		case n < len(buf):
			return false
		}
	}
}

// drain writes the pending output until there is none, waiting for room.
// A connection whose output cannot be written (closed, or past a write
// deadline) is closed.
func (r *nbConn) drain() {
	for {
		if err := r.rc.Write(r.drainFn); err != nil {
			r.fail(err)
		}
		r.draining.Store(false)
		// Output queued after the last check, whose flush saw this
		// goroutine still running, would otherwise wait.
		r.pmu.Lock()
		more := len(r.pending) > r.poff && !r.closed && r.broken == nil
		shut := r.shut && !more
		r.pmu.Unlock()
		if shut {
			_ = r.TCPConn.CloseWrite()
		}
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

// backlogOf returns the nbConn under c, through TLS and WebSocket
// layers and a WS listener's cap, whose pending output measures how far
// the client is behind.
func backlogOf(c net.Conn) backlogger {
	for range 5 {
		switch x := c.(type) {
		case *nbConn:
			return x
		case *guardConn:
			c = x.Conn
		case *tls.Conn:
			c = x.NetConn()
		case *wsConn:
			c = x.ws.NetConn()
		case *capConn:
			c = x.Conn
		default:
			return nil
		}
	}
	return nil
}
