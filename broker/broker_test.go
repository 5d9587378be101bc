package broker

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
)

func TestFlowSubscriptions(t *testing.T) {
	b, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	var got []string
	record := func(tag string) func(engine.Delivery) {
		return func(d engine.Delivery) {
			mu.Lock()
			got = append(got, tag+" "+d.Topic+" "+string(d.Payload)+map[bool]string{true: " retained"}[d.Retain]+
				map[bool]string{true: " internal"}[d.Internal])
			mu.Unlock()
		}
	}
	if err := b.Publish("r/1", []byte("kept"), 0, true); err != nil {
		t.Fatal(err)
	}
	cancelA, err := b.Subscribe("r/+", 0, record("a"))
	if err != nil {
		t.Fatal(err)
	}
	cancelB, err := b.Subscribe("$share/g/r/#", 0, record("b"))
	if err != nil {
		t.Fatal(err)
	}
	b.Publish("r/2", []byte("x"), 0, false)
	cancelA()
	b.Publish("r/3", []byte("y"), 0, false)
	cancelB()
	b.Publish("r/4", []byte("z"), 0, false)
	time.Sleep(10 * time.Millisecond)
	want := []string{"a r/1 kept retained", "b r/1 kept retained", "a r/2 x internal", "b r/2 x internal", "b r/3 y internal"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{"a/#/b", "a+/b", "", "$share/g"} {
		if _, err := b.Subscribe(bad, 0, record("x")); err == nil {
			t.Errorf("Subscribe(%q) accepted an invalid filter", bad)
		}
	}
	if err := b.Publish("a/+", nil, 0, false); err == nil {
		t.Error("Publish accepted a wildcard topic")
	}
}

// TestCloseWhileClientsDisconnect: Close while clients are going away at
// the same moment returns. mochi's own walk of the clients read-locks
// their list twice, and a disconnection between the two deadlocked Close
// (mochi-mqtt/server#488): a test run hung until its timeout.
func TestCloseWhileClientsDisconnect(t *testing.T) {
	for round := 0; round < 40; round++ {
		b, err := Start(Options{Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		for i := 0; i < 100; i++ {
			c, err := net.Dial("tcp", b.Addrs().TCP)
			if err != nil {
				t.Fatal(err)
			}
			// CONNECT, MQTT 3.1.1, clean session, client id "c<i>".
			id := fmt.Sprintf("c%d", i)
			pk := append([]byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, byte(len(id))}, id...)
			if _, err := c.Write(pk); err != nil {
				t.Fatal(err)
			}
			ack := make([]byte, 4)
			if _, err := io.ReadFull(c, ack); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Write([]byte{0xe0, 0}) // DISCONNECT
				c.Close()
			}()
		}
		done := make(chan struct{})
		go func() { b.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: Close did not return while clients disconnected", round)
		}
		wg.Wait()
	}
}
