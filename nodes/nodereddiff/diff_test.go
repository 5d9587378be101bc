package nodereddiff_test

// The differential harness: every case in testdata runs through real
// Node-RED (with mosquitto as its broker) and through Runnel (with its
// embedded broker), and what the two publish is compared exactly. See
// docs/differential.md for the case format.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/editor"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	_ "github.com/runnel-io/runnel/nodes"
)

const (
	// noderedVersion is the oracle's version, pinned in
	// .ci/nodered/package.json and its lock file.
	noderedVersion = "4.1.15"
	// oracleDir is where `npm ci --prefix .ci/nodered` installs it,
	// relative to this package.
	oracleDir = "../../.ci/nodered"

	// brokerID is the mqtt-broker config node the harness adds; the
	// mqtt nodes of a case refer to it.
	brokerID = "nrdiff-broker"
	// The ready tab echoes readyIn to readyOut: once a probe comes back,
	// every subscription of the flows before it is in place.
	readyTab = "nrdiff-ready"
	readyIn  = "nrdiff/ready/in"
	readyOut = "nrdiff/ready/out"

	startTimeout = 45 * time.Second // Node-RED's start and first connect
	runTimeout   = 20 * time.Second // from the first input to the last output
)

// testCase is one file in testdata.
type testCase struct {
	name string // the file's name without .json

	// Description says what the case checks.
	Description string `json:"description"`
	// KnownDiff names the issue item that makes Runnel differ from
	// Node-RED today: a difference is logged and the case skipped; a
	// match fails the case, so that the marker is removed.
	KnownDiff string `json:"knownDiff,omitempty"`
	// Flow is the case's nodes, without the tab (the harness adds it).
	Flow []map[string]any `json:"flow"`
	// Env is the tab's environment properties (Node-RED's tab "env":
	// [{"name","value","type"}]), if any.
	Env []map[string]any `json:"env,omitempty"`
	// Inputs are published (or injected) in order.
	Inputs []input `json:"inputs"`
	// Outputs are the topic filters whose messages are compared.
	Outputs []string `json:"outputs"`
	// Count is how many messages Node-RED publishes on Outputs.
	Count int `json:"count"`
}

// input is one MQTT message to publish, or an inject node to press.
type input struct {
	Topic      string  `json:"topic,omitempty"`
	Payload    *string `json:"payload,omitempty"`
	PayloadHex string  `json:"payloadHex,omitempty"`
	QoS        byte    `json:"qos,omitempty"`
	Retain     bool    `json:"retain,omitempty"`
	// BeforeStart publishes the message before the flows start (so
	// that a retained one reaches mqtt-in from the retained store).
	BeforeStart bool `json:"beforeStart,omitempty"`
	// Inject presses the button of the case's inject node with this id,
	// through the admin API's POST /inject/{id}.
	Inject string `json:"inject,omitempty"`
}

func (in input) payload() []byte {
	if in.Payload != nil {
		return []byte(*in.Payload)
	}
	b, _ := hex.DecodeString(in.PayloadHex) // checked by loadCases
	return b
}

// message is one message a flow published, as a subscriber with
// retain-as-published sees it.
type message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

func (m message) String() string {
	return fmt.Sprintf("%s qos=%d retain=%t payload=%+q", m.Topic, m.QoS, m.Retain, m.Payload)
}

var caseName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// casesEnv names the environment variable that selects the cases to run:
// a regular expression that their names must match (NRDIFF_CASES='^file-'
// runs the file cases only).
const casesEnv = "NRDIFF_CASES"

// loadCases reads and checks every case in dir (those casesEnv selects,
// when it is set).
func loadCases(t *testing.T, dir string) []*testCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in %s: %v", dir, err)
	}
	var only *regexp.Regexp
	if expr := os.Getenv(casesEnv); expr != "" {
		var err error
		if only, err = regexp.Compile(expr); err != nil {
			t.Fatalf("%s: %v", casesEnv, err)
		}
	}
	var cases []*testCase
	for _, f := range files {
		c := &testCase{name: strings.TrimSuffix(filepath.Base(f), ".json")}
		if only != nil && !only.MatchString(c.name) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.check(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatalf("%s=%q selects no case in %s", casesEnv, os.Getenv(casesEnv), dir)
	}
	return cases
}

