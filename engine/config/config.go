// Package config reads Runnel's configuration: a TOML file (runnel.toml),
// RUNNEL_* environment variables and command-line flags, in that order of
// increasing precedence, over built-in defaults. It checks syntax and
// simple semantics (addresses, durations, sizes, enum values) and names the
// file, line and setting of every mistake; the packages that use a setting
// (broker, editor, edge) take it from the plain structs here.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/runnel-io/runnel/engine/config/defaults"
)

// Config is the whole configuration. The zero value is not useful: start
// from Default or Load.
type Config struct {
	// LogLevel is debug, info, warn or error.
	LogLevel Level `toml:"log_level"`
	// Broker configures the embedded MQTT broker.
	Broker Broker `toml:"broker"`
	// Editor configures the HTTP server: browser editor and admin API.
	Editor Editor `toml:"editor"`
	// Edge configures the connections to remote brokers.
	Edge Edge `toml:"edge"`
	// Files configures what the file, file in and watch nodes may use.
	Files Files `toml:"files"`
	// Nodes configures the nodes that open listeners or run commands.
	Nodes Nodes `toml:"nodes"`

	// File is the path the configuration was read from, "" if none.
	File string `toml:"-"`

	// where records the source of each setting that did not come from the
	// defaults: "runnel.toml:12", "RUNNEL_MQTT" or "--mqtt".
	where map[string]string
}

// Broker is the [broker] section.
type Broker struct {
	// TCP is the plain MQTT listener address (""disables it).
	TCP Addr `toml:"tcp"`
	// TLS is the MQTT over TLS listener address; it needs TLSCert and TLSKey.
	TLS Addr `toml:"tls"`
	// TLSCert and TLSKey are PEM files for the TLS and WSS listeners.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// TLSClientCA is a PEM file of certificate authorities; when set, TLS
	// and WSS clients must present a certificate signed by one of them.
	TLSClientCA string `toml:"tls_client_ca"`
	// WS is the MQTT over WebSocket listener address (path /mqtt).
	WS Addr `toml:"ws"`
	// WSS is the MQTT over WebSocket over TLS listener address (path /mqtt).
	WSS Addr `toml:"wss"`
	// AllowAnonymous allows a listener on a non-loopback address while no
	// users are configured.
	AllowAnonymous bool `toml:"allow_anonymous"`
	// MaxPacketSize is the largest MQTT packet accepted, in bytes; 0: no
	// limit.
	MaxPacketSize Size `toml:"max_packet_size"`
	// MaxConnections is the most clients connected at once; 0: no limit.
	MaxConnections int `toml:"max_connections"`
	// MaxInflight is the most QoS 1 and 2 messages in flight per client,
	// each way.
	MaxInflight int `toml:"max_inflight"`
	// MaxQueued is the most messages waiting to be written per client.
	MaxQueued int `toml:"max_queued"`
	// MaxQueuedBytes is the most bytes waiting to be written per client;
	// messages past it are dropped and counted.
	MaxQueuedBytes Size `toml:"max_queued_bytes"`
	// KeepaliveMin and KeepaliveMax bound the clients' keep alive, in
	// seconds.
	KeepaliveMin int `toml:"keepalive_min"`
	KeepaliveMax int `toml:"keepalive_max"`
	// ConnectTimeout is how long a new connection may take to send
	// CONNECT; 0: no limit.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// MessageExpiryMax caps how long a message waits for delivery (queued
	// or retained); 0: no cap.
	MessageExpiryMax Duration `toml:"message_expiry_max"`
	// SessionExpiryMax caps how long a disconnected persistent session is
	// kept; 0: no cap.
	SessionExpiryMax Duration `toml:"session_expiry_max"`
	// FlowsUser is the ACL identity of the flows' own mqtt-in and
	// mqtt-out; "": trusted, no ACL.
	FlowsUser string `toml:"flows_user"`
	// Users are the broker's users ([[broker.users]]).
	Users []BrokerUser `toml:"users"`
	// ACL are the access rules ([[broker.acl]]), first match wins; once
	// any rule exists, what no rule allows is denied.
	ACL []ACLRule `toml:"acl"`
}

