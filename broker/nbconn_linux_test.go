package broker

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// nbPair returns a server-side nbConn and the client end of one loopback
// TCP connection.
func nbPair(t *testing.T) (*nbConn, net.Conn) {
	t.Helper()
	return nbPairLim(t, testOutLimits())
}

// nbPairLim is nbPair with the given bounds of the output.
func nbPairLim(t *testing.T, lim *outLimits) (*nbConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nl := newNBListener(ln, newBatcher(), lim)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := nl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c, ok := sc.(*nbConn)
	if !ok {
		t.Fatalf("accepted %T, want *nbConn", sc)
	}
	t.Cleanup(func() { c.Close(); client.Close() })
	return c, client
}

// TestNBConnLargeWrite writes far more than the socket buffers hold to a
// reader that is slow to start, so the write must wait for room in the
// network poller, and every byte must arrive in order.
func TestNBConnLargeWrite(t *testing.T) {
	c, client := nbPair(t)
	want := make([]byte, 16<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		b, _ := io.ReadAll(client)
		got <- b
	}()
	n, err := c.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(want))
	}
	c.CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("received %d bytes, not the %d written", len(b), len(want))
	}
}

// TestNBConnReadWaitsAndEOF reads what arrives after a while, then EOF.
func TestNBConnReadWaitsAndEOF(t *testing.T) {
	c, client := nbPair(t)
	go func() {
		time.Sleep(50 * time.Millisecond)
		client.Write([]byte("hello"))
		time.Sleep(20 * time.Millisecond)
		client.Write([]byte(" world"))
		client.Close()
	}()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello world" {
		t.Fatalf("ReadAll = %q, %v; want \"hello world\", nil", b, err)
	}
	if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v; want 0, EOF", n, err)
	}
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
}

// TestNBConnDeadlines: a read with nothing to read ends at its deadline
// with a timeout error, as a net.TCPConn's does (mochi's keep alive and the
// connect timeout rely on it). A write never waits for a reader that does
// not read: what the socket does not take is kept pending, and a write
// that would leave more pending than the hard bound fails and closes the
// connection.
func TestNBConnDeadlines(t *testing.T) {
	c, _ := nbPair(t)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err := c.Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v, want a deadline error", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read error %v is not a net.Error timeout", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Read returned after %v, want about 50ms", d)
	}

	nb := c
	const size = 12 << 20 // more than both sockets hold, less than the hard bound
	n, err := c.Write(make([]byte, size))
	if n != size || err != nil {
		t.Fatalf("Write = %d, %v; want all of it taken", n, err)
	}
	if nb.backlog() == 0 {
		t.Fatal("nothing pending after 12 MiB to a reader that does not read")
	}
	// Well past the soft bound, which the sockets, still taking some,
	// cannot bring it back under.
	for i := 0; nb.backlog() < 2*nb.lim.soft; i++ {
		if i == 64 {
			t.Fatalf("%d bytes pending after 64 MiB more", nb.backlog())
		}
		if _, err := c.Write(make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
	}
	n, err = c.Write(make([]byte, nb.lim.hard))
	if n != 0 || !errors.Is(err, errStalled) {
		t.Fatalf("Write past the hard bound = %d, %v; want 0, errStalled", n, err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, errStalled) {
		t.Fatalf("Write after the connection broke: %v, want errStalled", err)
	}
}

// TestNBConnCloseUnblocksRead: closing the connection ends a waiting
// Read with net.ErrClosed, as mochi's shutdown expects.
func TestNBConnCloseUnblocksRead(t *testing.T) {
	c, _ := nbPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after Close")
	}
}

// TestNBConnPeerReset: writing to a peer that has gone reports an error
// (EPIPE or ECONNRESET) instead of hanging or panicking.
func TestNBConnPeerReset(t *testing.T) {
	c, client := nbPair(t)
	client.(*net.TCPConn).SetLinger(0)
	client.Close()
	time.Sleep(20 * time.Millisecond)
	var err error
	for range 100 {
		if _, err = c.Write([]byte("x")); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a reset connection kept succeeding")
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("Write error = %#v, want a *net.OpError for write", err)
	}
}