// check reports what is wrong with a case file.
func (c *testCase) check() error {
	if !caseName.MatchString(c.name) || strings.HasPrefix(c.name, "nrdiff") {
		return fmt.Errorf("case name %q: want lower-case letters, digits and dashes, not starting with nrdiff", c.name)
	}
	prefix := c.name + "/"
	topicOK := func(what, topic string) error {
		if !strings.HasPrefix(topic, prefix) {
			return fmt.Errorf("%s %q does not start with %q (each case has its own topics)", what, topic, prefix)
		}
		return nil
	}
	if len(c.Flow) == 0 {
		return errors.New("no flow")
	}
	ids := map[string]bool{}
	for i, n := range c.Flow {
		id, _ := n["id"].(string)
		typ, _ := n["type"].(string)
		if id == "" || typ == "" || typ == "tab" || ids[id] {
			return fmt.Errorf("flow[%d]: want a unique id and a type other than tab", i)
		}
		ids[id] = true
		if typ == "mqtt in" || typ == "mqtt out" {
			topic, _ := n["topic"].(string)
			if f, ok := strings.CutPrefix(topic, "$share/"); ok {
				_, topic, _ = strings.Cut(f, "/")
			}
			if topic != "" {
				if err := topicOK(id+"'s topic", topic); err != nil {
					return err
				}
			}
			if b, _ := n["broker"].(string); b != brokerID {
				return fmt.Errorf("%s: broker must be %q, the harness's mqtt-broker", id, brokerID)
			}
		}
	}
	for i, in := range c.Inputs {
		switch {
		case in.Inject != "":
			if !ids[in.Inject] || in.Topic != "" || in.BeforeStart {
				return fmt.Errorf("inputs[%d]: inject needs the id of one of the case's nodes and nothing else", i)
			}
		default:
			if err := topicOK(fmt.Sprintf("inputs[%d].topic", i), in.Topic); err != nil {
				return err
			}
			if _, err := hex.DecodeString(in.PayloadHex); err != nil || in.Payload != nil && in.PayloadHex != "" || in.QoS > 2 {
				return fmt.Errorf("inputs[%d]: want payload or payloadHex (hex digits), and qos 0, 1 or 2", i)
			}
		}
	}
	if len(c.Outputs) == 0 {
		return errors.New("no outputs")
	}
	for i, o := range c.Outputs {
		if err := topicOK(fmt.Sprintf("outputs[%d]", i), o); err != nil {
			return err
		}
	}
	if c.Count < 0 {
		return errors.New("negative count")
	}
	return nil
}

