package broker

import (
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// netSubs answers, cheaply, whether any network client subscribes to a
// topic. mochi finds a message's subscribers by walking its topic index
// and building maps for every publish, even when nobody but the flows
// listens (the usual case for sensor input: sensors publish, the flows
// consume). The answer per topic is cached and the cache is invalidated
// whenever a subscription can have changed, so that the flows hook can tell
// mochi to skip the walk (see flowSubs.OnPublish).
type netSubs struct {
	mqtt.HookBase
	topics  *mqtt.TopicsIndex
	gen     atomic.Uint64 // bumped on every change of subscriptions
	cache   sync.Map      // topic -> netSubsEntry
	entries atomic.Int64
}

type netSubsEntry struct {
	gen uint64
	has bool
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
func (n *netSubs) OnDisconnect(*mqtt.Client, error, bool)            { n.changed() }
func (n *netSubs) OnSessionEstablished(*mqtt.Client, packets.Packet) { n.changed() }
func (n *netSubs) OnClientExpired(*mqtt.Client)                      { n.changed() }

// has reports whether a network client (or a mochi inline subscription)
// may receive a message published to topic. It errs towards yes: a
// subscription made while the answer is being computed bumps the
// generation, so a stale "no" is never reused.
func (n *netSubs) has(topic string) bool {
	gen := n.gen.Load()
	if e, ok := n.cache.Load(topic); ok {
		if e := e.(netSubsEntry); e.gen == gen {
			return e.has
		}
	}
	s := n.topics.Subscribers(topic)
	has := len(s.Subscriptions) > 0 || len(s.Shared) > 0 || len(s.InlineSubscriptions) > 0
	if n.entries.Add(1) > maxNetSubsCache {
		n.cache.Clear()
		n.entries.Store(0)
	}
	n.cache.Store(topic, netSubsEntry{gen: gen, has: has})
	return has
}
