package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/broker/topic"
)

// persistHook is a mochi storage hook that keeps retained messages and
// persistent sessions (MQTT 3 clean session false, MQTT 5 session expiry
// above 0) with their subscriptions and undelivered QoS 1 and 2 messages in
// SQLite, so that they survive a restart, also after SIGKILL.
//
// Only what outlives a connection is written: a clean session (MQTT 3
// clean session true, MQTT 5 session expiry 0) ends when its connection
// does, so nothing of it is stored. Writes go through one writer goroutine
// that commits whatever has queued up in one transaction (see pwriter).
//
// mochi acknowledges a QoS 1 or 2 PUBLISH (PUBACK, PUBREC) before it hands
// the message to its subscribers and calls OnQosPublish for them, so an
// inflight row alone would leave a window in which a kill loses an
// acknowledged message. When a persistent subscription matches, OnPublish
// therefore journals the message and waits for that commit before mochi
// sends the acknowledgement; OnPublished drops the journal entry once the
// subscribers' inflight rows are queued behind it. Recovery routes the
// entries left in the journal to the stored sessions whose subscriptions
// match. A message that was being delivered at the moment of a kill may so
// be delivered twice (as QoS 1 allows), never lost.
type persistHook struct {
	mqtt.HookBase
	db  *pdb
	w   *pwriter
	srv *mqtt.Server // for its capabilities
	log *slog.Logger

	mu       sync.RWMutex
	sessions map[string]*psession // persistent sessions by client id

	subsMu sync.Mutex             // serialises writers of subs
	subs   atomic.Pointer[[]psub] // persistent subscriptions, copy on write
	gen    atomic.Uint64          // bumped when subs change
	cache  sync.Map               // topic -> pcacheEntry
	cacheN atomic.Int64           // entries in cache

	jseq  atomic.Int64           // last journal sequence number
	pubMu sync.Mutex             // guards pend
	npend atomic.Int64           // len(pend), read without the lock
	pend  map[*mqtt.Client]int64 // journal entry of a publish between OnPublish and OnPublished

	recMu  sync.Mutex // guards rec and recErr
	rec    *recovered // what recovery found, for the Stored* calls
	recErr error

	now    func() time.Time // the clock
	stopMu sync.Mutex
	closed atomic.Bool
}

// psession is what the hook tracks of a persistent session.
type psession struct {
	mu     sync.Mutex
	stored map[uint16]struct{} // packet ids with an inflight row
}

// psub is a persistent subscription, for the journal check.
type psub struct {
	client string
	filter string
	levels []string // of the filter without a $share/group/ prefix
	qos    byte
}

type pcacheEntry struct {
	gen    uint64
	wanted bool
}

// newPersistHook opens the database at path and starts the writer.
func newPersistHook(path string, srv *mqtt.Server, log *slog.Logger) (*persistHook, error) {
	db, err := openPDB(path)
	if err != nil {
		return nil, err
	}
	h := &persistHook{
		db:       db,
		srv:      srv,
		log:      log,
		sessions: map[string]*psession{},
		pend:     map[*mqtt.Client]int64{},
		now:      time.Now,
	}
	seq, err := db.maxJournalSeq()
	if err != nil {
		db.close()
		return nil, err
	}
	h.jseq.Store(seq)
	h.w = startWriter(db, log)
	return h, nil
}

func (h *persistHook) ID() string { return "runnel-persist" }

func (h *persistHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnWillSent,
		mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnPublish, mqtt.OnPublished,
		mqtt.OnRetainMessage, mqtt.OnRetainedExpired, mqtt.OnQosPublish, mqtt.OnQosComplete,
		mqtt.OnQosDropped, mqtt.OnClientExpired, mqtt.OnPacketRead,
		mqtt.StoredClients, mqtt.StoredSubscriptions, mqtt.StoredInflightMessages,
		mqtt.StoredRetainedMessages, mqtt.StoredSysInfo:
		return true
	}
	return false
}

