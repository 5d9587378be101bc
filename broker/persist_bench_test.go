package broker

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawConn is a minimal MQTT 3.1.1 client over TCP for the benchmarks:
// mochi's codec, buffered, Nagle off. One goroutine may read while another
// writes.
type rawConn struct {
	c    *net.TCPConn
	r    *bufio.Reader
	w    *bufio.Writer
	wmu  sync.Mutex
	enc  bytes.Buffer
	body []byte
}

func dialRawBench(tb testing.TB, addr, id string, clean bool) (*rawConn, bool) {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tc := nc.(*net.TCPConn)
	tc.SetNoDelay(true)
	m := &rawConn{c: tc, r: bufio.NewReaderSize(tc, 64<<10), w: bufio.NewWriterSize(tc, 64<<10)}
	m.send(tb, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: clean, ClientIdentifier: id, Keepalive: 600}}, true)
	pk := m.read(tb)
	if pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 {
		tb.Fatalf("connect %s: %v", id, pk)
	}
	return m, pk.SessionPresent
}

func (m *rawConn) send(tb testing.TB, pk packets.Packet, flush bool) {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.enc.Reset()
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&m.enc)
	case packets.Publish:
		err = pk.PublishEncode(&m.enc)
	case packets.Puback:
		err = pk.PubackEncode(&m.enc)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&m.enc)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&m.enc)
	}
	if err == nil {
		_, err = m.w.Write(m.enc.Bytes())
	}
	if err == nil && flush {
		err = m.w.Flush()
	}
	if err != nil && tb != nil {
		tb.Error(err)
	}
}

func (m *rawConn) flush() {
	m.wmu.Lock()
	m.w.Flush()
	m.wmu.Unlock()
}

func (m *rawConn) read(tb testing.TB) packets.Packet {
	hb, err := m.r.ReadByte()
	if err != nil {
		tb.Error(err)
		return packets.Packet{}
	}
	var fh packets.FixedHeader
	fh.Decode(hb)
	fh.Remaining, _, _ = packets.DecodeLength(m.r)
	if cap(m.body) < fh.Remaining {
		m.body = make([]byte, fh.Remaining)
	}
	m.body = m.body[:fh.Remaining]
	if _, err := io.ReadFull(m.r, m.body); err != nil {
		tb.Error(err)
		return packets.Packet{}
	}
	pk := packets.Packet{FixedHeader: fh, ProtocolVersion: 4}
	switch fh.Type {
	case packets.Publish:
		err = pk.PublishDecode(m.body)
	case packets.Puback:
		err = pk.PubackDecode(m.body)
	case packets.Connack:
		err = pk.ConnackDecode(m.body)
	case packets.Suback:
		err = pk.SubackDecode(m.body)
	}
	if err != nil {
		tb.Error(err)
	}
	return pk
}

func (m *rawConn) close() {
	m.send(nil, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}}, true)
	m.c.Close()
}

// publishQoS1 publishes n QoS 1 messages with at most window of them
// unacknowledged, and returns when every PUBACK is in.
func publishQoS1(tb testing.TB, pub *rawConn, topic string, n, window int) {
	payload := bytes.Repeat([]byte("x"), 64)
	acks := make(chan struct{}, window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			if pk := pub.read(tb); pk.FixedHeader.Type != packets.Puback {
				tb.Errorf("publisher got packet type %d", pk.FixedHeader.Type)
				return
			}
			<-acks
		}
	}()
	for i := range n {
		select {
		case acks <- struct{}{}:
		default:
			pub.flush()
			acks <- struct{}{}
		}
		pub.send(tb, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
			TopicName: topic, PacketID: uint16(i%65535 + 1), Payload: payload}, false)
	}
	pub.flush()
	<-done
}

// consume reads n PUBLISH packets and acknowledges them.
func consume(tb testing.TB, sub *rawConn, n int) {
	for i := 0; i < n; {
		pk := sub.read(tb)
		if pk.FixedHeader.Type != packets.Publish {
			if tb.Failed() {
				return
			}
			continue
		}
		i++
		sub.send(tb, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID}, sub.r.Buffered() == 0)
	}
	sub.flush()
}

