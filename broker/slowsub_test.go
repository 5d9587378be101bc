package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/engine"
)

// counter counts the messages of one subscriber and checks their order.
type counter struct {
	mu   sync.Mutex
	n    int
	err  error
	more chan struct{}
}

func newCounter() *counter { return &counter{more: make(chan struct{}, 1)} }

// add records a message; its payload is seqPayload(i, size).
func (c *counter) add(p []byte, size int) {
	c.mu.Lock()
	if i, err := seqOf(p, size); err != nil {
		c.err = err
	} else if i != c.n && c.err == nil {
		c.err = fmt.Errorf("message %d arrived as number %d", i, c.n)
	}
	c.n++
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// wait waits until n messages have arrived (a bounded wait, not a timed
// assertion).
func (c *counter) wait(n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		got, err := c.n, c.err
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		select {
		case <-c.more:
		case <-deadline:
			return fmt.Errorf("%d messages within %v, want %d", got, timeout, n)
		}
	}
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// pahoCounter connects a paho client that subscribes to filter at qos
// and counts what it receives (acknowledging it as it arrives).
func pahoCounter(t *testing.T, b *Broker, id, filter string, qos byte, size int) (*paho.Client, *counter) {
	t.Helper()
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cnt := newCounter()
	c := paho.NewClient(paho.ClientConfig{Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			cnt.add(p.Packet.Payload, size)
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	if filter != "" {
		if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}); err != nil {
			t.Fatal(err)
		}
	}
	return c, cnt
}

// handledHook counts the PUBLISH packets mochi has handled for one
// client: written by its writer goroutine (WritePacket returned, whether
// outPolicy let the packet through or dropped it), or dropped by mochi
// itself because the client's outbound queue was full. The publisher's
// acknowledgement, and the other subscribers' deliveries, come before
// that: mochi hands a message to each subscriber's queue and returns, and
// the subscriber's writer goroutine writes it (or outPolicy drops and
// counts it) later, so a count of drops read when the others have every
// message can be short.
type handledHook struct {
	mqtt.HookBase
	id   string
	n    atomic.Int64
	more chan struct{}
}

func newHandledHook(id string) *handledHook {
	return &handledHook{id: id, more: make(chan struct{}, 1)}
}

func (h *handledHook) ID() string { return "test-handled-" + h.id }

func (h *handledHook) Provides(b byte) bool {
	return b == mqtt.OnPacketSent || b == mqtt.OnPublishDropped
}

func (h *handledHook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type == packets.Publish {
		h.count(cl)
	}
}

func (h *handledHook) OnPublishDropped(cl *mqtt.Client, _ packets.Packet) { h.count(cl) }

func (h *handledHook) count(cl *mqtt.Client) {
	if cl.ID != h.id {
		return
	}
	h.n.Add(1)
	select {
	case h.more <- struct{}{}:
	default:
	}
}

// wait waits until n messages have been handled (a bounded wait, not a
// timed assertion).
func (h *handledHook) wait(n int64, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		if got := h.n.Load(); got >= n {
			return nil
		}
		select {
		case <-h.more:
		case <-deadline:
			return fmt.Errorf("%d messages handled within %v, want %d", h.n.Load(), timeout, n)
		}
	}
}

// socketSlack is more than the stuck client's receive buffer (SO_RCVBUF
// 4096, which the kernel doubles) holds, with what a socket takes over its
// buffer's size (a write may overshoot it by a segment of up to 64 KiB on
// loopback).
const socketSlack = 256 << 10

