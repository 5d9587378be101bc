package network

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/nodes/internal/remote"
)

// MQTTOutConfig is the configuration of an mqtt-out node (Node-RED's "mqtt out").
type MQTTOutConfig struct {
	Topic  string `json:"topic" label:"Topic" help:"Empty: use msg.topic"`
	QoS    string `json:"qos" label:"QoS" options:"=msg.qos (else 0),0,1,2"`
	Retain string `json:"retain" label:"Retain" options:"=msg.retain (else false),true,false"`
	Broker string `json:"broker" label:"Server" node:"mqtt-broker" help:"Empty: the embedded broker"`
}

// mqttOut publishes each message it receives.
type mqttOut struct {
	h       *engine.Host
	cfg     MQTTOutConfig
	remote  *MQTTBroker // the remote broker's config node; nil: the embedded broker
	unwatch func()
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "mqtt-out",
		Category: "network",
		Label:    "mqtt out",
		Inputs:   1,
		Color:    "#d8bfd8",
		Icon:     "bridge.svg",
		Labels:   []engine.LabelRule{{Text: "{topic}"}},
		Help: `Publishes msg.payload to an MQTT topic.

The topic is the node's topic, else msg.topic. QoS and retain are the node's, else msg.qos and msg.retain.
A payload of bytes is published as it is, a string as UTF-8, null as an empty message, anything else as JSON,
written as Node-RED's JSON.stringify writes it (array-index keys first, Infinity as null).
On a remote broker, QoS 1 and 2 messages wait in a store-and-forward queue while the broker is unreachable
and go out in order after reconnecting; QoS 0 messages are then dropped and counted.`,
	}, newMQTTOut))
}

func newMQTTOut(cfg *MQTTOutConfig, h *engine.Host) (engine.Node, error) {
	if strings.ContainsAny(cfg.Topic, "+#") {
		return nil, engine.ErrFieldf("topic", "topic %q must not contain + or #: those are for subscriptions", cfg.Topic)
	}
	ref, err := brokerRef(h, cfg.Broker)
	if err != nil {
		return nil, err
	}
	return &mqttOut{h: h, cfg: *cfg, remote: ref}, nil
}

// Start follows a remote broker's connection state in the node's status.
func (n *mqttOut) Start(ctx context.Context) error {
	if _, rc := pickBroker(n.h, n.remote); rc != nil {
		n.unwatch = rc.Watch(func(s remote.State) { n.h.Status(s.Status()) })
	}
	return nil
}

// Close stops following the connection state.
func (n *mqttOut) Close(ctx context.Context) error {
	if n.unwatch != nil {
		n.unwatch()
	}
	return nil
}

// Receive publishes m.
func (n *mqttOut) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	b, _ := pickBroker(n.h, n.remote)
	if b == nil {
		return errors.New("no broker")
	}
	topic := n.cfg.Topic
	if topic == "" {
		topic = m.Topic
	}
	if topic == "" {
		return errors.New("no topic: set the node's topic or msg.topic")
	}
	qos, err := pickQoS(n.cfg.QoS, m)
	if err != nil {
		return err
	}
	retain := n.cfg.Retain == "true"
	if n.cfg.Retain == "" {
		retain = engine.Truthy(propOf(m, "retain"))
	}
	if err := b.Publish(topic, PayloadBytes(m.Payload), qos, retain); err != nil {
		return fmt.Errorf("publish to %q: %w", topic, err)
	}
	return nil
}

// PayloadBytes converts a payload to the bytes mqtt-out publishes: bytes as
// they are, strings as UTF-8, null as nothing, numbers and booleans as
// their text, objects and arrays as JSON.
func PayloadBytes(p any) []byte {
	switch x := p.(type) {
	case []byte:
		return x
	case string:
		// The broker never writes to a payload, and strings are
		// immutable, so the string's bytes can be shared, not copied.
		return unsafe.Slice(unsafe.StringData(x), len(x))
	case nil:
		return nil
	case engine.RawJSON:
		return engine.MarshalJSON(x)
	case bool, float64, int, int64:
		return []byte(engine.ToString(x))
	}
	return engine.MarshalJSON(p)
}

// pickQoS returns the configured QoS, else msg.qos, else 0.
func pickQoS(cfg string, m *engine.Message) (byte, error) {
	if cfg != "" {
		return cfg[0] - '0', nil
	}
	v, ok := m.Prop("qos")
	if !ok || v == nil {
		return 0, nil
	}
	f, ok := engine.ToFloat(v)
	if !ok || f < 0 || f > 2 || f != float64(int(f)) {
		return 0, fmt.Errorf("invalid msg.qos %v: must be 0, 1 or 2", engine.ToString(v))
	}
	return byte(f), nil
}

func propOf(m *engine.Message, name string) any {
	v, _ := m.Prop(name)
	return v
}
