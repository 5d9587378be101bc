package network

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pahov3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// newBrokerFlow deploys flowJSON on a runtime bound to the embedded
// broker br, with test-source, test-sink and every built-in type.
func newBrokerFlow(t *testing.T, br *broker.Broker, flowJSON string) *nodetest.Flow {
	t.Helper()
	f, err := nodetest.Deploy(t, flowJSON, nodetest.Options{Runtime: func(o *engine.Options) {
		o.Broker, o.BrokerAddr = br, br.Addr()
	}}, engine.DefaultRegistry.Types()...)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
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
	utf8 := f.WaitReceived("s-utf8", len(cases))
	auto := f.WaitReceived("s-auto", len(cases))
	detect := f.WaitReceived("s-detect", len(cases))
	jsonOK := f.WaitReceived("s-json", len(cases)-refused)
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
	for end := time.Now().Add(5 * time.Second); len(f.Errors()) < refused && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(f.Errors()); n != refused {
		t.Errorf("json datatype reported %d errors, want %d", n, refused)
	}
}

// retainOf returns topic=retain for each message, in order.
func retainOf(ms []*engine.Message) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		r, _ := m.Prop("retain")
		out[m.Topic] = r
	}
	return out
}

// TestMQTTInRetainFlag: a retained message published while the flow is
// subscribed reaches mqtt-in with msg.retain false, as Node-RED gets it
// through mosquitto with MQTT 3.1.1; only retained messages sent when the
// subscription is made have true. With MQTT 5 (a broker config node with
// protocolVersion 5) the node's rap (retain as published) option keeps
// the publisher's flag. The same flow runs on the embedded broker (with no
// config node, and with config nodes pointing at it) and on a real
// mosquitto as a remote broker, which is the reference.
func TestMQTTInRetainFlag(t *testing.T) {
	type backend struct {
		name    string
		version int  // 0: no config node (the embedded broker)
		remote  bool // mosquitto as a remote broker
	}
	// want: topic -> msg.retain.
	want311 := map[string]any{"rapA/old": true, "rapB/old": true, "rapA/live": false, "rapB/live": false}
	want5 := map[string]any{"rapA/old": true, "rapB/old": true, "rapA/live": true, "rapB/live": false}
	for _, tc := range []struct {
		backend
		want map[string]any
	}{
		{backend{"embedded", 0, false}, want311},
		{backend{"embedded-config-v4", 4, false}, want311},
		{backend{"embedded-config-v5", 5, false}, want5},
		{backend{"mosquitto-v4", 4, true}, want311},
		{backend{"mosquitto-v5", 5, true}, want5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := startTestBroker(t)
			addr := br.Addr()
			if tc.remote {
				m := mosquittotest.Start(t, mosquittotest.Options{})
				addr = m.Addr
			}
			pub := v3Client(t, addr, "retain-pub", nil)
			v3Publish(t, pub, "rapA/old", []byte("old"), 1, true)
			v3Publish(t, pub, "rapB/old", []byte("old"), 1, true)

			brokerRef, cfgNode := "", ""
			if tc.version != 0 {
				host, port, _ := strings.Cut(addr, ":")
				brokerRef = "b"
				cfgNode = fmt.Sprintf(`{"id":"b","type":"mqtt-broker","broker":%q,"port":%q,"protocolVersion":"%d"},`, host, port, tc.version)
			}
			f := newBrokerFlow(t, br, `[{"id":"t","type":"tab"},`+cfgNode+`
				{"id":"inA","type":"mqtt-in","z":"t","topic":"rapA/#","qos":"1","datatype":"utf8","rap":true,"broker":"`+brokerRef+`","wires":[["sA"]]},
				{"id":"inB","type":"mqtt-in","z":"t","topic":"rapB/#","qos":"1","datatype":"utf8","rap":false,"broker":"`+brokerRef+`","wires":[["sB"]]},
				{"id":"sA","type":"test-sink","z":"t","wires":[]},
				{"id":"sB","type":"test-sink","z":"t","wires":[]}
			]`)
			// A remote subscription is made after connecting: publish
			// probes until both nodes get one.
			has := func(sink, topic string) bool {
				for _, m := range f.Received(sink) {
					if m.Topic == topic {
						return true
					}
				}
				return false
			}
			for end := time.Now().Add(10 * time.Second); !(has("sA", "rapA/probe") && has("sB", "rapB/probe")); {
				if time.Now().After(end) {
					t.Fatal("the flow's subscriptions got no probe")
				}
				v3Publish(t, pub, "rapA/probe", []byte("p"), 1, false)
				v3Publish(t, pub, "rapB/probe", []byte("p"), 1, false)
				time.Sleep(20 * time.Millisecond)
			}
			v3Publish(t, pub, "rapA/live", []byte("live"), 1, true)
			v3Publish(t, pub, "rapB/live", []byte("live"), 1, true)
			for end := time.Now().Add(5 * time.Second); !(has("sA", "rapA/live") && has("sB", "rapB/live")); {
				if time.Now().After(end) {
					t.Fatal("the live retained messages did not arrive")
				}
				time.Sleep(5 * time.Millisecond)
			}
			got := retainOf(append(f.Received("sA"), f.Received("sB")...))
			for topic, w := range tc.want {
				if got[topic] != w {
					t.Errorf("%s: msg.retain = %v, want %v", topic, got[topic], w)
				}
			}
			if got["rapA/probe"] != false || got["rapB/probe"] != false {
				t.Errorf("probes: msg.retain = %v, %v, want false", got["rapA/probe"], got["rapB/probe"])
			}
		})
	}
}

