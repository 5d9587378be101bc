package network_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// startFails is a node type whose Start fails, to make deploys fail.
type startFails struct{}

func (startFails) Start(context.Context) error { return errors.New("refusing to start") }
func (startFails) Receive(context.Context, *engine.Message, engine.Output) error {
	return nil
}

func init() {
	engine.Register(engine.NewType(engine.Meta{Type: "test-start-fails", Category: "test", Inputs: 1},
		func(*struct{}, *engine.Host) (engine.Node, error) { return startFails{}, nil }))
}

// TestRemoteBrokerThatFailsToStartFailsTheDeploy: an mqtt-broker config
// node whose store-and-forward queue cannot be opened fails the deploy,
// naming it, instead of running mqtt-out nodes that drop every message
// with "no broker".
func TestRemoteBrokerThatFailsToStartFailsTheDeploy(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := engine.New(engine.Options{BrokerAddr: "127.0.0.1:1883", Outbox: engine.OutboxOptions{Path: filepath.Join(notDir, "runnel.db")}})
	doc, err := flows.Parse([]byte(`[
{"id":"t","type":"tab"},
{"id":"b1","type":"mqtt-broker","broker":"127.0.0.1","port":"1"},
{"id":"o1","type":"mqtt-out","z":"t","topic":"x","qos":"1","broker":"b1","wires":[]}
]`))
	if err != nil {
		t.Fatal(err)
	}
	err = rt.Deploy(context.Background(), doc)
	var se *engine.StartError
	if !errors.As(err, &se) || len(se.Problems) != 1 {
		t.Fatalf("Deploy: %v", err)
	}
	if p := se.Problems[0]; p.NodeID != "b1" || p.Type != "mqtt-broker" || p.Line != 3 || !strings.HasPrefix(p.Msg, "failed to start: outbox ") {
		t.Fatalf("problem: %+v", p)
	}
	if rt.Graph() != nil {
		t.Fatal("the flows run without their broker")
	}
}

// TestFailedDeployHandsTheRemoteConnectionBack: a full deploy replaces an
// mqtt-broker node, whose successor takes its connection over; a node of
// the deploy then fails to start and the deploy is rolled back: the
// running config node has its connection back, still connected, and
// messages from the remote broker still arrive.
func TestFailedDeployHandsTheRemoteConnectionBack(t *testing.T) {
	m := mosquittotest.Start(t, mosquittotest.Options{})
	flow := `[` + brokerNode("b1", m.Port, 4, "") + `,
{"id":"i1","type":"mqtt-in","topic":"remote/in","qos":"1","datatype":"utf8","broker":"b1","wires":[["o1"]]},
{"id":"o1","type":"mqtt-out","topic":"local/out","qos":"1","wires":[]}%s]`
	s := startRemoteStack(t, strings.Replace(flow, "%s", "", 1), engine.OutboxOptions{})
	s.waitStatus("i1", "connected")
	running := s.conn("b1")
	conn := running.Conn()

	doc, err := flows.Parse([]byte(strings.Replace(flow, "%s", `,{"id":"f","type":"test-start-fails"}`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.rt.Plan(doc, engine.DeployFull)
	if err != nil {
		t.Fatal(err)
	}
	err = s.rt.Apply(context.Background(), p)
	var se *engine.StartError
	if !errors.As(err, &se) || se.Problems[0].NodeID != "f" || se.Problems[0].Msg != "failed to start: refusing to start" {
		t.Fatalf("Apply: %v", err)
	}
	if s.conn("b1") != running || running.Conn() != conn {
		t.Fatal("the running config node lost its connection")
	}
	local := newCollector()
	cancel, err := s.br.Subscribe("local/out", 1, func(d engine.Delivery) { local.add(string(d.Payload)) })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	pub := publisher(t, m.Addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		pub("remote/in", "after")
		local.mu.Lock()
		n := len(local.got)
		local.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message came through after the rollback; log:\n%s", s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c := strings.Count(s.log.String(), "remote broker connected"); c != 1 {
		t.Fatalf("connected %d times, want once:\n%s", c, s.log.String())
	}
	// Stopping closes the connection (it is not left to a closed successor).
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := s.rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if running.Conn() != nil {
		t.Fatal("stopping did not close the connection: the config node thinks it handed it over")
	}
}
