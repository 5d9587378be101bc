package nodes_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// TestFlowsUserACL: with the broker's flows_user set, an mqtt-in on a
// topic the ACL denies it fails to start (and so the deploy), and an mqtt-out to such a topic
// reports a node error for the message; the allowed ones work.
func TestFlowsUserACL(t *testing.T) {
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Auth: broker.AuthOptions{
		FlowsUser: "flows",
		ACL: []broker.ACLRule{
			{User: "flows", Topic: "in/#", Access: broker.AccessRead},
			{User: "flows", Topic: "out/ok", Access: broker.AccessWrite},
			{Topic: "in/#", Access: broker.AccessWrite}, // everyone, the test client too
			{Topic: "out/#", Access: broker.AccessRead},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	errs := make(chan engine.ErrorEvent, 10)
	rt := engine.New(engine.Options{Broker: br, BrokerAddr: br.Addr(), OnError: func(ev engine.ErrorEvent) { errs <- ev }})
	defer rt.Stop(context.Background())
	doc, err := flows.Parse([]byte(`[
		{"id":"t","type":"tab","label":"acl"},
		{"id":"in-denied","type":"mqtt-in","z":"t","topic":"admin/#","qos":"0","datatype":"utf8","broker":"","wires":[]},
		{"id":"in-ok","type":"mqtt-in","z":"t","topic":"in/+","qos":"0","datatype":"utf8","broker":"","wires":[["out-ok","out-denied"]]},
		{"id":"out-ok","type":"mqtt-out","z":"t","topic":"out/ok","qos":"","retain":"","broker":"","wires":[]},
		{"id":"out-denied","type":"mqtt-out","z":"t","topic":"out/denied","qos":"","retain":"","broker":"","wires":[]}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	// The denied subscription fails the deploy, which is rolled back.
	err = rt.Deploy(context.Background(), doc)
	var se *engine.StartError
	if !errors.As(err, &se) || len(se.Problems) != 1 || se.Problems[0].NodeID != "in-denied" ||
		se.Problems[0].Msg != `failed to start: subscribe to "admin/#": the broker ACL does not allow flows user "flows" to subscribe to "admin/#"` {
		t.Fatalf("deploy: %v", err)
	}
	if rt.Graph() != nil {
		t.Fatal("a failed deploy runs")
	}
	doc.Nodes = slices.DeleteFunc(doc.Nodes, func(n *flows.Node) bool { return n.ID == "in-denied" })
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	next := func() engine.ErrorEvent {
		t.Helper()
		select {
		case ev := <-errs:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no node error")
			return engine.ErrorEvent{}
		}
	}
	if ev := next(); ev.NodeID != "in-denied" ||
		ev.Err.Error() != `start: subscribe to "admin/#": the broker ACL does not allow flows user "flows" to subscribe to "admin/#"` {
		t.Errorf("mqtt-in error: %s: %v", ev.NodeID, ev.Err)
	}

	// A network client (anonymous, from loopback) publishes into the flow
	// and listens to what comes out.
	conn, err := net.Dial("tcp", br.Addr())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(p paho.PublishReceived) (bool, error) {
			got <- p.Packet.Topic + " " + string(p.Packet.Payload)
			return true, nil
		},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "probe", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{})
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "out/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, &paho.Publish{Topic: "in/x", QoS: 1, Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "out/ok hello" {
			t.Errorf("received %q, want out/ok hello", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing came out of the flow")
	}
	if ev := next(); ev.NodeID != "out-denied" ||
		ev.Err.Error() != `publish to "out/denied": the broker ACL does not allow flows user "flows" to publish to "out/denied"` {
		t.Errorf("mqtt-out error: %s: %v", ev.NodeID, ev.Err)
	}
	select {
	case m := <-got:
		t.Errorf("also received %q", m)
	default:
	}
}
