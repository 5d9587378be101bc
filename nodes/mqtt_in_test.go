package nodes

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	pahov3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// newBrokerFlow deploys flowJSON on a runtime bound to the embedded
// broker br, with test-source, test-sink and every built-in type.
func newBrokerFlow(t *testing.T, br *broker.Broker, flowJSON string) *testFlow {
	t.Helper()
	reg := engine.NewRegistry()
	reg.MustRegister(testSourceType)
	reg.MustRegister(testSinkType)
	for _, typ := range engine.DefaultRegistry.Types() {
		reg.MustRegister(typ)
	}
	doc, err := flows.Parse([]byte(flowJSON))
	if err != nil {
		t.Fatal(err)
	}
	f := &testFlow{t: t, logs: newTestLogHandler()}
	f.rt = engine.New(engine.Options{
		Registry:   reg,
		Broker:     br,
		BrokerAddr: br.Addr(),
		Logger:     slog.New(f.logs),
		OnError: func(ev engine.ErrorEvent) {
			f.mu.Lock()
			f.errs = append(f.errs, ev)
			f.mu.Unlock()
		},
	})
	if err := f.rt.Deploy(context.Background(), doc); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	t.Cleanup(func() { _ = f.rt.Stop(context.Background()) })
	return f
}

// startTestBroker starts an embedded broker on a free loopback port.
func startTestBroker(t *testing.T) *broker.Broker {
	t.Helper()
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

// v3Client connects an MQTT 3.1.1 client (paho.mqtt.golang) over TCP.
func v3Client(t *testing.T, addr, id string, onMessage pahov3.MessageHandler) pahov3.Client {
	t.Helper()
	o := pahov3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false)
	if onMessage != nil {
		o.SetDefaultPublishHandler(onMessage)
	}
	c := pahov3.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func v3Publish(t *testing.T, c pahov3.Client, topic string, payload []byte, qos byte, retain bool) {
	t.Helper()
	if tok := c.Publish(topic, qos, retain, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// waitMessages waits (at most 5 s) until sink has n messages.
func (f *testFlow) waitMessages(sink string, n int) []*engine.Message {
	f.t.Helper()
	for end := time.Now().Add(5 * time.Second); ; {
		got := f.received(sink)
		if len(got) >= n || time.Now().After(end) {
			if len(got) != n {
				f.t.Fatalf("%s: got %d messages, want %d", sink, len(got), n)
			}
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// describe writes a payload with its type, so that a string and a buffer
// of the same bytes differ.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case []byte:
		return fmt.Sprintf("buffer %x", x)
	case engine.RawJSON:
		return "json " + string(x)
	}
	return fmt.Sprintf("%T %v", v, v)
}

// TestMQTTInDecodesAsNodeRED: payloads that are not UTF-8, or not text
// as Node-RED's is-utf8 test sees it, reach the flow as they reach a
// Node-RED mqtt-in. utf8 decodes as Buffer.toString('utf8') (one U+FFFD
// per maximal invalid subsequence); auto and auto-detect keep a buffer
// for anything is-utf8 refuses (control characters too); json refuses it.
// The expected strings were printed by Node.js 20.
func TestMQTTInDecodesAsNodeRED(t *testing.T) {
	br := startTestBroker(t)
	f := newBrokerFlow(t, br, `[
		{"id":"t","type":"tab"},
		{"id":"utf8","type":"mqtt-in","z":"t","topic":"dec/#","qos":"1","datatype":"utf8","wires":[["s-utf8"]]},
		{"id":"auto","type":"mqtt-in","z":"t","topic":"dec/#","qos":"1","datatype":"auto","wires":[["s-auto"]]},
		{"id":"detect","type":"mqtt-in","z":"t","topic":"dec/#","qos":"1","datatype":"auto-detect","wires":[["s-detect"]]},
		{"id":"json","type":"mqtt-in","z":"t","topic":"dec/#","qos":"1","datatype":"json","wires":[["s-json"]]},
		{"id":"s-utf8","type":"test-sink","z":"t","wires":[]},
		{"id":"s-auto","type":"test-sink","z":"t","wires":[]},
		{"id":"s-detect","type":"test-sink","z":"t","wires":[]},
		{"id":"s-json","type":"test-sink","z":"t","wires":[]}
	]`)
	cases := []struct {
		payload     string
		utf8        string // Buffer.toString('utf8')
		auto        string // describe(payload) of auto
		detect      string // describe(payload) of auto-detect
		jsonRefused bool
	}{
		{"\xF0\x9F\x98", "\uFFFD", "buffer f09f98", "buffer f09f98", true},
		{"a\xED\xA0\x80b", "a\uFFFD\uFFFD\uFFFDb", "buffer 61eda08062", "buffer 61eda08062", true},
		{"\xC0\xAF", "\uFFFD\uFFFD", "buffer c0af", "buffer c0af", true},
		{"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD", "buffer f4908080", "buffer f4908080", true},
		{"\x80x\xBF", "\uFFFDx\uFFFD", "buffer 8078bf", "buffer 8078bf", true},
		{"\xF0\x9F\x98\xF0\x9F\x98\x80", "\uFFFD😀", "buffer f09f98f09f9880", "buffer f09f98f09f9880", true},
		{"{\"a\":\"\xFF\"}", "{\"a\":\"\uFFFD\"}", "buffer 7b2261223a22ff227d", "buffer 7b2261223a22ff227d", true},
		// Valid UTF-8 with a control character is binary to is-utf8.
		{"nul\x00", "nul\x00", "buffer 6e756c00", "buffer 6e756c00", true},
		{"\x7f", "\x7f", "buffer 7f", "buffer 7f", true},
		{"1\t2\r\n", "1\t2\r\n", `string "1\t2\r\n"`, `string "1\t2\r\n"`, true},
		{"{\"€\":1}", "{\"€\":1}", `string "{\"€\":1}"`, `json {"€":1}`, false},
	}
	c := v3Client(t, br.Addr(), "dec-pub", nil)
	for i, tc := range cases {
		v3Publish(t, c, fmt.Sprintf("dec/%d", i), []byte(tc.payload), 1, false)
	}
	refused := 0
	for _, tc := range cases {
		if tc.jsonRefused {
			refused++
		}
	}
	utf8 := f.waitMessages("s-utf8", len(cases))
	auto := f.waitMessages("s-auto", len(cases))
	detect := f.waitMessages("s-detect", len(cases))
	jsonOK := f.waitMessages("s-json", len(cases)-refused)
	for i, tc := range cases {
		if got := utf8[i].Payload; got != tc.utf8 {
			t.Errorf("%d utf8: got %s, Node-RED gives %q", i, describe(got), tc.utf8)
		}
		if got := describe(auto[i].Payload); got != tc.auto {
			t.Errorf("%d auto: got %s, Node-RED gives %s", i, got, tc.auto)
		}
		if got := describe(detect[i].Payload); got != tc.detect {
			t.Errorf("%d auto-detect: got %s, Node-RED gives %s", i, got, tc.detect)
		}
	}
	if got := describe(jsonOK[0].Payload); got != `json {"€":1}` {
		t.Errorf("json: got %s", got)
	}
	for end := time.Now().Add(5 * time.Second); len(f.errors()) < refused && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(f.errors()); n != refused {
		t.Errorf("json datatype reported %d errors, want %d", n, refused)
	}
}
