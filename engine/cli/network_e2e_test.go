package cli_test

// End-to-end tests of the network, parser and storage nodes: "runnel
// serve" runs a flows.json as Node-RED exports it, on free loopback ports,
// and real clients talk to it as a user's devices do: curl, mosquitto_sub,
// nc, gorilla/websocket, net.Dial and paho.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/engine/cli"
)

// serveFlows writes flows (with MQTT_PORT replaced by the broker's port)
// to a data directory and starts "runnel serve" on it.
func serveFlows(t *testing.T, flowsJSON string) *runnel {
	t.Helper()
	mqtt := freePort(t)
	_, port, _ := net.SplitHostPort(mqtt)
	data := t.TempDir()
	file := filepath.Join(data, "flows.json")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(flowsJSON, "MQTT_PORT", port)), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _ := startServeAt(t, data, mqtt, "--flows", file)
	return r
}

// tool returns the path of a program a test needs, or skips the test
// (fails it under RUNNEL_TEST_STRICT=1 or in CI), saying which Debian
// package has it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		mosquittotest.Missing(t, fmt.Sprintf("%s is not installed (Debian package %s)", name, pkg))
	}
	return path
}

// brokerNode is the mqtt-broker config node as Node-RED 4.1 exports it,
// pointing at Runnel's embedded broker (served in process).
const brokerNode = `{"id":"b1","type":"mqtt-broker","name":"runnel","broker":"127.0.0.1","port":"MQTT_PORT","clientid":"",
 "autoConnect":true,"usetls":false,"protocolVersion":"4","keepalive":"60","cleansession":true,"autoUnsubscribe":true,
 "birthTopic":"","birthQos":"0","birthRetain":"false","birthPayload":"","birthMsg":{},
 "closeTopic":"","closeQos":"0","closeRetain":"false","closePayload":"","closeMsg":{},
 "willTopic":"","willQos":"0","willRetain":"false","willPayload":"","willMsg":{},"userProps":"","sessionExpiry":""}`

