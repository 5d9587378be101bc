package broker

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/engine"
)

// handOffFlow is a flow subscription that records the payloads it gets
// and can be held, so that a test fills the hand-off's queue.
type handOffFlow struct {
	mu   sync.Mutex
	got  []string
	gate chan struct{} // closed: let the flow go on
	seen chan struct{} // one per message
}

func newHandOffFlow(held bool) *handOffFlow {
	f := &handOffFlow{gate: make(chan struct{}), seen: make(chan struct{}, 1<<16)}
	if !held {
		close(f.gate)
	}
	return f
}

func (f *handOffFlow) take(d engine.Delivery) {
	<-f.gate
	f.mu.Lock()
	f.got = append(f.got, string(d.Payload))
	f.mu.Unlock()
	f.seen <- struct{}{}
}

func (f *handOffFlow) payloads() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// wait waits for n messages.
func (f *handOffFlow) wait(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-f.seen:
		case <-time.After(10 * time.Second):
			t.Fatalf("the flow got %d of %d messages", i, n)
		}
	}
}

// queuedOf sums queued over the broker's hand-offs.
func queuedOf(b *Broker) (waiting, bytes int, pushed uint64) {
	for _, h := range b.flows.handOffs() {
		w, n, p := h.queued()
		waiting, bytes, pushed = waiting+w, bytes+n, pushed+p
	}
	return waiting, bytes, pushed
}

// handOffSetup starts a broker with the hand-off, a flow subscription to
// h/# (held or not, see newHandOffFlow) and a raw publisher connected.
func handOffSetup(t *testing.T, held bool) (*Broker, *handOffFlow, *raw) {
	t.Helper()
	b := startBroker(t, Options{Addr: "127.0.0.1:0", HandOff: true})
	f := newHandOffFlow(held)
	cancel, err := b.Subscribe("h/#", 0, f.take)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	r := dialRaw(t, b.Addr(), 4)
	r.connack(t, "pub", 30)
	return b, f, r
}

// publishMany writes n QoS 0 PUBLISH packets (payloads 0 … n-1) to a raw
// connection, in writes of many packets each, as a fast publisher does.
// It may run on a goroutine of its own: errors are reported with t.Error.
func publishMany(t *testing.T, r *raw, topic string, n int) {
	var buf []byte
	for i := 0; i < n; i++ {
		buf = append(buf, publishPacket(4, topic, []byte(strconv.Itoa(i)))...)
		if len(buf) > 32<<10 || i == n-1 {
			if _, err := r.Write(buf); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			buf = buf[:0]
		}
	}
}

// With the hand-off, a flow gets every message of a publisher in order,
// also when it is held long enough for the queue to fill up: the
// publisher's reader then waits, and nothing is dropped.
func TestHandOffKeepsOrderWhenFull(t *testing.T) {
	b, f, r := handOffSetup(t, true)

	const n = 3 * handOffQueue
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		publishMany(t, r, "h/1", n)
	}()
	// The queue fills while the flow is held; the reader then waits.
	deadline := time.Now().Add(10 * time.Second)
	for q, _, _ := queuedOf(b); q < handOffQueue && time.Now().Before(deadline); q, _, _ = queuedOf(b) {
		time.Sleep(time.Millisecond)
	}
	if q, _, _ := queuedOf(b); q != handOffQueue {
		t.Fatalf("queued %d messages, want a full queue of %d", q, handOffQueue)
	}
	close(f.gate)
	f.wait(t, n)
	<-sent
	got := f.payloads()
	for i, p := range got {
		if p != strconv.Itoa(i) {
			t.Fatalf("message %d is %q, want %q (order lost)", i, p, strconv.Itoa(i))
		}
	}
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
}