// pinSendBuffer sets the send buffer of the broker's side of client id's
// connection to size bytes, which stops the kernel from growing it up to
// tcp_wmem's maximum (4 MiB, about 4,000 more messages of 1 KiB to
// publish before the client's queue fills), and returns the size the
// kernel gave it.
func pinSendBuffer(t *testing.T, b *Broker, id string, size int) int {
	t.Helper()
	cl, ok := b.srv.Clients.Get(id)
	if !ok {
		t.Fatalf("client %s not found", id)
	}
	nb, ok := backlogOf(cl.Net.Conn).(*nbConn)
	if !ok {
		t.Fatalf("client %s has no nbConn", id)
	}
	if err := nb.TCPConn.SetWriteBuffer(size); err != nil {
		t.Fatal(err)
	}
	var got int
	var serr error
	if err := nb.rc.Control(func(fd uintptr) {
		got, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return got
}

// TestStuckSubscriberCostsOnlyItself (issue 12, items 3 and 5): a
// subscriber that stops reading, at QoS 0, 1 and 2, with small and 64 KiB
// messages, holds up nobody: the publisher gets every acknowledgement, a
// healthy network subscriber and the flows (the broker's in-process
// subscription, which mqtt-in nodes use) get every message, in order.
// The stuck subscriber holds at most MaxQueuedBytes (plus what the
// sockets hold): what it gets when it reads again and what is counted as
// dropped add up to exactly what was published, counted once its writer
// has handled every message (handledHook). Before the fix the
// publisher waited for the stuck client's lock (mochi takes it to pick a
// packet id while a write to the stuck socket holds it) and QoS 0
// messages queued by count, up to 4,096 of any size.
func TestStuckSubscriberCostsOnlyItself(t *testing.T) {
	const limit = 256 << 10
	type stuckCase struct {
		ws   bool // the stuck subscriber connects over WebSocket
		qos  byte
		size int
	}
	var cases []stuckCase
	for _, qos := range []byte{0, 1, 2} {
		for _, size := range []int{1 << 10, 64 << 10} {
			cases = append(cases, stuckCase{false, qos, size})
		}
	}
	// Over WebSocket too: the WS listener's connection cap used to hide
	// the nbConn from backlogOf, and WS clients went unbounded up to the
	// hard bound, then were disconnected.
	cases = append(cases, stuckCase{true, 0, 1 << 10}, stuckCase{true, 1, 64 << 10})
	for _, tc := range cases {
		qos, size := tc.qos, tc.size
		{
			t.Run(fmt.Sprintf("%sqos%d/%dKiB", map[bool]string{true: "ws/"}[tc.ws], qos, size>>10), func(t *testing.T) {
				lim := DefaultLimits()
				lim.MaxQueuedBytes = limit
				b := startFast(t, Options{Addr: "127.0.0.1:0", WSAddr: "127.0.0.1:0", Limits: &lim})
				handled := newHandledHook("stuck")
				if err := b.srv.AddHook(handled, nil); err != nil {
					t.Fatal(err)
				}
				stuckAddr := b.Addr()
				if tc.ws {
					stuckAddr = b.Addrs().WS
				}
				stuck := fastDial(t, stuckAddr, 4, "stuck", fastDialOpts{rcvbuf: 4096, ws: tc.ws})
				stuck.subscribe(t, 1, packets.Subscription{Filter: "load/#", Qos: qos})
				sndbuf := pinSendBuffer(t, b, "stuck", 4096)
				_, healthy := pahoCounter(t, b, "healthy", "load/#", qos, size)
				flows := newCounter()
				cancel, err := b.Subscribe("load/#", qos, func(d engine.Delivery) { flows.add(d.Payload, size) })
				if err != nil {
					t.Fatal(err)
				}
				defer cancel()
				pub, _ := pahoCounter(t, b, "pub", "", 0, size)
				before := b.Info()

				// More than the stuck client's queue, a batch of
				// mochi's and both sockets' buffers hold.
				n := (limit+2*clientWriteBuffer+sndbuf+socketSlack)/size + 20
				for i := range n {
					ctx, done := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := pub.Publish(ctx, &paho.Publish{Topic: "load/x", QoS: qos, Payload: seqPayload(i, size)})
					done()
					if err != nil {
						t.Fatalf("publish %d of %d: %v (the publisher waits for the stuck subscriber)", i, n, err)
					}
					if i%32 == 31 || i == n-1 {
						// Keep the healthy ones within their own queue.
						for name, c := range map[string]*counter{"healthy subscriber": healthy, "flows": flows} {
							if err := c.wait(i+1, 10*time.Second); err != nil {
								t.Fatalf("%s: %v", name, err)
							}
						}
					}
				}
				if got := healthy.count(); got != n {
					t.Fatalf("healthy subscriber got %d, want %d", got, n)
				}
				if got := flows.count(); got != n {
					t.Fatalf("flows got %d, want %d", got, n)
				}
				// Every message has been handled for the stuck one
				// too: written to its connection, or dropped (by
				// outPolicy, or by mochi: outbound queue full, counted
				// in MessagesDropped; QoS 1 and 2 inflight quota full,
				// counted in InflightDropped, with no hook), so that
				// the count of drops is final.
				overQuota := int(b.Info().InflightDropped - before.InflightDropped)
				if err := handled.wait(int64(n-overQuota), 10*time.Second); err != nil {
					t.Fatalf("stuck subscriber: %v", err)
				}
				dropped := int(b.Info().MessagesDropped-before.MessagesDropped) + overQuota
				if dropped == 0 {
					t.Fatal("nothing dropped for the stuck subscriber")
				}
				// It reads again: every message is either delivered,
				// whole and in order, or was counted as dropped.
				s := stuck.stream(nil)
				if err := s.waitErr(n-dropped, 10*time.Second); err != nil {
					t.Fatalf("stuck subscriber, reading again, with %d dropped: %v", dropped, err)
				}
				pks := s.packets()
				last := -1
				for _, pk := range pks {
					if pk.FixedHeader.Type != packets.Publish {
						t.Fatalf("stuck subscriber got packet type %d", pk.FixedHeader.Type)
					}
					i, err := seqOf(pk.Payload, size)
					if err != nil || i <= last {
						t.Fatalf("stuck subscriber: message %d after %d (%v)", i, last, err)
					}
					last = i
				}
				held := len(pks) * (size + 16)
				if most := limit + size + 2*clientWriteBuffer + sndbuf + socketSlack; held > most {
					t.Fatalf("stuck subscriber was sent %d messages (%d bytes), more than its queue and the sockets hold (%d)", len(pks), held, most)
				}
				if len(pks)+dropped != n {
					t.Fatalf("stuck subscriber got %d, %d dropped: %d in all, want %d", len(pks), dropped, len(pks)+dropped, n)
				}
				if qos > 0 {
					// Dropped ones left its inflight messages.
					cl, ok := b.srv.Clients.Get("stuck")
					if !ok {
						t.Fatal("stuck client gone")
					}
					if got := cl.State.Inflight.Len(); got != len(pks) {
						t.Fatalf("stuck client has %d messages in flight, want the %d sent to it", got, len(pks))
					}
				}
			})
		}
	}
}

// TestGoneClientReleased (issue 12, item 6): once a subscriber that had
// output queued disconnects, nothing keeps it and its queue, although its
// topic is not published to again: the per-topic plans used to hold it
// until the next publish.
func TestGoneClientReleased(t *testing.T) {
	b := startFast(t, Options{Addr: "127.0.0.1:0"})
	gone := fastDial(t, b.Addr(), 4, "gone", fastDialOpts{rcvbuf: 4096})
	gone.sub(t, "rel/t")
	planned(t, b, "rel/t", 1)
	for i := range 64 {
		mustPublish(t, b, "rel/t", seqPayload(i, 64<<10))
	}
	var released atomic.Bool
	func() {
		cl, ok := b.srv.Clients.Get("gone")
		if !ok {
			t.Fatal("client not found")
		}
		q, ok := queuer(cl.Net.Conn).(*nbConn)
		if !ok {
			t.Fatal("client has no nbConn")
		}
		if q.backlog() == 0 {
			t.Fatal("nothing queued for the client")
		}
		runtime.AddCleanup(cl, func(*atomic.Bool) { released.Store(true) }, &released)
	}()
	gone.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !released.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the disconnected client is still held 10s after it went")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// gate holds a paho client's message handler, and with it the client's
// reader once its queue of received messages (ReceiveMaximum long) is
// full: the client stops reading, as a stuck one does, and later reads
// again. (Holding Read in a wrapper of the connection instead makes paho
// write each packet in several Write calls, which its writers then
// interleave.)
type gate struct {
	held   atomic.Bool
	resume chan struct{}
}

func (g *gate) pass() {
	if g.held.Load() {
		<-g.resume
	}
}

// TestTopicAliasKeptPastBound (issue 12, item 5): an MQTT 5 client that
// takes topic aliases gets the message that maps an alias to its topic
// even while it is over max_queued_bytes, so that every later message,
// which carries the alias only, resolves to its topic. Before, the
// mapping message could be dropped and the later ones named an alias the
// client had never been given.
func TestTopicAliasKeptPastBound(t *testing.T) {
	const limit, size = 64 << 10, 1 << 10
	lim := DefaultLimits()
	lim.MaxQueuedBytes = limit
	b := startFast(t, Options{Addr: "127.0.0.1:0", Limits: &lim})
	handled := newHandledHook("aliased")
	if err := b.srv.AddHook(handled, nil); err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	tcp, err := d.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	gc := &gate{resume: make(chan struct{})}

	var (
		mu       sync.Mutex
		aliases  = map[uint16]string{}
		got      []string // topic|payload prefix of each message
		protoErr error
		more     = make(chan struct{}, 1)
	)
	cl := paho.NewClient(paho.ClientConfig{Conn: tcp,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			gc.pass()
			p := pr.Packet
			mu.Lock()
			topic := p.Topic
			if a := p.Properties.TopicAlias; a != nil {
				if topic != "" {
					aliases[*a] = topic
				} else if topic = aliases[*a]; topic == "" && protoErr == nil {
					protoErr = fmt.Errorf("message %d (%.12q) names topic alias %d, never mapped", len(got), p.Payload, *a)
				}
			}
			got = append(got, topic+"|"+string(bytes.TrimRight(p.Payload[:12], "-")))
			mu.Unlock()
			select {
			case more <- struct{}{}:
			default:
			}
			return true, nil
		}}})
	aliasMax, receiveMax := uint16(10), uint16(1) // receiveMax: paho queues one message, then stops reading
	if _, err := cl.Connect(ctx5(t), &paho.Connect{ClientID: "aliased", CleanStart: true, KeepAlive: 60,
		Properties: &paho.ConnectProperties{TopicAliasMaximum: &aliasMax, ReceiveMaximum: &receiveMax}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Disconnect(&paho.Disconnect{}) })
	if _, err := cl.Subscribe(ctx5(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "alias/#", QoS: 0}}}); err != nil {
		t.Fatal(err)
	}
	sndbuf := pinSendBuffer(t, b, "aliased", 4096)
	payload := func(tag string) []byte {
		p := bytes.Repeat([]byte("-"), size)
		copy(p, tag)
		return p
	}
	// The client stops reading (its reader may still take one read's
	// worth), and falls behind past the bound on alias/a.
	gc.held.Store(true)
	before := b.Info()
	n := (limit+2*clientWriteBuffer+sndbuf+socketSlack)/size + 20
	for i := range n {
		mustPublish(t, b, "alias/a", payload(fmt.Sprintf("a%d", i)))
	}
	if err := handled.wait(int64(n), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if b.Info().MessagesDropped == before.MessagesDropped {
		t.Fatal("nothing dropped: the client is not past its bound")
	}
	// The first message on alias/b maps a new alias: it must get through.
	mustPublish(t, b, "alias/b", payload("b0"))
	if err := handled.wait(int64(n+1), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	gc.held.Store(false)
	close(gc.resume)
	// Reading again, once it has caught up: more on both topics, which
	// now carry aliases only.
	c, _ := b.srv.Clients.Get("aliased")
	bl := backlogOf(c.Net.Conn)
	for wait := time.Now().Add(10 * time.Second); bl.backlog() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("the client does not catch up: %d bytes pending", bl.backlog())
		}
	}
	mustPublish(t, b, "alias/b", payload("b1"))
	mustPublish(t, b, "alias/a", payload("a-last"))
	deadline := time.After(10 * time.Second)
	for {
		mu.Lock()
		last := ""
		if len(got) > 0 {
			last = got[len(got)-1]
		}
		mu.Unlock()
		if last == "alias/a|a-last" {
			break
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("the last message did not arrive (last: %q)", last)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if protoErr != nil {
		t.Fatal(protoErr)
	}
	tail := got[len(got)-3:]
	if want := []string{"alias/b|b0", "alias/b|b1", "alias/a|a-last"}; fmt.Sprint(tail) != fmt.Sprint(want) {
		t.Fatalf("last messages %q, want %q", tail, want)
	}
	for _, m := range got {
		topic, tag, _ := strings.Cut(m, "|")
		if topic != "alias/"+tag[:1] {
			t.Fatalf("message %q resolved to topic %q", tag, topic)
		}
	}
}