// TestWebhookWithCurl: http in (POST /hook) → change → http response
// with status 201 and a header, driven by curl.
func TestWebhookWithCurl(t *testing.T) {
	curl := tool(t, "curl", "curl")
	r := serveFlows(t, `[
 {"id":"t1","type":"tab","label":"Webhook","disabled":false,"info":""},
 {"id":"in","type":"http in","z":"t1","name":"hook","url":"/hook","method":"post","upload":false,"swaggerDoc":"","x":110,"y":80,"wires":[["ch"]]},
 {"id":"ch","type":"change","z":"t1","name":"","rules":[
   {"t":"set","p":"payload.received","pt":"msg","to":"true","tot":"bool"},
   {"t":"move","p":"payload.dev","pt":"msg","to":"payload.device","tot":"msg"},
   {"t":"delete","p":"payload.secret","pt":"msg"}],
  "action":"","property":"","from":"","to":"","reg":false,"x":290,"y":80,"wires":[["out"]]},
 {"id":"out","type":"http response","z":"t1","name":"","statusCode":"201","headers":{"X-Hook":"runnel"},"x":470,"y":80,"wires":[]}
]`)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, curl, append([]string{"-sS", "-i"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// The status line, the node's header and the body, exactly; Date and
	// Content-Length vary or follow from the body and are checked apart.
	check := func(got, status, ctype, body string) {
		t.Helper()
		head, gotBody, ok := strings.Cut(got, "\r\n\r\n")
		if !ok {
			t.Fatalf("curl got no header end:\n%s", got)
		}
		lines := strings.Split(head, "\r\n")
		var hdr []string
		for _, l := range lines[1:] {
			name, _, _ := strings.Cut(l, ":")
			switch strings.ToLower(name) {
			case "date":
			case "content-length":
				if l != fmt.Sprintf("Content-Length: %d", len(body)) {
					t.Errorf("%s, want %d", l, len(body))
				}
			default:
				hdr = append(hdr, l)
			}
		}
		slices.Sort(hdr)
		want := []string{"Content-Type: " + ctype, "X-Hook: runnel"}
		if lines[0] != status || !slices.Equal(hdr, want) || gotBody != body {
			t.Fatalf("curl got:\n%s\nwant %s, headers %q, body %s\nlog:\n%s", got, status, want, body, r.stderr.String())
		}
	}
	base := "http://" + r.http
	check(run("-H", "Content-Type: application/json", "--data-binary", `{"dev":"d1","temp":21.5,"secret":"x","tags":["a","b"]}`, base+"/hook"),
		"HTTP/1.1 201 Created", "application/json; charset=utf-8",
		`{"temp":21.5,"tags":["a","b"],"received":true,"device":"d1"}`)
	// A form body is parsed as Express's qs does: nested keys, arrays, and
	// the keys in the order they came (the move puts device last).
	check(run("--data-urlencode", "dev=d 2", "--data-urlencode", "n=7", "--data-urlencode", "loc[room]=lab",
		"--data-urlencode", "tags[]=x", base+"/hook"),
		"HTTP/1.1 201 Created", "application/json; charset=utf-8",
		`{"n":"7","loc":{"room":"lab"},"tags":["x"],"received":true,"device":"d 2"}`)
	// The route is case-insensitive and takes a trailing slash, as
	// Express's.
	check(run("-H", "Content-Type: application/json", "--data-binary", `{"dev":"d2"}`, base+"/HOOK/"),
		"HTTP/1.1 201 Created", "application/json; charset=utf-8",
		`{"received":true,"device":"d2"}`)
	// The route takes POST only.
	out := run("-X", "GET", base+"/hook")
	if !strings.HasPrefix(out, "HTTP/1.1 404 Not Found\r\n") || !strings.HasSuffix(out, "\r\n\r\n<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET /hook</pre>\n</body>\n</html>\n") {
		t.Fatalf("GET /hook (the route is POST only):\n%s", out)
	}
}

// TestRESTPoller: inject (repeat) → http request (a Go server on
// loopback answering JSON) → json → mqtt out, received by mosquitto_sub.
func TestRESTPoller(t *testing.T) {
	sub := tool(t, "mosquitto_sub", "mosquitto-clients")
	var mu sync.Mutex
	seq := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/reading" || r.URL.RawQuery != "site=north" || r.Header.Get("X-Api-Key") != "k1" {
			http.Error(w, "wrong request: "+r.URL.String(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		seq++
		n := seq
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		// Pretty-printed, with a number that JavaScript writes shorter.
		fmt.Fprintf(w, "{\n  \"seq\": %d,\n  \"temp\": 21.50,\n  \"unit\": \"°C\",\n  \"ok\": true\n}\n", n)
	}))
	defer api.Close()
	flowsJSON := strings.ReplaceAll(`[
 {"id":"t1","type":"tab","label":"Poller","disabled":false,"info":""},
 {"id":"tick","type":"inject","z":"t1","name":"every 0.2 s","props":[{"p":"payload"},{"p":"topic","vt":"str"}],
  "repeat":"0.2","crontab":"","once":true,"onceDelay":"0.5","topic":"","payload":"","payloadType":"date","x":120,"y":80,"wires":[["req"]]},
 {"id":"req","type":"http request","z":"t1","name":"","method":"GET","ret":"txt","paytoqs":"ignore",
  "url":"API/api/reading?site=north","tls":"","persist":false,"proxy":"","insecureHTTPParser":false,"authType":"","senderr":false,
  "headers":[{"keyType":"other","keyValue":"X-Api-Key","valueType":"other","valueValue":"k1"}],"x":300,"y":80,"wires":[["js"]]},
 {"id":"js","type":"json","z":"t1","name":"","property":"payload","action":"","pretty":false,"x":450,"y":80,"wires":[["out"]]},
 {"id":"out","type":"mqtt out","z":"t1","name":"","topic":"poll/reading","qos":"1","retain":"false","respTopic":"","contentType":"",
  "userProps":"","correl":"","expiry":"","broker":"b1","x":600,"y":80,"wires":[]},
 `+brokerNode+`
]`, "API", api.URL)
	// Subscribe before the flows start: write the flows, start mosquitto_sub
	// against the broker as soon as it listens. The inject waits 0.5 s
	// before its first message, and mosquitto_sub -C counts from the first
	// it gets, so the first three it gets are checked, whatever came before.
	r := serveFlows(t, flowsJSON)
	host, port, _ := net.SplitHostPort(r.mqtt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, sub, "-h", host, "-p", port, "-t", "poll/#", "-q", "1", "-v", "-C", "3", "-W", "25").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s\nlog:\n%s", err, out, r.stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("mosquitto_sub got %q", out)
	}
	// Requests may overlap when the machine is slow, and http request
	// sends results in the order they finish: compare the sequence numbers
	// as a set of three consecutive ones.
	var first int
	fmt.Sscanf(lines[0], `poll/reading {"seq":%d`, &first)
	for _, l := range lines {
		var n int
		fmt.Sscanf(l, `poll/reading {"seq":%d`, &n)
		if n < first {
			first = n
		}
	}
	var want []string
	for i := range 3 {
		want = append(want, fmt.Sprintf(`poll/reading {"seq":%d,"temp":21.5,"unit":"°C","ok":true}`, first+i))
	}
	got := slices.Clone(lines)
	slices.Sort(got)
	slices.Sort(want)
	if first < 1 || !slices.Equal(got, want) {
		t.Fatalf("mosquitto_sub got:\n%s\nwant (in any order):\n%s", out, strings.Join(want, "\n"))
	}
}

