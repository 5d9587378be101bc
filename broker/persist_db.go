package broker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/broker/topic"
	"github.com/runnel-io/runnel/flows/sqlitedb"
)

// persistComponent names the broker's schema in the schema_versions table
// that it shares with the other parts of Runnel in the same file.
const persistComponent = "broker"

// persistMigrations are the broker's schema changes in order;
// persistMigrations[i] brings the schema from version i to i+1. Append
// only. Messages are stored as columns (topic, payload, header: QoS in
// bits 0-1, retain bit 2, dup bit 3; MQTT 5 properties as JSON or NULL).
var persistMigrations = [][]string{
	{
		`CREATE TABLE broker_sessions (
			client_id    TEXT PRIMARY KEY,
			data         BLOB    NOT NULL, -- mochi's storage.Client as JSON
			disconnected INTEGER NOT NULL  -- unix seconds; 0: connected
		) WITHOUT ROWID`,
		`CREATE TABLE broker_subscriptions (
			client_id TEXT NOT NULL,
			filter    TEXT NOT NULL,
			data      BLOB NOT NULL, -- mochi's storage.Subscription as JSON
			PRIMARY KEY (client_id, filter)
		) WITHOUT ROWID`,
		`CREATE TABLE broker_inflight (
			seq       INTEGER PRIMARY KEY, -- insertion order: the order of delivery
			client_id TEXT    NOT NULL,
			packet_id INTEGER NOT NULL,
			topic     TEXT    NOT NULL,
			payload   BLOB    NOT NULL,
			header    INTEGER NOT NULL,
			origin    TEXT    NOT NULL,
			created   INTEGER NOT NULL,
			props     BLOB,
			UNIQUE (client_id, packet_id)
		)`,
		`CREATE TABLE broker_retained (
			topic   TEXT PRIMARY KEY,
			payload BLOB    NOT NULL,
			header  INTEGER NOT NULL,
			origin  TEXT    NOT NULL,
			created INTEGER NOT NULL,
			props   BLOB
		) WITHOUT ROWID`,
		`CREATE TABLE broker_journal (
			seq     INTEGER PRIMARY KEY,
			topic   TEXT    NOT NULL,
			payload BLOB    NOT NULL,
			header  INTEGER NOT NULL,
			origin  TEXT    NOT NULL,
			created INTEGER NOT NULL,
			props   BLOB
		)`,
	},
}

// pdb is the broker's connection to the database file.
type pdb struct {
	path  string
	db    *sql.DB // one connection
	stmts [numOps]*sql.Stmt
}

// openPDB opens (creating if needed) the SQLite file at path with its own
// connection: WAL (shared with every other connection to the file) and
// synchronous=NORMAL, under which a commit is in the WAL file, and so
// survives a kill of the process, when it returns; a power loss may lose
// the last commits.
func openPDB(path string) (*pdb, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{Synchronous: "NORMAL", BusyTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("persist: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	d := &pdb{path: path, db: db}
	if err := d.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	for k, q := range opSQL {
		if q == "" {
			continue
		}
		if d.stmts[k], err = db.Prepare(q); err != nil {
			db.Close()
			return nil, fmt.Errorf("persist: open %s: prepare %q: %w", path, q, err)
		}
	}
	return d, nil
}

func (d *pdb) close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("persist: close %s: %w", d.path, err)
	}
	return nil
}

