package cli_test

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/runnel-io/runnel/broker/mosquittotest"
)

// runChild runs "runnel ARGS" as a child process (the test binary's
// TestServeChildProcess), returning it and its stderr.
func runChild(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer, chan error) {
	t.Helper()
	return runChildIn(t, "", nil, args...)
}

// runChildIn is runChild in the working directory dir (the test's when
// empty) with env added to the environment.
func runChildIn(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *syncBuffer, chan error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChildProcess$")
	cmd.Env = append(append(os.Environ(), env...), "RUNNEL_TEST_SERVE_ARGS="+strings.Join(args, " "))
	cmd.Dir = dir
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd, stderr, exited
}

// remoteSubscriber subscribes on mosquitto with a persistent session, so
// that what is published while it reconnects waits for it.
func remoteSubscriber(t *testing.T, addr, filter string) (got func() []string, wait func(n int)) {
	t.Helper()
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	var msgs []string
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("sink").SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetOrderMatters(true)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		msgs = append(msgs, string(m.Payload()))
		cond.Broadcast()
		mu.Unlock()
	})
	cl := mqtt.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: %v", tok.Error())
	}
	if tok := cl.Subscribe(filter, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	got = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), msgs...)
	}
	wait = func(n int) {
		t.Helper()
		timer := time.AfterFunc(30*time.Second, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
		defer timer.Stop()
		deadline := time.Now().Add(30 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		for len(msgs) < n {
			if time.Now().After(deadline) {
				t.Fatalf("subscriber got %d messages, want %d", len(msgs), n)
			}
			cond.Wait()
		}
	}
	return got, wait
}

// TestStoreAndForwardRunnerRestart: while the remote broker is down, 500
// QoS 1 messages go through "runnel run --data DIR" into its queue; the
// runner is stopped (SIGTERM, or killed with SIGKILL) and started again,
// the broker comes back, and its subscriber gets exactly 1..500 in order.
func TestStoreAndForwardRunnerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			m := mosquittotest.Start(t, mosquittotest.Options{Persistence: true})
			got, wait := remoteSubscriber(t, m.Addr, "fwd/#")
			m.Stop(syscall.SIGTERM) // the outage begins; the subscriber's session is saved

			dir := t.TempDir()
			flow := filepath.Join(dir, "flows.json")
			os.WriteFile(flow, []byte(fmt.Sprintf(`[
{"id":"b1","type":"mqtt-broker","broker":"127.0.0.1","port":"%d"},
{"id":"i1","type":"mqtt-in","topic":"in/data","qos":"1","datatype":"utf8","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","topic":"fwd/data","qos":"1","broker":"b1","wires":[]}]`, m.Port)), 0o644)
			data := filepath.Join(dir, "data")
			addr := freePort(t)
			args := []string{"run", "--mqtt", addr, "--data", data, "--watch", "0", flow}
			cmd, stderr, exited := runChild(t, args...)
			waitLog(t, stderr, "runnel running") // the port opens before the flows are deployed

			pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("device"))
			if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publisher: %v", tok.Error())
			}
			const n = 500
			for i := 1; i <= n; i++ {
				// The PUBACK comes after the flow has queued the message.
				if tok := pub.Publish("in/data", 1, false, strconv.Itoa(i)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					t.Fatalf("publish %d: %v", i, tok.Error())
				}
			}
			pub.Disconnect(0)
			if q := queued(t, filepath.Join(data, "runnel.db")); q != n {
				t.Fatalf("%d messages in the queue on disk, want %d\n%s", q, n, stderr.String())
			}

			cmd.Process.Signal(sig)
			select {
			case err := <-exited:
				if sig == syscall.SIGTERM && err != nil {
					t.Fatalf("runnel run exited with %v after SIGTERM:\n%s", err, stderr.String())
				}
			case <-time.After(15 * time.Second):
				t.Fatal("runnel run did not exit")
			}
			if sig == syscall.SIGTERM && !strings.Contains(stderr.String(), "messages kept in the queue for the next start") {
				t.Errorf("no log line about the kept messages:\n%s", stderr.String())
			}

			_, stderr, _ = runChild(t, args...)
			waitLog(t, stderr, "runnel running")
			m.Restart()
			wait(n)
			var want []string
			for i := 1; i <= n; i++ {
				want = append(want, strconv.Itoa(i))
			}
			// Nothing was in flight, so there is nothing to repeat: the
			// first 500 to arrive are exactly 1..500.
			if g := got(); strings.Join(g, ",") != strings.Join(want, ",") {
				t.Fatalf("subscriber got %d messages %v..., want exactly 1..%d\n%s", len(g), g[:min(len(g), 20)], n, stderr.String())
			}
			if !strings.Contains(stderr.String(), "store-and-forward queue: messages waiting from before") {
				t.Errorf("no log line about the waiting messages:\n%s", stderr.String())
			}
		})
	}
}

