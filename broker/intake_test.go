package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/engine"
)

// After StopIntake a network client's QoS 1 message is neither given to
// the flows nor acknowledged, while the flows' own messages still go
// through.
func TestStopIntake(t *testing.T) {
	for _, hand := range []bool{false, true} {
		t.Run(fmt.Sprintf("handoff=%v", hand), func(t *testing.T) { testStopIntake(t, hand) })
	}
}

func testStopIntake(t *testing.T, hand bool) {
	b, err := Start(Options{Addr: "127.0.0.1:0", HandOff: hand})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	var got []string
	delivered := make(chan struct{}, 8)
	cancelSub, err := b.Subscribe("t/#", 1, func(d engine.Delivery) {
		mu.Lock()
		got = append(got, d.Topic)
		mu.Unlock()
		delivered <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancelSub()

	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "intake", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	publish := func(topic string, wait time.Duration) error {
		pctx, pcancel := context.WithTimeout(context.Background(), wait)
		defer pcancel()
		_, err := c.Publish(pctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x")})
		return err
	}
	if err := publish("t/before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	<-delivered

	b.StopIntake()
	if err := publish("t/after", 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a publish after StopIntake: %v, want no acknowledgement (deadline exceeded)", err)
	}
	if err := b.Publish("t/flows", []byte("y"), 0, false); err != nil {
		t.Fatal(err)
	}
	<-delivered
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"t/before", "t/flows"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("the flows got %q, want %q", got, want)
	}
}
