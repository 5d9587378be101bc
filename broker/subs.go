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
		f.deliverNet(pk, bulk(cl))
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
	f.deliverOne(pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Retain, internal)
}

// deliverOne is deliver of a message given by its parts.
func (f *flowSubs) deliverOne(name string, payload []byte, qos byte, retain, internal bool) {
	if subs := f.subs.Load(); subs != nil {
		for _, s := range *subs {
			if topic.Match(s.levels, name) {
				s.send(name, payload, qos, retain, internal, false)
			}
		}
	}
}

// deliverNet hands a network client's pk to every matching flow
// subscription, through its hand-off when that takes it (see
// handOff.route); inBulk says that the client sends in bulk.
func (f *flowSubs) deliverNet(pk packets.Packet, inBulk bool) {
	subs := f.subs.Load()
	if subs == nil {
		return
	}
	name, payload, qos, retain := pk.TopicName, pk.Payload, pk.FixedHeader.Qos, pk.FixedHeader.Retain
	for _, s := range *subs {
		if !topic.Match(s.levels, name) {
			continue
		}
		if s.hand == nil || !s.hand.route(name, payload, qos, retain, inBulk) {
			s.send(name, payload, qos, retain, false, false)
		}
	}
}

// handOffs returns the hand-offs of the current subscriptions.
func (f *flowSubs) handOffs() []*handOff {
	var hs []*handOff
	if subs := f.subs.Load(); subs != nil {
		for _, s := range *subs {
			if s.hand != nil {
				hs = append(hs, s.hand)
			}
		}
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
		s.hand.stop() // it hands what is queued to the flow, then ends
	}
}

// MatchTopic reports whether topic matches a filter split into levels
// (strings.Split(filter, "/")), without allocating. It is topic.Match,
// kept for callers that have not moved to package topic.
func MatchTopic(levels []string, t string) bool { return topic.Match(levels, t) }
