package editor

// The live channel's events: the intake the runtime's goroutines write
// into, and the frames (deploys, statuses, debug output, errors) the hub's
// Run goroutine makes of them at each flush.

import (
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/editor/debugvalue"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// intake holds the newest events of one flush window, at most limit of
// them, in a ring: when it is full a new event replaces the oldest, which
// is only counted as dropped. So a burst shows its last messages, as
// Node-RED's debug sidebar keeps the last ones, and the count says how many
// earlier ones were dropped. add is cheap and never waits long: a short
// critical section that stores one event. Reading the clock can cost more
// than that (hundreds of nanoseconds where it is a system call), so an
// event that arrives while the window is full (a flood) is not stamped by
// add but by the take that sends it: its time is at most one flush
// interval late.
type intake[T any] struct {
	limit   int32
	full    atomic.Bool // len(buf) == limit, readable without mu
	dropped uint64      // since the last take; under mu
	mu      sync.Mutex
	buf     []stamped[T]
	head    int // when len(buf) == limit: the index of the oldest event
}

// stamped is an event with the time it was taken, in Unix milliseconds
// (0: not yet stamped).
type stamped[T any] struct {
	ev T
	ts int64
}

func (in *intake[T]) add(ev T) {
	var ts int64
	if !in.full.Load() {
		ts = time.Now().UnixMilli()
	}
	in.mu.Lock()
	if int32(len(in.buf)) < in.limit {
		in.buf = append(in.buf, stamped[T]{ev, ts})
		if int32(len(in.buf)) == in.limit {
			in.full.Store(true)
		}
	} else {
		in.buf[in.head] = stamped[T]{ev, ts}
		in.head++
		if in.head == len(in.buf) {
			in.head = 0
		}
		in.dropped++
	}
	in.mu.Unlock()
}

// take returns the window's events, oldest first, and the number dropped
// since the last take (all older than the events returned), and starts a
// new window in spare. Events not yet stamped are stamped now.
func (in *intake[T]) take(spare []stamped[T]) ([]stamped[T], uint64) {
	in.mu.Lock()
	got, head, dropped := in.buf, in.head, in.dropped
	in.head, in.dropped = 0, 0
	in.full.Store(false)
	if head == 0 {
		in.buf = spare[:0]
	} else {
		// The ring wrapped: put the oldest first, and reuse the ring.
		ordered := append(append(spare[:0], got[head:]...), got[:head]...)
		clear(got)
		in.buf = got[:0]
		got = ordered
	}
	in.mu.Unlock()
	var now int64
	for i := range got {
		if got[i].ts == 0 {
			if now == 0 {
				now = time.Now().UnixMilli()
			}
			got[i].ts = now
		}
	}
	return got, dropped
}

// flusher is the Run goroutine's state for flushing.
type flusher struct {
	dbgSpare []stamped[engine.DebugEvent]
	errSpare []stamped[engine.ErrorEvent]
	doc      *flows.Document   // the document zOf was built from
	zOf      map[string]string // node id -> tab id
}

// flush sends one frame with the deploys, the changed statuses, and the
// debug and error events of the window that ends now.
func (f *flusher) flush(h *Hub, g *engine.Graph) {
	dbg, dbgDropped := h.debug.take(f.dbgSpare)
	errs, errsDropped := h.errs.take(f.errSpare)
	var tail []byte
	if len(dbg)+len(errs) > 0 || dbgDropped+errsDropped > 0 {
		f.index(g)
		enc := debugvalue.Encoder{Max: h.opts.DebugMaxLength}
		// The dropped events came before the ones kept: their count
		// goes first.
		if dbgDropped > 0 {
			tail = appendDropped(tail, "debug/dropped", dbgDropped)
		}
		for _, s := range dbg {
			tail = appendDebug(tail, &enc, s.ev, f.zOf[s.ev.NodeID], s.ts)
		}
		if errsDropped > 0 {
			tail = appendDropped(tail, "error/dropped", errsDropped)
		}
		for _, s := range errs {
			tail = appendError(tail, s.ev, f.zOf[s.ev.NodeID], s.ts)
		}
	}
	clear(dbg) // let the values go
	clear(errs)
	f.dbgSpare, f.errSpare = dbg, errs

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.deployed) > 0 && g != nil {
		// Statuses of nodes a deploy removed are cleared.
		f.index(g)
		for id := range h.status {
			if _, ok := f.zOf[id]; !ok {
				delete(h.status, id)
				if len(h.clients) > 0 {
					h.dirty[id] = struct{}{}
				}
			}
		}
	}
	if len(h.clients) == 0 {
		h.deployed = h.deployed[:0]
		clear(h.dirty)
		return
	}
	if len(h.deployed)+len(h.dirty) == 0 && len(tail) == 0 {
		return
	}
	b := []byte{'['}
	for _, d := range h.deployed {
		b = append(b, `{"topic":"deploy","data":{"rev":`...)
		b = engine.AppendJSON(b, d.rev)
		if d.session != "" {
			b = append(b, `,"session":`...)
			b = engine.AppendJSONString(b, d.session)
		}
		if d.user != "" {
			b = append(b, `,"user":`...)
			b = engine.AppendJSONString(b, d.user)
		}
		b = append(b, "}},"...)
	}
	h.deployed = h.deployed[:0]
	ids := make([]string, 0, len(h.dirty))
	for id := range h.dirty {
		ids = append(ids, id)
	}
	clear(h.dirty)
	sort.Strings(ids)
	for _, id := range ids {
		b = appendStatus(b, id, h.status[id])
	}
	b = append(b, tail...)
	h.broadcastLocked(closeArray(b))
}