// BrokerUser is one [[broker.users]] entry.
type BrokerUser struct {
	Name string `toml:"name"`
	// PasswordHash is a bcrypt hash, as `runnel passwd` writes it.
	PasswordHash string `toml:"password_hash"`
}

// ACLRule is one [[broker.acl]] entry. A rule with neither User nor
// Client applies to every client.
type ACLRule struct {
	User   string `toml:"user"`
	Client string `toml:"client"`
	// Topic is a topic filter with + and #; %u stands for the username and
	// %c for the client id.
	Topic  string `toml:"topic"`
	Access Access `toml:"access"`
}

// Editor is the [editor] section.
type Editor struct {
	// HTTP is the listen address of the editor and admin API.
	HTTP Addr `toml:"http"`
	// AllowAnonymous allows a non-loopback HTTP address while no editor
	// users are configured.
	AllowAnonymous bool `toml:"allow_anonymous"`
	// SessionTTL is how long a login lasts.
	SessionTTL Duration `toml:"session_ttl"`
	// Users are the editor's users ([[editor.users]]).
	Users []EditorUser `toml:"users"`
	// Tokens are admin API tokens for automation ([[editor.tokens]]).
	Tokens []EditorToken `toml:"tokens"`
	// AllowedHosts are further names (host, host:port) or origins
	// (https://host) by which browsers reach the editor (editor.Options).
	AllowedHosts []string `toml:"allowed_hosts"`

	// The routes of http in nodes, served on the same listener
	// (editor.NodeRoutesOptions; zero values take its defaults).
	// NodeRoot is Node-RED's httpNodeRoot ("/" when empty).
	NodeRoot string `toml:"node_root"`
	// NodeAuthUser and NodeAuthPasswordHash (bcrypt) ask node routes for
	// basic authentication (Node-RED's httpNodeAuth).
	NodeAuthUser         string `toml:"node_auth_user"`
	NodeAuthPasswordHash string `toml:"node_auth_password_hash"`
	// NodeCORS are the origins browsers may call node routes from ("*":
	// any; Node-RED's httpNodeCors).
	NodeCORS []string `toml:"node_cors"`
	// NodeMaxBody, NodeMaxRequests and NodeResponseTimeout bound a
	// request's body, the requests served at once, and the wait for an
	// http response node.
	NodeMaxBody         Size     `toml:"node_max_body"`
	NodeMaxRequests     int      `toml:"node_max_requests"`
	NodeResponseTimeout Duration `toml:"node_response_timeout"`
}

// EditorUser is one [[editor.users]] entry.
type EditorUser struct {
	Name         string `toml:"name"`
	PasswordHash string `toml:"password_hash"`
	// Role is RoleFull or RoleRead; "" in the file means full.
	Role Role `toml:"role"`
}

// EditorToken is one [[editor.tokens]] entry.
type EditorToken struct {
	Name      string `toml:"name"`
	TokenHash string `toml:"token_hash"`
	Role      Role   `toml:"role"`
}

// Edge is the [edge] section.
type Edge struct {
	// CredentialSecret encrypts remote brokers' credentials at rest.
	CredentialSecret string `toml:"credential_secret"`
	// QueueMaxMessages, QueueMaxBytes and QueueMaxAge bound each
	// store-and-forward queue.
	QueueMaxMessages int      `toml:"queue_max_messages"`
	QueueMaxBytes    Size     `toml:"queue_max_bytes"`
	QueueMaxAge      Duration `toml:"queue_max_age"`
}

// Files is the [files] section.
type Files struct {
	// Dir is the directory the file, file in and watch nodes may read,
	// write and watch (with everything under it); a path outside it is
	// an error. Empty: the data directory. "/" allows every file.
	Dir string `toml:"dir"`
}