// document is the flows document with every case on a tab of its own,
// plus the ready tab and the mqtt-broker config node pointing at port.
// The text NRDIFF_HTTP_PORT in a string property becomes httpPort, the
// side's own HTTP port, so that an http request node can call an http in
// route of the same side.
// NRDIFF_TCP_PORT becomes a free port of the case and NRDIFF_FILES_DIR the
// side's files directory, in nested values too.
// Node ids become CASE.ID (in id, wires and refFields), so that cases need
// not avoid each other's ids.
func document(t *testing.T, cases []*testCase, port, httpPort int, filesDir string) []byte {
	t.Helper()
	// The config node as Node-RED 4.1's editor exports it.
	nodes := []any{map[string]any{
		"id": brokerID, "type": "mqtt-broker", "name": "", "broker": "127.0.0.1", "port": strconv.Itoa(port),
		"clientid": "", "autoConnect": true, "usetls": false, "protocolVersion": "4", "keepalive": "60",
		"cleansession": true, "autoUnsubscribe": true,
		"birthTopic": "", "birthQos": "0", "birthRetain": "false", "birthPayload": "", "birthMsg": map[string]any{},
		"closeTopic": "", "closeQos": "0", "closeRetain": "false", "closePayload": "", "closeMsg": map[string]any{},
		"willTopic": "", "willQos": "0", "willRetain": "false", "willPayload": "", "willMsg": map[string]any{},
		"userProps": "", "sessionExpiry": "",
	}}
	for _, c := range cases {
		tab := map[string]any{"id": c.name, "type": "tab", "label": c.name, "disabled": false, "info": c.Description}
		if c.Env != nil {
			tab["env"] = c.Env
		}
		nodes = append(nodes, tab)
		ids := map[string]bool{}
		for _, n := range c.Flow {
			ids[n["id"].(string)] = true
		}
		subflows := map[string]bool{}
		for _, n := range c.Flow {
			if n["type"] == "subflow" {
				subflows[n["id"].(string)] = true
			}
		}
		for _, n := range c.Flow {
			m := map[string]any{}
			for k, v := range n {
				switch s, _ := v.(string); {
				case k == "wires":
					m[k] = prefixWires(c.name, v)
				case k == "nodes" && n["type"] == "group":
					m[k] = prefixWires(c.name, []any{v}).([]any)[0]
				case k == "id" || refFields[k] && ids[s]:
					m[k] = c.name + "." + s
				case k == "type" && strings.HasPrefix(s, "subflow:") && ids[strings.TrimPrefix(s, "subflow:")]:
					m[k] = "subflow:" + c.name + "." + strings.TrimPrefix(s, "subflow:")
				case (k == "in" || k == "out" || k == "status") && n["type"] == "subflow":
					m[k] = prefixPorts(c.name, v)
				default:
					m[k] = marks(v, func(s string) string {
						if strings.Contains(s, tcpPortMark) {
							s = strings.ReplaceAll(s, tcpPortMark, strconv.Itoa(tcpPort(t, port, c.name)))
						}
						s = strings.ReplaceAll(s, httpPortMark, strconv.Itoa(httpPort))
						return strings.ReplaceAll(s, filesDirMark, filesDir)
					})
				}
			}
			// A subflow definition is on no tab; its nodes name it as z.
			switch z, _ := n["z"].(string); {
			case n["type"] == "subflow":
				delete(m, "z")
			case subflows[z]:
				m["z"] = c.name + "." + z
			default:
				m["z"] = c.name
			}
			nodes = append(nodes, m)
		}
	}
	nodes = append(nodes,
		map[string]any{"id": readyTab, "type": "tab", "label": readyTab, "disabled": false, "info": ""},
		map[string]any{"id": readyTab + ".in", "type": "mqtt in", "z": readyTab, "name": "", "topic": readyIn, "qos": "0",
			"datatype": "buffer", "broker": brokerID, "inputs": 0, "wires": []any{[]any{readyTab + ".out"}}},
		map[string]any{"id": readyTab + ".out", "type": "mqtt out", "z": readyTab, "name": "", "topic": readyOut, "qos": "0",
			"retain": "false", "broker": brokerID, "wires": []any{}},
	)
	doc, err := json.MarshalIndent(nodes, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// marks returns v with replace applied to every string in it, in nested
// objects and arrays too (a change rule's value, an http request's
// headers), copying what it changes.
func marks(v any, replace func(string) string) any {
	switch x := v.(type) {
	case string:
		return replace(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = marks(e, replace)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = marks(e, replace)
		}
		return out
	}
	return v
}

// filesDirMark stands for the side's files directory, an absolute path:
// Runnel's file nodes are confined to it (its FilesDir) and Node-RED's
// write under it, each side in a directory of its own.
const filesDirMark = "NRDIFF_FILES_DIR"

// httpPortMark stands for the side's HTTP port in a case's flow.
const httpPortMark = "NRDIFF_HTTP_PORT"

// tcpPortMark stands for a free TCP port of the case on one side, so that
// a tcp request can call a tcp in listener of the same side while the
// other side listens on a port of its own.
const tcpPortMark = "NRDIFF_TCP_PORT"

var (
	tcpPortsMu sync.Mutex
	tcpPorts   = map[string]int{} // "BROKERPORT/CASE" -> port
)

// tcpPort returns the case's TCP port on the side whose broker listens on
// brokerPort: the same port every time the side's document is built.
func tcpPort(t *testing.T, brokerPort int, name string) int {
	tcpPortsMu.Lock()
	defer tcpPortsMu.Unlock()
	key := strconv.Itoa(brokerPort) + "/" + name
	if p, ok := tcpPorts[key]; ok {
		return p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	tcpPorts[key] = p
	return p
}

// refFields are the properties in which a node refers to a config node
// by id; those that name one of the case's own nodes are renamed with it.
// So is g, the group a node is in.
var refFields = map[string]bool{"broker": true, "tls": true, "g": true, "server": true, "client": true}

// prefixPorts renames the node ids in a subflow definition's in, out or
// status ports: a list of ports, or one port (status), each with wires
// [{"id", "port"}].
func prefixPorts(name string, v any) any {
	if list, ok := v.([]any); ok {
		out := make([]any, len(list))
		for i, p := range list {
			out[i] = prefixPorts(name, p)
		}
		return out
	}
	port, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(port))
	for k, val := range port {
		out[k] = val
	}
	if wires, ok := port["wires"].([]any); ok {
		ws := make([]any, len(wires))
		for i, w := range wires {
			wm, _ := w.(map[string]any)
			c := make(map[string]any, len(wm))
			for k, val := range wm {
				c[k] = val
			}
			if id, ok := wm["id"].(string); ok {
				c["id"] = name + "." + id
			}
			ws[i] = c
		}
		out["wires"] = ws
	}
	return out
}

func prefixWires(name string, v any) any {
	ports, _ := v.([]any)
	out := make([]any, len(ports))
	for i, p := range ports {
		targets, _ := p.([]any)
		o := make([]any, len(targets))
		for j, id := range targets {
			o[j] = name + "." + fmt.Sprint(id)
		}
		out[i] = o
	}
	return out
}

// collector records what a side's flows publish, per case.
type collector struct {
	mu     sync.Mutex
	byCase map[string][]message
	ready  map[string]bool // probe payloads echoed on readyOut
	wake   chan struct{}
}

func newCollector() *collector {
	return &collector{byCase: map[string][]message{}, ready: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (c *collector) add(m message) {
	c.mu.Lock()
	if m.Topic == readyOut {
		c.ready[string(m.Payload)] = true
	} else {
		name, _, _ := strings.Cut(m.Topic, "/")
		c.byCase[name] = append(c.byCase[name], m)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// wait waits until cond holds (checked under the lock) or ctx ends.
func (c *collector) wait(ctx context.Context, cond func() bool) bool {
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return false
		}
	}
}

func (c *collector) messages(name string) []message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.byCase[name])
}

// side is one implementation under test: Node-RED or Runnel.
type side struct {
	name   string
	pub    *paho.Client // publishes the inputs
	col    *collector
	inject func(id string) error
	logs   func(name string) string // what the side logged about a case's nodes
}

// connect opens an MQTT 5 client to addr.
func connect(t *testing.T, addr, id string, onPublish func(paho.PublishReceived)) *paho.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn, ClientID: id}
	if onPublish != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){
			func(p paho.PublishReceived) (bool, error) { onPublish(p); return true, nil },
		}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60}); err != nil {
		t.Fatalf("connect %s to %s: %v", id, addr, err)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return c
}

