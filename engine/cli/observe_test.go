package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/broker/mosquittotest"
)

// scrape returns the /metrics lines of r as name{labels} → value.
func scrape(t *testing.T, base string) map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad metrics line %q", line)
		}
		m[line[:i]] = line[i+1:]
	}
	return m
}

// TestMetricsAfterTraffic scrapes GET /metrics after the seed flow has
// handled real MQTT traffic and checks the exact counters.
func TestMetricsAfterTraffic(t *testing.T) {
	r := startRunnel(t)
	base := "http://" + r.http
	// One deploy through the admin API: the same flows again (before the
	// traffic, as it rebuilds the nodes and so starts their counters again).
	req, _ := http.NewRequest("POST", base+"/flows", strings.NewReader(`{"flows":[]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Node-RED-Deployment-Type", "reload")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("reload deploy: %d", resp.StatusCode)
	}

	sub := subscribe(t, r.mqtt, "alerts/#", 1)
	pub := publisher(t, r.mqtt)
	walk := [][2]string{
		{"sensors/dev1/data", `{"temperature":21.5,"humidity":40}`},
		{"sensors/dev1/data", `{"temperature":21.5,"humidity":41}`},
		{"sensors/dev2/data", `{"temperature":21.5,"humidity":41}`},
		{"sensors/dev1/data", `{"temperature":22.0,"humidity":41}`},
		{"sensors/dev1/data", `not json`},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, w := range walk {
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: w[0], Payload: []byte(w[1]), QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := sub.waitFor(t, 3); len(got) != 3 {
		t.Fatalf("alerts: %q", got)
	}
	m := scrape(t, base)
	node := func(id, typ string) string { return `{id="` + id + `",type="` + typ + `",flow="tab-sensors"}` }
	want := map[string]string{
		// The publisher and the subscriber (not the flows' own client).
		"runnel_broker_clients_connected": "2",
		"runnel_broker_clients_total":     "2",
		"runnel_broker_subscriptions":     "1",
		// Five from the publisher and the three alerts the flow published.
		"runnel_broker_messages_received_total":                                     "8",
		"runnel_broker_messages_sent_total":                                         "3",
		"runnel_broker_messages_dropped_total":                                      "0",
		"runnel_broker_inflight_messages":                                           "0",
		"runnel_node_messages_out_total" + node("sensors-in", "mqtt-in"):            "5",
		"runnel_node_messages_in_total" + node("parse-json", "json"):                "5",
		"runnel_node_messages_out_total" + node("parse-json", "json"):               "4",
		"runnel_node_errors_total" + node("parse-json", "json"):                     "1",
		"runnel_node_messages_in_total" + node("temp-changed", "filter-on-change"):  "4",
		"runnel_node_messages_out_total" + node("temp-changed", "filter-on-change"): "3",
		"runnel_node_messages_in_total" + node("render-alert", "template"):          "3",
		"runnel_node_messages_out_total" + node("render-alert", "template"):         "3",
		"runnel_node_messages_in_total" + node("alerts-out", "mqtt-out"):            "3",
		"runnel_node_errors_total" + node("alerts-out", "mqtt-out"):                 "0",
		`runnel_deploys_total{result="ok"}`:                                         "1",
		`runnel_deploys_total{result="error"}`:                                      "0",
		"runnel_deploy_duration_seconds_count":                                      "1",
		`runnel_deploy_duration_seconds_bucket{le="+Inf"}`:                          "1",
		"runnel_editor_clients":                                                     "0",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	// Bytes: every byte of the packets above, so only checked to be there.
	for _, k := range []string{"runnel_broker_bytes_received_total", "runnel_broker_bytes_sent_total",
		"runnel_broker_uptime_seconds", "go_goroutines", "go_memstats_heap_inuse_bytes", "go_gc_duration_seconds_count",
		"process_resident_memory_bytes"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s is missing", k)
		}
	}
}

// TestHealthz checks GET /healthz while Runnel runs.
func TestHealthz(t *testing.T) {
	r := startRunnel(t)
	resp, err := http.Get("http://" + r.http + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Status, Broker, Flows string
		Nodes                 int
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || h.Status != "ok" || h.Broker != "up" || h.Flows != "running" || h.Nodes != 6 {
		t.Errorf("GET /healthz: %d %+v", resp.StatusCode, h)
	}
}

// TestSysTopics subscribes to $SYS with Debian's mosquitto_sub and checks
// mochi's topics and mosquitto's names, retained and then live.
func TestSysTopics(t *testing.T) {
	mosquittotest.Tool(t, "mosquitto_sub")
	r := startRunnel(t)
	host, port, _ := strings.Cut(r.mqtt, ":")
	// The retained snapshot: every $SYS topic at once.
	out, err := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-t", "$SYS/#", "-v", "-W", "3", "-C", "28").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		i := strings.LastIndexByte(line, ' ') // topics may hold spaces
		got[line[:i]] = line[i+1:]
	}
	for _, topic := range []string{
		"$SYS/broker/version", "$SYS/broker/uptime",
		"$SYS/broker/clients/connected", "$SYS/broker/clients/total", "$SYS/broker/clients/maximum",
		"$SYS/broker/messages/received", "$SYS/broker/messages/sent",
		"$SYS/broker/load/bytes/received", "$SYS/broker/load/bytes/sent",
		// mosquitto's names
		"$SYS/broker/bytes/received", "$SYS/broker/bytes/sent",
		"$SYS/broker/publish/messages/received", "$SYS/broker/publish/messages/sent",
		"$SYS/broker/retained messages/count", "$SYS/broker/subscriptions/count", "$SYS/broker/heap/current",
	} {
		if _, ok := got[topic]; !ok {
			t.Errorf("%s is missing from:\n%s", topic, out)
		}
	}
	if got["$SYS/broker/publish/messages/received"] != "0" {
		t.Errorf("publish/messages/received = %q before any publish, want 0 ($SYS itself must not count)", got["$SYS/broker/publish/messages/received"])
	}
	// Live updates reach a subscriber too (-R skips the retained copies),
	// and count this very client.
	out, err = exec.Command("mosquitto_sub", "-h", host, "-p", port, "-R", "-v", "-W", "5", "-C", "2",
		"-t", "$SYS/broker/clients/connected", "-t", "$SYS/broker/bytes/received").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_sub -R: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	seen := map[string]string{}
	for _, l := range lines {
		topic, value, _ := strings.Cut(l, " ")
		seen[topic] = value
	}
	if seen["$SYS/broker/clients/connected"] != "1" || seen["$SYS/broker/bytes/received"] == "" {
		t.Errorf("live $SYS: %q", lines)
	}
}
