package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/mosquittotest"
)

func TestParseTargets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"both", []string{"runnel", "mosquitto"}, ""},
		{"runnel", []string{"runnel"}, ""},
		{"nodered", []string{"nodered"}, ""},
		{"runnel,nodered", []string{"runnel", "nodered"}, ""},
		{"nodered, runnel ,mosquitto", []string{"nodered", "runnel", "mosquitto"}, ""},
		{"runnel,runnel", nil, `--target "runnel,runnel": runnel twice`},
		{"runnel,both", nil, `--target "runnel,both": want runnel, mosquitto, nodered, both or a comma-separated list of the first three`},
		{"node-red", nil, `--target "node-red": want runnel, mosquitto, nodered, both or a comma-separated list of the first three`},
	} {
		got, err := parseTargets(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("parseTargets(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseTargets(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestBenchFlowFlagErrors checks that combinations the bench cannot
// measure are refused before anything starts, with what to do instead.
func TestBenchFlowFlagErrors(t *testing.T) {
	seed := filepath.Join("testdata", "seed-flow.json")
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--target", "nodered"}, "--target nodered needs --flow FILE, a Node-RED flow to run in both (the example flow uses runnel's own node types)"},
		{[]string{"--target", "runnel,nodered", "--flow", seed, "--relay"}, "--relay measures the broker without a flow: not with --flow"},
		{[]string{"--target", "runnel", "--flow", seed, "--deploy-every", "100ms"}, "--deploy-every changes the example flow's template: not with --flow"},
		{[]string{"--target", "nodered", "--flow", seed, "--connections", "10"}, "--connections measures runnel and mosquitto: not with --target nodered"},
		{[]string{"--target", "runnel", "--flow", seed, "--payload", `{"t":1}`}, `--payload "{\"t\":1}" has no {seq}: every message must carry its sequence number`},
		{[]string{"--target", "runnel", "--in-topic", "sensors/+/data"}, `--in-topic "sensors/+/data": a publish topic has no wildcards ({k} is the device number)`},
		{[]string{"--target", "runnel", "--flow", filepath.Join("testdata", "none.json")}, "--flow: open testdata/none.json: no such file or directory"},
		{[]string{"--target", "runnel", "--flow", filepath.Join("testdata", "dynamic-out.json")},
			`--flow testdata/dynamic-out.json: mqtt out node "out2" (echo) has no topic (it publishes to msg.topic): give --out-topic`},
		{[]string{"--target", "runnel", "--flow", filepath.Join("testdata", "no-mqtt.json")},
			"--flow testdata/no-mqtt.json: it has no enabled mqtt in node with a topic: give --in-topic\nit has no enabled mqtt out node: give --out-topic"},
	} {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), tc.args, &out, &errOut)
		if err == nil || err.Error() != tc.err {
			t.Errorf("bench %q: %v;\nwant %s", tc.args, err, tc.err)
		}
		if out.Len() > 0 {
			t.Errorf("bench %q printed %q before failing", tc.args, out.String())
		}
	}
}

// TestFindNodeREDMissing checks that the bench says how to install what
// --target nodered needs.
func TestFindNodeREDMissing(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join("testdata", "seed-flow.json")
	if _, err := exec.LookPath("node"); err == nil {
		err := Run(context.Background(), []string{"--target", "nodered", "--flow", seed, "--nodered", dir}, &bytes.Buffer{}, &bytes.Buffer{})
		want := "--target nodered: no Node-RED in " + dir + " (want node_modules/node-red there, or node-red's own directory): install it with `npm ci --prefix .ci/nodered` in the runnel repository and run the bench there, or give --nodered DIR"
		if err == nil || err.Error() != want {
			t.Errorf("no Node-RED: %v;\nwant %s", err, want)
		}
		// Not in the working directory or its parents.
		wd, _ := os.Getwd()
		if err := os.Chdir(dir); err != nil {
			t.Fatal(err)
		}
		_, err = findNodeRED("")
		os.Chdir(wd)
		want = "--target nodered: Node-RED is not installed (no .ci/nodered/node_modules/node-red in the working directory or its parents): install it with `npm ci --prefix .ci/nodered` in the runnel repository and run the bench there, or give --nodered DIR"
		if err == nil || err.Error() != want {
			t.Errorf("no Node-RED found: %v;\nwant %s", err, want)
		}
	}
	t.Setenv("PATH", dir) // no node
	err := Run(context.Background(), []string{"--target", "nodered", "--flow", seed}, &bytes.Buffer{}, &bytes.Buffer{})
	want := "--target nodered: node is not installed (Debian: apt-get install nodejs); Node-RED 4.1 needs Node.js 18 or later"
	if err == nil || err.Error() != want {
		t.Errorf("no node: %v;\nwant %s", err, want)
	}
}

// TestResolveWorkload checks the topics, payload and markers the bench
// takes from a flow and from the flags.
func TestResolveWorkload(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    benchOptions
		want workload
	}{
		{"example flow", benchOptions{payload: defaultPayload}, workload{
			pub: []string{"sensors/dev{k}/data"}, out: []string{"alerts/#"}, relay: []string{"sensors/+/data"},
			payload: payloadTemplate{`{"temperature":`, `,"humidity":40}`}, text: defaultPayload,
			outMark: extractKind("changed to "), relayMark: extractKind(`"temperature":`)}},
		{"seed flow", benchOptions{payload: defaultPayload, flowFile: "testdata/seed-flow.json"}, workload{
			pub: []string{"sensors/dev{k}/data"}, out: []string{"alerts/temperature"}, relay: []string{"sensors/+/data"},
			payload: payloadTemplate{`{"temperature":`, `,"humidity":40}`}, text: defaultPayload,
			outMark: extractKind(`"temperature":`), relayMark: extractKind(`"temperature":`)}},
		{"mixed flow, flags", benchOptions{payload: `{"t": {seq}, "id": "{seq}"}`, flowFile: "testdata/mixed-flow.json",
			inTopic: "a/{k}/b/dev{k}, c", outTopic: "x/#,y", seqAfter: "t="}, workload{
			pub: []string{"a/{k}/b/dev{k}", "c"}, out: []string{"x/#", "y"}, relay: []string{"a/+/b/+", "c"},
			payload: payloadTemplate{`{"t": `, `, "id": "`, `"}`}, text: `{"t": {seq}, "id": "{seq}"}`,
			outMark: extractKind("t="), relayMark: extractKind(`"t":`)}},
		{"given in, detected out", benchOptions{payload: defaultPayload, flowFile: "testdata/no-mqtt.json",
			inTopic: "x/dev{k}", outTopic: "y"}, workload{
			pub: []string{"x/dev{k}"}, out: []string{"y"}, relay: []string{"x/+"},
			payload: payloadTemplate{`{"temperature":`, `,"humidity":40}`}, text: defaultPayload,
			outMark: extractKind(`"temperature":`), relayMark: extractKind(`"temperature":`)}},
		{"detected in, given out", benchOptions{payload: "{seq}", flowFile: "testdata/dynamic-out.json", outTopic: "echo/#"}, workload{
			pub: []string{"in/dev{k}", "plant/dev{k}/dev{k}/x", "all/dev{k}"}, out: []string{"echo/#"},
			relay: []string{"in/+", "plant/+/+/x", "all/+"}, payload: payloadTemplate{"", ""}, text: "{seq}",
			outMark: extractKind(""), relayMark: extractKind("")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			if err := o.resolveWorkload(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.wl, tc.want) {
				t.Errorf("workload\n got %#v\nwant %#v", o.wl, tc.want)
			}
		})
	}
}