// BenchmarkQoS1Relay measures publishers → broker → subscriber at QoS 1
// over TCP (64-byte payloads, 100 messages in flight per publisher), with
// and without persistence, with a subscriber whose session ends with its
// connection (clean) or persists (clean session false).
func BenchmarkQoS1Relay(b *testing.B) {
	for _, c := range []struct {
		name           string
		persist, clean bool
		pubs           int
	}{
		{"memory/clean/1pub", false, true, 1},
		{"memory/persistent/1pub", false, false, 1},
		{"sqlite/clean/1pub", true, true, 1},
		{"sqlite/persistent/1pub", true, false, 1},
		{"memory/persistent/8pub", false, false, 8},
		{"sqlite/persistent/8pub", true, false, 8},
	} {
		b.Run(c.name, func(b *testing.B) {
			opts := Options{Addr: "127.0.0.1:0"}
			if c.persist {
				opts.Persist = filepath.Join(b.TempDir(), "runnel.db")
			}
			br, err := Start(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			sub, _ := dialRawBench(b, br.Addr(), "sub", c.clean)
			sub.send(b, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
				Filters: packets.Subscriptions{{Filter: "bench/#", Qos: 1}}}, true)
			if pk := sub.read(b); pk.FixedHeader.Type != packets.Suback {
				b.Fatalf("no SUBACK: %v", pk)
			}
			var pubs []*rawConn
			for i := range c.pubs {
				pub, _ := dialRawBench(b, br.Addr(), fmt.Sprint("pub", i), true)
				pubs = append(pubs, pub)
			}
			n := b.N / c.pubs * c.pubs
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			done := make(chan struct{})
			go func() { consume(b, sub, n); close(done) }()
			var wg sync.WaitGroup
			for i, pub := range pubs {
				wg.Go(func() { publishQoS1(b, pub, fmt.Sprint("bench/", i), n/c.pubs, 100) })
			}
			wg.Wait()
			<-done
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msg/s")
			b.ReportMetric(float64(cpuTime()-cpu)/1e3/float64(n), "cpu-µs/msg")
			b.StopTimer()
			for _, pub := range pubs {
				pub.close()
			}
			sub.close()
		})
	}
}

// BenchmarkQoS1Offline measures QoS 1 publishing to a persistent
// subscriber that is offline, so that every message is queued for it:
// 4000 messages per iteration (mochi caps a session's queue at 8192), to
// a fresh session each time.
func BenchmarkQoS1Offline(b *testing.B) {
	const n = 4000
	for _, persist := range []bool{false, true} {
		name := map[bool]string{false: "memory", true: "sqlite"}[persist]
		b.Run(name, func(b *testing.B) {
			opts := Options{Addr: "127.0.0.1:0"}
			if persist {
				opts.Persist = filepath.Join(b.TempDir(), "runnel.db")
			}
			br, err := Start(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			pub, _ := dialRawBench(b, br.Addr(), "pub", true)
			var total, cpuTotal time.Duration
			for i := range b.N {
				b.StopTimer()
				id := fmt.Sprint("offline-", i)
				sub, _ := dialRawBench(b, br.Addr(), id, false)
				sub.send(b, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
					Filters: packets.Subscriptions{{Filter: "bench/#", Qos: 1}}}, true)
				sub.read(b)
				sub.close()
				waitClientGone(b, br, id)
				b.StartTimer()
				start, cpu := time.Now(), cpuTime()
				publishQoS1(b, pub, "bench/t", n, 100)
				total += time.Since(start)
				cpuTotal += cpuTime() - cpu
				b.StopTimer()
				// End the session and its queue.
				sub, _ = dialRawBench(b, br.Addr(), id, true)
				sub.close()
				waitClientGone(b, br, id)
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "msg/s")
			b.ReportMetric(float64(cpuTotal)/1e3/float64(n*b.N), "cpu-µs/msg")
		})
	}
}

// BenchmarkJournalCommit measures one waited write (a journalled message)
// through the writer goroutine: the latency that OnPublish adds before a
// PUBACK when a persistent subscription matches.
func BenchmarkJournalCommit(b *testing.B) {
	db, err := openPDB(filepath.Join(b.TempDir(), "runnel.db"))
	if err != nil {
		b.Fatal(err)
	}
	w := startWriter(db, slog.New(slog.DiscardHandler))
	defer db.close()
	defer w.stop()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "bench/t",
		Payload: bytes.Repeat([]byte("x"), 64), Origin: "pub", Created: time.Now().Unix()}
	b.ReportAllocs()
	for i := range b.N {
		if err := w.do(pop{kind: opJournal, seq: int64(i + 1), pk: pk}); err != nil {
			b.Fatal(err)
		}
	}
}