// TestMQTTInOutRepublishNotRetained: mqtt-in wired to an mqtt-out with an
// empty retain republishes a message that was retained when published
// while the flow was subscribed as not retained (its msg.retain is false,
// as in Node-RED), and one that came from the retained store as retained.
// A client that subscribes afterwards gets only the latter from the store.
func TestMQTTInOutRepublishNotRetained(t *testing.T) {
	br := startTestBroker(t)
	pub := v3Client(t, br.Addr(), "echo-pub", nil)
	v3Publish(t, pub, "old/x", []byte("from the store"), 1, true)
	f := newBrokerFlow(t, br, `[{"id":"t","type":"tab"},
		{"id":"inOld","type":"mqtt-in","z":"t","topic":"old/#","qos":"1","datatype":"utf8","wires":[["outOld","s"]]},
		{"id":"inNew","type":"mqtt-in","z":"t","topic":"new/#","qos":"1","datatype":"utf8","wires":[["outNew","s"]]},
		{"id":"outOld","type":"mqtt-out","z":"t","topic":"echo/old","qos":"1","retain":"","wires":[]},
		{"id":"outNew","type":"mqtt-out","z":"t","topic":"echo/new","qos":"1","retain":"","wires":[]},
		{"id":"s","type":"test-sink","z":"t","wires":[]}
	]`)
	v3Publish(t, pub, "new/x", []byte("published live"), 1, true)
	f.WaitReceived("s", 2)
	// The sink has both messages before mqtt-out has published them:
	// wait until the broker holds the republished one.
	waitRetained(t, br.Addr(), "echo/old")

	got := make(chan string, 10)
	// The client's default handler, not the subscription's: the broker
	// may send the retained message before paho has set the
	// subscription's handler up, and paho would then drop it.
	v3Client(t, br.Addr(), "echo-sub", func(_ pahov3.Client, m pahov3.Message) {
		got <- fmt.Sprintf("%s %s retain=%v", m.Topic(), m.Payload(), m.Retained())
	}).Subscribe("echo/#", 1, nil).WaitTimeout(5 * time.Second)
	// A marker published after subscribing; the broker may send the
	// retained message after it (mochi queues retained messages behind
	// the SUBACK), so read on a while after the marker too.
	v3Publish(t, pub, "echo/marker", []byte("end"), 1, false)
	var lines []string
	marker := false
	for quiet := time.After(5 * time.Second); ; {
		select {
		case l := <-got:
			lines = append(lines, l)
			if strings.HasPrefix(l, "echo/marker") {
				marker = true
				quiet = time.After(300 * time.Millisecond)
			}
			continue
		case <-quiet:
		}
		break
	}
	if !marker {
		t.Fatalf("no marker; got %q", lines)
	}
	slices.Sort(lines)
	want := []string{"echo/marker end retain=false", "echo/old from the store retain=true"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the new subscriber got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// waitRetained waits (at most 5 s) until the broker at addr holds a
// retained message on topic, asking with a fresh subscription each time.
func waitRetained(t *testing.T, addr, topic string) {
	t.Helper()
	for i, end := 0, time.Now().Add(5*time.Second); ; i++ {
		seen := make(chan struct{}, 1)
		c := v3Client(t, addr, fmt.Sprintf("retained-probe-%d", i), func(_ pahov3.Client, m pahov3.Message) {
			if m.Retained() {
				select {
				case seen <- struct{}{}:
				default:
				}
			}
		})
		c.Subscribe(topic, 1, nil).WaitTimeout(5 * time.Second)
		select {
		case <-seen:
			c.Disconnect(100)
			return
		case <-time.After(100 * time.Millisecond):
		}
		c.Disconnect(100)
		if time.Now().After(end) {
			t.Fatalf("no retained message on %s", topic)
		}
	}
}

// TestMQTTOutPublishesJSONAsNodeRED: an object payload is published as
// JSON.stringify writes it (the bytes Node.js prints for
// JSON.stringify(JSON.parse(text))), and a payload already in that form
// as it is. A real MQTT 3.1.1 client receives them.
func TestMQTTOutPublishesJSONAsNodeRED(t *testing.T) {
	br := startTestBroker(t)
	f := newBrokerFlow(t, br, `[{"id":"t","type":"tab"},
		{"id":"src","type":"test-source","z":"t","wires":[["out"]]},
		{"id":"out","type":"mqtt-out","z":"t","topic":"json/out","qos":"1","retain":"","wires":[]}
	]`)
	got := make(chan string, 10)
	v3Client(t, br.Addr(), "json-sub", nil).Subscribe("json/out", 1, func(_ pahov3.Client, m pahov3.Message) {
		got <- string(m.Payload())
	}).WaitTimeout(5 * time.Second)
	for _, tc := range []struct {
		payload any
		want    string
	}{
		{engine.RawJSON(`{"b":1,"10":2,"2":3,"01":4,"-1":5,"a":[1e400,-0,1.0]}`), `{"2":3,"10":2,"b":1,"01":4,"-1":5,"a":[null,0,1]}`},
		{engine.RawJSON(` { "a" : 1 , "b" : [ 1E2 , "\u00e9\/" ] , "a" : 2 } `), `{"a":2,"b":[100,"é/"]}`},
		{engine.RawJSON(`{"temperature":21.5,"humidity":40}`), `{"temperature":21.5,"humidity":40}`},
		{map[string]any{"z": 1.0, "3": 2.0, "1": 0.30000000000000004}, `{"1":0.30000000000000004,"3":2,"z":1}`},
	} {
		f.Inject("src", engine.NewMessage("", tc.payload))
		select {
		case p := <-got:
			if p != tc.want {
				t.Errorf("published %s\n want %s", p, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("nothing published for %s", tc.want)
		}
	}
}

// TestMQTTInJSONNull: a JSON null payload is a payload that is there
// (Node-RED's msg.payload === null), not a missing one: a yaml node dumps
// it to "null\n" where it passed a missing one on unchanged (found by the
// differential case yaml-dump-edge).
func TestMQTTInJSONNull(t *testing.T) {
	br := startTestBroker(t)
	f := newBrokerFlow(t, br, `[
		{"id":"t","type":"tab"},
		{"id":"json","type":"mqtt-in","z":"t","topic":"null/#","qos":"1","datatype":"json","wires":[["s"]]},
		{"id":"detect","type":"mqtt-in","z":"t","topic":"null/#","qos":"1","datatype":"auto-detect","wires":[["s"]]},
		{"id":"s","type":"test-sink","z":"t","wires":[]}
	]`)
	c := v3Client(t, br.Addr(), "null-pub", nil)
	v3Publish(t, c, "null/x", []byte("null"), 1, false)
	payload, _ := engine.ParsePath("payload")
	for i, m := range f.WaitReceived("s", 2) {
		if v, ok := m.Lookup(payload); !ok || v != nil {
			t.Errorf("message %d: payload %v, present %t; want null, present", i, v, ok)
		}
	}
}