// TestWebSocketBridge: gorilla clients connect to a websocket listener;
// what one sends leaves websocket in for MQTT and comes back to it alone
// (websocket out with its _session); what is published on MQTT goes to
// every client (websocket out without a session).
func TestWebSocketBridge(t *testing.T) {
	r := serveFlows(t, `[
 {"id":"t1","type":"tab","label":"Bridge","disabled":false,"info":""},
 {"id":"lst","type":"websocket-listener","path":"/ws/bridge","wholemsg":"false"},
 {"id":"wsin","type":"websocket in","z":"t1","name":"","server":"lst","client":"","x":110,"y":80,"wires":[["up","ack"]]},
 {"id":"up","type":"mqtt out","z":"t1","name":"","topic":"bridge/up","qos":"1","retain":"false","respTopic":"","contentType":"",
  "userProps":"","correl":"","expiry":"","broker":"b1","x":300,"y":60,"wires":[]},
 {"id":"ack","type":"change","z":"t1","name":"","rules":[{"t":"set","p":"payload","pt":"msg","to":"{\"ack\":true}","tot":"json"}],
  "action":"","property":"","from":"","to":"","reg":false,"x":300,"y":120,"wires":[["wsout"]]},
 {"id":"down","type":"mqtt in","z":"t1","name":"","topic":"bridge/down","qos":"1","datatype":"utf8","broker":"b1","nl":false,"rap":true,
  "rh":0,"inputs":0,"x":110,"y":180,"wires":[["wsout"]]},
 {"id":"wsout","type":"websocket out","z":"t1","name":"","server":"lst","client":"","x":500,"y":150,"wires":[]},
 `+brokerNode+`
]`)
	mq := subscribe(t, r.mqtt, "bridge/up", 1)
	url := "ws://" + r.http + "/ws/bridge"
	dial := func() *websocket.Conn {
		t.Helper()
		c, resp, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial %s: %v (%v)\nlog:\n%s", url, err, resp, r.stderr.String())
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	read := func(c *websocket.Conn) (int, string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		typ, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v\nlog:\n%s", err, r.stderr.String())
		}
		return typ, string(b)
	}
	a, b := dial(), dial()
	if err := a.WriteMessage(websocket.TextMessage, []byte("hello from a")); err != nil {
		t.Fatal(err)
	}
	if typ, got := read(a); typ != websocket.TextMessage || got != `{"ack":true}` {
		t.Fatalf("a got %d %q", typ, got)
	}
	if err := b.WriteMessage(websocket.BinaryMessage, []byte{'b', 0xff, 0}); err != nil {
		t.Fatal(err)
	}
	if typ, got := read(b); typ != websocket.TextMessage || got != `{"ack":true}` {
		t.Fatalf("b got %d %q", typ, got)
	}
	// Both acknowledgements came to their own client: the next frame each
	// gets is the broadcast (a reply to the other client would come first).
	pub := publisher(t, r.mqtt)
	if _, err := pub.Publish(context.Background(), &paho.Publish{Topic: "bridge/down", QoS: 1, Payload: []byte("to all ✓")}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*websocket.Conn{"a": a, "b": b} {
		if typ, got := read(c); typ != websocket.TextMessage || got != "to all ✓" {
			t.Errorf("%s got %d %q, want the broadcast", name, typ, got)
		}
	}
	got := mq.waitFor(t, 2)
	want := []string{"bridge/up hello from a", "bridge/up b\xff\x00"}
	if !slices.Equal(got, want) {
		t.Fatalf("MQTT got %q, want %q", got, want)
	}
}

// TestCSVLogger: mqtt in → csv (object → line, header once) → file
// (append); the file's lines are exact, the header in it once.
func TestCSVLogger(t *testing.T) {
	r := serveFlows(t, `[
 {"id":"t1","type":"tab","label":"Logger","disabled":false,"info":""},
 {"id":"in","type":"mqtt in","z":"t1","name":"","topic":"log/+","qos":"1","datatype":"json","broker":"b1","nl":false,"rap":true,
  "rh":0,"inputs":0,"x":110,"y":80,"wires":[["csv"]]},
 {"id":"csv","type":"csv","z":"t1","name":"","spec":"rfc","sep":",","hdrin":"","hdrout":"once","multi":"one","ret":"\\n",
  "temp":"time,device,temp,note","skip":"0","strings":true,"include_empty_strings":"","include_null_values":"","x":270,"y":80,"wires":[["file"]]},
 {"id":"file","type":"file","z":"t1","name":"","filename":"logs/readings.csv","filenameType":"str","appendNewline":false,
  "createDir":true,"overwriteFile":"false","encoding":"none","x":430,"y":80,"wires":[["done"]]},
 {"id":"done","type":"mqtt out","z":"t1","name":"","topic":"log-written","qos":"1","retain":"false","respTopic":"","contentType":"",
  "userProps":"","correl":"","expiry":"","broker":"b1","x":600,"y":80,"wires":[]},
 `+brokerNode+`
]`)
	done := subscribe(t, r.mqtt, "log-written", 1)
	pub := publisher(t, r.mqtt)
	inputs := []string{
		`{"time":1700000000,"device":"d1","temp":21.5}`,
		`{"device":"lab, north","temp":-3,"note":"say \"hi\"","time":1700000001}`,
		`{"time":1700000002,"device":"d3","extra":"not a column"}`,
		`{"time":1700000003,"device":"d4","temp":0.1,"note":"two\nlines"}`,
	}
	for _, p := range inputs {
		if _, err := pub.Publish(context.Background(), &paho.Publish{Topic: "log/x", QoS: 1, Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := done.waitFor(t, len(inputs)); len(got) != len(inputs) {
		t.Fatalf("%d writes, want %d:\n%s", len(got), len(inputs), r.stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(r.data, "logs", "readings.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "time,device,temp,note\n" +
		"1700000000,d1,21.5,\n" +
		"1700000001,\"lab, north\",-3,\"say \"\"hi\"\"\"\n" +
		"1700000002,d3,,\n" +
		"1700000003,d4,0.1,\"two\nlines\"\n"
	if string(b) != want {
		t.Fatalf("the file holds:\n%s\nwant:\n%s", b, want)
	}
}

// tcpEchoFlow is tcp in (server, lines) → function → tcp out (reply to
// the session), as Node-RED exports it.
const tcpEchoFlow = `[
 {"id":"t1","type":"tab","label":"TCP","disabled":false,"info":""},
 {"id":"in","type":"tcp in","z":"t1","name":"","server":"server","host":"","port":"TCP_PORT","datamode":"stream","datatype":"utf8",
  "newline":"\\n","topic":"line","trim":true,"base64":false,"tls":"","x":110,"y":80,"wires":[["fn"]]},
 {"id":"fn","type":"function","z":"t1","name":"answer","func":"msg.payload = msg.topic + ' ' + msg.payload.length + ' ' + msg.payload.toUpperCase();\nreturn msg;",
  "outputs":1,"timeout":0,"noerr":0,"initialize":"","finalize":"","libs":[],"x":270,"y":80,"wires":[["out"]]},
 {"id":"out","type":"tcp out","z":"t1","name":"","host":"","port":"","beserver":"reply","base64":false,"end":false,"tls":"","x":430,"y":80,"wires":[]}
]`

func serveTCPEcho(t *testing.T) (*runnel, string) {
	t.Helper()
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	r := serveFlows(t, strings.ReplaceAll(tcpEchoFlow, "TCP_PORT", port))
	waitListening(t, addr)
	return r, addr
}

// TestTCPRequestResponse drives tcp in → function → tcp out (reply) with
// Go clients: each gets the answers to its own lines, exactly (each line
// keeps its delimiter: trim is Node-RED's "re-attach delimiter").
func TestTCPRequestResponse(t *testing.T) {
	r, addr := serveTCPEcho(t)
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	io.WriteString(a, "hello\nwör")
	io.WriteString(b, "other\n")
	io.WriteString(a, "ld\n")
	readN := func(c net.Conn, want string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
			t.Fatalf("got %q (%v), want %q\nlog:\n%s", got, err, want, r.stderr.String())
		}
	}
	// Each reply is the function's string, with no delimiter added (tcp
	// out writes the payload as it is); "wörld\n" is 6 UTF-16 units.
	readN(a, "line 6 HELLO\nline 6 WÖRLD\n")
	readN(b, "line 6 OTHER\n")
}

// TestTCPRequestResponseWithNetcat: the same flow driven by Debian's nc.
func TestTCPRequestResponseWithNetcat(t *testing.T) {
	nc := tool(t, "nc", "netcat-openbsd")
	r, addr := serveTCPEcho(t)
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(nc, host, port)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill() // nc waits for the server to close; it is ours to end
		cmd.Wait()
	}()
	io.WriteString(stdin, "ping\n\nsensor 42\n")
	want := "line 5 PING\nline 1 \nline 10 SENSOR 42\n"
	got := make(chan string, 1)
	go func() {
		b := make([]byte, len(want))
		n, _ := io.ReadFull(bufio.NewReader(stdout), b)
		got <- string(b[:n])
	}()
	select {
	case g := <-got:
		if g != want {
			t.Fatalf("nc got %q, want %q\nlog:\n%s", g, want, r.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("nc got no answer in time\nlog:\n%s", r.stderr.String())
	}
}

// TestRealWorldFlowsValidate runs "runnel validate" on the flows in
// testdata/realworld: exports, as Node-RED 4.1 writes them, of the kind of
// flows users build with the network, parser and storage nodes (a REST
// API with uploads, a catch handler and an upstream call through a proxy
// with TLS; a WebSocket feed with a listener and a client; a TCP and UDP
// gateway with exec; a file pipeline with watch, csv, yaml, xml and html;
// a CSV download). Each loads, with only the warnings listed.
func TestRealWorldFlowsValidate(t *testing.T) {
	want := map[string][]string{
		"csv-download.json":   {"ok (9 objects)"},
		"file-pipeline.json":  {"ok (15 objects)"},
		"rest-api.json":       {"ok (17 objects)"},
		"websocket-feed.json": {"ok (14 objects)"},
		"tcp-udp-gateway.json": {
			`warning: line 211: node "b52637485960b1c2" (udp-in) field "multicast": multicast listens on every interface: set [nodes] listen_all = true in runnel.toml to receive`,
			`warning: line 245: node "d7485960b1c2d3e4" (exec) field "command": exec is disabled: set [nodes] exec = true in runnel.toml (RUNNEL_NODES_EXEC) to run commands`,
			"ok (17 objects, 2 warnings)",
		},
	}
	files, err := filepath.Glob("testdata/realworld/*.json")
	if err != nil || len(files) != len(want) {
		t.Fatalf("testdata/realworld holds %d flows, the test knows %d: %v", len(files), len(want), err)
	}
	for _, f := range files {
		var out, errOut strings.Builder
		code := cli.MainContext(context.Background(), []string{"validate", f}, &out, &errOut)
		var lines []string
		for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			lines = append(lines, strings.TrimPrefix(l, f+": "))
		}
		if code != 0 || !slices.Equal(lines, want[filepath.Base(f)]) {
			t.Errorf("validate %s: exit %d\n%s%s\nwant:\n%s", f, code, out.String(), errOut.String(), strings.Join(want[filepath.Base(f)], "\n"))
		}
	}
}