// Stop writes what is queued and closes the database. mochi calls it
// after every client has gone.
func (h *persistHook) Stop() error {
	h.stopMu.Lock()
	defer h.stopMu.Unlock()
	if !h.closed.CompareAndSwap(false, true) {
		return nil
	}
	h.w.stop()
	return h.db.close()
}

// persistent reports whether a client's session outlives its connection,
// by mochi's rule in attachClient.
func persistent(cl *mqtt.Client) bool {
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

func (h *persistHook) session(id string) *psession {
	h.mu.RLock()
	s := h.sessions[id]
	h.mu.RUnlock()
	return s
}

// OnSessionEstablish runs before mochi takes over an existing session of
// the same client id. A clean start or a session that ends with its
// connection drops what was stored.
func (h *persistHook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	keep := persistent(cl)
	h.mu.Lock()
	old := h.sessions[cl.ID]
	switch {
	case !keep:
		delete(h.sessions, cl.ID)
	case old == nil || cl.Properties.Clean:
		h.sessions[cl.ID] = &psession{stored: map[uint16]struct{}{}}
	}
	h.mu.Unlock()
	if old != nil && (!keep || cl.Properties.Clean) {
		h.dropSubs(cl.ID)
		h.w.send(pop{kind: opDeleteSession, client: cl.ID})
	}
}

// OnSessionEstablished stores a persistent session once the CONNACK
// (which caps the session expiry) has gone out.
func (h *persistHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if h.session(cl.ID) != nil {
		h.w.send(pop{kind: opSession, client: cl.ID, sess: clientRecord(cl)})
	}
}

// OnWillSent stores the session without its will.
func (h *persistHook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if h.session(cl.ID) != nil && !cl.IsTakenOver() {
		h.w.send(pop{kind: opSession, client: cl.ID, sess: clientRecord(cl), disconnected: cl.StopTime()})
	}
}

// OnDisconnect drops a session that ends with its connection and records
// when a persistent one went offline, from which its expiry counts.
func (h *persistHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.abandon(cl)
	if cl.Net.Conn == nil && !cl.Net.Inline {
		// mochi calls OnDisconnect for every client it restores from
		// the store; recovery already dropped the ones that expire.
		return
	}
	if cl.IsTakenOver() || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) {
		return // the new connection owns the session now
	}
	if expire {
		h.forget(cl.ID)
		return
	}
	if h.session(cl.ID) != nil {
		h.w.send(pop{kind: opSession, client: cl.ID, sess: clientRecord(cl), disconnected: h.now().Unix()})
	}
}

// OnClientExpired drops a session whose expiry interval has passed.
func (h *persistHook) OnClientExpired(cl *mqtt.Client) { h.forget(cl.ID) }

// forget drops a session from memory and from the database.
func (h *persistHook) forget(id string) {
	h.mu.Lock()
	_, ok := h.sessions[id]
	delete(h.sessions, id)
	h.mu.Unlock()
	if ok {
		h.dropSubs(id)
		h.w.send(pop{kind: opDeleteSession, client: id})
	}
}

// OnSubscribed stores the granted subscriptions of a persistent session.
func (h *persistHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if h.session(cl.ID) == nil {
		return
	}
	for i, f := range pk.Filters {
		if i >= len(codes) || codes[i] >= packets.ErrUnspecifiedError.Code {
			continue
		}
		sub := storage.Subscription{
			ID: cl.ID + ":" + f.Filter, T: storage.SubscriptionKey, Client: cl.ID, Filter: f.Filter,
			Identifier: f.Identifier, RetainHandling: f.RetainHandling, Qos: codes[i],
			RetainAsPublished: f.RetainAsPublished, NoLocal: f.NoLocal,
		}
		h.addSub(sub)
		h.w.send(pop{kind: opSub, client: cl.ID, sub: sub})
	}
}