// newSide connects a side's publisher and its collector, which
// subscribes to every case's outputs with retain-as-published, so that
// it sees the retain flag each message was published with.
func newSide(t *testing.T, name, addr string, cases []*testCase) *side {
	t.Helper()
	s := &side{name: name, col: newCollector()}
	tag := strings.ToLower(strings.ReplaceAll(name, "-", ""))
	col := connect(t, addr, "nrdiff-collect-"+tag, func(p paho.PublishReceived) {
		s.col.add(message{Topic: p.Packet.Topic, Payload: p.Packet.Payload, QoS: p.Packet.QoS, Retain: p.Packet.Retain})
	})
	subs := []paho.SubscribeOptions{{Topic: readyOut, QoS: 0}}
	for _, c := range cases {
		for _, o := range c.Outputs {
			subs = append(subs, paho.SubscribeOptions{Topic: o, QoS: 2, RetainAsPublished: true})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sa, err := col.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
	if err != nil {
		t.Fatalf("%s: subscribe: %v", name, err)
	}
	for i, r := range sa.Reasons {
		if r >= 0x80 {
			t.Fatalf("%s: subscription to %q refused: reason %#x", name, subs[i].Topic, r)
		}
	}
	s.pub = connect(t, addr, "nrdiff-publish-"+tag, nil)
	return s
}

func (s *side) publish(t *testing.T, in input) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.pub.Publish(ctx, &paho.Publish{Topic: in.Topic, QoS: in.QoS, Retain: in.Retain, Payload: in.payload()}); err != nil {
		t.Fatalf("%s: publish to %s: %v", s.name, in.Topic, err)
	}
}

// probe publishes to the ready tab until the flows echo it back: then
// every mqtt-in subscription made before the ready tab's is in place,
// and every message published before is through the flows.
func (s *side) probe(t *testing.T, what string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", what, i)
		s.publish(t, input{Topic: readyIn, Payload: &id})
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		ok := s.col.wait(ctx, func() bool { return s.col.ready[id] })
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the ready tab did not echo a probe within %v", s.name, timeout)
		}
	}
}

