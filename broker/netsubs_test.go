package broker

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/engine"
)

// TestSkipWalkKeepsNetworkDelivery: messages nobody on the network
// subscribes to skip mochi's delivery, and a client that subscribes later
// still gets the topic's next messages (the cached answer is invalidated).
func TestSkipWalkKeepsNetworkDelivery(t *testing.T) {
	b, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	var flows, netGot []string
	cancel, err := b.Subscribe("t/#", 1, func(d engine.Delivery) {
		mu.Lock()
		flows = append(flows, string(d.Payload))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	ctx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	dial := func(id string, onMsg func(string)) *paho.Client {
		conn, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		cfg := paho.ClientConfig{Conn: conn}
		if onMsg != nil {
			cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
				onMsg(string(p.Packet.Payload))
				return true, nil
			}}
		}
		c := paho.NewClient(cfg)
		if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
		return c
	}
	pub := dial("pub", nil)
	publish := func(payload string, qos byte) {
		t.Helper()
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: "t/x", QoS: qos, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	sub := dial("sub", func(s string) { mu.Lock(); netGot = append(netGot, s); mu.Unlock() })
	publish("1", 0)
	publish("2", 1) // acknowledged although mochi skips its delivery
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "t/x", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	waitNet := func(want int) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(netGot)
			mu.Unlock()
			if n >= want || time.Now().After(deadline) {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	publish("3", 0)
	publish("4", 1)
	// mochi acknowledges a QoS 1 message before it delivers it, so the
	// flows' message would race it: wait for 4 first.
	waitNet(2)
	if err := b.Publish("t/x", []byte("5"), 0, false); err != nil { // from the flows
		t.Fatal(err)
	}
	waitNet(3)
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if got := join(flows); got != "1 2 3 4 5" {
		t.Errorf("flows got %q", got)
	}
	if got := join(netGot); got != "3 4 5" {
		t.Errorf("network subscriber got %q, want 3 4 5", got)
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
