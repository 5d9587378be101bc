package broker

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// nbConn (a connection of non-blocking calls) is an accepted TCP connection whose reads and writes are system
// calls the Go scheduler does not see (syscall.RawSyscall) instead of
// ordinary ones (syscall.Syscall), while it still waits for the socket in
// the runtime's network poller, with the connection's deadlines.
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
type nbConn struct {
	*net.TCPConn
	rc syscall.RawConn

	// read state, under rmu (mochi reads from one goroutine; a closing
	// guardConn may drain what is left from another)
	rmu    sync.Mutex
	rbuf   []byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool

	// write state, under wmu (mochi already writes under the client's
	// lock, so it is never contended)
	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werr    syscall.Errno
	writeFn func(fd uintptr) bool
}

// nbListener wraps every TCP connection it accepts in a nbConn.
type nbListener struct{ net.Listener }

// Accept accepts the next connection and wraps it.
func (l nbListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newNBConn(c), nil
}

// newNBListener returns ln wrapped so that its connections are rawConns.
func newNBListener(ln net.Listener) net.Listener { return nbListener{ln} }

// newNBConn wraps c, or returns it as it is when it offers no raw access.
func newNBConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &nbConn{TCPConn: tc, rc: rc}
	// Built once: a closure made per call would escape to the heap.
	r.readFn = r.doRead
	r.writeFn = r.doWrite
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

// Read reads what is there, waiting in the network poller when nothing is.
func (r *nbConn) Read(p []byte) (int, error) {
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

// Write writes all of p, waiting in the network poller while the socket's
// buffer is full.
func (r *nbConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
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