// BenchmarkNBConnRoundTrip is one small write and read each way over
// loopback, with the scheduler-invisible calls against a plain
// net.TCPConn.
func BenchmarkNBConnRoundTrip(b *testing.B) {
	for _, nb := range []bool{false, true} {
		name := map[bool]string{false: "net.TCPConn", true: "nbConn"}[nb]
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			var l net.Listener = ln
			if nb {
				l = newNBListener(ln, newBatcher(), testOutLimits())
			}
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg := []byte("0123456789abcdef")
			buf := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNBConnQueueAndWrite: output queued for the batcher and mochi's own
// writes, from two goroutines at once, to a client that reads slowly
// through a small receive buffer, so that writes are partial and wait for
// room: the client receives whole frames only, each source's in order,
// every written one and every queued one not reported dropped. (A
// partial flush used to put its rest back after letting other writers
// in, which could write into the middle of a packet.)
func TestNBConnQueueAndWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	bt := newBatcher()
	nl := newNBListener(ln, bt, testOutLimits())
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	client, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := nl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := sc.(*nbConn)
	var wg sync.WaitGroup
	defer func() {
		client.Close()
		c.Close()
		wg.Wait()
	}()

	// A frame: 0xA5, the source, a 4-byte sequence number, 2 bytes of
	// length, then that many bytes that depend on the number.
	frame := func(src byte, seq int) []byte {
		n := 20 + seq%300
		f := []byte{0xA5, src, byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq), byte(n >> 8), byte(n)}
		for j := range n {
			f = append(f, byte(seq+j))
		}
		return f
	}
	const n = 20000
	var dropped atomic.Int64
	writeErr := make(chan error, 1)
	wg.Add(2)
	go func() { // the flows: queue, then flush at once
		defer wg.Done()
		for i := range n {
			if !c.queue(frame('q', i)) {
				dropped.Add(1)
			}
			bt.done()
		}
	}()
	go func() { // mochi's writer
		defer wg.Done()
		for i := range n {
			if i%4 == 0 {
				time.Sleep(time.Microsecond) // leave the flows room to flush
			}
			if _, err := c.Write(frame('w', i)); err != nil {
				writeErr <- err
				return
			}
		}
	}()
	next := map[byte]int{'q': 0, 'w': 0}
	got := map[byte]int{}
	r := bufio.NewReader(client)
	var hdr [8]byte
	for next['w'] < n || got['q']+int(dropped.Load()) < n {
		select {
		case err := <-writeErr:
			t.Fatalf("Write: %v", err)
		default:
		}
		client.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			t.Fatalf("after %v frames: %v", got, err)
		}
		src := hdr[1]
		seq := int(hdr[2])<<24 | int(hdr[3])<<16 | int(hdr[4])<<8 | int(hdr[5])
		if hdr[0] != 0xA5 || (src != 'q' && src != 'w') {
			t.Fatalf("after %v frames: torn stream, header % x", got, hdr)
		}
		body := make([]byte, int(hdr[6])<<8|int(hdr[7]))
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		if f := frame(src, seq); !bytes.Equal(append(hdr[:], body...), f) {
			t.Fatalf("after %v frames: frame %c%d torn", got, src, seq)
		}
		if seq < next[src] || src == 'w' && seq != next[src] {
			t.Fatalf("frame %c%d after %c%d", src, seq, src, next[src]-1)
		}
		next[src] = seq + 1
		got[src]++
		if (got['q']+got['w'])%50 == 0 {
			time.Sleep(50 * time.Microsecond) // let the socket fill
		}
	}
	if got['q']+int(dropped.Load()) != n {
		t.Fatalf("received %d queued frames, %d dropped, want %d in all", got['q'], dropped.Load(), n)
	}
}

// testOutLimits are the default bounds of a connection's output.
func testOutLimits() *outLimits {
	l := DefaultLimits()
	return newOutLimits(&l)
}

// TestOutLimitsHard (issue 12, item 5): the hard bound stays a small
// multiple of max_queued_bytes whatever max_packet_size is; with none (0)
// it used to leave room for two packets of MQTT's largest size, 512 MiB
// per client.
func TestOutLimitsHard(t *testing.T) {
	for _, tc := range []struct {
		maxPacket uint32
		want      int
	}{
		{0, 2*(8<<20) + 2*(1<<20) + clientWriteBuffer + 1<<20},
		{256 << 20, 2*(8<<20) + 2*(1<<20) + clientWriteBuffer + 1<<20},
		{1 << 20, 2*(8<<20) + 2*(1<<20) + clientWriteBuffer + 1<<20},
		{64 << 10, 2*(8<<20) + 2*(64<<10) + clientWriteBuffer + 1<<20},
	} {
		l := DefaultLimits()
		l.MaxQueuedBytes = 8 << 20
		l.MaxPacketSize = tc.maxPacket
		if got := newOutLimits(&l); got.soft != 8<<20 || got.hard != tc.want {
			t.Errorf("max_packet_size %d: soft %d hard %d, want %d %d", tc.maxPacket, got.soft, got.hard, 8<<20, tc.want)
		}
	}
}

// TestNBConnLargeMessageBelowSoft: output that starts below the soft
// bound is taken whatever its size, as a message of any size is let
// through to a client that keeps up, although it is larger than the hard
// bound leaves room for; past the soft bound the hard bound holds.
func TestNBConnLargeMessageBelowSoft(t *testing.T) {
	l := DefaultLimits()
	l.MaxQueuedBytes = 64 << 10
	l.MaxPacketSize = 0
	lim := newOutLimits(&l)
	c, _ := nbPairLim(t, lim)
	big := bytes.Repeat([]byte("m"), 8*lim.hard) // more than the sockets hold
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write of %d bytes with nothing pending = %d, %v; want all of it", len(big), n, err)
	}
	if c.backlog() < lim.soft {
		t.Fatalf("%d bytes pending, want more than %d", c.backlog(), lim.soft)
	}
	if n, err := c.Write(make([]byte, lim.hard)); n != 0 || !errors.Is(err, errStalled) {
		t.Fatalf("Write past the soft and hard bounds = %d, %v; want 0, errStalled", n, err)
	}
}
