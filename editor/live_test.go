package editor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	_ "github.com/runnel-io/runnel/nodes" // inject, debug and the other built-in types
)

// Test node types, registered on a private registry next to the built-in
// ones: a source the test drives, a node that shows payloads as its status
// (optionally using a config node), and a node that always fails.

type testSourceConfig struct{}

// testSource sends what the test gives it.
type testSource struct{ h *engine.Host }

func (s *testSource) emit(topic string, payload any) { s.h.Send(0, engine.NewMessage(topic, payload)) }

type testConfConfig struct{}

type testStatusConfig struct {
	Conf string `json:"conf" label:"Config"`
}

// testStatus sets its status text to the payload.
type testStatus struct{ h *engine.Host }

func (s *testStatus) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	s.h.Status(engine.Status{Fill: "green", Shape: "ring", Text: engine.ToString(m.Payload)})
	return nil
}

type testFailConfig struct{}

// testFail fails on every message.
type testFail struct{}

func (testFail) Receive(context.Context, *engine.Message, engine.Output) error {
	return errors.New("boom")
}

// testRegistry holds the built-in types and the test types.
func testRegistry(t *testing.T) *engine.Registry {
	t.Helper()
	reg := engine.NewRegistry()
	for _, typ := range engine.DefaultRegistry.Types() {
		reg.MustRegister(typ)
	}
	reg.MustRegister(engine.NewType(engine.Meta{Type: "test-source", Category: "common", Outputs: 1},
		func(_ *testSourceConfig, h *engine.Host) (engine.Node, error) { return &testSource{h: h}, nil }))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "test-conf", Category: "config", Config: true},
		func(_ *testConfConfig, _ *engine.Host) (engine.Node, error) { return struct{}{}, nil }))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "test-status", Category: "common", Inputs: 1},
		func(cfg *testStatusConfig, h *engine.Host) (engine.Node, error) {
			if cfg.Conf != "" {
				if _, err := h.ConfigNode(cfg.Conf, "test-conf"); err != nil {
					return nil, engine.ErrField("conf", err)
				}
			}
			return &testStatus{h: h}, nil
		}))
	reg.MustRegister(engine.NewType(engine.Meta{Type: "test-fail", Category: "common", Inputs: 1},
		func(_ *testFailConfig, _ *engine.Host) (engine.Node, error) { return testFail{}, nil }))
	return reg
}

// liveEnv is a running runtime, hub and admin API on an httptest server.
type liveEnv struct {
	t   *testing.T
	rt  *engine.Runtime
	hub *Hub
	srv *httptest.Server
	// stop stops the hub's Run and waits for it.
	stop func()
}

func newLiveEnv(t *testing.T, opts HubOptions, flowJSON string) *liveEnv {
	t.Helper()
	reg := testRegistry(t)
	opts.Registry = reg
	hub := NewHub(opts)
	rt := engine.New(engine.Options{Registry: reg, OnStatus: hub.OnStatus, OnDebug: hub.OnDebug, OnError: hub.OnError})
	doc, err := flows.Parse([]byte(flowJSON))
	if err != nil {
		t.Fatalf("parse flows: %v", err)
	}
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	srv := httptest.NewServer(NewAPI(Options{Runtime: rt, Registry: reg, Live: hub}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx, rt) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run did not return within 5 s of cancel")
			}
		})
	}
	t.Cleanup(func() {
		stop()
		srv.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		rt.Stop(sctx)
	})
	return &liveEnv{t: t, rt: rt, hub: hub, srv: srv, stop: stop}
}

func (e *liveEnv) wsURL() string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/comms" }

// trigger presses an inject node's button and returns when its message has
// gone through the flow.
func (e *liveEnv) trigger(id string) {
	e.t.Helper()
	n, ok := e.rt.Graph().Node(id).(Trigger)
	if !ok {
		e.t.Fatalf("node %q is not an inject node", id)
	}
	n.Trigger()
}

func (e *liveEnv) source(id string) *testSource {
	e.t.Helper()
	s, ok := e.rt.Graph().Node(id).(*testSource)
	if !ok {
		e.t.Fatalf("node %q is not a test-source", id)
	}
	return s
}

