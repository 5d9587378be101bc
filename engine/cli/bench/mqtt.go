package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// benchConn is a minimal MQTT 3.1.1 client connection for the load
// generator: mochi's packet codec over a raw TCP connection with Nagle off,
// a buffered writer the caller flushes when it has nothing more to send
// right now, and a buffered reader. It is not safe for concurrent use,
// except that one goroutine may read while another writes.
type benchConn struct {
	c    *net.TCPConn
	r    *bufio.Reader
	w    *bufio.Writer
	enc  bytes.Buffer // scratch for the encoder
	body []byte       // the last packet read; payloads alias it
	// lastRead is the size of the last read from the socket, for the
	// reader's coalescing (see load.coalesce).
	lastRead int
}

// countingReader records the size of each read.
type countingReader struct {
	c *net.TCPConn
	n *int
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	*r.n = n
	return n, err
}

const (
	benchProtocol  = 4     // MQTT 3.1.1: no properties to encode or decode
	benchKeepalive = 65535 // seconds: no pings during a bounded run
	benchBufSize   = 64 << 10
)

// dialBench connects to addr and completes the MQTT handshake, all within
// the context's deadline (or 5 s).
func dialBench(ctx context.Context, addr, clientID string) (*benchConn, error) {
	return dialBenchSize(ctx, addr, clientID, benchBufSize)
}

// dialBenchSize is dialBench with read and write buffers of bufSize bytes
// each (small for the many idle connections of --connections).
func dialBenchSize(ctx context.Context, addr, clientID string, bufSize int) (*benchConn, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := nc.(*net.TCPConn)
	if err := tc.SetNoDelay(true); err != nil {
		tc.Close()
		return nil, err
	}
	m := &benchConn{c: tc, w: bufio.NewWriterSize(tc, bufSize)}
	m.r = bufio.NewReaderSize(countingReader{tc, &m.lastRead}, bufSize)
	dl, _ := ctx.Deadline()
	tc.SetDeadline(dl)
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: benchProtocol,
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			Clean:            true,
			ClientIdentifier: clientID,
			Keepalive:        benchKeepalive,
		},
	}
	if err := m.write(&pk); err == nil {
		err = m.w.Flush()
	}
	if err == nil {
		err = m.read(&pk)
	}
	if err == nil && pk.FixedHeader.Type != packets.Connack {
		err = fmt.Errorf("expected CONNACK, got packet type %d", pk.FixedHeader.Type)
	}
	if err == nil && pk.ReasonCode != 0 {
		err = fmt.Errorf("connection refused, CONNACK code %d", pk.ReasonCode)
	}
	if err != nil {
		tc.Close()
		return nil, fmt.Errorf("mqtt connect %s: %w", addr, err)
	}
	tc.SetDeadline(time.Time{})
	return m, nil
}

// subscribe subscribes to filter and waits for the SUBACK. Nothing else
// may be reading the connection yet.
func (m *benchConn) subscribe(filter string, qos byte, timeout time.Duration) error {
	return m.subscribeAll(packets.Subscriptions{{Filter: filter, Qos: qos}}, timeout)
}

// subscribeAll subscribes to every filter in one SUBSCRIBE and waits for
// the SUBACK. Nothing else may be reading the connection yet.
func (m *benchConn) subscribeAll(filters packets.Subscriptions, timeout time.Duration) error {
	m.c.SetDeadline(time.Now().Add(timeout))
	defer m.c.SetDeadline(time.Time{})
	filter := filters[0].Filter
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		ProtocolVersion: benchProtocol,
		PacketID:        1,
		Filters:         filters,
	}
	if err := m.write(&pk); err != nil {
		return err
	}
	if err := m.w.Flush(); err != nil {
		return err
	}
	for {
		if err := m.read(&pk); err != nil {
			return fmt.Errorf("subscribe %s: %w", filter, err)
		}
		if pk.FixedHeader.Type != packets.Suback {
			continue // a retained message, say
		}
		if len(pk.ReasonCodes) != len(filters) {
			return fmt.Errorf("subscribe %s: %d reason codes for %d filters", filter, len(pk.ReasonCodes), len(filters))
		}
		for _, rc := range pk.ReasonCodes {
			if rc >= 0x80 {
				return fmt.Errorf("subscribe %s: refused (%v)", filter, pk.ReasonCodes)
			}
		}
		return nil
	}
}

// write encodes pk into the write buffer; the caller flushes.
func (m *benchConn) write(pk *packets.Packet) error {
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
	default:
		err = fmt.Errorf("cannot encode packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		return err
	}
	_, err = m.w.Write(m.enc.Bytes())
	return err
}

// read reads the next packet into pk. A PUBLISH payload aliases the read
// buffer and is valid until the next read.
func (m *benchConn) read(pk *packets.Packet) error {
	hb, err := m.r.ReadByte()
	if err != nil {
		return err
	}
	var fh packets.FixedHeader
	if err := fh.Decode(hb); err != nil {
		return err
	}
	fh.Remaining, _, err = packets.DecodeLength(m.r)
	if err != nil {
		return err
	}
	if cap(m.body) < fh.Remaining {
		m.body = make([]byte, fh.Remaining, max(fh.Remaining, 256))
	}
	m.body = m.body[:fh.Remaining]
	if _, err := io.ReadFull(m.r, m.body); err != nil {
		return err
	}
	*pk = packets.Packet{FixedHeader: fh, ProtocolVersion: benchProtocol}
	switch fh.Type {
	case packets.Publish:
		return pk.PublishDecode(m.body)
	case packets.Puback:
		return pk.PubackDecode(m.body)
	case packets.Connack:
		return pk.ConnackDecode(m.body)
	case packets.Suback:
		return pk.SubackDecode(m.body)
	case packets.Disconnect:
		return errors.New("disconnected by the server")
	}
	return nil // PINGRESP and the like: nothing to decode
}

// close sends DISCONNECT (best effort) and closes the connection.
func (m *benchConn) close() {
	m.c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: benchProtocol}
	if m.write(&pk) == nil {
		m.w.Flush()
	}
	m.c.Close()
}