// index maps the node ids of g's document to their tabs; it is rebuilt
// only when the document changes.
func (f *flusher) index(g *engine.Graph) {
	if g == nil {
		if f.doc != nil || f.zOf == nil {
			f.doc, f.zOf = nil, map[string]string{}
		}
		return
	}
	doc := g.Document()
	if f.doc == doc && f.zOf != nil {
		return
	}
	f.doc = doc
	f.zOf = make(map[string]string, len(doc.Nodes))
	for _, n := range doc.Nodes {
		if n != nil {
			f.zOf[n.ID] = n.Z
		}
	}
}

// closeArray ends a frame begun with '[' whose events each end in ','.
func closeArray(b []byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = ']'
		return b
	}
	return append(b, ']')
}

// appendStatus appends a status/<id> event and a comma; a zero status is
// written as {} (cleared).
func appendStatus(b []byte, id string, s engine.Status) []byte {
	b = append(b, `{"topic":`...)
	b = engine.AppendJSON(b, "status/"+id)
	b = append(b, `,"data":{`...)
	sep := ""
	for _, kv := range [...][2]string{{"fill", s.Fill}, {"shape", s.Shape}, {"text", s.Text}} {
		if kv[1] == "" {
			continue
		}
		b = append(b, sep...)
		b = append(b, '"')
		b = append(b, kv[0]...)
		b = append(b, `":`...)
		b = engine.AppendJSON(b, kv[1])
		sep = ","
	}
	return append(b, "}},"...)
}

func appendDropped(b []byte, topic string, n uint64) []byte {
	b = append(b, `{"topic":"`...)
	b = append(b, topic...)
	b = append(b, `","data":{"count":`...)
	b = strconv.AppendUint(b, n, 10)
	return append(b, "}},"...)
}

// appendError appends an error event and a comma.
func appendError(b []byte, ev engine.ErrorEvent, z string, ts int64) []byte {
	msg := ""
	if ev.Err != nil {
		msg = ev.Err.Error()
	}
	b = append(b, `{"topic":"error","data":{"id":`...)
	b = engine.AppendJSON(b, ev.NodeID)
	b = append(b, `,"z":`...)
	b = engine.AppendJSON(b, z)
	b = append(b, `,"type":`...)
	b = engine.AppendJSON(b, ev.Type)
	b = append(b, `,"name":`...)
	b = engine.AppendJSON(b, ev.Name)
	b = append(b, `,"msgid":`...)
	b = engine.AppendJSON(b, ev.MsgID)
	b = append(b, `,"error":`...)
	b = engine.AppendJSON(b, msg)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, "}},"...)
}

// appendDebug appends a debug event and a comma, its value written by e.
func appendDebug(b []byte, e *debugvalue.Encoder, ev engine.DebugEvent, z string, ts int64) []byte {
	b = append(b, `{"topic":"debug","data":{"id":`...)
	b = engine.AppendJSON(b, ev.NodeID)
	b = append(b, `,"z":`...)
	b = engine.AppendJSON(b, z)
	b = append(b, `,"name":`...)
	b = engine.AppendJSON(b, ev.Name)
	b = append(b, `,"topic":`...)
	b = engine.AppendJSON(b, ev.Topic)
	b = append(b, `,"property":`...)
	b = engine.AppendJSON(b, debugvalue.Property(ev.Property))
	b = append(b, `,"msgid":`...)
	b = engine.AppendJSON(b, ev.MsgID)
	b = append(b, `,"format":`...)
	b = engine.AppendJSON(b, debugvalue.Format(ev.Value))
	b = append(b, `,"msg":`...)
	b = e.AppendMsg(b, ev.Value)
	if e.Truncated() {
		b = append(b, `,"truncated":true`...)
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	return append(b, "}},"...)
}
