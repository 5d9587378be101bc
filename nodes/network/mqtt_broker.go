package network

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/nodes/internal/outbox"
	"github.com/runnel-io/runnel/nodes/internal/remote"
)

// MQTTBrokerConfig is the configuration of an mqtt-broker config node, with
// Node-RED's property names. The user name and password are the node's
// credentials ("user", "password"), not properties.
type MQTTBrokerConfig struct {
	Broker           string `json:"broker" label:"Server" required:"true" help:"Host name or URL (mqtt://, mqtts://, ws://, wss://)"`
	Port             string `json:"port" label:"Port" default:"1883"`
	ClientID         string `json:"clientid" label:"Client ID" help:"Empty: a random one"`
	UseTLS           bool   `json:"usetls" label:"Use TLS"`
	TLS              string `json:"tls" label:"TLS configuration" node:"tls-config" showif:"usetls=true"`
	VerifyServerCert bool   `json:"verifyservercert" label:"Verify server certificate" default:"true" help:"Used with TLS when no TLS configuration is set" showif:"usetls=true"`
	ProtocolVersion  string `json:"protocolVersion" label:"Protocol" default:"4" options:"3=MQTT V3.1,4=MQTT V3.1.1,5=MQTT V5"`
	Keepalive        string `json:"keepalive" label:"Keep alive (s)" default:"60"`
	CleanSession     bool   `json:"cleansession" label:"Clean session" default:"true"`
	// MaxInflight is Runnel's own (Node-RED has no such property).
	MaxInflight string `json:"maxInflight" label:"QoS 2 in flight (MQTT 3.1.1)" default:"10" help:"At most this many QoS 2 messages wait for PUBCOMP at once; keep it below the broker's limit (mosquitto: max_inflight_messages, 20). MQTT 5 follows the broker's Receive Maximum"`

	BirthTopic   string `json:"birthTopic" label:"Birth message topic" help:"Published after every connect"`
	BirthQoS     string `json:"birthQos" label:"Birth QoS" default:"0" options:"0,1,2"`
	BirthRetain  bool   `json:"birthRetain" label:"Birth retain"`
	BirthPayload string `json:"birthPayload" label:"Birth payload"`
	CloseTopic   string `json:"closeTopic" label:"Close message topic" help:"Published before a clean disconnect"`
	CloseQoS     string `json:"closeQos" label:"Close QoS" default:"0" options:"0,1,2"`
	CloseRetain  bool   `json:"closeRetain" label:"Close retain"`
	ClosePayload string `json:"closePayload" label:"Close payload"`
	WillTopic    string `json:"willTopic" label:"Will topic" help:"Published by the broker when the connection is lost"`
	WillQoS      string `json:"willQos" label:"Will QoS" default:"0" options:"0,1,2"`
	WillRetain   bool   `json:"willRetain" label:"Will retain"`
	WillPayload  string `json:"willPayload" label:"Will payload"`
}

// MQTTBroker is a built mqtt-broker config node. A remote broker gets one
// connection, opened when the node starts and shared by every mqtt-in and
// mqtt-out node that uses it; a deploy that replaces the config node with
// an identical one hands the connection over, so nothing reconnects.
type MQTTBroker struct {
	// Host and Port are where the config node points.
	Host string
	Port int
	// Local is set when the config node points at the embedded broker.
	Local bool
	// V5 is set when the config node asks for MQTT 5 (protocolVersion 5);
	// mqtt-in then follows its subscription options, on the embedded
	// broker too.
	V5 bool

	h    *engine.Host
	opts remote.Options
	key  string // identifies the connection settings, for hand-over

	conn   atomic.Pointer[remote.Conn]
	handed atomic.Bool // the connection went to a successor
}

// brokerConn is what mqtt-in and mqtt-out use of a remote connection.
type brokerConn interface {
	engine.Broker
	// Watch calls fn with the connection state now and on every change.
	Watch(fn func(remote.State)) (cancel func())
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "mqtt-broker",
		Category: "config",
		Label:    "MQTT broker",
		Config:   true,
		// Node-RED's mqtt-broker credentials.
		Credentials:      map[string]string{"user": "text", "password": "password"},
		CredentialLabels: map[string]string{"user": "Username", "password": "Password"},
		Labels:           []engine.LabelRule{{Text: "{broker}:{port}"}, {Text: "{broker}"}},
		Help: `A connection to an MQTT broker, shared by the mqtt-in and mqtt-out nodes that use it.

A broker on this machine at the embedded broker's address is served in process, with no network hop.
Any other broker gets one connection (MQTT 3.1.1 or 5, TLS with a tls-config node), kept up with
reconnects (exponential backoff with jitter) and renewed subscriptions. While it is unreachable,
mqtt-out keeps QoS 1 and 2 messages in a store-and-forward queue (on disk with a data directory) and
sends them in order after reconnecting; QoS 0 messages are dropped and counted.
The user name and password are the node's credentials.`,
	}, newMQTTBroker))
}

