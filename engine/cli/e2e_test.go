package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/engine/cli"
	_ "github.com/runnel-io/runnel/nodes"
)

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// runnel starts "runnel serve" in process on free ports and stops it when
// the test ends, checking that it stopped cleanly.
type runnel struct {
	mqtt, http, data string
	stderr           *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startRunnel(t *testing.T, extra ...string) *runnel {
	t.Helper()
	r := &runnel{mqtt: freePort(t), http: freePort(t), data: t.TempDir(), stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{"serve", "--mqtt", r.mqtt, "--http", r.http, "--data", r.data}, extra...)
	go func() { done <- cli.MainContext(ctx, args, io.Discard, r.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("runnel serve exited with %d:\n%s", code, r.stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("runnel serve did not stop")
		}
	})
	waitListening(t, r.mqtt)
	waitListening(t, r.http)
	return r
}

// subscriber is a paho MQTT client that records what it receives.
type subscriber struct {
	mu   sync.Mutex
	msgs []string
	c    *paho.Client
}

func subscribe(t *testing.T, addr, filter string, qos byte) *subscriber {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &subscriber{}
	s.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			s.mu.Lock()
			s.msgs = append(s.msgs, p.Packet.Topic+" "+string(p.Packet.Payload))
			s.mu.Unlock()
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.c.Connect(ctx, &paho.Connect{ClientID: "sub-" + filter, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.c.Disconnect(&paho.Disconnect{}) })
	return s
}

// waitFor waits until n messages arrived, then a little longer to catch
// any extra one, and returns them all.
func (s *subscriber) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		got := len(s.msgs)
		s.mu.Unlock()
		if got >= n {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

func publisher(t *testing.T, addr string) *paho.Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "pub", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return c
}

func alert(dev string, temp string) string {
	return fmt.Sprintf("alerts/temperature sensors/%s/data: temperature changed to %s °C", dev, temp)
}

// TestSeedFlowEndToEnd runs the walkthrough from the README with real
// clients: Debian's mosquitto_pub and mosquitto_sub, and paho.
func TestSeedFlowEndToEnd(t *testing.T) {
	r := startRunnel(t)
	sub := subscribe(t, r.mqtt, "alerts/#", 1)

	host, port, _ := net.SplitHostPort(r.mqtt)
	var mosqSub *exec.Cmd
	var mosqOut bytes.Buffer
	if _, err := exec.LookPath("mosquitto_sub"); err == nil {
		mosqSub = exec.Command("mosquitto_sub", "-h", host, "-p", port, "-t", "alerts/#", "-v", "-C", "3", "-W", "20")
		mosqSub.Stdout = &mosqOut
		if err := mosqSub.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // let it subscribe
	} else if os.Getenv("CI") != "" {
		t.Fatal("mosquitto_sub is missing: .ci/run must install mosquitto-clients")
	}

	// The walkthrough, published with mosquitto_pub when it is there.
	walk := [][2]string{
		{"sensors/dev1/data", `{"temperature":21.5,"humidity":40}`},
		{"sensors/dev1/data", `{"temperature":21.5,"humidity":41}`},
		{"sensors/dev2/data", `{"temperature":21.5,"humidity":41}`},
		{"sensors/dev1/data", `{"temperature":22.0,"humidity":41}`},
	}
	pub := publisher(t, r.mqtt)
	for _, w := range walk {
		if mosqSub != nil {
			out, err := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-t", w[0], "-m", w[1]).CombinedOutput()
			if err != nil {
				t.Fatalf("mosquitto_pub: %v: %s", err, out)
			}
		} else {
			pub.Publish(context.Background(), &paho.Publish{Topic: w[0], QoS: 1, Payload: []byte(w[1])})
		}
	}
	want := []string{alert("dev1", "21.5"), alert("dev2", "21.5"), alert("dev1", "22")}
	got := sub.waitFor(t, len(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts:\n%s\nwant:\n%s\nlog:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.stderr.String())
	}
	if mosqSub != nil {
		if err := mosqSub.Wait(); err != nil {
			t.Fatalf("mosquitto_sub: %v (got %q)", err, mosqOut.String())
		}
		if strings.TrimSpace(mosqOut.String()) != strings.Join(want, "\n") {
			t.Errorf("mosquitto_sub got:\n%s\nwant:\n%s", mosqOut.String(), strings.Join(want, "\n"))
		}
	}

	// More: several topics, repeated and changed values, strings, invalid
	// JSON and payloads without a temperature in between, over one paho
	// connection with QoS 1: the alerts arrive exactly once, in order.
	seq := [][2]string{
		{"sensors/dev3/data", `{"temperature":10}`},               // alert
		{"sensors/dev3/data", `{"temperature":10.0}`},             // same number
		{"sensors/dev3/data", `not json`},                         // node error, nothing
		{"sensors/dev4/data", `{"humidity":3}`},                   // no temperature: dropped
		{"sensors/dev3/data", `{"temperature":"10"}`},             // a string differs from a number: alert
		{"sensors/dev4/data", `{"temperature":-5.25}`},            // alert
		{"sensors/dev3/data", `{"temperature":11,"extra":[1,2]}`}, // alert
		{"sensors/dev1/data", `{"temperature":22}`},               // dev1 still at 22 from the walkthrough
		{"sensors/dev1/data", `{"temperature":1e3}`},              // alert, 1000
		{"other/dev1/data", `{"temperature":99}`},                 // not subscribed
		{"sensors/dev3/data", `{"temperature":11}`},               // unchanged
		{"sensors/dev3/data", `{"temperature":12}`},               // alert
	}
	for _, p := range seq {
		if _, err := pub.Publish(context.Background(), &paho.Publish{Topic: p[0], QoS: 1, Payload: []byte(p[1])}); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want,
		alert("dev3", "10"), alert("dev3", "10"), alert("dev4", "-5.25"), alert("dev3", "11"),
		alert("dev1", "1000"), alert("dev3", "12"))
	got = sub.waitFor(t, len(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts:\n%s\nwant:\n%s\nlog:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), `node=parse-json type=json`) {
		t.Errorf("the invalid JSON was not reported against the json node:\n%s", r.stderr.String())
	}
}

// TestOrderUnderLoad publishes many readings on one connection and checks
// that every alert arrives once, in publish order.
func TestOrderUnderLoad(t *testing.T) {
	r := startRunnel(t)
	sub := subscribe(t, r.mqtt, "alerts/#", 0)
	pub := publisher(t, r.mqtt)
	const n = 5000
	var want []string
	for i := 1; i <= n; i++ {
		dev := fmt.Sprintf("dev%d", i%7)
		if _, err := pub.Publish(context.Background(), &paho.Publish{Topic: "sensors/" + dev + "/data", QoS: 1,
			Payload: []byte(fmt.Sprintf(`{"temperature":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
		want = append(want, alert(dev, fmt.Sprint(i)))
	}
	got := sub.waitFor(t, n)
	if len(got) != n {
		t.Fatalf("got %d alerts, want %d", len(got), n)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("alert %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestAdminAPI deploys through POST /flows: an invalid document is
// rejected with every problem and the running flows keep running; a valid
// one replaces them and is saved to the flow file.
func TestAdminAPI(t *testing.T) {
	r := startRunnel(t)
	base := "http://" + r.http
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(body string) (int, string) {
		resp, err := http.Post(base+"/flows", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/flows")
	if code != 200 || !strings.Contains(body, `"sensors/+/data"`) {
		t.Fatalf("GET /flows: %d %s", code, body)
	}
	code, body = get("/nodes")
	var types []struct {
		Type   string `json:"type"`
		Fields []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &types) != nil {
		t.Fatalf("GET /nodes: %d %s", code, body)
	}
	names := map[string]bool{}
	for _, ty := range types {
		names[ty.Type] = true
	}
	for _, want := range []string{"mqtt-in", "json", "filter-on-change", "template", "mqtt-out", "inject", "debug", "mqtt-broker"} {
		if !names[want] {
			t.Errorf("GET /nodes lacks %s", want)
		}
	}

	saved, err := os.ReadFile(filepath.Join(r.data, "flows.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Invalid: a bad template, a bad topic filter. (A wire to nowhere is
	// only a warning, as Node-RED loads it.)
	code, body = post(`[
{"id":"a","type":"mqtt in","topic":"x/#/y","wires":[["b"]]},
{"id":"b","type":"template","template":"{{#open}} never closed","wires":[["nowhere"]]}
]`)
	if code != 400 {
		t.Fatalf("invalid deploy: %d %s", code, body)
	}
	for _, want := range []string{`"id":"a"`, `"field":"topic"`, `"id":"b"`, `"field":"template"`} {
		if !strings.Contains(body, want) {
			t.Errorf("invalid deploy answer lacks %s: %s", want, body)
		}
	}
	if now, _ := os.ReadFile(filepath.Join(r.data, "flows.json")); !bytes.Equal(now, saved) {
		t.Error("a rejected deploy changed the flow file")
	}
	// The old flows still run.
	sub := subscribe(t, r.mqtt, "#", 0)
	pub := publisher(t, r.mqtt)
	pub.Publish(context.Background(), &paho.Publish{Topic: "sensors/x/data", Payload: []byte(`{"temperature":1}`)})
	got := sub.waitFor(t, 2)
	sort.Strings(got)
	if len(got) != 2 || got[0] != alert("x", "1") {
		t.Fatalf("after a rejected deploy: %q", got)
	}

	// A valid Node-RED export: echo with a different template.
	code, body = post(`[
{"id":"t","type":"tab","label":"echo"},
{"id":"i","type":"mqtt in","z":"t","topic":"in/+","qos":"1","datatype":"utf8","broker":"b","wires":[["m"]]},
{"id":"m","type":"template","z":"t","template":"echo {{payload}}","wires":[["o"]]},
{"id":"o","type":"mqtt out","z":"t","topic":"out/echo","broker":"b"},
{"id":"b","type":"mqtt-broker","broker":"localhost","port":"` + strings.Split(r.mqtt, ":")[1] + `"}
]`)
	if code != 204 {
		t.Fatalf("valid deploy: %d %s", code, body)
	}
	pub.Publish(context.Background(), &paho.Publish{Topic: "in/1", Payload: []byte(`hello`)})
	pub.Publish(context.Background(), &paho.Publish{Topic: "sensors/y/data", Payload: []byte(`{"temperature":2}`)})
	got = sub.waitFor(t, 5)
	if len(got) != 5 {
		t.Fatalf("after deploy: %d messages, want 5: %q", len(got), got)
	}
	// Messages of different subscriptions may interleave; within one
	// subscription they keep their order.
	sort.Strings(got[2:])
	want := []string{"in/1 hello", "out/echo echo hello", `sensors/y/data {"temperature":2}`}
	if strings.Join(got[2:], "\n") != strings.Join(want, "\n") {
		t.Fatalf("after deploy:\n%s\nwant:\n%s", strings.Join(got[2:], "\n"), strings.Join(want, "\n"))
	}
	now, _ := os.ReadFile(filepath.Join(r.data, "flows.json"))
	if !bytes.Contains(now, []byte(`"mqtt-in"`)) || !bytes.Contains(now, []byte(`"echo {{payload}}"`)) {
		t.Errorf("the flow file was not updated:\n%s", now)
	}
	_, body = get("/flows")
	if !strings.Contains(body, `"out/echo"`) {
		t.Errorf("GET /flows after deploy: %s", body)
	}
}

// TestRunAndValidateCommands checks the exit status and messages of run
// and validate on invalid files.
func TestRunAndValidateCommands(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[
  {"id":"a","type":"json","action":"sideways","wires":[["b"]]},
  {"id":"b","type":"filter-on-change","func":"deadband","gap":"ten"}
]`), 0o644)
	var out, errOut bytes.Buffer
	if code := cli.MainContext(context.Background(), []string{"validate", bad}, &out, &errOut); code != 1 {
		t.Fatalf("validate exit %d: %s %s", code, out.String(), errOut.String())
	}
	for _, want := range []string{
		`bad.json: line 2: node "a" (json) field "action": "sideways" is not one of "", "str", "obj"`,
		`bad.json: line 3: node "b" (filter-on-change) field "gap"`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out.String())
		}
	}
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte("[\n  {\"id\":\"a\" \"type\":\"json\"}\n]"), 0o644)
	out.Reset()
	if code := cli.MainContext(context.Background(), []string{"validate", broken}, &out, &errOut); code != 1 ||
		!strings.Contains(out.String(), "line 2, column 13") {
		t.Errorf("validate of broken JSON: exit %d, %q", code, out.String())
	}
	errOut.Reset()
	if code := cli.MainContext(context.Background(), []string{"run", "--mqtt", freePort(t), bad}, &out, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), `field "gap"`) {
		t.Errorf("run of an invalid file: exit %d, %q", code, errOut.String())
	}
}