// requireOracle returns the node binary and Node-RED's red.js. Without
// them (or mosquitto) the test fails under the README's test command
// (RUNNEL_TEST_STRICT) or in CI, and is skipped, loudly, elsewhere.
func requireOracle(t *testing.T) (node, redJS string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		mosquittotest.Missing(t, "NODE-RED DIFFERENTIAL TESTS NOT RUN: "+fmt.Sprintf(format, args...))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed (apt-get install nodejs)")
	}
	redJS, _ = filepath.Abs(filepath.Join(oracleDir, "node_modules/node-red/red.js"))
	pkg, err := os.ReadFile(filepath.Join(oracleDir, "node_modules/node-red/package.json"))
	if err != nil {
		missing("Node-RED is not installed: run `npm ci --prefix .ci/nodered` in the repository")
	}
	var p struct{ Version string }
	if json.Unmarshal(pkg, &p); p.Version != noderedVersion {
		missing("Node-RED %q is installed, want %s: run `npm ci --prefix .ci/nodered`", p.Version, noderedVersion)
	}
	if _, err := os.Stat(mosquittotest.Path); err != nil {
		missing("mosquitto is not installed (apt-get install mosquitto)")
	}
	return node, redJS
}

// syncBuffer is a log shared by the goroutine reading a process's output
// and the test.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *syncBuffer) add(l string) {
	b.mu.Lock()
	b.lines = append(b.lines, l)
	b.mu.Unlock()
}

func (b *syncBuffer) grep(sub string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.lines {
		if sub == "" || strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// nodeRED is a running Node-RED process.
type nodeRED struct {
	port    int
	log     *syncBuffer
	started chan struct{} // closed when it logs "Started flows"
	exited  chan struct{}
}

const settingsJS = `module.exports = {
    uiHost: "127.0.0.1",
    uiPort: %d,
    flowFile: "flows.json",
    credentialSecret: false,
    disableEditor: true,
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    logging: { console: { level: "info", metrics: false, audit: false } },
};
`

// startNodeRED starts Node-RED on a free loopback port with doc as its
// flows file, and kills it when the test ends. Wait for it with ready.
func startNodeRED(t *testing.T, node, redJS string, port int, doc []byte) *nodeRED {
	t.Helper()
	dir := t.TempDir()
	n := &nodeRED{port: port, log: &syncBuffer{}, started: make(chan struct{}), exited: make(chan struct{})}
	settings := filepath.Join(dir, "settings.js")
	if err := os.WriteFile(settings, fmt.Appendf(nil, settingsJS, n.port), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flows.json"), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, redJS, "--userDir", dir, "--port", strconv.Itoa(n.port), "--settings", settings)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Node-RED: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			n.log.add(sc.Text())
			if strings.Contains(sc.Text(), "Started flows") {
				once.Do(func() { close(n.started) })
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-n.exited
		}
	})
	return n
}

// ready waits until Node-RED has started its flows.
func (n *nodeRED) ready(t *testing.T) {
	t.Helper()
	select {
	case <-n.started:
	case <-n.exited:
		t.Fatalf("Node-RED exited:\n%s", n.log.grep(""))
	case <-time.After(startTimeout):
		t.Fatalf("Node-RED did not start its flows within %v:\n%s", startTimeout, n.log.grep(""))
	}
}

// inject presses an inject node's button through the admin API.
func (n *nodeRED) inject(id string) error {
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/inject/%s", n.port, id), "application/json", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST /inject/%s: %s: %s", id, resp.Status, b)
	}
	return nil
}