// TestFlowTopics checks the detection of the topics: enabled mqtt in and
// out nodes only (Node-RED's and Runnel's type names), each filter once,
// dynamic subscriptions skipped.
func TestFlowTopics(t *testing.T) {
	f, err := readBenchFlow("testdata/dynamic-out.json")
	if err != nil {
		t.Fatal(err)
	}
	pub, out, in, inErr, err := f.topics()
	if inErr != nil {
		t.Errorf("inputs: %v", inErr)
	}
	if want := []string{"in/dev{k}", "plant/dev{k}/dev{k}/x", "all/dev{k}"}; !reflect.DeepEqual(pub, want) {
		t.Errorf("publish topics %q; want %q", pub, want)
	}
	if want := []string{"in/+", "plant/+/+/x", "all/#"}; !reflect.DeepEqual(in, want) {
		t.Errorf("mqtt in filters %q; want %q", in, want)
	}
	if want := []string{"out/one"}; !reflect.DeepEqual(out, want) {
		t.Errorf("output topics %q; want %q", out, want)
	}
	if want := `mqtt out node "out2" (echo) has no topic (it publishes to msg.topic): give --out-topic`; err == nil || err.Error() != want {
		t.Errorf("error %v; want %s", err, want)
	}
	// The admin API's v2 format.
	v2, err := parseBenchFlow([]byte(`{"rev":"1","flows":[{"id":"i","type":"mqtt in","topic":"t/+"},{"id":"o","type":"mqtt out","topic":"u"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if pub, out, _, err1, err2 := v2.topics(); err1 != nil || err2 != nil || !reflect.DeepEqual(pub, []string{"t/dev{k}"}) || !reflect.DeepEqual(out, []string{"u"}) {
		t.Errorf("v2 flow: %q, %q, %v, %v", pub, out, err1, err2)
	}
	if _, err := parseBenchFlow([]byte(`{"id":"x"}`)); err == nil {
		t.Error("an object without flows parsed as a flow")
	}
}

// TestWithBroker checks the rewriting of the mqtt-broker config nodes:
// host, port and TLS change, everything else stays as it was.
func TestWithBroker(t *testing.T) {
	src := []byte(`[
 {"id":"b1","type":"mqtt-broker","name":"remote","broker":"mqtts://broker.example:8883","port":"8883","usetls":true,"tls":"t1","clientid":"c","protocolVersion":"5"},
 {"id":"b2","type":"mqtt-broker","broker":"10.0.0.5"},
 {"id":"t1","type":"tls-config","cert":"x"},
 {"id":"in","type":"mqtt in","topic":"a/+","broker":"b1","wires":[["out"]]},
 {"id":"out","type":"mqtt out","topic":"b","broker":"b2","wires":[]}
]`)
	f, err := parseBenchFlow(src)
	if err != nil {
		t.Fatal(err)
	}
	doc, n, err := f.withBroker("41234")
	if err != nil || n != 2 {
		t.Fatalf("withBroker: %d brokers, %v", n, err)
	}
	var got []map[string]any
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"id": "b1", "type": "mqtt-broker", "name": "remote", "broker": "127.0.0.1", "port": "41234", "usetls": false, "clientid": "c", "protocolVersion": "5"},
		{"id": "b2", "type": "mqtt-broker", "broker": "127.0.0.1", "port": "41234", "usetls": false},
		{"id": "t1", "type": "tls-config", "cert": "x"},
		{"id": "in", "type": "mqtt in", "topic": "a/+", "broker": "b1", "wires": []any{[]any{"out"}}},
		{"id": "out", "type": "mqtt out", "topic": "b", "broker": "b2", "wires": []any{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rewritten flow\n got %v\nwant %v", got, want)
	}
	// The original is unchanged: each target rewrites it for its port.
	if b, _, _ := f.withBroker("1"); !bytes.Contains(b, []byte(`"port": "1"`)) || !bytes.Contains(b, []byte(`"clientid": "c"`)) {
		t.Errorf("second rewrite: %s", b)
	}
	if _, n, _ := (&benchFlow{}).withBroker("1"); n != 0 {
		t.Errorf("empty flow: %d brokers", n)
	}
}

func TestSeqMarker(t *testing.T) {
	for in, want := range map[string]string{
		defaultPayload:                  `"temperature":`,
		`{"a":{"t": {seq}}}`:            `"t":`,
		`[1, {seq}]`:                    `,`,
		`[{seq}]`:                       `[`,
		`t={seq}`:                       `t=`,
		`{seq}`:                         ``,
		`reading {"v":1,"seq":{seq}}`:   `"seq":`,
		`{"id":"dev-{seq}","n":{seq}}`:  `"id":"dev-`,
		`level: {seq} and again {seq}`:  `level:`,
		`level:{seq} and again {seq}`:   `level:`,
		`{"temperature": {seq}, "h":1}`: `"temperature":`,
	} {
		if got := seqMarker(in); got != want {
			t.Errorf("seqMarker(%q) = %q; want %q", in, got, want)
		}
	}
	// The marker finds the number in the payload it came from.
	for _, p := range []string{defaultPayload, `t={seq}`, `{seq}`, `{"id":"dev-{seq}","n":{seq}}`, `{"t": {seq}}`, `[1, {seq}]`} {
		tmpl, err := parsePayload(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, seq := range []int64{7, -3, 1234567} {
			b := tmpl.appendPayload(nil, seq)
			if got, ok := extractSeq(b, extractKind(seqMarker(p))); !ok || got != seq {
				t.Errorf("payload %s: read %d, %v; want %d", b, got, ok, seq)
			}
		}
	}
}

func TestPubTopicsAndFilters(t *testing.T) {
	if got, want := pubTopics([]string{"a/dev{k}", "b"}, 3), []string{"a/dev0", "a/dev1", "a/dev2", "b", "b", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pubTopics = %q; want %q", got, want)
	}
	if got, want := pubTopics(nil, 2), []string{"sensors/dev0/data", "sensors/dev1/data"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pubTopics(nil) = %q; want %q", got, want)
	}
	for in, want := range map[string]string{"sensors/+/data": "sensors/dev{k}/data", "#": "dev{k}", "a/+/+/#": "a/dev{k}/dev{k}/dev{k}", "fixed/topic": "fixed/topic"} {
		if got := pubTopicOf(in); got != want {
			t.Errorf("pubTopicOf(%q) = %q; want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"sensors/dev{k}/data": "sensors/+/data", "a/{k}x/b": "a/+/b", "fixed": "fixed"} {
		if got := filterOf(in); got != want {
			t.Errorf("filterOf(%q) = %q; want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"sensors/dev{k}/data": "sensors/bench-probe/data", "a/{k}": "a/bench-probe", "c": "c"} {
		if got := probeTopic(in); got != want {
			t.Errorf("probeTopic(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestBenchFlowCommand checks the reproduce line of a flow bench.
func TestBenchFlowCommand(t *testing.T) {
	o := benchOptions{target: "nodered,runnel", flowFile: "testdata/seed-flow.json", payload: `{"t":{seq}}`, outTopic: "alerts/#",
		window: 2000, devices: 10, runs: 3, startup: true}
	if err := o.check(false); err != nil && !strings.Contains(err.Error(), "Node-RED") && !strings.Contains(err.Error(), "node is not") {
		t.Fatal(err)
	}
	want := `runnel bench --target nodered,runnel --flow testdata/seed-flow.json --out-topic 'alerts/#' --payload '{"t":{seq}}' --window 2000 --count 200000 --devices 10 --qos 0 --runs 3`
	if got := o.command(); got != want {
		t.Errorf("command\n got %s\nwant %s", got, want)
	}
}

// TestCompareTargets checks runnel's comparison with every other target
// of a three-target run, and which of each pair ran first.
func TestCompareTargets(t *testing.T) {
	run := func(v float64) loadResult { return loadResult{MsgPerSec: v, P50us: 1, P99us: 1, ServerCPUus: 1e5 / v} }
	trs := []*targetReport{
		{Target: "nodered", Runs: []loadResult{run(100), run(200)}},
		{Target: "runnel", Runs: []loadResult{run(1000), run(1000)}},
		{Target: "mosquitto", Runs: []loadResult{run(2000), run(4000)}},
	}
	for _, tr := range trs {
		tr.Median = medianResult(tr.Runs)
	}
	cs := compareTargets(trs, runOrder(3, 2))
	if len(cs) != 2 || cs[0].Other != "nodered" || cs[1].Other != "mosquitto" {
		t.Fatalf("comparisons %+v", cs)
	}
	if nr := cs[0]; nr.Throughput != 1000.0/150 || nr.Paired.Throughput.Median != 7.5 || nr.Paired.Pairs[0].First != "nodered" || nr.Paired.Pairs[1].First != "runnel" {
		t.Errorf("runnel/nodered: %+v %+v", nr, nr.Paired)
	}
	if m := cs[1]; m.Throughput != 1000.0/3000 || m.Paired.Pairs[0].First != "runnel" || m.Paired.Pairs[1].First != "mosquitto" {
		t.Errorf("runnel/mosquitto: %+v %+v", m, m.Paired)
	}
	if cs := compareTargets(trs[:1], runOrder(1, 2)); cs != nil {
		t.Errorf("without runnel: %+v", cs)
	}
}

// TestNodeREDSeedFlow is a short real run of the seed flow in Node-RED
// with mosquitto: every reading gives exactly one alert, and the report
// has Node-RED's figures.
func TestNodeREDSeedFlow(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		mosquittotest.Missing(t, "node is not installed (apt-get install nodejs)")
	}
	if _, err := findNodeRED(""); err != nil {
		mosquittotest.Missing(t, err.Error())
	}
	if _, err := os.Stat(mosquittotest.Path); err != nil {
		mosquittotest.Missing(t, "mosquitto is not installed (apt-get install mosquitto)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	const n = 3000
	err := Run(ctx, []string{"--target", "nodered", "--flow", "testdata/seed-flow.json", "--count", "3000", "--runs", "1",
		"--window", "500", "--json", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stderr.String(), stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Targets) != 1 || rep.Targets[0].Median == nil {
		t.Fatalf("report: %s", b)
	}
	tr, m := rep.Targets[0], rep.Targets[0].Median
	if tr.Target != "nodered" || tr.Publish != "sensors/dev<k>/data" || tr.Subscribe != "alerts/temperature" || !strings.HasPrefix(tr.Server, "Node-RED 4.1.15 (node v") {
		t.Errorf("target %q %q -> %q, server %q", tr.Target, tr.Publish, tr.Subscribe, tr.Server)
	}
	if m.Sent != n || m.Received != n || m.Lost != 0 || m.Duplicates != 0 || m.Stray != 0 || m.TimedOut {
		t.Errorf("sent %d, received %d, lost %d, duplicates %d, stray %d, timed out %v; want %d each, nothing lost",
			m.Sent, m.Received, m.Lost, m.Duplicates, m.Stray, m.TimedOut, n)
	}
	if m.ServerCPUus <= 0 || tr.IdleRSS <= 0 || tr.PeakRSS < tr.IdleRSS {
		t.Errorf("server figures: CPU %v µs/msg, RSS %d / %d", m.ServerCPUus, tr.IdleRSS, tr.PeakRSS)
	}
	if rep.Startup != nil {
		t.Errorf("start-up measured without runnel: %+v", rep.Startup)
	}
	for _, want := range []string{"nodered is Node-RED 4.1.15", "reproduce: runnel bench --target nodered --flow testdata/seed-flow.json --window 500 --count 3000"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
}