// waitClients waits until the hub counts n clients.
func (e *liveEnv) waitClients(n int) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.hub.Clients() != n {
		if time.Now().After(deadline) {
			e.t.Fatalf("hub has %d clients, want %d", e.hub.Clients(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// event is one event of a frame.
type event struct {
	Topic string          `json:"topic"`
	Data  json.RawMessage `json:"data"`
}

// wsClient is a websocket client that reads every frame into frames.
type wsClient struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan []event
	done   chan error // the read error that ended the connection
	rest   []event    // the events of the last frame that waitFor has not looked at
}

func (e *liveEnv) dial() *wsClient { return e.dialWith(nil) }

// dialWith connects a client; setup, when not nil, sets the connection up
// before reading starts.
func (e *liveEnv) dialWith(setup func(*websocket.Conn)) *wsClient {
	e.t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(e.wsURL(), nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v (response %v)", e.wsURL(), err, resp)
	}
	if setup != nil {
		setup(conn)
	}
	c := &wsClient{t: e.t, conn: conn, frames: make(chan []event, 100000), done: make(chan error, 1)}
	e.t.Cleanup(func() { conn.Close() })
	go c.read()
	return c
}

func (c *wsClient) read() {
	defer close(c.frames)
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			c.done <- err
			return
		}
		var evs []event
		if typ != websocket.TextMessage || json.Unmarshal(data, &evs) != nil || len(evs) == 0 {
			c.t.Errorf("bad frame (type %d): %.200s", typ, data)
			continue
		}
		c.frames <- evs
	}
}

// next returns the next frame (or what waitFor left of the last one),
// failing the test after timeout.
func (c *wsClient) next(timeout time.Duration) []event {
	c.t.Helper()
	if rest := c.rest; len(rest) > 0 {
		c.rest = nil
		return rest
	}
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection closed: %v", <-c.done)
		}
		return f
	case <-time.After(timeout):
		c.t.Fatalf("no frame within %v", timeout)
	}
	return nil
}

// nextEvents returns the next frame that is not only rates.
func (c *wsClient) nextEvents(timeout time.Duration) []event {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f := c.next(time.Until(deadline))
		if len(f) != 1 || f[0].Topic != "rates" {
			return f
		}
	}
}

// waitFor returns the first event on topic that satisfies ok (nil: any),
// skipping the others.
func (c *wsClient) waitFor(topic string, timeout time.Duration, ok func(json.RawMessage) bool) json.RawMessage {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f := c.next(time.Until(deadline))
		for i, ev := range f {
			if ev.Topic == topic && (ok == nil || ok(ev.Data)) {
				c.rest = f[i+1:]
				return ev.Data
			}
		}
	}
}

// field returns a field of a JSON object, or nil.
func field(t *testing.T, data json.RawMessage, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("not an object: %s", data)
	}
	return m[name]
}

// debugEvent returns the exact text of a debug event's data as the hub
// writes it; msgid and ts are taken from got.
func debugEvent(t *testing.T, got json.RawMessage, id, z, name, topic, property, format, msg string, truncated bool) string {
	t.Helper()
	var v struct {
		MsgID string `json:"msgid"`
		TS    int64  `json:"ts"`
	}
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	if v.MsgID == "" || time.Since(time.UnixMilli(v.TS)) > time.Minute || time.Since(time.UnixMilli(v.TS)) < -time.Second {
		t.Errorf("debug event msgid %q ts %d: want a message id and a time of now", v.MsgID, v.TS)
	}
	tr := ""
	if truncated {
		tr = `,"truncated":true`
	}
	return fmt.Sprintf(`{"id":%q,"z":%q,"name":%q,"topic":%q,"property":%q,"msgid":%q,"format":%q,"msg":%s%s,"ts":%d}`,
		id, z, name, topic, property, v.MsgID, format, msg, tr, v.TS)
}

