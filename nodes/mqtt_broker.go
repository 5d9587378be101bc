package nodes

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/runnel-io/runnel/engine"
)

// MQTTBrokerConfig is the configuration of an mqtt-broker config node. It
// keeps Node-RED's property names; only the connection target matters
// until remote brokers are supported.
type MQTTBrokerConfig struct {
	Broker          string `json:"broker" label:"Server" required:"true" help:"Host name or URL (mqtt://, mqtts://, ws://, wss://)"`
	Port            string `json:"port" label:"Port" default:"1883"`
	ClientID        string `json:"clientid" label:"Client ID"`
	UseTLS          bool   `json:"usetls" label:"Use TLS"`
	ProtocolVersion string `json:"protocolVersion" label:"Protocol" default:"4" options:"3,4,5"`
	Keepalive       string `json:"keepalive" label:"Keep alive (s)" default:"60"`
	CleanSession    bool   `json:"cleansession" label:"Clean session" default:"true"`
}

// MQTTBroker is a built mqtt-broker config node.
type MQTTBroker struct {
	// Host and Port are where the config node points.
	Host string
	Port int
	// Local is set when the config node points at the embedded broker.
	Local bool
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "mqtt-broker",
		Category: "config",
		Label:    "MQTT broker",
		Config:   true,
		// Node-RED's mqtt-broker credentials.
		Credentials: map[string]string{"user": "text", "password": "password"},
		Help: `A connection to an MQTT broker, shared by the mqtt-in and mqtt-out nodes that use it.

A broker on this machine at the embedded broker's address is served in process, with no network hop.`,
	}, newMQTTBroker))
}

func newMQTTBroker(cfg *MQTTBrokerConfig, h *engine.Host) (engine.Node, error) {
	host := strings.TrimSpace(cfg.Broker)
	port := strings.TrimSpace(cfg.Port)
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil {
			return nil, engine.ErrFieldf("broker", "invalid broker URL %q: %v", host, err)
		}
		host = u.Hostname()
		if u.Port() != "" {
			port = u.Port()
		}
	}
	if port == "" {
		port = "1883"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return nil, engine.ErrFieldf("port", "invalid port %q", cfg.Port)
	}
	b := &MQTTBroker{Host: host, Port: p}
	b.Local = isLocal(host, p, h.BrokerAddr())
	return b, nil
}

// isLocal reports whether host:port is the embedded broker's listener.
func isLocal(host string, port int, embedded string) bool {
	eh, ep, err := net.SplitHostPort(embedded)
	if err != nil {
		return false
	}
	if strconv.Itoa(port) != ep {
		return false
	}
	loop := func(h string) bool {
		switch h {
		case "localhost", "127.0.0.1", "::1", "":
			return true
		}
		return false
	}
	if eh == "" || eh == "0.0.0.0" || eh == "::" {
		return loop(host)
	}
	return host == eh || loop(host) && loop(eh)
}

// checkBrokerRef checks an mqtt node's broker property: empty means the
// embedded broker; otherwise it must name an mqtt-broker config node that
// points at the embedded broker.
func checkBrokerRef(h *engine.Host, id string) error {
	if id == "" {
		return nil
	}
	n, err := h.ConfigNode(id, "mqtt-broker")
	if err != nil {
		return engine.ErrField("broker", err)
	}
	b := n.(*MQTTBroker)
	if !b.Local {
		return engine.ErrFieldf("broker", "remote broker %s is not supported yet: point the mqtt-broker config node at the embedded broker (%s)",
			net.JoinHostPort(b.Host, strconv.Itoa(b.Port)), fmt.Sprint(h.BrokerAddr()))
	}
	return nil
}