func newMQTTBroker(cfg *MQTTBrokerConfig, h *engine.Host) (engine.Node, error) {
	host := strings.TrimSpace(cfg.Broker)
	port := strings.TrimSpace(cfg.Port)
	scheme := ""
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil {
			return nil, engine.ErrFieldf("broker", "invalid broker URL %q: %v", host, err)
		}
		scheme = u.Scheme
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
	b := &MQTTBroker{Host: host, Port: p, h: h, V5: strings.TrimSpace(cfg.ProtocolVersion) == "5"}
	b.Local = isLocal(host, p, h.BrokerAddr())
	if b.Local {
		return b, nil
	}
	switch scheme {
	case "":
		scheme = "mqtt"
		if cfg.UseTLS {
			scheme = "mqtts"
		}
	case "mqtt", "tcp":
		if cfg.UseTLS {
			scheme = "mqtts"
		}
	case "mqtts", "ssl", "tls", "ws", "wss":
	default:
		return nil, engine.ErrFieldf("broker", "unsupported scheme %q (want mqtt, mqtts, ws or wss)", scheme)
	}
	if scheme == "ws" && cfg.UseTLS {
		scheme = "wss"
	}
	version, _ := strconv.Atoi(cfg.ProtocolVersion)
	ka, err := strconv.Atoi(strings.TrimSpace(cfg.Keepalive))
	if err != nil || ka < 0 || ka > 65535 {
		return nil, engine.ErrFieldf("keepalive", "invalid keep alive %q: want seconds from 0 to 65535", cfg.Keepalive)
	}
	inflight := remote.DefaultMaxInflight
	if v := strings.TrimSpace(cfg.MaxInflight); v != "" {
		inflight, err = strconv.Atoi(v)
		if err != nil || inflight < 1 || inflight > 65535 {
			return nil, engine.ErrFieldf("maxInflight", "invalid QoS 2 window %q: want a number of messages from 1 to 65535", cfg.MaxInflight)
		}
	}
	if version == 5 && (scheme == "ws" || scheme == "wss") {
		return nil, engine.ErrFieldf("broker", "MQTT 5 over WebSocket is not supported: use protocol 4 or an mqtt:// URL")
	}
	creds := h.Credentials()
	o := remote.Options{
		Name:         h.ID(),
		URL:          scheme + "://" + net.JoinHostPort(host, strconv.Itoa(p)),
		Version:      version,
		ClientID:     cfg.ClientID,
		KeepAlive:    time.Duration(ka) * time.Second,
		CleanSession: cfg.CleanSession,
		Username:     creds["user"],
		Password:     creds["password"],
		Birth:        message(cfg.BirthTopic, cfg.BirthPayload, cfg.BirthQoS, cfg.BirthRetain),
		Close:        message(cfg.CloseTopic, cfg.ClosePayload, cfg.CloseQoS, cfg.CloseRetain),
		Will:         message(cfg.WillTopic, cfg.WillPayload, cfg.WillQoS, cfg.WillRetain),
		Logger:       h.Logger(),
		MaxInflight:  inflight,
		Go:           h.Go,
		OnPanic:      h.ReportPanic,
	}
	if !cfg.CleanSession && cfg.ClientID == "" {
		return nil, engine.ErrFieldf("clientid", "a client ID is required when clean session is off")
	}
	tlsKey := ""
	if scheme == "mqtts" || scheme == "ssl" || scheme == "tls" || scheme == "wss" {
		if cfg.TLS != "" {
			n, err := h.ConfigNode(cfg.TLS, "tls-config")
			if err != nil {
				return nil, engine.ErrField("tls", err)
			}
			t := n.(*TLSConfigNode)
			o.TLS, tlsKey = t.Config(), t.key
			if o.TLS.ServerName == "" {
				o.TLS.ServerName = host
			}
		} else {
			o.TLS = tlsDefault(host, cfg.VerifyServerCert)
		}
	}
	// The key covers every setting of the connection (the password as a
	// hash), but not the generated client ID.
	sum := sha256.Sum256(fmt.Appendf(nil, "%#v\x00%s\x00%s\x00%s", *cfg, o.Username, o.Password, tlsKey))
	b.key = hex.EncodeToString(sum[:])
	if o.ClientID == "" {
		var r [6]byte
		rand.Read(r[:])
		o.ClientID = "runnel_" + hex.EncodeToString(r[:])
	}
	b.opts = o
	return b, nil
}

func message(topic, payload, qos string, retain bool) *remote.Message {
	if topic == "" {
		return nil
	}
	q := byte(0)
	if qos != "" {
		q = qos[0] - '0'
	}
	return &remote.Message{Topic: topic, Payload: []byte(payload), QoS: q, Retain: retain}
}

// TakeOver adopts the predecessor's connection when its settings are the
// same (engine.Successor), so that a deploy does not reconnect.
func (b *MQTTBroker) TakeOver(prev engine.Node) bool {
	p, ok := prev.(*MQTTBroker)
	if !ok || b.Local || p.Local || p.key != b.key {
		return false
	}
	c := p.conn.Load()
	if c == nil || p.handed.Load() {
		return false
	}
	p.handed.Store(true)
	b.conn.Store(c)
	b.handed.Store(false) // b may be taking its connection back from a deploy that was rolled back
	return true
}