const debugFlow = `[
	{"id":"tab1","type":"tab","label":"Flow 1"},
	{"id":"inj","type":"inject","z":"tab1","props":[{"p":"payload"},{"p":"topic","vt":"str"}],
	 "payload":"{\"b\":\"x\",\"a\":[1,2.5,true,null]}","payloadType":"json","topic":"t1","wires":[["dbg","all"]]},
	{"id":"dbg","type":"debug","z":"tab1","name":"my debug","active":true,"tosidebar":true,"complete":"false","wires":[]},
	{"id":"all","type":"debug","z":"tab1","active":true,"tosidebar":true,"complete":"true","wires":[]},
	{"id":"buf","type":"inject","z":"tab1","props":[{"p":"payload"}],"payload":"[1,2,255]","payloadType":"bin","wires":[["dbg"]]},
	{"id":"src","type":"test-source","z":"tab1","wires":[["dbg"]]}
]`

// An injected message reaches the client as Node-RED's debug event: the
// node, its tab, the property, the format and the value.
func TestLiveDebugEvent(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{}, debugFlow)
	c := env.dial()
	env.waitClients(1)

	resp, err := http.Post(env.srv.URL+"/inject/inj", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /inject/inj: %v %v", resp, err)
	}
	resp.Body.Close()
	byID := map[string]json.RawMessage{}
	for len(byID) < 2 {
		d := c.waitFor("debug", 3*time.Second, nil)
		byID[field(t, d, "id").(string)] = d
	}
	got := byID["dbg"]
	want := debugEvent(t, got, "dbg", "tab1", "my debug", "t1", "payload", "Object", `{"b":"x","a":[1,2.5,true,null]}`, false)
	if string(got) != want {
		t.Errorf("debug event of msg.payload\n got %s\nwant %s", got, want)
	}
	got = byID["all"]
	msgid := field(t, got, "msgid").(string)
	want = debugEvent(t, got, "all", "tab1", "", "t1", "msg", "Object",
		fmt.Sprintf(`{"_msgid":%q,"payload":{"b":"x","a":[1,2.5,true,null]},"topic":"t1"}`, msgid), false)
	if string(got) != want {
		t.Errorf("debug event of the whole msg\n got %s\nwant %s", got, want)
	}

	// A buffer is shown as its byte values.
	env.trigger("buf")
	got = c.waitFor("debug", 3*time.Second, nil)
	if want := debugEvent(t, got, "dbg", "tab1", "my debug", "", "payload", "buffer[3]", `[1,2,255]`, false); string(got) != want {
		t.Errorf("debug event of a buffer\n got %s\nwant %s", got, want)
	}

	// Long values are cut as Node-RED's debugMaxLength cuts them.
	src := env.source("src")
	for _, tc := range []struct {
		payload   any
		format    string
		msg       string
		truncated bool
	}{
		{strings.Repeat("a", 1000), "string[1000]", `"` + strings.Repeat("a", 1000) + `"`, false},
		{strings.Repeat("a", 1500), "string[1500]", `"` + strings.Repeat("a", 1000) + `..."`, true},
		// JavaScript counts UTF-16 code units: an emoji is two.
		{strings.Repeat("😀", 600), "string[1200]", `"` + strings.Repeat("😀", 500) + `..."`, true},
		{make([]byte, 1500), "buffer[1500]", "[0" + strings.Repeat(",0", 999) + "]", true},
		{21.5, "number", "21.5", false},
		{false, "boolean", "false", false},
		{nil, "null", "null", false},
	} {
		src.emit("long", tc.payload)
		got := c.waitFor("debug", 3*time.Second, nil)
		want := debugEvent(t, got, "dbg", "tab1", "my debug", "long", "payload", tc.format, tc.msg, tc.truncated)
		if string(got) != want {
			t.Errorf("debug event of %.20v\n got %.300s\nwant %.300s", tc.payload, got, want)
		}
	}
}

const statusFlow = `[
	{"id":"tab1","type":"tab","label":"Flow 1"},
	{"id":"cfg","type":"test-conf"},
	{"id":"inj","type":"inject","z":"tab1","props":[{"p":"payload"}],"payload":"hello","payloadType":"str","wires":[["sts","dbg"]]},
	{"id":"src","type":"test-source","z":"tab1","wires":[["sts"]]},
	{"id":"sts","type":"test-status","z":"tab1","conf":"cfg","wires":[]},
	{"id":"dbg","type":"debug","z":"tab1","tostatus":true,"tosidebar":false,"wires":[]}
]`