// startRunnel starts Runnel in process: the embedded broker on a free
// loopback port, the runtime, and an HTTP server for http in nodes' routes
// on another (whose port it returns); deploy the flows with deploy.
func startRunnel(t *testing.T, filesDir string) (*broker.Broker, *engine.Runtime, *syncBuffer, int) {
	t.Helper()
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	routes, err := editor.NewNodeRoutes(editor.NodeRoutesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := editor.NewServer(routes, editor.DefaultServerLimits(), nil)
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	log := &syncBuffer{}
	// Files under filesDir, and exec nodes enabled: Node-RED runs them
	// with no setting to turn them off.
	rt := engine.New(engine.Options{Broker: br, BrokerAddr: br.Addr(), HTTPRoutes: routes, FilesDir: filesDir,
		Nodes: engine.NodeOptions{Exec: true}, OnError: func(ev engine.ErrorEvent) {
			log.add(fmt.Sprintf("[error] [%s:%s] %v", ev.Type, ev.NodeID, ev.Err))
		}})
	t.Cleanup(func() { rt.Stop(context.Background()) })
	return br, rt, log, ln.Addr().(*net.TCPAddr).Port
}

// TestNodeREDDifferential runs every case in testdata through Node-RED
// and through Runnel and compares what they publish.
func TestNodeREDDifferential(t *testing.T) {
	node, redJS := requireOracle(t)
	cases := loadCases(t, "testdata")
	t0 := time.Now()
	// A process environment variable that both sides see (Node-RED
	// inherits it), for the cases that substitute ${NRDIFF_ENV}.
	t.Setenv("NRDIFF_ENV", "from-process")

	mosq := mosquittotest.Start(t, mosquittotest.Options{})
	// Each side's files directory (NRDIFF_FILES_DIR), the same path but
	// for its last element.
	files := t.TempDir()
	redFiles, rnFiles := filepath.Join(files, "nodered"), filepath.Join(files, "runnel")
	for _, d := range []string{redFiles, rnFiles} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	br, rt, rlog, rhttp := startRunnel(t, rnFiles)
	_, rport, _ := net.SplitHostPort(br.Addr())
	rp, _ := strconv.Atoi(rport)

	nr := newSide(t, "Node-RED", mosq.Addr, cases)
	rn := newSide(t, "Runnel", br.Addr(), cases)
	sides := []*side{nr, rn}

	// Messages that must be there before the flows start.
	for _, c := range cases {
		for _, in := range c.Inputs {
			if in.BeforeStart {
				for _, s := range sides {
					s.publish(t, in)
				}
			}
		}
	}

	redPort := mosquittotest.FreePort(t)
	red := startNodeRED(t, node, redJS, redPort, document(t, cases, mosq.Port, redPort, redFiles))
	nr.inject = red.inject
	nr.logs = func(name string) string { return red.log.grep(":" + name + ".") }

	rnCases := deployable(t, rt, cases, rp, rhttp, rnFiles)
	doc, err := flows.Parse(document(t, rnCases, rp, rhttp, rnFiles))
	if err != nil {
		t.Fatalf("Runnel: parse the flows: %v", err)
	}
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatalf("Runnel: deploy: %v", err)
	}
	rn.inject = func(id string) error {
		tr, ok := rt.Graph().Node(id).(interface{ Trigger() })
		if !ok {
			return fmt.Errorf("no inject node %q", id)
		}
		tr.Trigger()
		return nil
	}
	rn.logs = func(name string) string { return rlog.grep(":" + name + ".") }

	red.ready(t)
	for _, s := range sides {
		s.probe(t, "ready", startTimeout)
	}
	t.Logf("Node-RED and Runnel ready after %v", time.Since(t0).Round(time.Millisecond))

	// Every case's inputs, in order, to both sides.
	for _, c := range cases {
		for _, in := range c.Inputs {
			for _, s := range sides {
				switch {
				case in.BeforeStart:
				case in.Inject != "":
					if err := s.inject(c.name + "." + in.Inject); err != nil {
						t.Fatalf("%s: %s: %v", s.name, c.name, err)
					}
				default:
					s.publish(t, in)
				}
			}
		}
	}
	// Wait for every case's count on both sides (a side that publishes
	// fewer makes the wait end at the deadline), then send one more probe
	// through the flows, which gives a message beyond the count time to
	// arrive and be reported (best effort: through Node-RED a QoS 0
	// probe can overtake QoS 1 and 2 messages).
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	for _, s := range sides {
		waitFor := cases
		if s == rn {
			// Not for what Runnel could not deploy, nor for a known
			// difference: Runnel may publish fewer messages than the
			// count there, which would hold the wait to its deadline.
			waitFor = slices.DeleteFunc(slices.Clone(rnCases), func(c *testCase) bool { return c.KnownDiff != "" })
		}
		s.col.wait(ctx, func() bool {
			for _, c := range waitFor {
				if len(s.col.byCase[c.name]) < c.Count {
					return false
				}
			}
			return true
		})
	}
	for _, s := range sides {
		s.probe(t, "flush", 10*time.Second)
	}
	t.Logf("all cases run after %v", time.Since(t0).Round(time.Millisecond))

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { compare(t, c, nr, rn) })
	}
}