// Start connects to a remote broker, in the background.
func (b *MQTTBroker) Start(ctx context.Context) error {
	if b.Local || b.conn.Load() != nil {
		return nil
	}
	o := b.opts
	ob := b.h.Outbox()
	lim := outbox.Limits{MaxMessages: ob.MaxMessages, MaxBytes: ob.MaxBytes, MaxAge: ob.MaxAge}
	log := b.h.Logger()
	if ob.Path != "" {
		q, err := outbox.OpenSQLite(ctx, ob.Path, b.h.ID(), lim, log)
		if err != nil {
			return err
		}
		if st := q.Stats(); st.Messages > 0 {
			log.Info("store-and-forward queue: messages waiting from before", slog.Int("messages", st.Messages), slog.Int64("bytes", st.Bytes))
		}
		o.Queue = q
	} else {
		log.Info("no data directory: the store-and-forward queue for this remote broker is in memory and lost on restart (use --data DIR)")
		o.Queue = outbox.NewMemory(b.h.ID(), lim, log)
	}
	c, err := remote.Dial(o)
	if err != nil {
		o.Queue.Close()
		return err
	}
	b.conn.Store(c)
	return nil
}

// Close disconnects, unless a successor took the connection over.
func (b *MQTTBroker) Close(ctx context.Context) error {
	if b.handed.Load() {
		return nil
	}
	if c := b.conn.Swap(nil); c != nil {
		return c.Close(ctx)
	}
	return nil
}

// Conn returns the remote connection, or nil for the embedded broker or
// before the node started.
func (b *MQTTBroker) Conn() *remote.Conn { return b.conn.Load() }

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

// brokerRef resolves an mqtt node's broker property: nil for the embedded
// broker (empty, or a config node that points at it).
func brokerRef(h *engine.Host, id string) (*MQTTBroker, error) {
	if id == "" {
		return nil, nil
	}
	n, err := h.ConfigNode(id, "mqtt-broker")
	if err != nil {
		return nil, engine.ErrField("broker", err)
	}
	b := n.(*MQTTBroker)
	if b.Local {
		return nil, nil
	}
	return b, nil
}

// pickBroker returns the broker an mqtt node uses: the embedded one, or
// the remote connection of its config node.
func pickBroker(h *engine.Host, ref *MQTTBroker) (engine.Broker, brokerConn) {
	if ref == nil {
		return h.Broker(), nil
	}
	c := ref.Conn()
	if c == nil {
		return nil, nil
	}
	return c, c
}

// BrokerStats count the messages of a remote broker's connection, for
// metrics.
type BrokerStats struct {
	// Connected is whether the broker is connected now.
	Connected bool
	// Queued and QueuedBytes are the messages waiting in the
	// store-and-forward queue.
	Queued      int
	QueuedBytes int64
	// Dropped counts queued messages dropped because a bound was hit
	// (the oldest go first).
	Dropped uint64
	// DroppedQoS0 counts QoS 0 messages dropped while disconnected.
	DroppedQoS0 uint64
	// Rejected counts messages the broker refused (MQTT 5), dropped.
	Rejected uint64
	// Sent counts QoS 1 and 2 messages the broker acknowledged.
	Sent uint64
	// Failures counts publishes that failed and were sent again.
	Failures uint64
}

// Metrics reports a remote connection's state and its store-and-forward
// queue for GET /metrics; nothing for the embedded broker.
func (b *MQTTBroker) Metrics() []engine.Metric {
	s, ok := b.Stats()
	if !ok {
		return nil
	}
	connected := 0.0
	if s.Connected {
		connected = 1
	}
	return []engine.Metric{
		{Name: "runnel_remote_connected", Value: connected},
		{Name: "runnel_remote_sent_total", Counter: true, Value: float64(s.Sent)},
		{Name: "runnel_remote_rejected_total", Counter: true, Value: float64(s.Rejected)},
		{Name: "runnel_remote_publish_failures_total", Counter: true, Value: float64(s.Failures)},
		{Name: "runnel_remote_dropped_qos0_total", Counter: true, Value: float64(s.DroppedQoS0)},
		{Name: "runnel_outbox_messages", Value: float64(s.Queued)},
		{Name: "runnel_outbox_bytes", Value: float64(s.QueuedBytes)},
		{Name: "runnel_outbox_dropped_total", Counter: true, Value: float64(s.Dropped)},
	}
}

// Stats returns the connection's counters; false for the embedded broker
// or before the node started.
func (b *MQTTBroker) Stats() (BrokerStats, bool) {
	c := b.Conn()
	if c == nil {
		return BrokerStats{}, false
	}
	s := c.Stats()
	return BrokerStats{
		Connected: c.State() == remote.Connected,
		Queued:    s.Queue.Messages, QueuedBytes: s.Queue.Bytes, Dropped: s.Queue.Dropped,
		DroppedQoS0: s.DroppedQoS0, Rejected: s.Rejected, Sent: s.Sent, Failures: s.Failures,
	}, true
}