// A client gets every current status when it connects, then only the
// latest status per node per flush; a deploy is announced and clears the
// statuses of the nodes it removed.
func TestLiveStatus(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{}, statusFlow)
	env.trigger("inj")
	c := env.dial()
	f := c.next(3 * time.Second)
	got, _ := json.Marshal(f)
	want := `[{"topic":"status/dbg","data":{"fill":"grey","shape":"dot","text":"hello"}},` +
		`{"topic":"status/sts","data":{"fill":"green","shape":"ring","text":"hello"}}]`
	if string(got) != want {
		t.Errorf("snapshot on connect\n got %s\nwant %s", got, want)
	}

	// 500 changes in quick succession: at most one status per node per
	// frame, and the last one wins.
	src := env.source("src")
	for i := range 500 {
		src.emit("", fmt.Sprint(i))
	}
	last := ""
	deadline := time.Now().Add(3 * time.Second)
	for last != `{"fill":"green","shape":"ring","text":"499"}` {
		f := c.next(time.Until(deadline))
		seen := map[string]bool{}
		for _, ev := range f {
			if seen[ev.Topic] {
				t.Fatalf("frame has %s twice: %v", ev.Topic, f)
			}
			seen[ev.Topic] = true
			if ev.Topic == "status/sts" {
				last = string(ev.Data)
			}
		}
	}

	// Deploy without the status nodes through the API.
	body := `[{"id":"tab1","type":"tab","label":"Flow 1"},{"id":"inj","type":"inject","z":"tab1","props":[{"p":"payload"}],"payload":"hello","payloadType":"str","wires":[[]]}]`
	req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/flows", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Node-RED-API-Version", "v2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var dep struct{ Rev string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(rb, &dep) != nil || dep.Rev == "" {
		t.Fatalf("deploy: %d %s", resp.StatusCode, rb)
	}
	f = c.nextEvents(3 * time.Second)
	got, _ = json.Marshal(f)
	want = `[{"topic":"deploy","data":{"rev":"` + dep.Rev + `"}},` +
		`{"topic":"status/dbg","data":{}},{"topic":"status/sts","data":{}}]`
	if string(got) != want {
		t.Errorf("after the deploy\n got %s\nwant %s", got, want)
	}
	// A new client gets no stale statuses: its first frame is a rates one.
	c2 := env.dial()
	if f := c2.next(3 * time.Second); f[0].Topic != "rates" {
		t.Errorf("new client's first frame %v, want rates", f)
	}
}

const ratesFlow = `[
	{"id":"tab1","type":"tab","label":"Flow 1"},
	{"id":"cfg","type":"test-conf"},
	{"id":"inj","type":"inject","z":"tab1","props":[{"p":"payload"}],"payload":"1","payloadType":"num","wires":[["dbg","sts","bad"]]},
	{"id":"dbg","type":"debug","z":"tab1","name":"NAME","wires":[]},
	{"id":"sts","type":"test-status","z":"tab1","conf":"cfg","wires":[]},
	{"id":"bad","type":"test-fail","z":"tab1","wires":[]},
	{"id":"off","type":"debug","z":"tab1","d":true,"wires":[]}
]`