// A flow that publishes to a topic the flows subscribe to gets that
// message on its own goroutine, at once: it never waits for the queue it
// is emptying, even when that queue is full.
func TestHandOffFlowPublishesToFlows(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0", HandOff: true})
	var echoed atomic.Int64
	done := make(chan struct{})
	const n = 2 * handOffQueue
	cancelEcho, err := b.Subscribe("echo", 0, func(engine.Delivery) {
		if echoed.Add(1) == n {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancelEcho()
	cancelIn, err := b.Subscribe("in/#", 0, func(d engine.Delivery) {
		if err := b.Publish("echo", d.Payload, 0, false); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancelIn()
	r := dialRaw(t, b.Addr(), 4)
	r.connack(t, "pub", 30)
	publishMany(t, r, "in/1", n)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the flows echoed %d of %d messages", echoed.Load(), n)
	}
}

// StopIntake returns once the flows have got everything that was queued
// for them: a graceful shutdown loses no message the broker took.
func TestHandOffStopIntakeDrains(t *testing.T) {
	b, f, r := handOffSetup(t, true)
	const n = 1000
	publishMany(t, r, "h/1", n)
	deadline := time.Now().Add(10 * time.Second)
	for _, _, p := queuedOf(b); p < n && time.Now().Before(deadline); _, _, p = queuedOf(b) {
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() {
		b.StopIntake()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("StopIntake returned before the flows got what was queued")
	case <-time.After(50 * time.Millisecond):
	}
	close(f.gate)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("StopIntake did not return")
	}
	if got := len(f.payloads()); got != n {
		t.Fatalf("when StopIntake returned the flows had %d messages, want %d", got, n)
	}
}

// Close does not wait for a flow that blocks.
func TestHandOffCloseWithBlockedFlow(t *testing.T) {
	b, err := Start(Options{Addr: "127.0.0.1:0", HandOff: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newHandOffFlow(true)
	defer close(f.gate)
	if _, err := b.Subscribe("h/#", 0, f.take); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, b.Addr(), 4)
	r.connack(t, "pub", 30)
	publishMany(t, r, "h/1", 200) // in bulk: through the queue
	deadline := time.Now().Add(10 * time.Second)
	for _, _, p := queuedOf(b); p == 0 && time.Now().Before(deadline); _, _, p = queuedOf(b) {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a blocked flow")
	}
}

// Several publishers at once: each one's messages arrive in its order.
func TestHandOffOrderPerPublisher(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0", HandOff: true})
	var mu sync.Mutex
	last := map[string]int{}
	var count atomic.Int64
	var bad atomic.Value
	const pubs, n = 4, 5000
	done := make(chan struct{})
	cancel, err := b.Subscribe("p/#", 0, func(d engine.Delivery) {
		v, _ := strconv.Atoi(string(d.Payload))
		mu.Lock()
		prev, ok := last[d.Topic]
		if ok && v != prev+1 || !ok && v != 0 {
			bad.Store(fmt.Sprintf("%s: %d after %d", d.Topic, v, prev))
		}
		last[d.Topic] = v
		mu.Unlock()
		if count.Add(1) == pubs*n {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < pubs; i++ {
		r := dialRaw(t, b.Addr(), 4)
		id := fmt.Sprintf("pub%d", i)
		r.connack(t, id, 30)
		wg.Add(1)
		go func() {
			defer wg.Done()
			publishMany(t, r, "p/"+id, n)
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the flow got %d of %d messages", count.Load(), pubs*n)
	}
	if v := bad.Load(); v != nil {
		t.Fatalf("out of order: %s", v)
	}
}

// A message now and then, with nothing queued, runs through the flows on
// its publisher's reader, as without the hand-off: it costs no wake-up of
// another thread.
func TestHandOffLoneMessageNotQueued(t *testing.T) {
	b, f, r := handOffSetup(t, false)
	for i := 0; i < 3; i++ {
		r.send(t, publishPacket(4, "h/1", []byte(strconv.Itoa(i))))
		f.wait(t, 1)
	}
	if _, _, pushed := queuedOf(b); pushed != 0 {
		t.Fatalf("%d lone messages went through the queue, want 0", pushed)
	}
	if got := f.payloads(); len(got) != 3 || got[0] != "0" || got[2] != "2" {
		t.Fatalf("the flow got %q", got)
	}
}

// Delivery.Stable is set for what network clients publish (mochi decodes
// each packet into bytes of its own) and only for that: the flows' own
// payloads and stored messages may be in buffers somebody reuses.
func TestDeliveryStable(t *testing.T) {
	for _, hand := range []bool{false, true} {
		b := startBroker(t, Options{Addr: "127.0.0.1:0", HandOff: hand})
		if err := b.Publish("s/kept", []byte("r"), 0, true); err != nil {
			t.Fatal(err)
		}
		got := make(chan engine.Delivery, 4)
		cancel, err := b.Subscribe("s/#", 0, func(d engine.Delivery) { got <- d })
		if err != nil {
			t.Fatal(err)
		}
		r := dialRaw(t, b.Addr(), 4)
		r.connack(t, "pub", 30)
		r.send(t, publishPacket(4, "s/net", []byte("n")))
		if err := b.Publish("s/flows", []byte("f"), 0, false); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"s/kept": false, "s/net": true, "s/flows": false}
		for range want {
			select {
			case d := <-got:
				if d.Stable != want[d.Topic] {
					t.Errorf("handoff=%v: %s: Stable %v, want %v", hand, d.Topic, d.Stable, want[d.Topic])
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("handoff=%v: a delivery is missing", hand)
			}
		}
		cancel()
	}
}

// A flow that blocks holds up only the messages for its own subscription:
// another subscription's messages, from another client, still run.
func TestHandOffIsolatesSubscriptions(t *testing.T) {
	b, f, r := handOffSetup(t, true)
	defer close(f.gate)
	other := make(chan string, 1)
	cancel, err := b.Subscribe("b/#", 0, func(d engine.Delivery) { other <- string(d.Payload) })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	publishMany(t, r, "h/1", 2*handOffQueue) // fills h/#'s queue and blocks r's reader
	deadline := time.Now().Add(10 * time.Second)
	for q, _, _ := queuedOf(b); q < handOffQueue && time.Now().Before(deadline); q, _, _ = queuedOf(b) {
		time.Sleep(time.Millisecond)
	}
	r2 := dialRaw(t, b.Addr(), 4)
	r2.connack(t, "pub2", 30)
	r2.send(t, publishPacket(4, "b/1", []byte("free")))
	select {
	case got := <-other:
		if got != "free" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked flow on h/# held up a message for b/#")
	}
}

// A QoS 1 message queued behind others is acknowledged only once its
// flow has run it, and after the messages before it.
func TestHandOffQoS1AcknowledgedAfterFlow(t *testing.T) {
	_, f, r := handOffSetup(t, true)
	const n = 200
	publishMany(t, r, "h/1", n) // in bulk: queued behind the held flow
	var buf bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 4,
		TopicName: "h/1", PacketID: 7, Payload: []byte("q1")}
	if err := pk.PublishEncode(&buf); err != nil {
		t.Fatal(err)
	}
	r.send(t, buf.Bytes())
	r.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := r.r.ReadByte(); err == nil {
		t.Fatal("the QoS 1 message was acknowledged while its flow was held")
	}
	close(f.gate)
	ack, err := r.read()
	if err != nil || ack.FixedHeader.Type != packets.Puback || ack.PacketID != 7 {
		t.Fatalf("after the flow ran: %v %v, want PUBACK 7", ack.FixedHeader.Type, err)
	}
	got := f.payloads()
	if len(got) != n+1 || got[n] != "q1" || got[n-1] != strconv.Itoa(n-1) {
		t.Fatalf("when acknowledged the flow had %d messages, last %q; want %d, the QoS 1 one last", len(got), got[len(got)-1], n+1)
	}
}

// The queue is bounded in bytes as well as in messages: large payloads in
// bulk make the reader wait long before 4,096 of them are held.
func TestHandOffBoundedInBytes(t *testing.T) {
	b, f, r := handOffSetup(t, true)
	defer close(f.gate)
	big := bytes.Repeat([]byte("x"), 256<<10)
	go func() {
		for i := 0; i < 64; i++ {
			if _, err := r.Write(publishPacket(4, "h/1", big)); err != nil {
				return // the test ended
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	var last uint64
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		_, _, p := queuedOf(b)
		if p > 0 && p == last {
			break // the reader waits
		}
		last = p
	}
	q, n, _ := queuedOf(b)
	if q == 0 || n > handOffBytes {
		t.Fatalf("%d messages, %d bytes queued; want some, at most %d bytes", q, n, handOffBytes)
	}
}

// qos1Packet encodes a QoS 1 PUBLISH.
func qos1Packet(t *testing.T, topic, payload string, id uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 4,
		TopicName: topic, PacketID: id, Payload: []byte(payload)}
	if err := pk.PublishEncode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noPacket asserts that nothing arrives on r within d.
func noPacket(t *testing.T, r *raw, d time.Duration, what string) {
	t.Helper()
	r.SetReadDeadline(time.Now().Add(d))
	if _, err := r.r.ReadByte(); err == nil {
		t.Fatal(what)
	}
}

// A QoS 1 message waiting for its flow is not let go by StopIntake: the
// queue is drained, the message runs, and only then is it acknowledged.
func TestHandOffStopIntakeKeepsQoS1Waiter(t *testing.T) {
	b, f, r := handOffSetup(t, true)
	publishMany(t, r, "h/1", 100)
	r.send(t, qos1Packet(t, "h/1", "q1", 9))
	deadline := time.Now().Add(10 * time.Second)
	for _, _, p := queuedOf(b); p < 101 && time.Now().Before(deadline); _, _, p = queuedOf(b) {
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() {
		b.StopIntake()
		close(stopped)
	}()
	noPacket(t, r, 300*time.Millisecond, "the QoS 1 message was acknowledged before its flow ran")
	close(f.gate)
	ack, err := r.read()
	if err != nil || ack.FixedHeader.Type != packets.Puback || ack.PacketID != 9 {
		t.Fatalf("got %v %v, want PUBACK 9", ack.FixedHeader.Type, err)
	}
	<-stopped
	if got := f.payloads(); len(got) != 101 || got[100] != "q1" {
		t.Fatalf("the flow got %d messages, want 101 with q1 last", len(got))
	}
}

// A QoS 1 message that StopIntake keeps out of a full queue is neither
// run nor acknowledged: its client sends it again after a restart.
func TestHandOffStopIntakeRefusesQueuedOutQoS1(t *testing.T) {
	b, f, r := handOffSetup(t, true)
	publishMany(t, r, "h/1", handOffQueue+200) // fills the queue; r's reader waits
	deadline := time.Now().Add(10 * time.Second)
	for q, _, _ := queuedOf(b); q < handOffQueue && time.Now().Before(deadline); q, _, _ = queuedOf(b) {
		time.Sleep(time.Millisecond)
	}
	r2 := dialRaw(t, b.Addr(), 4)
	r2.connack(t, "pub2", 30)
	r2.send(t, qos1Packet(t, "h/2", "q1", 5)) // waits for room
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan struct{})
	go func() {
		b.StopIntake()
		close(stopped)
	}()
	time.Sleep(100 * time.Millisecond)
	close(f.gate)
	<-stopped
	delivered := false
	for _, p := range f.payloads() {
		delivered = delivered || p == "q1"
	}
	r2.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	first, err := r2.r.ReadByte()
	acked := err == nil && first>>4 == packets.Puback
	if acked && !delivered {
		t.Fatal("the QoS 1 message was acknowledged but never ran")
	}
}

// waitAll stops every hand-off before it waits, and lets the readers of
// those it gives up on go.
func TestWaitAllStopsEvery(t *testing.T) {
	b := startBroker(t, Options{Addr: "127.0.0.1:0", HandOff: true})
	var hs []*handOff
	for _, topic := range []string{"a/#", "b/#"} {
		f := newHandOffFlow(true)
		defer close(f.gate)
		if _, err := b.Subscribe(topic, 0, f.take); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range b.flows.handOffs() {
		hs = append(hs, h)
		h.route("a/1", []byte("x"), 0, false, true) // starts the goroutine, which holds in the flow
	}
	time.Sleep(50 * time.Millisecond)
	if waitAll(hs, 100*time.Millisecond) {
		t.Fatal("waitAll reported held flows as done")
	}
	for i, h := range hs {
		h.mu.Lock()
		stopped, abandoned := h.stopped, h.abandoned
		h.mu.Unlock()
		if !stopped || !abandoned {
			t.Errorf("hand-off %d: stopped %v, abandoned %v; want both", i, stopped, abandoned)
		}
	}
}
