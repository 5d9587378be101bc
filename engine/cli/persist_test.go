package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/broker/mosquittotest"
)

// serveChild starts runnel serve in a child process on free ports with
// the data directory data; the test kills it if it is still running at
// the end.
func serveChild(t *testing.T, data string) (cmd *exec.Cmd, mqtt string, stderr *syncBuffer) {
	t.Helper()
	mqtt, httpAddr := freePort(t), freePort(t)
	cmd = exec.Command(os.Args[0], "-test.run=^TestServeChildProcess$")
	cmd.Env = append(os.Environ(), "RUNNEL_TEST_SERVE_ARGS=serve --mqtt "+mqtt+" --http "+httpAddr+" --data "+data+" --log-level warn")
	stderr = &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitListening(t, mqtt)
	return cmd, mqtt, stderr
}

// publishSettled publishes a QoS 1 message and waits until the broker has
// handed it to its subscribers: mochi sends the PUBACK before it does, but
// handles one client's packets in order, so the PUBACK of a second publish
// (to a topic nobody subscribes to) comes after.
func publishSettled(t *testing.T, pub *paho.Client, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range []*paho.Publish{{Topic: topic, QoS: 1, Payload: []byte(payload)}, {Topic: "settle/" + topic, QoS: 1}} {
		if _, err := pub.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
}

func needMosquitto(t *testing.T) {
	t.Helper()
	for _, p := range []string{"mosquitto_sub", "mosquitto_pub"} {
		mosquittotest.Tool(t, p)
	}
}

// TestPersistentSessionSurvivesKill is the proof of issue 5's
// persistence: a persistent subscriber (mosquitto_sub -c, MQTT 3.1.1)
// subscribes and goes offline, QoS 1 messages are published and each is
// acknowledged, runnel is killed with SIGKILL right after the last
// acknowledgement and restarted on the same data directory, and the
// subscriber reconnects and gets every message, in order.
func TestPersistentSessionSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	needMosquitto(t)
	data := t.TempDir()
	cmd, addr, stderr := serveChild(t, data)
	host, port, _ := net.SplitHostPort(addr)
	sub := func(extra ...string) *exec.Cmd {
		args := append([]string{"-h", host, "-p", port, "-c", "-i", "keeper", "-q", "1", "-t", "persist/#"}, extra...)
		return exec.Command("mosquitto_sub", args...)
	}
	if out, err := sub("-E").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_sub -E: %v\n%s", err, out)
	}

	const n = 200
	pub := publisher(t, addr)
	var want []string
	for i := range n {
		topic, payload := fmt.Sprintf("persist/%d", i%4), fmt.Sprintf("message %03d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := pub.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
		cancel()
		if err != nil { // Publish returns once the PUBACK is in
			t.Fatalf("publish %d: %v", i, err)
		}
		want = append(want, topic+" "+payload)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("runnel did not die of SIGKILL: %v\n%s", err, stderr)
	}

	_, addr, stderr = serveChild(t, data)
	host, port, _ = net.SplitHostPort(addr)
	// The session's subscription survived too: a message published
	// before the subscriber is back is queued behind the others.
	pub = publisher(t, addr)
	publishSettled(t, pub, "persist/end", "end")
	want = append(want, "persist/end end")
	var out, errOut bytes.Buffer
	c := sub("-v", "-C", fmt.Sprint(len(want)), "-W", "20")
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Run(); err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s\nreceived:\n%s\nrunnel:\n%s", err, errOut.String(), out.String(), stderr)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("after the kill the subscriber got %d messages, want %d\ngot:  %q\nwant: %q", len(got), len(want), got, want)
	}
}

// v5sub is a paho MQTT 5 client with a persistent session that records
// the payloads it receives.
type v5sub struct {
	c       *paho.Client
	present bool
	got     chan string
}

