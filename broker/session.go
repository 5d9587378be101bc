package broker

import (
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// A session belongs to the user who created it. MQTT identifies a session
// by client id alone, so a client that connects with the id of another
// user's session would take it over: its subscriptions, and its queued
// messages, which mochi resends without asking the ACL. The auth hook
// stops that in two places:
//
//   - OnSessionEstablish, before mochi hands an existing session to a new
//     connection: if the usernames differ (anonymous counts as a name of
//     its own), the old session is emptied (its subscriptions dropped, its
//     queue discarded) and the new connection is told it has no session
//     (CONNACK session present 0), as if it had asked for a clean start.
//     The connection using the session before is disconnected, as for any
//     take-over.
//   - checkQueued, as the CONNACK is written, after mochi has copied the
//     session's queue to the new connection and before it resends it: every
//     queued message the client may not read under the ACL as it stands
//     (the rules may have changed since the message was queued, across a
//     restart with a persistent session) is dropped and logged.

// OnSessionEstablish gives a connection that takes over another user's
// session a fresh one. It runs after authentication, before mochi takes
// over an existing session with the same client id.
func (h *authHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if h.srv == nil || pk.Connect.Clean {
		return // mochi starts the session afresh
	}
	old, ok := h.srv.Clients.Get(cl.ID)
	if !ok || old == cl || username(old) == username(cl) {
		return
	}
	if old.Properties.ProtocolVersion < 5 && old.Properties.Clean {
		return // a session that ends with its connection: mochi does not hand it over
	}
	h.srv.UnsubscribeClient(old)
	old.ClearInflights()
	if g, ok := cl.Net.Conn.(*guardConn); ok {
		g.fresh.Store(true)
	}
	h.warn("mqtt client id in use by another user: its session was discarded, and the new connection starts a fresh one", cl,
		slog.String("previous_user", username(old)))
}

// checkQueued drops the messages queued for a client that it may not read
// under the ACL. The guard calls it as it writes the client's CONNACK,
// before mochi resends the queue.
func (h *authHook) checkQueued(cl *mqtt.Client) {
	if cl.State.Inflight.Len() == 0 {
		return
	}
	orderQueued(cl, time.Now().Unix())
	if h.acl == nil {
		return
	}
	user := username(cl)
	queued := cl.State.Inflight.GetAll(false)
	// A message sent to an MQTT 5 client that takes topic aliases carries
	// only the alias once its topic has one, and is queued so, without its
	// topic; the message that mapped the alias, if still queued, gives it.
	// Resolved, the message goes out with its topic and without the alias,
	// which this connection has not been given.
	aliases := map[uint16]string{}
	for _, m := range queued {
		if m.FixedHeader.Type == packets.Publish && m.TopicName != "" && m.Properties.TopicAlias > 0 {
			aliases[m.Properties.TopicAlias] = m.TopicName
		}
	}
	for _, m := range queued {
		if m.FixedHeader.Type != packets.Publish {
			continue // PUBREC and PUBREL states
		}
		if m.TopicName == "" && m.Properties.TopicAlias > 0 {
			if t, ok := aliases[m.Properties.TopicAlias]; ok {
				m.TopicName = t
				m.Properties.TopicAlias, m.Properties.TopicAliasFlag = 0, false
				cl.State.Inflight.Set(m)
			}
		}
		// A message whose topic is still unknown cannot be checked by
		// topic, and is kept rather than taken for one the ACL denies:
		// the session is this user's (OnSessionEstablish empties another
		// user's), and the message was checked against the ACL when it
		// was delivered to the session.
		if m.TopicName == "" || h.acl.allowed(user, cl.ID, m.TopicName, false) {
			continue // messages it may read
		}
		if !cl.State.Inflight.Delete(m.PacketID) {
			continue
		}
		cl.State.Inflight.IncreaseSendQuota()
		if h.srv != nil {
			atomic.AddInt64(&h.srv.Info.Inflight, -1)
		}
		if h.dropped != nil {
			h.dropped(cl, m)
		}
		h.warn("mqtt queued message dropped: the ACL does not allow the client to read it", cl,
			slog.String("topic", m.TopicName))
	}
}

// orderQueued gives cl's queued messages consecutive Created values in the
// order they were queued (by Created, then packet id), before mochi resends
// them: it sorts the queue by the low 16 bits of Created (unix seconds)
// with an unstable sort, so messages queued in the same second went out in
// random order, where MQTT wants them resent in their original order.
func orderQueued(cl *mqtt.Client, now int64) {
	queued := cl.State.Inflight.GetAll(false)
	if len(queued) < 2 {
		return
	}
	sort.SliceStable(queued, func(i, j int) bool {
		if queued[i].Created != queued[j].Created {
			return queued[i].Created < queued[j].Created
		}
		return queued[i].PacketID < queued[j].PacketID
	})
	base := createdRun(now, int64(len(queued)))
	for i := range queued {
		queued[i].Created = base + int64(i)
		cl.State.Inflight.Set(queued[i])
	}
}
