package broker

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// packetQueuer is a client connection that takes encoded packets into
// output of its own, written out in batches (see batcher).
type packetQueuer interface {
	// queue appends one whole encoded packet; false if it was dropped
	// (the connection is closed, or its pending output is full).
	queue(pk []byte) bool
}

// fastOut delivers the flows' own QoS 0, non-retained messages (the usual
// output of an mqtt-out node) without mochi's publish path, which for
// every message walks the topic index building maps, runs the publish
// hooks again, copies the packet for each subscriber and hands it to the
// subscriber's writer goroutine. Instead, the subscribers of a topic are
// looked up once per change of subscriptions (a plan), the packet is
// encoded once, as mochi would encode it, and queued on each subscriber's
// connection, to be written with the rest of the batch (see batcher).
//
// It delivers exactly what mochi would: to the flows' own subscriptions
// first (as mochi's OnPublish hooks do), then to every network subscriber
// the ACL lets read the topic, with mochi's counters kept. A topic whose
// delivery needs more than that (a shared subscription, a subscription
// identifier, topic aliases, No Local, a connection that does not queue,
// such as TLS or WebSockets) has no plan, and its messages take mochi's
// path as before.
type fastOut struct {
	srv    *mqtt.Server
	subs   *netSubs  // the plans, kept per topic and subscription generation
	acl    *authHook // read access of each subscriber
	flows  *flowSubs
	b      *batcher
	expiry int64 // seconds: the message expiry interval MQTT 5 subscribers are told

	scratch sync.Pool // *fastScratch
}

// fastScratch holds the encodings of one message, for MQTT 3.1.1 and 5.
type fastScratch struct{ v4, v5 []byte }

// fastPlan is how messages to one topic are delivered, for one generation
// of subscriptions (see netSubs.plan).
type fastPlan struct {
	gen     uint64
	ok      bool // false: use mochi's path (a subscriber needs more than fastOut does)
	targets []fastTarget
}

// fastTarget is one subscriber of a planned topic.
type fastTarget struct {
	cl      *mqtt.Client
	q       packetQueuer
	v5      bool
	maxSize uint32 // the client's Maximum Packet Size; 0: none
}

// newPlan looks up the subscribers of topic.
func newPlan(srv *mqtt.Server, topic string, gen uint64) *fastPlan {
	p := &fastPlan{gen: gen, ok: true}
	s := srv.Topics.Subscribers(topic)
	if len(s.Shared) > 0 || len(s.InlineSubscriptions) > 0 {
		p.ok = false
		return p
	}
	for id, sub := range s.Subscriptions {
		cl, found := srv.Clients.Get(id)
		if !found {
			continue // mochi skips it too
		}
		q := queuer(cl.Net.Conn)
		if q == nil || hasIdentifier(sub.Identifiers) || sub.NoLocal || cl.Properties.Props.TopicAliasMaximum > 0 {
			p.ok = false
			return p
		}
		p.targets = append(p.targets, fastTarget{
			cl:      cl,
			q:       q,
			v5:      cl.Properties.ProtocolVersion >= 5,
			maxSize: cl.Properties.Props.MaximumPacketSize,
		})
	}
	return p
}

// hasIdentifier reports whether a subscription carries a subscription
// identifier that MQTT 5 deliveries must repeat (mochi records 0 for
// none, and encodes only those above 0).
func hasIdentifier(ids map[string]int) bool {
	for _, id := range ids {
		if id > 0 {
			return true
		}
	}
	return false
}

// publish delivers a QoS 0, non-retained message from the flows. It
// reports false, having done nothing, when the topic has no plan.
func (f *fastOut) publish(topic string, payload []byte) bool {
	p := f.subs.plan(topic)
	if !p.ok {
		return false
	}
	info := f.srv.Info
	atomic.AddInt64(&info.PacketsReceived, 1)
	atomic.AddInt64(&info.MessagesReceived, 1)
	f.flows.deliver(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: topic, Payload: payload}, true)
	if len(p.targets) == 0 {
		return true
	}
	sc, _ := f.scratch.Get().(*fastScratch)
	if sc == nil {
		sc = new(fastScratch)
	}
	var v4, v5 []byte
	queued := false
	for _, t := range p.targets {
		if t.cl.Closed() || !f.acl.OnACLCheck(t.cl, topic, false) {
			continue
		}
		var pk []byte
		if t.v5 {
			if v5 == nil {
				v5 = appendPublish0(sc.v5[:0], topic, payload, true, f.expiry)
				sc.v5 = v5
			}
			pk = v5
		} else {
			if v4 == nil {
				v4 = appendPublish0(sc.v4[:0], topic, payload, false, 0)
				sc.v4 = v4
			}
			pk = v4
		}
		if t.maxSize > 0 && uint32(len(pk)) > t.maxSize {
			continue // as mochi: too large for this client
		}
		if !t.q.queue(pk) {
			atomic.AddInt64(&info.MessagesDropped, 1)
			continue
		}
		queued = true
		atomic.AddInt64(&info.BytesSent, int64(len(pk)))
		atomic.AddInt64(&info.PacketsSent, 1)
		atomic.AddInt64(&info.MessagesSent, 1)
	}
	if cap(sc.v4) <= keepScratch && cap(sc.v5) <= keepScratch {
		f.scratch.Put(sc)
	}
	if queued {
		f.b.done()
	}
	return true
}

// keepScratch is the largest encoding buffer kept for reuse.
const keepScratch = 64 << 10

// appendPublish0 appends a QoS 0 PUBLISH packet without the retain flag,
// as mochi encodes it for a subscriber: for MQTT 5 with the Message
// Expiry Interval property when expiry > 0 (mochi sets it from its
// maximum message expiry) and no other property.
func appendPublish0(dst []byte, topic string, payload []byte, v5 bool, expiry int64) []byte {
	rem := 2 + len(topic) + len(payload)
	props := 0
	if v5 {
		if expiry > 0 {
			props = 5
		}
		rem += 1 + props // the properties' length (< 128) and the properties
	}
	dst = append(dst, byte(packets.Publish<<4))
	for {
		c := byte(rem % 128)
		rem /= 128
		if rem > 0 {
			c |= 0x80
		}
		dst = append(dst, c)
		if rem == 0 {
			break
		}
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(topic)))
	dst = append(dst, topic...)
	if v5 {
		dst = append(dst, byte(props))
		if props > 0 {
			dst = append(dst, 0x02) // Message Expiry Interval
			dst = binary.BigEndian.AppendUint32(dst, uint32(min(expiry, int64(^uint32(0)))))
		}
	}
	return append(dst, payload...)
}