func connectV5(t *testing.T, addr, id string, clean bool) *v5sub {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &v5sub{got: make(chan string, 100000)}
	s.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			s.got <- string(r.Packet.Payload)
			return true, nil
		}},
	})
	expiry := uint32(3600)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ca, err := s.c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		t.Fatal(err)
	}
	s.present = ca.SessionPresent
	t.Cleanup(func() { s.c.Disconnect(&paho.Disconnect{}) })
	return s
}

// TestKillWhilePublishing kills runnel at a random moment while a
// publisher streams QoS 1 messages to an offline persistent subscriber
// (paho, MQTT 5 session expiry), three times on the same data directory:
// after each restart the subscriber gets every message whose PUBACK the
// publisher received, in order; the one message in flight at the kill may
// arrive too, and a message may arrive twice (QoS 1 is at least once),
// as may one of an earlier round that was not acknowledged.
func TestKillWhilePublishing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	data := t.TempDir()
	cmd, addr, _ := serveChild(t, data)
	sub := connectV5(t, addr, "streamer", true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if _, err := sub.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "stream/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	cancel()
	for round := range 3 {
		// The subscriber goes offline; its session stays.
		sub.c.Disconnect(&paho.Disconnect{})
		<-sub.c.Done()

		// The publisher's context ends when its connection breaks.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		alive, broken := context.WithCancel(context.Background())
		pub := paho.NewClient(paho.ClientConfig{Conn: conn, OnClientError: func(error) { broken() }})
		ctx, cancel := context.WithTimeout(alive, 5*time.Second)
		if _, err := pub.Connect(ctx, &paho.Connect{ClientID: "streampub", CleanStart: true, KeepAlive: 30}); err != nil {
			t.Fatal(err)
		}
		cancel()
		acked := 0
		// The kill comes at a random moment after the first PUBACK: on a
		// loaded machine a fixed delay from the connect could come
		// before any message.
		killAt := time.Duration(30+rand.IntN(150)) * time.Millisecond
		var timer *time.Timer
		for ; ; acked++ {
			ctx, cancel := context.WithTimeout(alive, 5*time.Second)
			_, err := pub.Publish(ctx, &paho.Publish{Topic: "stream/x", QoS: 1, Payload: []byte(fmt.Sprintf("%d/%d", round, acked))})
			cancel()
			if err != nil {
				break // killed
			}
			if timer == nil {
				timer = time.AfterFunc(killAt, func() { cmd.Process.Signal(syscall.SIGKILL) })
			}
		}
		if timer != nil {
			timer.Stop()
		}
		broken()
		cmd.Wait()
		if acked == 0 {
			t.Fatalf("round %d: nothing was published before the kill", round)
		}

		var stderr *syncBuffer
		cmd, addr, stderr = serveChild(t, data)
		pub = publisher(t, addr)
		publishSettled(t, pub, "stream/x", "end")
		sub = connectV5(t, addr, "streamer", false)
		if !sub.present {
			t.Fatalf("round %d: session not present after the kill", round)
		}
		// The marker comes from another publisher, so MQTT does not
		// order it among the stream: collect until both are in.
		next, dups, marker := 0, 0, false
		timeout := time.After(20 * time.Second)
		for !marker || next < acked {
			select {
			case p := <-sub.got:
				if p == "end" {
					marker = true
					continue
				}
				var r, i int
				fmt.Sscanf(p, "%d/%d", &r, &i)
				switch {
				case r < round:
					// A message of an earlier round whose PUBACK the
					// subscriber had not sent when it disconnected: a
					// session redelivers it, as it should.
					dups++
				case i == next:
					next++
				case i < next:
					dups++
				default:
					t.Fatalf("round %d: got message %d after %d: one is missing or out of order", round, i, next-1)
				}
			case <-timeout:
				t.Fatalf("round %d: got %d of %d messages, end marker: %v\n%s", round, next, acked, marker, stderr)
			}
		}
		if next < acked || next > acked+1 {
			t.Fatalf("round %d: got messages 0..%d, %d were acknowledged", round, next-1, acked)
		}
		t.Logf("round %d: killed after %d acknowledged messages; %d delivered after the restart, %d twice", round, acked, next, dups)
	}
}