// waitLog waits until the child's log has a line containing s.
func waitLog(t *testing.T, log *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", s, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// queued counts the messages in the outbox table of the database at path.
func queued(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestScaleOutSharedSubscription runs three "runnel run" runners whose
// mqtt-in reads $share/group/sensors/+/data from one mosquitto 2 broker and
// whose flows tag each message with the runner's name and publish it back:
// every one of 3,000 messages is processed exactly once, and when one
// runner is stopped (SIGTERM) half-way, the other two take over its share.
func TestScaleOutSharedSubscription(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	m := mosquittotest.Start(t, mosquittotest.Options{})
	got, _ := remoteSubscriber(t, m.Addr, "processed")
	dir := t.TempDir()
	type runner struct {
		cmd    *exec.Cmd
		stderr *syncBuffer
		exited chan error
	}
	var runners []runner
	for r := 1; r <= 3; r++ {
		flow := filepath.Join(dir, fmt.Sprintf("r%d.json", r))
		os.WriteFile(flow, []byte(fmt.Sprintf(`[
{"id":"b1","type":"mqtt-broker","broker":"127.0.0.1","port":"%d","protocolVersion":"5"},
{"id":"i1","type":"mqtt-in","topic":"$share/group/sensors/+/data","qos":"1","datatype":"utf8","broker":"b1","wires":[["t1"]]},
{"id":"t1","type":"template","template":"r%d {{payload}}","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","topic":"processed","qos":"1","broker":"b1","wires":[]}]`, m.Port, r)), 0o644)
		cmd, stderr, exited := runChild(t, "run", "--mqtt", freePort(t), "--watch", "0", flow)
		runners = append(runners, runner{cmd, stderr, exited})
	}
	for _, r := range runners {
		waitLog(t, r.stderr, "runnel running")
	}
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + m.Addr).SetClientID("devices"))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher: %v", tok.Error())
	}
	defer pub.Disconnect(0)
	send := func(topic, payload string) {
		t.Helper()
		if tok := pub.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	// Probe until every runner has subscribed and processed a message.
	for i := 0; ; i++ {
		send("sensors/probe/data", "probe")
		seen := map[string]bool{}
		for _, p := range got() {
			if r, rest, _ := strings.Cut(p, " "); rest == "probe" {
				seen[r] = true
			}
		}
		if len(seen) == 3 {
			break
		}
		if i > 500 {
			t.Fatalf("not every runner processes messages: %v", seen)
		}
		time.Sleep(10 * time.Millisecond)
	}

	const n = 3000
	stopped := make(chan struct{})
	for i := 1; i <= n; i++ {
		send(fmt.Sprintf("sensors/dev%d/data", i%10), strconv.Itoa(i))
		if i == n/2 {
			go func() {
				runners[0].cmd.Process.Signal(syscall.SIGTERM)
				<-runners[0].exited
				close(stopped)
			}()
		}
	}
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("runner 1 did not stop")
	}
	// Everything published after runner 1 exited goes to the others.
	after := n + 1
	for i := n + 1; i <= n+300; i++ {
		send(fmt.Sprintf("sensors/dev%d/data", i%10), strconv.Itoa(i))
	}
	total := n + 300

	deadline := time.Now().Add(30 * time.Second)
	count := map[int]int{}
	by := map[string]int{}
	lateR1 := 0
	for {
		clear(count)
		clear(by)
		lateR1 = 0
		for _, p := range got() {
			r, rest, _ := strings.Cut(p, " ")
			v, err := strconv.Atoi(rest)
			if err != nil {
				continue // a probe
			}
			count[v]++
			by[r]++
			if r == "r1" && v >= after {
				lateR1++
			}
		}
		if len(count) == total || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var missing, dups []int
	for i := 1; i <= total; i++ {
		switch c := count[i]; {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			dups = append(dups, i)
		}
	}
	if len(missing) > 0 || len(dups) > 0 {
		t.Fatalf("processed %d of %d: missing %v, more than once %v; per runner %v\nrunner 1 log:\n%s", len(count), total, missing, dups, by, runners[0].stderr.String())
	}
	if lateR1 > 0 || by["r1"] == 0 || by["r2"] == 0 || by["r3"] == 0 {
		t.Fatalf("per runner %v, runner 1 after its stop: %d", by, lateR1)
	}
	t.Logf("%d messages, each processed exactly once; per runner: %v (runner 1 stopped after message %d)", total, by, n/2)
}

// TestForwardWithRelativeDataDir: "runnel run" with a relative data
// directory, given by --data or RUNNEL_DATA, opens DIR/runnel.db in its
// working directory and forwards to a remote broker: the subscriber on
// mosquitto gets exactly 1..3. (The queue used to read "d/runnel.db" as the
// URL file://d/runnel.db, whose host is "d": the mqtt-broker node did not
// start and mqtt-out dropped every message as "no broker".)
func TestForwardWithRelativeDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	for _, c := range []struct {
		name, data string
		env        []string
		args       []string
	}{
		{"flag", "d", nil, []string{"--data", "d"}},
		{"env", "rel", []string{"RUNNEL_DATA=rel"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := mosquittotest.Start(t, mosquittotest.Options{})
			got, wait := remoteSubscriber(t, m.Addr, "fwd/#")
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "flows.json"), []byte(fmt.Sprintf(`[
{"id":"b1","type":"mqtt-broker","broker":"127.0.0.1","port":"%d"},
{"id":"i1","type":"mqtt-in","topic":"in/data","qos":"1","datatype":"utf8","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","topic":"fwd/data","qos":"1","broker":"b1","wires":[]}]`, m.Port)), 0o644)
			addr := freePort(t)
			args := append([]string{"run", "--mqtt", addr, "--watch", "0"}, c.args...)
			_, stderr, _ := runChildIn(t, dir, c.env, append(args, "flows.json")...)
			waitLog(t, stderr, "remote broker connected")

			pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("device"))
			if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publisher: %v", tok.Error())
			}
			defer pub.Disconnect(0)
			for i := 1; i <= 3; i++ {
				if tok := pub.Publish("in/data", 1, false, strconv.Itoa(i)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					t.Fatalf("publish %d: %v", i, tok.Error())
				}
			}
			wait(3)
			if g := strings.Join(got(), ","); g != "1,2,3" {
				t.Fatalf("subscriber got %s, want 1,2,3\n%s", g, stderr.String())
			}
			fi, err := os.Stat(filepath.Join(dir, c.data, "runnel.db"))
			if err != nil {
				t.Fatalf("no database in the working directory: %v", err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("runnel.db has mode %o, want 600", fi.Mode().Perm())
			}
		})
	}
}
