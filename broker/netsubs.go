package broker

import (
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// netSubs knows, cheaply, which network clients subscribe to a topic.
// mochi finds a message's subscribers by walking its topic index and
// building maps for every publish, even when nobody but the flows listens
// (the usual case for sensor input: sensors publish, the flows consume).
// The subscribers of each topic are looked up once (a fastPlan) and kept
// until a subscription can have changed, so that the flows hook can tell
// mochi to skip the walk (see flowSubs.OnPublish) and the flows' own
// messages can skip mochi's delivery (see fastOut).
type netSubs struct {
	mqtt.HookBase
	srv     *mqtt.Server
	gen     atomic.Uint64 // bumped on every change of subscriptions
	plans   sync.Map      // topic -> *fastPlan
	entries atomic.Int64
}

// maxNetSubsCache bounds the cached topics; the cache starts over when full.
const maxNetSubsCache = 16384

func (n *netSubs) ID() string { return "runnel-netsubs" }

func (n *netSubs) Provides(b byte) bool {
	switch b {
	case mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnDisconnect, mqtt.OnSessionEstablished, mqtt.OnClientExpired:
		return true
	}
	return false
}

func (n *netSubs) changed() { n.gen.Add(1) }

func (n *netSubs) OnSubscribed(*mqtt.Client, packets.Packet, []byte) { n.changed() }
func (n *netSubs) OnUnsubscribed(*mqtt.Client, packets.Packet)       { n.changed() }
func (n *netSubs) OnDisconnect(*mqtt.Client, error, bool)            { n.forget() }
func (n *netSubs) OnSessionEstablished(*mqtt.Client, packets.Packet) { n.changed() }
func (n *netSubs) OnClientExpired(*mqtt.Client)                      { n.forget() }

// forget drops every plan when a client goes: a plan holds its targets'
// clients and connections, with whatever they still had queued, and a
// plan that is no longer current would otherwise keep them until its
// topic is published to again. Plans are made again as topics are used,
// as after any change of subscriptions.
func (n *netSubs) forget() {
	n.changed()
	n.plans.Clear()
	n.entries.Store(0)
}

// has reports whether a network client (or a mochi inline subscription)
// may receive a message published to topic. It errs towards yes: a
// subscription made while the answer is being computed bumps the
// generation, so a stale "no" is never reused.
func (n *netSubs) has(topic string) bool {
	p := n.plan(topic)
	return !p.ok || len(p.targets) > 0
}

// plan returns how messages to topic are delivered, looking the
// subscribers up again if the subscriptions changed since.
func (n *netSubs) plan(topic string) *fastPlan {
	gen := n.gen.Load()
	if p, ok := n.plans.Load(topic); ok {
		if p := p.(*fastPlan); p.gen == gen {
			return p
		}
	}
	p := newPlan(n.srv, topic, gen)
	if n.entries.Add(1) > maxNetSubsCache {
		n.plans.Clear()
		n.entries.Store(0)
	}
	n.plans.Store(topic, p)
	if n.gen.Load() != gen {
		// Subscriptions changed while it was made: a client that went
		// meanwhile must not be kept by a plan stored after forget.
		n.plans.CompareAndDelete(topic, p)
	}
	return p
}