// OnUnsubscribed drops subscriptions of a persistent session. mochi also
// calls it when a session ends; a session taken over keeps them.
func (h *persistHook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if cl.IsTakenOver() || h.session(cl.ID) == nil {
		return
	}
	for _, f := range pk.Filters {
		h.removeSub(cl.ID, f.Filter)
		h.w.send(pop{kind: opUnsub, client: cl.ID, sub: storage.Subscription{Filter: f.Filter}})
	}
}

// OnRetainMessage stores or deletes the retained message of a topic.
// $SYS topics are not stored: the broker republishes them every second
// (the mosquitto aliases go through this hook; mochi's own do not), so
// storing them would write to the disk every second for values that are
// stale after a restart.
func (h *persistHook) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	if strings.HasPrefix(pk.TopicName, "$SYS/") {
		return
	}
	if len(pk.Payload) == 0 {
		if r == -1 {
			h.w.send(pop{kind: opUnretain, topic: pk.TopicName})
		}
		return
	}
	h.w.send(pop{kind: opRetain, topic: pk.TopicName, pk: pk})
}

// OnRetainedExpired deletes an expired retained message.
func (h *persistHook) OnRetainedExpired(topic string) {
	h.w.send(pop{kind: opUnretain, topic: topic})
}

// OnPublish journals a QoS 1 or 2 message from a network client that a
// persistent subscription matches, and waits for the commit: mochi sends
// the PUBACK or PUBREC when this returns.
func (h *persistHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Qos == 0 || cl.Net.Inline || pk.Ignore || !h.wanted(pk.TopicName) {
		return pk, nil
	}
	seq := h.jseq.Add(1)
	if err := h.w.do(pop{kind: opJournal, seq: seq, pk: pk}); err != nil {
		h.log.Error("persist: journal a message; refusing it", "client", cl.ID, "topic", pk.TopicName, "error", err)
		return pk, packets.ErrUnspecifiedError
	}
	h.pubMu.Lock()
	if old, ok := h.pend[cl]; ok {
		// The previous publish never reached OnPublished (its
		// acknowledgement could not be written): mochi did not deliver it.
		h.w.send(pop{kind: opUnjournal, seq: old})
	} else {
		h.npend.Add(1)
	}
	h.pend[cl] = seq
	h.pubMu.Unlock()
	return pk, nil
}

// OnPublished drops the journal entry of a message whose subscribers'
// inflight rows are now queued.
func (h *persistHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if h.npend.Load() == 0 {
		return
	}
	h.abandon(cl)
}

// abandon drops the journal entry of cl's publish in progress, if any.
func (h *persistHook) abandon(cl *mqtt.Client) {
	if h.npend.Load() == 0 {
		return
	}
	h.pubMu.Lock()
	seq, ok := h.pend[cl]
	if ok {
		delete(h.pend, cl)
		h.npend.Add(-1)
	}
	h.pubMu.Unlock()
	if ok {
		h.w.send(pop{kind: opUnjournal, seq: seq})
	}
}

// OnQosPublish stores a message sent or queued to a persistent session.
// Acknowledgements of inbound messages (PUBACK, PUBREC) are not stored: a
// PUBACK is deleted as soon as it is written, and the message behind a
// PUBREC has already been delivered. Resends (DUP set; mochi clears DUP on
// every new delivery) are already stored.
func (h *persistHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Dup {
		return
	}
	s := h.session(cl.ID)
	if s == nil {
		return
	}
	// Queued under the session's lock, so that the writes of one packet
	// id reach the writer in the order of the stored set's changes.
	s.mu.Lock()
	s.stored[pk.PacketID] = struct{}{}
	h.w.send(pop{kind: opInflight, client: cl.ID, packetID: pk.PacketID, pk: pk})
	s.mu.Unlock()
}