// Rates come about once a second for every running flow node (not tabs,
// config nodes or disabled nodes), with exact totals; after a deploy that
// rebuilds a node its counters restart and its rate is zero, not negative.
func TestLiveRates(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{}, ratesFlow)
	c := env.dial()
	env.waitClients(1)
	for range 30 {
		env.trigger("inj")
	}
	type rate struct {
		In, Out, Err                float64
		InTotal, OutTotal, ErrTotal uint64
	}
	decode := func(d json.RawMessage) map[string]rate {
		var m map[string]rate
		if err := json.Unmarshal(d, &m); err != nil {
			t.Fatalf("rates %s: %v", d, err)
		}
		for id, r := range m {
			if r.In < 0 || r.Out < 0 || r.Err < 0 {
				t.Errorf("negative rate for %s: %s", id, d)
			}
		}
		return m
	}
	// The rates until the totals reach 30 add up to about 30 messages a
	// second (samples are about a second apart).
	var in, errs float64
	c.waitFor("rates", 3*time.Second, func(d json.RawMessage) bool {
		m := decode(d)
		in += m["dbg"].In
		errs += m["bad"].Err
		return m["dbg"].InTotal == 30 && m["bad"].ErrTotal == 30
	})
	if in < 30/1.5 || in > 30/0.8 || errs < 30/1.5 || errs > 30/0.8 {
		t.Errorf("30 messages and 30 errors in about a second: %v messages/s, %v errors/s", in, errs)
	}
	// The next second is idle: rates are zero, totals exact.
	d := c.waitFor("rates", 3*time.Second, nil)
	want := `{"inj":{"in":0,"out":0,"err":0,"inTotal":0,"outTotal":30,"errTotal":0},` +
		`"dbg":{"in":0,"out":0,"err":0,"inTotal":30,"outTotal":0,"errTotal":0},` +
		`"sts":{"in":0,"out":0,"err":0,"inTotal":30,"outTotal":0,"errTotal":0},` +
		`"bad":{"in":0,"out":0,"err":0,"inTotal":30,"outTotal":0,"errTotal":30}}`
	if string(d) != want {
		t.Errorf("idle rates\n got %s\nwant %s", d, want)
	}

	// Rebuild dbg (its name changed): its counters restart.
	doc, err := flows.Parse([]byte(strings.Replace(ratesFlow, "NAME", "renamed", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	d = c.waitFor("rates", 3*time.Second, func(d json.RawMessage) bool { return decode(d)["dbg"].InTotal == 0 })
	if r := decode(d)["dbg"]; r != (rate{}) {
		t.Errorf("dbg after the deploy rebuilt it: %+v, want zeros (%s)", r, d)
	}
}

// A node that holds messages reports how many with its rates: three
// injected messages wait in a one-minute delay.
func TestLiveRatesQueued(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{}, `[
	{"id":"tab1","type":"tab"},
	{"id":"inj","type":"inject","z":"tab1","props":[{"p":"payload","v":"x","vt":"str"}],"wires":[["dly"]]},
	{"id":"dly","type":"delay","z":"tab1","pauseType":"delay","timeout":"60","timeoutUnits":"seconds","wires":[["dbg"]]},
	{"id":"dbg","type":"debug","z":"tab1","wires":[]}
]`)
	c := env.dial()
	env.waitClients(1)
	for range 3 {
		env.trigger("inj")
	}
	d := c.waitFor("rates", 3*time.Second, func(d json.RawMessage) bool {
		return strings.Contains(string(d), `"inTotal":3,"outTotal":0,"errTotal":0,"queued":3}`)
	})
	if strings.Contains(string(d), `"dbg":{"in":0,"out":0,"err":0,"inTotal":0,"outTotal":0,"errTotal":0,"queued"`) {
		t.Errorf("a debug node reports a queue: %s", d)
	}
}

// At 1,000 debug messages per second the client gets at most
// DebugPerFlush of them per flush, and is told how many were dropped:
// received + dropped = sent.
func TestLiveDebugThrottle(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{}, debugFlow)
	c := env.dial()
	env.waitClients(1)
	const sent = 2000
	start := time.Now()
	var slowest time.Duration
	src := env.source("src")
	for i := range sent {
		if i%10 == 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Millisecond)))
		}
		t0 := time.Now()
		src.emit("t", float64(i))
		slowest = max(slowest, time.Since(t0))
	}
	pumped := time.Since(start)
	received, dropped, frames := 0, 0, 0
	deadline := time.Now().Add(5 * time.Second)
	for received+dropped < sent {
		f := c.next(time.Until(deadline))
		frames++
		inFrame := 0
		for _, ev := range f {
			switch ev.Topic {
			case "debug":
				inFrame++
			case "debug/dropped":
				var n struct{ Count int }
				json.Unmarshal(ev.Data, &n)
				dropped += n.Count
			}
		}
		if inFrame > DefaultDebugPerFlush {
			t.Errorf("a frame has %d debug events, want at most %d", inFrame, DefaultDebugPerFlush)
		}
		received += inFrame
	}
	elapsed := time.Since(start)
	if received+dropped != sent {
		t.Errorf("received %d + dropped %d = %d, want %d", received, dropped, received+dropped, sent)
	}
	flushes := int(elapsed/DefaultFlushInterval) + 1
	if received > flushes*DefaultDebugPerFlush || received == 0 || dropped == 0 {
		t.Errorf("received %d debug events in %v (%d flushes of at most %d), dropped %d", received, elapsed, flushes, DefaultDebugPerFlush, dropped)
	}
	if pumped > 3*time.Second || slowest > 200*time.Millisecond {
		t.Errorf("sending %d messages took %v, the slowest %v: the flow was held up", sent, pumped, slowest)
	}
	t.Logf("sent %d debug events in %v: received %d in %d frames, dropped %d; slowest message %v", sent, pumped, received, frames, dropped, slowest)
}

