package broker

import (
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/broker/topic"
	"github.com/runnel-io/runnel/engine"
)

// flowSubs is the index of the flows' own subscriptions. mochi's inline
// subscriptions copy maps for every published message; the flows need
// neither that nor the network path, so the broker matches published
// topics against this index from an OnPublish hook instead. Readers load an
// immutable slice; Subscribe and Unsubscribe replace it (copy on write).
type flowSubs struct {
	mqtt.HookBase
	mu   sync.Mutex // serialises writers
	subs atomic.Pointer[[]*flowSub]
	net  *netSubs // when set, messages no network client subscribes to skip mochi's delivery
	// closed is set by Broker.StopIntake: messages from network clients
	// are refused (not acknowledged) from then on.
	closed atomic.Bool
	// handOff gives every subscription a hand-off (see handOff), which
	// writes its output through bt.
	handOff bool
	bt      *batcher
	// hands are the hand-offs whose goroutines have not ended, removed
	// subscriptions' too, for StopIntake and Close to wait for.
	hmu   sync.Mutex
	hands map[*handOff]struct{}
}

// flowSub is one subscription of a flow.
type flowSub struct {
	levels []string
	qos    byte
	fn     func(engine.Delivery)
	hand   *handOff // nil: every message runs on its publisher's goroutine
}

func (f *flowSubs) ID() string { return "runnel-flows" }

func (f *flowSubs) Provides(b byte) bool { return b == mqtt.OnPublish }

// OnPublish hands the message to every matching flow subscription, on the
// publisher's goroutine, before the broker delivers it to network clients.
//
// When no network client subscribes to the topic and the message is not
// retained, it marks the packet Ignore: mochi then acknowledges the message
// as usual but skips its subscriber walk. It does so through the packet and
// not by answering CodeSuccessIgnore, which has the same effect on mochi
// but costs five allocations per message (the error value and mochi's
// errors.Is checks of it). This hook should be the last OnPublish hook, so
// that the hooks before it may still change or reject the message.
func (f *flowSubs) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.Ignore {
		return pk, nil
	}
	if f.closed.Load() && !cl.Net.Inline {
		return pk, packets.ErrRejectPacket
	}
	if f.handOff && !cl.Net.Inline {
		if f.deliverNet(pk, bulk(cl)) {
			return pk, packets.ErrRejectPacket // not acknowledged: sent again
		}
	} else {
		f.deliver(pk, cl.Net.Inline)
	}
	if f.net != nil && !pk.FixedHeader.Retain && !f.net.has(pk.TopicName) {
		pk.Ignore = true
	}
	return pk, nil
}

// deliver hands pk to every matching flow subscription; internal says
// that the flows published it themselves.
func (f *flowSubs) deliver(pk packets.Packet, internal bool) {
	if subs := f.subs.Load(); subs != nil {
		for _, s := range *subs {
			if topic.Match(s.levels, pk.TopicName) {
				s.send(pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Retain, internal, false)
			}
		}
	}
}

// deliverNet hands a network client's pk to every matching flow
// subscription, through its hand-off when that takes it (see
// handOff.route); inBulk says that the client sends in bulk. It reports
// whether a QoS 1 or 2 message was dropped because the broker stops, so
// that it is not acknowledged.
func (f *flowSubs) deliverNet(pk packets.Packet, inBulk bool) (refuse bool) {
	subs := f.subs.Load()
	if subs == nil {
		return false
	}
	name, payload, qos, retain := pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Retain
	for _, s := range *subs {
		if !topic.Match(s.levels, name) {
			continue
		}
		r := runInline
		if s.hand != nil {
			r = s.hand.route(name, payload, qos, retain, inBulk)
		}
		switch r {
		case runInline:
			s.send(name, payload, qos, retain, false, false)
		case dropped:
			refuse = refuse || qos > 0
		}
	}
	return refuse
}

// newHandOff returns a hand-off for s, tracked until it ends.
func (f *flowSubs) newHandOff(s *flowSub) *handOff {
	h := newHandOff(s, f.bt, f.untrack)
	f.hmu.Lock()
	defer f.hmu.Unlock()
	if f.hands == nil {
		f.hands = make(map[*handOff]struct{})
	}
	f.hands[h] = struct{}{}
	return h
}

func (f *flowSubs) untrack(h *handOff) {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	delete(f.hands, h)
}

// handOffs returns the hand-offs that have not ended.
func (f *flowSubs) handOffs() []*handOff {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	hs := make([]*handOff, 0, len(f.hands))
	for h := range f.hands {
		hs = append(hs, h)
	}
	return hs
}

// deliver hands s a message from the retained store, when it subscribes.
func (s *flowSub) deliver(pk packets.Packet, internal bool) {
	s.send(pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Retain, internal, true)
}

// send hands pk to the subscription. A message published while the
// subscription exists arrives with Retain unset, as mosquitto sends it to
// an MQTT 3.1.1 subscriber (and to an MQTT 5 one without
// retain-as-published); only stored messages keep it. PublishedRetain
// keeps the publisher's flag either way.
func (s *flowSub) send(name string, payload []byte, qos byte, retain, internal, stored bool) {
	q := qos
	if q > s.qos {
		q = s.qos
	}
	s.fn(engine.Delivery{
		Topic:           name,
		Payload:         payload,
		QoS:             q,
		Retain:          stored && retain,
		PublishedRetain: retain,
		Internal:        internal,
		// mochi decodes each packet into a fresh copy of its bytes;
		// the flows' own payloads may be in buffers their nodes reuse,
		// and a stored message may be one of those.
		Stable: !internal && !stored,
	})
}

func (f *flowSubs) add(s *flowSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next []*flowSub
	if cur := f.subs.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, s)
	f.subs.Store(&next)
}

func (f *flowSubs) remove(s *flowSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.subs.Load()
	if cur == nil {
		return
	}
	next := make([]*flowSub, 0, len(*cur))
	for _, x := range *cur {
		if x != s {
			next = append(next, x)
		}
	}
	f.subs.Store(&next)
	if s.hand != nil {
		s.hand.stop(false) // it hands what is queued to the flow, then ends
	}
}

// MatchTopic reports whether topic matches a filter split into levels
// (strings.Split(filter, "/")), without allocating. It is topic.Match,
// kept for callers that have not moved to package topic.
func MatchTopic(levels []string, t string) bool { return topic.Match(levels, t) }