// OnQosComplete deletes a stored message that its receiver acknowledged.
func (h *persistHook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) { h.unstore(cl, pk.PacketID) }

// OnQosDropped deletes a stored message that mochi dropped.
func (h *persistHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) { h.unstore(cl, pk.PacketID) }

// OnPacketRead catches acknowledgements that mochi does not report: a
// message held back while the client's receive maximum was reached is
// dropped from mochi's inflight map as soon as it is written, so its
// PUBACK or PUBCOMP finds nothing there and OnQosComplete is not called.
func (h *persistHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if t := pk.FixedHeader.Type; t != packets.Puback && t != packets.Pubcomp {
		return pk, nil
	}
	if _, ok := cl.State.Inflight.Get(pk.PacketID); !ok {
		h.unstore(cl, pk.PacketID)
	}
	return pk, nil
}

func (h *persistHook) unstore(cl *mqtt.Client, id uint16) {
	if cl.IsTakenOver() {
		return // mochi clears the old connection's copy of a session it moved
	}
	s := h.session(cl.ID)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.stored[id]; !ok {
		return
	}
	// mochi frees the packet id before it calls this hook: if a new
	// message took the id meanwhile, its row replaces this one's, and the
	// id's row must stay.
	if _, reused := cl.State.Inflight.Get(id); reused {
		return
	}
	delete(s.stored, id)
	h.w.send(pop{kind: opUninflight, client: cl.ID, packetID: id})
}

// wanted reports whether a persistent subscription with QoS above 0 may
// match the topic name. The answer per topic is cached until subscriptions change.
func (h *persistHook) wanted(name string) bool {
	subs := h.subs.Load()
	if subs == nil || len(*subs) == 0 {
		return false
	}
	gen := h.gen.Load()
	if e, ok := h.cache.Load(name); ok {
		if e := e.(pcacheEntry); e.gen == gen {
			return e.wanted
		}
	}
	w := false
	for i := range *subs {
		s := &(*subs)[i]
		if s.qos > 0 && topic.Match(s.levels, name) {
			w = true
			break
		}
	}
	if h.cacheN.Add(1) > maxNetSubsCache {
		h.cache.Clear()
		h.cacheN.Store(0)
	}
	h.cache.Store(name, pcacheEntry{gen: gen, wanted: w})
	return w
}

// FilterLevels splits a filter for MatchTopic, without the $share/group/
// prefix of a shared subscription. It is topic.Levels, kept for callers
// that have not moved to package topic.
func FilterLevels(filter string) []string { return topic.Levels(filter) }

func (h *persistHook) addSub(sub storage.Subscription) {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	var next []psub
	if cur := h.subs.Load(); cur != nil {
		for _, s := range *cur {
			if s.client != sub.Client || s.filter != sub.Filter {
				next = append(next, s)
			}
		}
	}
	next = append(next, psub{client: sub.Client, filter: sub.Filter, levels: topic.Levels(sub.Filter), qos: sub.Qos})
	h.subs.Store(&next)
	h.gen.Add(1)
}

func (h *persistHook) removeSub(client, filter string) {
	h.editSubs(func(s psub) bool { return s.client == client && s.filter == filter })
}

func (h *persistHook) dropSubs(client string) {
	h.editSubs(func(s psub) bool { return s.client == client })
}

func (h *persistHook) editSubs(drop func(psub) bool) {
	h.subsMu.Lock()
	defer h.subsMu.Unlock()
	cur := h.subs.Load()
	if cur == nil {
		return
	}
	next := make([]psub, 0, len(*cur))
	for _, s := range *cur {
		if !drop(s) {
			next = append(next, s)
		}
	}
	if len(next) != len(*cur) {
		h.subs.Store(&next)
		h.gen.Add(1)
	}
}