// Node errors are events too, throttled like debug output.
func TestLiveErrors(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{}, ratesFlow)
	c := env.dial()
	env.waitClients(1)
	env.trigger("inj")
	got := c.waitFor("error", 3*time.Second, nil)
	var v struct {
		MsgID string `json:"msgid"`
		TS    int64  `json:"ts"`
	}
	json.Unmarshal(got, &v)
	want := fmt.Sprintf(`{"id":"bad","z":"tab1","type":"test-fail","name":"","msgid":%q,"error":"boom","ts":%d}`, v.MsgID, v.TS)
	if string(got) != want || v.MsgID == "" {
		t.Errorf("error event\n got %s\nwant %s", got, want)
	}
	for range 200 {
		env.trigger("inj")
	}
	received, dropped := 0, 0
	deadline := time.Now().Add(3 * time.Second)
	for received+dropped < 200 {
		inFrame := 0
		for _, ev := range c.next(time.Until(deadline)) {
			switch ev.Topic {
			case "error":
				inFrame++
			case "error/dropped":
				var n struct{ Count int }
				json.Unmarshal(ev.Data, &n)
				dropped += n.Count
			}
		}
		if inFrame > DefaultDebugPerFlush {
			t.Errorf("a frame has %d error events, want at most %d", inFrame, DefaultDebugPerFlush)
		}
		received += inFrame
	}
	if received+dropped != 200 || dropped == 0 {
		t.Errorf("200 errors: received %d, dropped %d", received, dropped)
	}
}

// A browser page from another origin cannot connect; the same origin and
// non-browser clients (no Origin header) can.
func TestLiveOrigin(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{}, debugFlow)
	dial := func(origin string) (*http.Response, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		conn, resp, err := websocket.DefaultDialer.Dial(env.wsURL(), h)
		if err == nil {
			conn.Close()
		}
		return resp, err
	}
	resp, err := dial("http://evil.example")
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin upgrade: %v %v, want 403", resp, err)
	}
	if _, err := dial(env.srv.URL); err != nil {
		t.Errorf("same-origin upgrade: %v", err)
	}
	if _, err := dial(""); err != nil {
		t.Errorf("upgrade without Origin: %v", err)
	}
	// Not a websocket request at all.
	r, err := http.Get(env.srv.URL + "/comms")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET /comms: %d, want 400", r.StatusCode)
	}
}

// A client that does not read is disconnected once its queue is full; the
// flow is never held up, and other clients carry on.
func TestLiveSlowClient(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{SendQueue: 4, WriteTimeout: 500 * time.Millisecond}, debugFlow)
	good := env.dial()
	// The slow client never reads.
	slow, _, err := websocket.DefaultDialer.Dial(env.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	env.waitClients(2)

	// About 10 KB per debug event.
	payload := make([]any, 10)
	for i := range payload {
		payload[i] = strings.Repeat("p", 1000)
	}
	src := env.source("src")
	start := time.Now()
	var slowest time.Duration
	sent := 0
	for env.hub.Clients() == 2 {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the slow client was not disconnected within 5 s")
		}
		t0 := time.Now()
		src.emit("big", payload)
		slowest = max(slowest, time.Since(t0))
		sent++
		time.Sleep(time.Millisecond)
	}
	t.Logf("slow client disconnected after %v and %d messages; slowest message %v", time.Since(start), sent, slowest)
	if slowest > 200*time.Millisecond {
		t.Errorf("the slowest message took %v: the flow was held up", slowest)
	}
	// The good client still gets debug events.
	src.emit("after", "still here")
	good.waitFor("debug", 3*time.Second, func(d json.RawMessage) bool { return field(t, d, "topic") == "after" })
	// The slow client finds its connection reset: the frames it did not
	// read are not kept for it.
	slow.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("slow client: connection still open: %v", err)
			}
			break
		}
	}
}

