package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/flows"
)

// TestRunStopsGracefullyOnSIGTERM runs "runnel run" in a child process
// with the example flow, its filter keeping state in the persistent
// context store, publishes readings at QoS 1 without pause, and sends
// SIGTERM in the middle of the stream. The process must exit with status 0
// and log a clean stop, and the persistent context must hold the state of
// every reading the broker acknowledged (an acknowledged message has run
// through the flow): the last value written is at least the last one
// acknowledged and at most the last one sent.
func TestRunStopsGracefullyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("child process test")
	}
	dir := t.TempDir()
	doc := flows.ExampleDocument()
	doc.Node("temp-changed").Set("store", []byte(`"persistent"`))
	file := filepath.Join(dir, "flows.json")
	if err := flows.WriteFile(file, doc); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	mqtt := freePort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChildProcess$")
	cmd.Env = append(os.Environ(), "RUNNEL_TEST_SERVE_ARGS=run --mqtt "+mqtt+" --data "+data+" --watch 0 "+file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // in case the test failed before it exited
		<-waited
	})
	waitListening(t, mqtt)

	conn, err := net.Dial("tcp", mqtt)
	if err != nil {
		t.Fatal(err)
	}
	pub := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pub.Connect(ctx, &paho.Connect{ClientID: "sigterm-pub", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	const signalAfter = 300
	lastAcked, lastSent := 0, 0
	for seq := 1; seq < 1_000_000; seq++ {
		if seq == signalAfter+1 {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
		lastSent = seq
		pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := pub.Publish(pctx, &paho.Publish{Topic: "sensors/dev1/data", QoS: 1,
			Payload: []byte(fmt.Sprintf(`{"temperature":%d,"humidity":40}`, seq))})
		pcancel()
		if err != nil {
			break // the broker stopped taking messages
		}
		lastAcked = seq
	}
	if lastAcked < signalAfter {
		t.Fatalf("only %d messages acknowledged before SIGTERM", lastAcked)
	}

	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("runnel run exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("runnel run did not exit within 20 s of SIGTERM:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "msg=stopping") || !strings.Contains(stderr.String(), "msg=stopped") {
		t.Fatalf("no clean stop in the log:\n%s", stderr.String())
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "runnel.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	err = db.QueryRow(`SELECT CAST(value AS TEXT) FROM context_entries WHERE scope = 'node:temp-changed' AND key = 'sensors/dev1/data'`).Scan(&v)
	if err != nil {
		t.Fatalf("the filter's persistent state was not written: %v\n%s", err, stderr.String())
	}
	var stored int
	if _, err := fmt.Sscan(v, &stored); err != nil {
		t.Fatalf("stored state %q: %v", v, err)
	}
	if stored < lastAcked || stored > lastSent {
		t.Fatalf("persistent state %d; acknowledged up to %d, sent up to %d", stored, lastAcked, lastSent)
	}
	t.Logf("SIGTERM after %d messages: %d acknowledged, %d sent, state written: %d", signalAfter, lastAcked, lastSent, stored)
}

// TestSIGTERMWithStalledRemoteBroker: the remote broker (mosquitto, stopped
// with SIGSTOP) keeps the TCP connection open but reads nothing, so QoS 2
// messages of 64 KiB pile up in front of it. SIGTERM must still end
// "runnel run" with status 0 after the documented 2 s of trying to send
// (plus 1 s for the close), keeping every unsent message in the queue on
// disk; the next start sends them, exactly once, in order. The time from
// SIGTERM to exit is logged, not asserted.
func TestSIGTERMWithStalledRemoteBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	m := mosquittotest.Start(t, mosquittotest.Options{})
	got, wait := remoteSubscriber(t, m.Addr, "fwd/#")
	dir := t.TempDir()
	flow := filepath.Join(dir, "flows.json")
	os.WriteFile(flow, []byte(fmt.Sprintf(`[
{"id":"b1","type":"mqtt-broker","broker":"127.0.0.1","port":"%d"},
{"id":"i1","type":"mqtt-in","topic":"in/data","qos":"1","datatype":"utf8","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","topic":"fwd/data","qos":"2","broker":"b1","wires":[]}]`, m.Port)), 0o644)
	data := filepath.Join(dir, "data")
	addr := freePort(t)
	args := []string{"run", "--mqtt", addr, "--data", data, "--watch", "0", flow}
	cmd, stderr, exited := runChild(t, args...)
	waitLog(t, stderr, "remote broker connected")

	if err := syscall.Kill(m.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	continued := false
	cont := func() {
		if !continued {
			syscall.Kill(m.PID(), syscall.SIGCONT)
			continued = true
		}
	}
	defer cont()

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("device"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	// 20 MiB: more than the socket buffers between the two hold.
	const n = 300
	pad := strings.Repeat("x", 64<<10)
	for i := 1; i <= n; i++ {
		// The PUBACK comes after the flow has handed the message to
		// mqtt-out.
		if tok := pub.Publish("in/data", 1, false, fmt.Sprintf("%d %s", i, pad)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	pub.Disconnect(0)

	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("runnel run exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("runnel run did not exit within 30 s of SIGTERM:\n%s", stderr.String())
	}
	t.Logf("SIGTERM to exit with the remote broker stalled: %v", time.Since(start).Round(10*time.Millisecond))
	if q := queued(t, filepath.Join(data, "runnel.db")); q != n {
		t.Fatalf("%d messages in the queue on disk after SIGTERM, want all %d\n%s", q, n, stderr.String())
	}

	// The broker wakes up; what it had read of the old connection was
	// never completed (no PUBREL), so it delivers nothing of it.
	cont()
	_, stderr, _ = runChild(t, args...)
	waitLog(t, stderr, "remote broker connected")
	wait(n)
	time.Sleep(200 * time.Millisecond) // anything repeated would come right behind
	var seq []string
	for _, p := range got() {
		v, _, _ := strings.Cut(p, " ")
		seq = append(seq, v)
	}
	var want []string
	for i := 1; i <= n; i++ {
		want = append(want, strconv.Itoa(i))
	}
	if g := strings.Join(seq, ","); g != strings.Join(want, ",") {
		t.Fatalf("subscriber got %s, want exactly 1..%d", g, n)
	}
}

// TestSIGTERMDeliversDelayAndJoin: messages a delay holds (for a minute)
// and a join's partial group are delivered when "runnel run" gets
// SIGTERM, before it exits, through the mqtt-out behind them to a remote
// mosquitto (Node-RED drops both). Each reading's PUBACK comes after the
// flow has handed it to the delay and the join, so they hold all three.
func TestSIGTERMDeliversDelayAndJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	m := mosquittotest.Start(t, mosquittotest.Options{})
	got, wait := remoteSubscriber(t, m.Addr, "held/#")
	dir := t.TempDir()
	flow := filepath.Join(dir, "flows.json")
	os.WriteFile(flow, []byte(fmt.Sprintf(`[
{"id":"t1","type":"tab"},
{"id":"b1","type":"mqtt-broker","broker":"127.0.0.1","port":"%d"},
{"id":"i1","type":"mqtt in","z":"t1","topic":"in/data","qos":"1","datatype":"utf8","wires":[["d1","j1"]]},
{"id":"d1","type":"delay","z":"t1","pauseType":"delay","timeout":"60","timeoutUnits":"seconds","wires":[["od"]]},
{"id":"j1","type":"join","z":"t1","mode":"custom","build":"string","property":"payload","propertyType":"msg","joiner":",","joinerType":"str","count":"10","timeout":"","wires":[["oj"]]},
{"id":"od","type":"mqtt out","z":"t1","topic":"held/delay","qos":"1","broker":"b1","wires":[]},
{"id":"oj","type":"mqtt out","z":"t1","topic":"held/join","qos":"1","broker":"b1","wires":[]}]`, m.Port)), 0o644)
	data := filepath.Join(dir, "data")
	addr := freePort(t)
	cmd, stderr, exited := runChild(t, "run", "--mqtt", addr, "--data", data, "--watch", "0", flow)
	waitLog(t, stderr, "remote broker connected")

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("device"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	for _, p := range []string{"a", "b", "c"} {
		if tok := pub.Publish("in/data", 1, false, p); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", p, tok.Error())
		}
	}
	pub.Disconnect(0)
	if g := got(); len(g) != 0 {
		t.Fatalf("before SIGTERM the remote broker got %q; the delay and join should hold everything", g)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("runnel run exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("runnel run did not exit within 30 s of SIGTERM:\n%s", stderr.String())
	}
	wait(4)
	g := got()
	slices.Sort(g)
	t.Logf("the remote broker got %q", g)
	if strings.Join(g, " ") != "a a,b,c b c" {
		t.Fatalf("the remote broker got %q, want the delayed a, b, c and the join's partial a,b,c\n%s", g, stderr.String())
	}
}