// clientRecord is the stored form of a client's session, as mochi's
// storage hooks keep it.
func clientRecord(cl *mqtt.Client) storage.Client {
	props := cl.Properties.Props.Copy(false)
	return storage.Client{
		ID: cl.ID, T: storage.ClientKey, Remote: cl.Net.Remote, Listener: cl.Net.Listener,
		Username: cl.Properties.Username, Clean: cl.Properties.Clean,
		ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval:     props.SessionExpiryInterval,
			SessionExpiryIntervalFlag: props.SessionExpiryIntervalFlag,
			AuthenticationMethod:      props.AuthenticationMethod,
			AuthenticationData:        props.AuthenticationData,
			RequestProblemInfo:        props.RequestProblemInfo,
			RequestProblemInfoFlag:    props.RequestProblemInfoFlag,
			RequestResponseInfo:       props.RequestResponseInfo,
			ReceiveMaximum:            props.ReceiveMaximum,
			TopicAliasMaximum:         props.TopicAliasMaximum,
			User:                      props.User,
			MaximumPacketSize:         props.MaximumPacketSize,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	}
}

// recovered is what recovery read from the database.
type recovered struct {
	clients  []storage.Client
	subs     []storage.Subscription
	inflight []storage.Message
	retained []storage.Message
}

// recover reads the database once, dropping what has expired and routing
// journalled messages to the sessions they were for.
func (h *persistHook) recover() (*recovered, error) {
	h.recMu.Lock()
	defer h.recMu.Unlock()
	if h.rec != nil || h.recErr != nil {
		return h.rec, h.recErr
	}
	rec, err := h.db.recover(h.now().Unix(), h.srv.Options.Capabilities.MaximumMessageExpiryInterval)
	if err != nil {
		h.recErr = fmt.Errorf("persist: read %s: %w", h.db.path, err)
		return nil, h.recErr
	}
	h.mu.Lock()
	for _, c := range rec.clients {
		h.sessions[c.ID] = &psession{stored: map[uint16]struct{}{}}
	}
	for _, m := range rec.inflight {
		h.sessions[m.Client].stored[m.PacketID] = struct{}{}
	}
	h.mu.Unlock()
	for _, s := range rec.subs {
		h.addSub(s)
	}
	h.rec = rec
	h.log.Info("restored broker state", "sessions", len(rec.clients), "subscriptions", len(rec.subs),
		"queued", len(rec.inflight), "retained", len(rec.retained))
	return rec, nil
}

// StoredClients returns the persistent sessions.
func (h *persistHook) StoredClients() ([]storage.Client, error) {
	r, err := h.recover()
	if err != nil {
		return nil, err
	}
	return r.clients, nil
}

// StoredSubscriptions returns the persistent sessions' subscriptions.
func (h *persistHook) StoredSubscriptions() ([]storage.Subscription, error) {
	r, err := h.recover()
	if err != nil {
		return nil, err
	}
	return r.subs, nil
}

// StoredInflightMessages returns the messages queued for the persistent
// sessions.
func (h *persistHook) StoredInflightMessages() ([]storage.Message, error) {
	r, err := h.recover()
	if err != nil {
		return nil, err
	}
	return r.inflight, nil
}

// StoredRetainedMessages returns the retained messages.
func (h *persistHook) StoredRetainedMessages() ([]storage.Message, error) {
	r, err := h.recover()
	if err != nil {
		return nil, err
	}
	return r.retained, nil
}

// StoredSysInfo returns the gauges mochi restores with the store: the
// counts of what was restored, so that they do not start at 0 (and go
// negative as restored messages are acknowledged).
func (h *persistHook) StoredSysInfo() (storage.SystemInfo, error) {
	r, err := h.recover()
	if err != nil {
		return storage.SystemInfo{}, err
	}
	var v storage.SystemInfo
	v.ID, v.T = storage.SysInfoKey, storage.SysInfoKey
	v.Retained = int64(len(r.retained))
	v.Inflight = int64(len(r.inflight))
	v.Subscriptions = int64(len(r.subs))
	return v, nil
}