// Clients are pinged and stay connected while they answer; stopping the
// hub closes every connection with "going away" and refuses new ones.
func TestLiveKeepaliveAndShutdown(t *testing.T) {
	t.Parallel()
	// The read deadline is two intervals: 100 ms intervals dropped the
	// client once when the machine was loaded (a pong 200 ms late).
	env := newLiveEnv(t, HubOptions{PingInterval: 400 * time.Millisecond}, debugFlow)
	var pings sync.WaitGroup
	pings.Add(3)
	count := 0 // only the client's reader goroutine touches it
	c := env.dialWith(func(conn *websocket.Conn) {
		conn.SetPingHandler(func(data string) error {
			if count++; count <= 3 {
				pings.Done()
			}
			return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
	})
	env.waitClients(1)
	waitGroup(t, &pings, 10*time.Second, "three pings")
	time.Sleep(time.Second) // beyond two ping intervals
	if n := env.hub.Clients(); n != 1 {
		t.Fatalf("a client that answers pings was dropped: %d clients", n)
	}

	env.stop()
	select {
	case err := <-c.done:
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("client read error %v, want close 1001 (going away)", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the connection was not closed")
	}
	if n := env.hub.Clients(); n != 0 {
		t.Errorf("%d clients after shutdown", n)
	}
	_, resp, err := websocket.DefaultDialer.Dial(env.wsURL(), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: %v %v, want 503", resp, err)
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, timeout time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("no %s within %v", what, timeout)
	}
}

// GET /nodes gives each type's Node-RED name where it differs; GET /comms
// is 404 without a hub.
func TestNodesNodeRedName(t *testing.T) {
	t.Parallel()
	rt := engine.New(engine.Options{})
	srv := httptest.NewServer(NewAPI(Options{Runtime: rt}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/nodes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var types []map[string]any
	if err := json.Unmarshal(body, &types); err != nil {
		t.Fatalf("GET /nodes: %v: %.200s", err, body)
	}
	got := map[string]any{}
	for _, typ := range types {
		got[typ["type"].(string)] = typ["nodeRed"]
	}
	for typ, want := range map[string]any{"mqtt-in": "mqtt in", "mqtt-out": "mqtt out", "filter-on-change": "rbe", "debug": nil, "json": nil} {
		if got[typ] != want {
			t.Errorf("GET /nodes: %s has nodeRed %v, want %v", typ, got[typ], want)
		}
	}
	if !bytes.Contains(body, []byte(`"nodeRed": "mqtt in"`)) {
		t.Errorf("GET /nodes lacks \"nodeRed\": \"mqtt in\"")
	}
	r, err := http.Get(srv.URL + "/comms")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /comms without a hub: %d, want 404", r.StatusCode)
	}
}

// OnDebug's cost on the flow's hot path once the flush budget is spent
// (the common case at high rates): go test -run '^$' -bench OnDebug ./editor/
func BenchmarkOnDebug(b *testing.B) {
	h := NewHub(HubOptions{})
	h.nclients.Store(1) // as if a client were connected
	ev := engine.DebugEvent{NodeID: "dbg", Property: "msg.payload", Value: engine.RawJSON(`{"temperature":21.5}`)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.OnDebug(ev)
		}
	})
}

// runningFlow returns the test registry, a live hub and a runtime that
// reports status to it, running the flow document given.
func runningFlow(t *testing.T, flow string) (*engine.Registry, *Hub, *engine.Runtime) {
	t.Helper()
	reg := testRegistry(t)
	hub := NewHub(HubOptions{Registry: reg})
	rt := engine.New(engine.Options{Registry: reg, OnStatus: hub.OnStatus})
	doc, err := flows.Parse([]byte(flow))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	return reg, hub, rt
}