// Nodes is the [nodes] section.
type Nodes struct {
	// ListenAll lets the listeners a flow opens (tcp in, tcp out as a
	// server, udp in) bind every interface; false: loopback only.
	ListenAll bool `toml:"listen_all"`
	// Exec lets exec nodes run commands; false: an exec node deploys
	// with a warning and fails every message.
	Exec bool `toml:"exec"`
}

// Default returns the built-in defaults: broker on 127.0.0.1:1883, editor
// on 127.0.0.1:1880, limits as documented in examples/runnel.toml.
func Default() *Config {
	// The same constants the broker, the editor and the edge queues fall
	// back on, not copies of them.
	return &Config{
		LogLevel: "info",
		Broker: Broker{
			TCP:              "127.0.0.1:1883",
			MaxPacketSize:    defaults.BrokerMaxPacketSize,
			MaxInflight:      defaults.BrokerMaxInflight,
			MaxQueued:        defaults.BrokerMaxQueued,
			MaxQueuedBytes:   defaults.BrokerMaxQueuedBytes,
			KeepaliveMax:     defaults.BrokerKeepaliveMax,
			ConnectTimeout:   Dur(defaults.BrokerConnectTimeout),
			MessageExpiryMax: Dur(defaults.BrokerMessageExpiryMax),
		},
		Editor: Editor{
			HTTP:       "127.0.0.1:1880",
			SessionTTL: Dur(defaults.EditorSessionTTL),
		},
		Edge: Edge{
			QueueMaxMessages: defaults.EdgeQueueMaxMessages,
			QueueMaxBytes:    defaults.EdgeQueueMaxBytes,
			QueueMaxAge:      Dur(defaults.EdgeQueueMaxAge),
		},
		where: map[string]string{},
	}
}

// Load reads the file at path over the defaults and checks it (Validate).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := Default()
	if err := c.Read(path, data); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// Read decodes a TOML document over c. name is the file name used in
// errors. Unknown keys are errors. Read does not run Validate.
func (c *Config) Read(name string, data []byte) error {
	c.File = name
	if c.where == nil {
		c.where = map[string]string{}
	}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return decodeError(name, err, data)
	}
	for key, line := range keyLines(data, nil) {
		c.where[key] = fmt.Sprintf("%s:%d", name, line)
	}
	c.normalise()
	return nil
}

// normalise fills in what an empty value in the file means.
func (c *Config) normalise() {
	for i := range c.Editor.Users {
		if c.Editor.Users[i].Role == "" {
			c.Editor.Users[i].Role = RoleFull
		}
	}
	for i := range c.Editor.Tokens {
		if c.Editor.Tokens[i].Role == "" {
			c.Editor.Tokens[i].Role = RoleFull
		}
	}
}

// Error is a bad setting: where it came from, which setting, what is
// wrong.
type Error struct {
	// Source is "FILE:LINE", "FILE", an environment variable's name or a
	// flag such as "--mqtt".
	Source string
	// Setting is the setting's dotted name, such as broker.max_packet_size
	// or broker.users[1].name.
	Setting string
	// Problem says what is wrong.
	Problem string
}

// Error formats the error as SOURCE: SETTING: PROBLEM.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Setting != "" {
		b.WriteString(e.Setting)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// decodeError turns go-toml's errors into Errors naming file, line and