func (d *pdb) migrate() (err error) {
	ctx := context.Background()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("persist: open %s: %w", d.path, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_versions (
		component TEXT PRIMARY KEY,
		version   INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("persist: open %s: create schema_versions: %w", d.path, err)
	}
	var version int
	err = tx.QueryRow(`SELECT version FROM schema_versions WHERE component = ?`, persistComponent).Scan(&version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("persist: open %s: read schema version: %w", d.path, err)
	}
	if version > len(persistMigrations) {
		return fmt.Errorf("persist: open %s: broker schema version %d is newer than this program knows (%d)", d.path, version, len(persistMigrations))
	}
	for i := version; i < len(persistMigrations); i++ {
		for _, stmt := range persistMigrations[i] {
			if _, err := tx.Exec(stmt); err != nil {
				return fmt.Errorf("persist: open %s: migrate broker schema to version %d: %w", d.path, i+1, err)
			}
		}
	}
	if _, err := tx.Exec(`INSERT INTO schema_versions (component, version) VALUES (?, ?)
		ON CONFLICT (component) DO UPDATE SET version = excluded.version`, persistComponent, len(persistMigrations)); err != nil {
		return fmt.Errorf("persist: open %s: write schema version: %w", d.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("persist: open %s: commit schema: %w", d.path, err)
	}
	return nil
}

func (d *pdb) maxJournalSeq() (int64, error) {
	var seq sql.NullInt64
	if err := d.db.QueryRow(`SELECT MAX(seq) FROM broker_journal`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("persist: read %s: %w", d.path, err)
	}
	return seq.Int64, nil
}

// opKind is a kind of write.
type opKind uint8

const (
	opSession opKind = iota
	opDeleteSession
	opSub
	opUnsub
	opInflight
	opUninflight
	opRetain
	opUnretain
	opJournal
	opUnjournal
	numOps
)

// opSQL is the statement of each kind of write; opDeleteSession is three.
var opSQL = [numOps]string{
	opSession: `INSERT INTO broker_sessions (client_id, data, disconnected) VALUES (?, ?, ?)
		ON CONFLICT (client_id) DO UPDATE SET data = excluded.data, disconnected = excluded.disconnected`,
	opSub: `INSERT INTO broker_subscriptions (client_id, filter, data) VALUES (?, ?, ?)
		ON CONFLICT (client_id, filter) DO UPDATE SET data = excluded.data`,
	opUnsub:      `DELETE FROM broker_subscriptions WHERE client_id = ? AND filter = ?`,
	opInflight:   `INSERT OR REPLACE INTO broker_inflight (client_id, packet_id, topic, payload, header, origin, created, props) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
	opUninflight: `DELETE FROM broker_inflight WHERE client_id = ? AND packet_id = ?`,
	opRetain: `INSERT INTO broker_retained (topic, payload, header, origin, created, props) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, header = excluded.header,
		origin = excluded.origin, created = excluded.created, props = excluded.props`,
	opUnretain:  `DELETE FROM broker_retained WHERE topic = ?`,
	opJournal:   `INSERT INTO broker_journal (seq, topic, payload, header, origin, created, props) VALUES (?, ?, ?, ?, ?, ?, ?)`,
	opUnjournal: `DELETE FROM broker_journal WHERE seq = ?`,
}

var deleteSessionSQL = []string{
	`DELETE FROM broker_sessions WHERE client_id = ?`,
	`DELETE FROM broker_subscriptions WHERE client_id = ?`,
	`DELETE FROM broker_inflight WHERE client_id = ?`,
}

// pop is one write. Its done channel, if any, receives the result of the
// commit that included it.
type pop struct {
	kind         opKind
	packetID     uint16
	client       string
	topic        string
	seq          int64
	disconnected int64
	pk           packets.Packet
	sess         storage.Client
	sub          storage.Subscription
	done         chan error
}

// header packs a message's QoS, retain and dup flags.
func header(fh packets.FixedHeader) int64 {
	h := int64(fh.Qos & 3)
	if fh.Retain {
		h |= 4
	}
	if fh.Dup {
		h |= 8
	}
	return h
}

func unheader(h int64) packets.FixedHeader {
	return packets.FixedHeader{Type: packets.Publish, Qos: byte(h & 3), Retain: h&4 != 0, Dup: h&8 != 0}
}

// propsJSON encodes the MQTT 5 properties that mochi's storage keeps, or
// returns nil when there are none.
func propsJSON(p *packets.Properties) ([]byte, error) {
	mp := storage.MessageProperties{
		PayloadFormat: p.PayloadFormat, PayloadFormatFlag: p.PayloadFormatFlag,
		MessageExpiryInterval: p.MessageExpiryInterval, ContentType: p.ContentType,
		ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData,
		SubscriptionIdentifier: p.SubscriptionIdentifier, User: p.User,
	}
	if mp.PayloadFormat == 0 && !mp.PayloadFormatFlag && mp.MessageExpiryInterval == 0 && mp.ContentType == "" &&
		mp.ResponseTopic == "" && len(mp.CorrelationData) == 0 && len(mp.SubscriptionIdentifier) == 0 && len(mp.User) == 0 {
		return nil, nil
	}
	return json.Marshal(mp)
}

// exec runs one write in tx; stmts caches tx's statements.
func (d *pdb) exec(tx *sql.Tx, stmts *[numOps]*sql.Stmt, op *pop) error {
	if op.kind == opDeleteSession {
		for _, q := range deleteSessionSQL {
			if _, err := tx.Exec(q, op.client); err != nil {
				return err
			}
		}
		return nil
	}
	st := stmts[op.kind]
	if st == nil {
		st = tx.Stmt(d.stmts[op.kind])
		stmts[op.kind] = st
	}
	var err error
	switch op.kind {
	case opSession:
		var data []byte
		if data, err = json.Marshal(op.sess); err == nil {
			_, err = st.Exec(op.client, data, op.disconnected)
		}
	case opSub:
		var data []byte
		if data, err = json.Marshal(op.sub); err == nil {
			_, err = st.Exec(op.client, op.sub.Filter, data)
		}
	case opUnsub:
		_, err = st.Exec(op.client, op.sub.Filter)
	case opInflight, opRetain, opJournal:
		pk := &op.pk
		var props []byte
		if props, err = propsJSON(&pk.Properties); err != nil {
			return err
		}
		payload := pk.Payload
		if payload == nil {
			payload = []byte{}
		}
		switch op.kind {
		case opInflight:
			_, err = st.Exec(op.client, op.packetID, pk.TopicName, payload, header(pk.FixedHeader), pk.Origin, pk.Created, props)
		case opRetain:
			_, err = st.Exec(op.topic, payload, header(pk.FixedHeader), pk.Origin, pk.Created, props)
		default:
			_, err = st.Exec(op.seq, pk.TopicName, payload, header(pk.FixedHeader), pk.Origin, pk.Created, props)
		}
	case opUninflight:
		_, err = st.Exec(op.client, op.packetID)
	case opUnretain:
		_, err = st.Exec(op.topic)
	case opUnjournal:
		_, err = st.Exec(op.seq)
	}
	return err
}

// inflightKey names a queued message.
type inflightKey struct {
	client string
	id     uint16
}

// coalesce marks the writes of a batch that need not run: a message queued
// and acknowledged within the batch (an online subscriber is usually that
// quick) is not inserted; the delete stays, for an older row of the same
// packet id that the insert would have replaced.
func coalesce(batch []pop, skip []bool, queued map[inflightKey]int) {
	clear(queued)
	for i := range batch {
		op := &batch[i]
		switch op.kind {
		case opInflight:
			queued[inflightKey{op.client, op.packetID}] = i
		case opUninflight:
			k := inflightKey{op.client, op.packetID}
			if j, ok := queued[k]; ok {
				skip[j] = true
				delete(queued, k)
			}
		case opDeleteSession:
			for k := range queued {
				if k.client == op.client {
					delete(queued, k)
				}
			}
		}
	}
}

// apply writes a batch in one transaction.
func (d *pdb) apply(batch []pop, skip []bool, log *slog.Logger) error {
	tx, err := d.db.Begin()
	if err != nil {
		return fmt.Errorf("persist: write %s: %w", d.path, err)
	}
	var stmts [numOps]*sql.Stmt
	for i := range batch {
		if skip[i] {
			continue
		}
		if err := d.exec(tx, &stmts, &batch[i]); err != nil {
			// One bad write must not lose the others.
			log.Error("persist: write", "file", d.path, "op", batch[i].kind, "client", batch[i].client, "error", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("persist: commit %s: %w", d.path, err)
	}
	return nil
}

// maxBatch bounds the writes in one transaction.
const maxBatch = 1024

// pwriter is the one goroutine that writes to the database. Callers queue
// writes; it commits whatever has queued up while the previous commit ran
// in one transaction (group commit), so that a burst of messages costs
// few commits.
type pwriter struct {
	db     *pdb
	log    *slog.Logger
	mu     sync.RWMutex // held for reading while sending, for writing to close ch
	closed bool
	ch     chan pop
	done   chan struct{}
}

var donePool = sync.Pool{New: func() any { return make(chan error, 1) }}

func startWriter(db *pdb, log *slog.Logger) *pwriter {
	w := &pwriter{db: db, log: log, ch: make(chan pop, maxBatch), done: make(chan struct{})}
	go w.run()
	return w
}

// send queues a write.
func (w *pwriter) send(op pop) {
	w.mu.RLock()
	if !w.closed {
		w.ch <- op
	}
	w.mu.RUnlock()
}

// do queues a write and waits for its commit.
func (w *pwriter) do(op pop) error {
	done := donePool.Get().(chan error)
	op.done = done
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		donePool.Put(done)
		return errors.New("persist: closed")
	}
	w.ch <- op
	w.mu.RUnlock()
	err := <-done
	donePool.Put(done)
	return err
}

// stop writes what is queued and ends the goroutine.
func (w *pwriter) stop() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *pwriter) run() {
	defer close(w.done)
	batch := make([]pop, 0, maxBatch)
	skip := make([]bool, maxBatch)
	queued := map[inflightKey]int{}
	for op := range w.ch {
		batch = append(batch[:0], op)
	drain:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-w.ch:
				if !ok {
					break drain
				}
				batch = append(batch, op)
			default:
				break drain
			}
		}
		clear(skip)
		coalesce(batch, skip, queued)
		err := w.db.apply(batch, skip[:len(batch)], w.log)
		if err != nil {
			w.log.Error("persist: lost a batch of writes", "writes", len(batch), "error", err)
		}
		for i := range batch {
			if batch[i].done != nil {
				batch[i].done <- err
			}
			batch[i] = pop{} // drop references to payloads
		}
	}
}

// storedMessage is a message row read back.
type storedMessage struct {
	seq     int64
	client  string
	id      uint16
	topic   string
	payload []byte
	header  int64
	origin  string
	created int64
	props   storage.MessageProperties
}

// expired reports whether a message has outlived its MQTT 5 message
// expiry interval or the broker's cap, and otherwise returns its
// remaining expiry interval (0: none).
func (m *storedMessage) expired(now, maxExpiry int64) (bool, uint32) {
	if maxExpiry > 0 && now-m.created > maxExpiry {
		return true, 0
	}
	if iv := int64(m.props.MessageExpiryInterval); iv > 0 {
		left := m.created + iv - now
		if left <= 0 {
			return true, 0
		}
		return false, uint32(left)
	}
	return false, 0
}

func (m *storedMessage) message(t string) storage.Message {
	return storage.Message{
		T: t, Client: m.client, PacketID: m.id, TopicName: m.topic, Payload: m.payload,
		FixedHeader: unheader(m.header), Origin: m.origin, Created: m.created, Properties: m.props,
	}
}

func scanMessages(rows *sql.Rows, withClient bool) ([]storedMessage, error) {
	defer rows.Close()
	var out []storedMessage
	for rows.Next() {
		var m storedMessage
		var props []byte
		var id int64
		var err error
		if withClient {
			err = rows.Scan(&m.seq, &m.client, &id, &m.topic, &m.payload, &m.header, &m.origin, &m.created, &props)
		} else {
			err = rows.Scan(&m.seq, &m.topic, &m.payload, &m.header, &m.origin, &m.created, &props)
		}
		if err != nil {
			return nil, err
		}
		m.id = uint16(id)
		if len(props) > 0 {
			if err := json.Unmarshal(props, &m.props); err != nil {
				return nil, fmt.Errorf("message %d: properties: %w", m.seq, err)
			}
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// recover reads the stored state in one transaction: it deletes expired
// sessions, retained and queued messages, turns journal entries into
// queued messages of the sessions they were for, and returns what is left.
func (d *pdb) recover(now, maxExpiry int64) (*recovered, error) {
	tx, err := d.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rec := &recovered{}

	// Sessions.
	alive := map[string]*storage.Client{}
	var dead []string
	rows, err := tx.Query(`SELECT client_id, data, disconnected FROM broker_sessions ORDER BY client_id`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var data []byte
		var disc int64
		if err := rows.Scan(&id, &data, &disc); err != nil {
			rows.Close()
			return nil, err
		}
		var c storage.Client
		if err := json.Unmarshal(data, &c); err != nil {
			rows.Close()
			return nil, fmt.Errorf("session %q: %w", id, err)
		}
		keep := !c.Clean
		if c.ProtocolVersion == 5 {
			iv := int64(c.Properties.SessionExpiryInterval)
			keep = iv > 0 && (disc == 0 || disc+iv >= now)
		}
		if !keep {
			dead = append(dead, id)
			continue
		}
		rec.clients = append(rec.clients, c)
		alive[id] = &rec.clients[len(rec.clients)-1]
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range dead {
		for _, q := range deleteSessionSQL {
			if _, err := tx.Exec(q, id); err != nil {
				return nil, err
			}
		}
	}
	if _, err := tx.Exec(`DELETE FROM broker_subscriptions WHERE client_id NOT IN (SELECT client_id FROM broker_sessions)`); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`DELETE FROM broker_inflight WHERE client_id NOT IN (SELECT client_id FROM broker_sessions)`); err != nil {
		return nil, err
	}

	// Subscriptions.
	rows, err = tx.Query(`SELECT client_id, filter, data FROM broker_subscriptions ORDER BY client_id, filter`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, filter string
		var data []byte
		if err := rows.Scan(&id, &filter, &data); err != nil {
			rows.Close()
			return nil, err
		}
		var s storage.Subscription
		if err := json.Unmarshal(data, &s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("subscription %q of %q: %w", filter, id, err)
		}
		s.Client, s.Filter = id, filter
		rec.subs = append(rec.subs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Retained messages.
	rows, err = tx.Query(`SELECT 0, topic, payload, header, origin, created, props FROM broker_retained ORDER BY topic`)
	if err != nil {
		return nil, err
	}
	ret, err := scanMessages(rows, false)
	if err != nil {
		return nil, err
	}
	for i := range ret {
		m := &ret[i]
		gone, left := m.expired(now, maxExpiry)
		if gone {
			if _, err := tx.Exec(`DELETE FROM broker_retained WHERE topic = ?`, m.topic); err != nil {
				return nil, err
			}
			continue
		}
		if left > 0 {
			m.props.MessageExpiryInterval = left
		}
		msg := m.message(storage.RetainedKey)
		msg.ID = storage.RetainedKey + "_" + m.topic
		rec.retained = append(rec.retained, msg)
	}

	// Queued messages, in the order they were queued.
	rows, err = tx.Query(`SELECT seq, client_id, packet_id, topic, payload, header, origin, created, props FROM broker_inflight ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	queued, err := scanMessages(rows, true)
	if err != nil {
		return nil, err
	}
	perClient := map[string][]storedMessage{}
	used := map[string]map[uint16]bool{}
	for _, m := range queued {
		if gone, left := m.expired(now, maxExpiry); gone {
			if _, err := tx.Exec(`DELETE FROM broker_inflight WHERE seq = ?`, m.seq); err != nil {
				return nil, err
			}
			continue
		} else if left > 0 {
			m.props.MessageExpiryInterval = left
		}
		perClient[m.client] = append(perClient[m.client], m)
		if used[m.client] == nil {
			used[m.client] = map[uint16]bool{}
		}
		used[m.client][m.id] = true
	}

	// Journal entries: messages acknowledged to their publisher whose
	// delivery to the persistent sessions may not have been stored.
	rows, err = tx.Query(`SELECT seq, topic, payload, header, origin, created, props FROM broker_journal ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	journal, err := scanMessages(rows, false)
	if err != nil {
		return nil, err
	}
	for _, j := range journal {
		gone, left := j.expired(now, maxExpiry)
		if gone {
			continue
		}
		if left > 0 {
			j.props.MessageExpiryInterval = left
		}
		for _, t := range route(&j, rec.subs, alive) {
			ids := used[t.client]
			if ids == nil {
				ids = map[uint16]bool{}
				used[t.client] = ids
			}
			id, ok := freePacketID(ids)
			if !ok {
				continue // 65535 messages queued: mochi could not hold more either
			}
			ids[id] = true
			m := j
			m.client, m.id = t.client, id
			m.header = int64(t.qos)
			if t.retain {
				m.header |= 4
			}
			m.props.SubscriptionIdentifier = t.ids
			props, err := propsJSON(&packets.Properties{
				PayloadFormat: m.props.PayloadFormat, PayloadFormatFlag: m.props.PayloadFormatFlag,
				MessageExpiryInterval: j.props.MessageExpiryInterval, ContentType: m.props.ContentType,
				ResponseTopic: m.props.ResponseTopic, CorrelationData: m.props.CorrelationData,
				SubscriptionIdentifier: m.props.SubscriptionIdentifier, User: m.props.User,
			})
			if err != nil {
				return nil, err
			}
			if _, err := tx.Exec(opSQL[opInflight], m.client, m.id, m.topic, m.payload, m.header, m.origin, m.created, props); err != nil {
				return nil, err
			}
			perClient[t.client] = append(perClient[t.client], m)
		}
	}
	if _, err := tx.Exec(`DELETE FROM broker_journal`); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}

	// mochi resends a session's queue sorted by the low 16 bits of each
	// message's Created (unix seconds), so messages of the same second
	// would go out in random order. Restored messages get consecutive
	// Created values in their stored order, ending a second before now
	// (so that messages queued after recovery sort after them), so that
	// they go out in the order they came in.
	clients := make([]string, 0, len(perClient))
	for c := range perClient {
		clients = append(clients, c)
	}
	sort.Strings(clients)
	for _, c := range clients {
		ms := perClient[c]
		base := createdRun(now, int64(len(ms)))
		for i := range ms {
			msg := ms[i].message(storage.InflightKey)
			msg.ID = storage.InflightKey + "_" + c + ":" + fmt.Sprint(ms[i].id)
			msg.Created = base + int64(i)
			rec.inflight = append(rec.inflight, msg)
		}
	}
	return rec, nil
}

// createdRun returns the first of n consecutive Created values (unix
// seconds) that end before now and sort in the same order by their low 16
// bits, as mochi sorts a queue to resend it.
func createdRun(now, n int64) int64 {
	base := now - n
	if base&0xffff+n-1 > 0xffff {
		base += 0x10000 - base&0xffff // keep the run inside one 16-bit window
	}
	return base
}

// target is a session a journalled message is routed to.
type target struct {
	client string
	qos    byte
	retain bool
	ids    []int
}

// route finds the persistent sessions that subscribe to a message, as
// mochi would: the highest QoS of a session's matching subscriptions
// (capped by the message's), no local delivery where asked, one member
// (the first by client id) of each shared subscription group.
func route(m *storedMessage, subs []storage.Subscription, alive map[string]*storage.Client) []target {
	qos := byte(m.header & 3)
	byClient := map[string]*target{}
	shared := map[string][]storage.Subscription{}
	add := func(s storage.Subscription) {
		q := min(qos, s.Qos)
		t := byClient[s.Client]
		if t == nil {
			t = &target{client: s.Client}
			byClient[s.Client] = t
		}
		t.qos = max(t.qos, q)
		if s.RetainAsPublished && m.header&4 != 0 {
			t.retain = true
		}
		if s.Identifier > 0 {
			t.ids = append(t.ids, s.Identifier)
		}
	}
	for _, s := range subs {
		c := alive[s.Client]
		if c == nil || !topic.Match(topic.Levels(s.Filter), m.topic) || (s.NoLocal && s.Client == m.origin) {
			continue
		}
		if strings.HasPrefix(s.Filter, "$share/") {
			shared[s.Filter] = append(shared[s.Filter], s)
			continue
		}
		add(s)
	}
	for _, members := range shared {
		first := members[0]
		for _, s := range members[1:] {
			if s.Client < first.Client {
				first = s
			}
		}
		add(first)
	}
	out := make([]target, 0, len(byClient))
	for _, t := range byClient {
		if t.qos > 0 {
			sort.Ints(t.ids)
			out = append(out, *t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].client < out[j].client })
	return out
}

// freePacketID returns a packet id that used does not hold.
func freePacketID(used map[uint16]bool) (uint16, bool) {
	for id := 1; id <= 0xffff; id++ {
		if !used[uint16(id)] {
			return uint16(id), true
		}
	}
	return 0, false
}