// deployable returns the cases Runnel can deploy: a case marked
// knownDiff whose flow Runnel refuses (a node type or expression it does
// not have yet) is left out of Runnel's document, so that it cannot stop
// the other cases; Node-RED still runs it, and the comparison reports the
// difference as known.
func deployable(t *testing.T, rt *engine.Runtime, cases []*testCase, port, httpPort int, filesDir string) []*testCase {
	var out []*testCase
	for _, c := range cases {
		if c.KnownDiff != "" {
			doc, err := flows.Parse(document(t, []*testCase{c}, port, httpPort, filesDir))
			if err == nil {
				_, err = rt.Compile(doc)
			}
			if err != nil {
				t.Logf("Runnel cannot deploy %s (known difference: %s): %v", c.name, c.KnownDiff, err)
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// compare reports how Runnel's outputs of a case differ from Node-RED's.
func compare(t *testing.T, c *testCase, nr, rn *side) {
	want, got := byTopic(nr.col.messages(c.name)), byTopic(rn.col.messages(c.name))
	if len(want) != c.Count {
		t.Fatalf("the case is wrong: it declares count %d, Node-RED published %d:\n%s\nNode-RED's log:\n%s",
			c.Count, len(want), format(want), nr.logs(c.name))
	}
	if equal(want, got) {
		t.Logf("both published:\n%s", format(want))
		if c.KnownDiff != "" {
			t.Errorf("Runnel matches Node-RED now: remove \"knownDiff\": %q from testdata/%s.json", c.KnownDiff, c.name)
		}
		return
	}
	report := fmt.Sprintf("%s\nNode-RED published:\n%s\nRunnel published:\n%s", c.Description, format(want), format(got))
	if l := nr.logs(c.name); l != "" {
		report += "\nNode-RED's log:\n" + l
	}
	if l := rn.logs(c.name); l != "" {
		report += "\nRunnel's errors:\n" + l
	}
	if c.KnownDiff != "" {
		t.Skipf("KNOWN DIFFERENCE (%s): %s", c.KnownDiff, report)
	}
	t.Errorf("Runnel differs from Node-RED %s: %s", noderedVersion, report)
}

// byTopic orders messages by topic and QoS, keeping the order of each:
// MQTT orders the messages of one topic and QoS only, and Node-RED's
// client sends a QoS 0 message published after a QoS 1 or 2 one before it.
func byTopic(ms []message) []message {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.QoS < b.QoS
	})
	return ms
}

func equal(a, b []message) bool {
	return slices.EqualFunc(a, b, func(x, y message) bool {
		return x.Topic == y.Topic && x.QoS == y.QoS && x.Retain == y.Retain && bytes.Equal(x.Payload, y.Payload)
	})
}

func format(ms []message) string {
	if len(ms) == 0 {
		return "  (nothing)"
	}
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "  %d. %s", i+1, m)
	}
	return b.String()
}