// setting; several unknown keys give several errors.
func decodeError(name string, err error, data []byte) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for i := range strict.Errors {
			de := &strict.Errors[i]
			row, _ := de.Position()
			errs = append(errs, &Error{Source: fmt.Sprintf("%s:%d", name, row), Setting: dotted(de.Key()),
				Problem: "unknown setting"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		key := dotted(de.Key())
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if strings.HasPrefix(msg, "cannot decode TOML") || strings.Contains(msg, "cannot store") {
			if h := hints[key]; h != "" {
				msg = h
			} else {
				msg = strings.Replace(msg, "cannot decode TOML ", "a ", 1)
				msg = "wrong type: " + msg
			}
		}
		return &Error{Source: fmt.Sprintf("%s:%d", name, row), Setting: key, Problem: msg}
	}
	// A value of the wrong kind for a size or duration does not say where
	// it is: find the first such value.
	var found *Error
	keyLines(data, func(key string, line int, kind unstable.Kind) {
		if h, ok := textHints[key]; ok && found == nil && kind != unstable.String && kind != unstable.Integer {
			found = &Error{Source: fmt.Sprintf("%s:%d", name, line), Setting: key, Problem: h}
		}
	})
	if found != nil {
		return found
	}
	return fmt.Errorf("%s: %w", name, err)
}

// hints replace go-toml's type errors for settings whose type is not
// obvious from the message.
var hints = map[string]string{
	"broker.connect_timeout":    `must be a duration such as "10s"`,
	"broker.message_expiry_max": `must be a duration such as "24h" ("0": no cap)`,
	"broker.session_expiry_max": `must be a duration such as "720h" ("0": no cap)`,
	"editor.session_ttl":        `must be a duration such as "12h"`,
	"edge.queue_max_age":        `must be a duration such as "24h"`,
	"broker.max_packet_size":    `must be a size such as "1MiB" or a number of bytes`,
	"broker.max_queued_bytes":   `must be a size such as "8MiB" or a number of bytes`,
	"edge.queue_max_bytes":      `must be a size such as "64MiB" or a number of bytes`,
	"broker.max_connections":    "must be a whole number",
	"broker.max_inflight":       "must be a whole number",
	"broker.max_queued":         "must be a whole number",
	"broker.keepalive_min":      "must be a whole number of seconds",
	"broker.keepalive_max":      "must be a whole number of seconds",
	"edge.queue_max_messages":   "must be a whole number",
	"broker.allow_anonymous":    "must be true or false",
	"editor.allow_anonymous":    "must be true or false",
	"nodes.listen_all":          "must be true or false",
	"nodes.exec":                "must be true or false",
	"editor.allowed_hosts":      `must be a list such as ["runnel.example", "https://proxy.example"]`,
}

// textHints are the hints for the settings decoded by UnmarshalText.
var textHints = map[string]string{}

func init() {
	for _, k := range []string{"broker.connect_timeout", "broker.message_expiry_max", "broker.session_expiry_max",
		"editor.session_ttl", "edge.queue_max_age", "broker.max_packet_size", "edge.queue_max_bytes",
		"broker.max_queued_bytes"} {
		textHints[k] = hints[k]
	}
}

// dotted joins a key path; array tables are not indexed here (go-toml
// does not say which element).
func dotted(k toml.Key) string { return strings.Join(k, ".") }

// keyLines maps every key in a document to its line: "broker.tcp",
// "broker.users[0].name", and calls each (if not nil) for every key and
// value. Parse errors end the walk early.
func keyLines(data []byte, each func(key string, line int, kind unstable.Kind)) map[string]int {
	lines := map[string]int{}
	counts := map[string]int{} // array table -> elements seen
	var p unstable.Parser
	p.Reset(data)
	prefix := ""
	for p.NextExpression() {
		e := p.Expression()
		var parts []string
		line := 0
		it := e.Key()
		for it.Next() {
			k := it.Node()
			parts = append(parts, string(k.Data))
			line = p.Shape(k.Raw).Start.Line
		}
		name := strings.Join(parts, ".")
		switch e.Kind {
		case unstable.Table:
			prefix = name
			lines[prefix] = line
		case unstable.ArrayTable:
			n := counts[name]
			counts[name] = n + 1
			prefix = fmt.Sprintf("%s[%d]", name, n)
			lines[prefix] = line
		case unstable.KeyValue:
			if prefix != "" {
				name = prefix + "." + name
			}
			lines[name] = line
			if each != nil {
				each(name, line, e.Value().Kind)
			}
		}
	}
	return lines
}

// source is where the setting key came from, "" if from the defaults;
// failing that, the file.
func (c *Config) source(key string) string {
	if s, ok := c.where[key]; ok {
		return s
	}
	return ""
}

// errAt returns an Error for setting key.
func (c *Config) errAt(key, format string, args ...any) *Error {
	return &Error{Source: c.source(key), Setting: key, Problem: fmt.Sprintf(format, args...)}
}
