package config

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/runnel-io/runnel/broker/topic"
)

// MaxPacketSizeLimit is the largest packet MQTT can frame: a remaining
// length of 268,435,455 bytes plus the fixed header.
const MaxPacketSizeLimit = 268435455 + 5

// Validate checks ranges and the settings that depend on each other, and
// returns every problem at once, each naming its source and setting.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) { errs = append(errs, c.errAt(key, format, args...)) }
	b := &c.Broker
	e := &c.Editor

	if err := c.LogLevel.Check(); err != nil {
		bad("log_level", "%v", err)
	}
	for _, a := range []struct {
		key  string
		addr Addr
	}{{"broker.tcp", b.TCP}, {"broker.tls", b.TLS}, {"broker.ws", b.WS}, {"broker.wss", b.WSS}, {"editor.http", e.HTTP}} {
		if err := a.addr.Check(); err != nil {
			bad(a.key, "%v", err)
		}
	}
	tlsKeys := []struct {
		key  string
		addr Addr
	}{{"broker.tls", b.TLS}, {"broker.wss", b.WSS}}
	for _, l := range tlsKeys {
		if l.addr != "" && (b.TLSCert == "" || b.TLSKey == "") {
			bad(l.key, "needs tls_cert and tls_key (PEM files) in [broker]")
		}
	}
	if (b.TLSCert == "") != (b.TLSKey == "") {
		if b.TLSCert == "" {
			bad("broker.tls_key", "needs tls_cert as well")
		} else {
			bad("broker.tls_cert", "needs tls_key as well")
		}
	}
	if b.MaxPacketSize != 0 && (b.MaxPacketSize < 1024 || b.MaxPacketSize > MaxPacketSizeLimit) {
		bad("broker.max_packet_size", `must be between "1KiB" and "256MiB" (0: no limit), got %d`, b.MaxPacketSize)
	}
	if b.MaxConnections < 0 {
		bad("broker.max_connections", "must not be negative (0: no limit), got %d", b.MaxConnections)
	}
	if b.MaxInflight < 1 || b.MaxInflight > 65535 {
		bad("broker.max_inflight", "must be from 1 to 65535, got %d", b.MaxInflight)
	}
	if b.MaxQueued < 1 || b.MaxQueued > math.MaxInt32 {
		bad("broker.max_queued", "must be from 1 to %d, got %d", math.MaxInt32, b.MaxQueued)
	}
	if b.MaxQueuedBytes < 1 {
		bad("broker.max_queued_bytes", `must be above 0, such as "8MiB", got %d`, b.MaxQueuedBytes)
	}
	if b.KeepaliveMin < 0 || b.KeepaliveMin > 65535 {
		bad("broker.keepalive_min", "must be from 0 to 65535 seconds, got %d", b.KeepaliveMin)
	}
	if b.KeepaliveMax < 1 || b.KeepaliveMax > 65535 {
		bad("broker.keepalive_max", "must be from 1 to 65535 seconds, got %d", b.KeepaliveMax)
	} else if b.KeepaliveMin > b.KeepaliveMax {
		bad("broker.keepalive_min", "must not be above keepalive_max (%d), got %d", b.KeepaliveMax, b.KeepaliveMin)
	}
	for _, d := range []struct {
		key string
		d   Duration
	}{{"broker.message_expiry_max", b.MessageExpiryMax}, {"broker.session_expiry_max", b.SessionExpiryMax}} {
		if d.d.Duration%time.Second != 0 {
			bad(d.key, "must be whole seconds, got %s", d.d)
		} else if d.d.Duration > math.MaxUint32*time.Second {
			bad(d.key, "must be at most %s, got %s", time.Duration(math.MaxUint32)*time.Second, d.d)
		}
	}
	seen := map[string]bool{}
	for i, u := range b.Users {
		at := fmt.Sprintf("broker.users[%d]", i)
		switch {
		case u.Name == "":
			bad(c.elemKey(at, "name"), "a user needs a name")
		case seen[u.Name]:
			bad(at+".name", "user %q is configured twice", u.Name)
		case strings.ContainsAny(u.Name, "+#/"):
			bad(at+".name", "must not contain +, # or /, got %q", u.Name)
		}
		seen[u.Name] = true
		if u.PasswordHash == "" {
			bad(c.elemKey(at, "password_hash"), `user %q needs a password_hash (write one with "runnel passwd")`, u.Name)
		}
	}
	for i, r := range b.ACL {
		at := fmt.Sprintf("broker.acl[%d]", i)
		if r.User != "" && r.Client != "" {
			bad(at+".client", "a rule names a user or a client, not both")
		}
		if r.Topic == "" {
			bad(c.elemKey(at, "topic"), "a rule needs a topic filter")
		} else if err := topic.ValidFilter(r.Topic); err != nil {
			bad(at+".topic", "%v", err)
		}
		if r.Access == "" {
			bad(c.elemKey(at, "access"), "a rule needs access: read, write, readwrite or deny")
		} else if err := r.Access.Check(); err != nil {
			bad(at+".access", "%v", err)
		}
	}

	seen = map[string]bool{}
	for i, u := range e.Users {
		at := fmt.Sprintf("editor.users[%d]", i)
		switch {
		case u.Name == "":
			bad(c.elemKey(at, "name"), "a user needs a name")
		case seen[u.Name]:
			bad(at+".name", "user %q is configured twice", u.Name)
		}
		seen[u.Name] = true
		if u.PasswordHash == "" {
			bad(c.elemKey(at, "password_hash"), `user %q needs a password_hash (write one with "runnel passwd")`, u.Name)
		}
		if err := u.Role.Check(); err != nil {
			bad(at+".role", "%v", err)
		}
	}
	seen = map[string]bool{}
	for i, t := range e.Tokens {
		at := fmt.Sprintf("editor.tokens[%d]", i)
		switch {
		case t.Name == "":
			bad(c.elemKey(at, "name"), "a token needs a name")
		case seen[t.Name]:
			bad(at+".name", "token %q is configured twice", t.Name)
		}
		seen[t.Name] = true
		if t.TokenHash == "" {
			bad(c.elemKey(at, "token_hash"), "token %q needs a token_hash", t.Name)
		}
		if err := t.Role.Check(); err != nil {
			bad(at+".role", "%v", err)
		}
	}
	if e.SessionTTL.Duration < time.Minute {
		bad("editor.session_ttl", "must be at least 1m, got %s", e.SessionTTL)
	}

	g := &c.Edge
	if g.QueueMaxMessages < 0 {
		bad("edge.queue_max_messages", "must not be negative, got %d", g.QueueMaxMessages)
	}
	if g.QueueMaxBytes < 0 {
		bad("edge.queue_max_bytes", "must not be negative, got %d", g.QueueMaxBytes)
	}
	return errors.Join(errs...)
}

// elemKey names field in an array element if the file has it, else the
// element (whose line is its [[header]]).
func (c *Config) elemKey(elem, field string) string {
	if _, ok := c.where[elem+"."+field]; ok {
		return elem + "." + field
	}
	if s, ok := c.where[elem]; ok {
		c.where[elem+"."+field] = s
	}
	return elem + "." + field
}

// CheckExposure enforces safe defaults, as mosquitto 2 does: while no
// broker users are configured, every broker listener must be on a loopback
// address unless broker.allow_anonymous is set; likewise the editor's
// address (when withEditor) while no editor users or tokens exist, unless
// editor.allow_anonymous is set. The error says how to open up.
func (c *Config) CheckExposure(withEditor bool) error {
	var errs []error
	b := &c.Broker
	if len(b.Users) == 0 && !b.AllowAnonymous {
		for _, l := range []struct {
			key  string
			addr Addr
		}{{"broker.tcp", b.TCP}, {"broker.tls", b.TLS}, {"broker.ws", b.WS}, {"broker.wss", b.WSS}} {
			if l.addr != "" && !l.addr.Loopback() {
				errs = append(errs, c.errAt(l.key, "%q is reachable from other machines, but no broker users are configured: "+
					"add users with \"runnel passwd\" ([[broker.users]]), or allow anonymous clients with "+
					"allow_anonymous = true in [broker] (RUNNEL_ALLOW_ANONYMOUS=true), or listen on 127.0.0.1", l.addr))
			}
		}
	}
	e := &c.Editor
	if withEditor && len(e.Users) == 0 && len(e.Tokens) == 0 && !e.AllowAnonymous && e.HTTP != "" && !e.HTTP.Loopback() {
		errs = append(errs, c.errAt("editor.http", "%q is reachable from other machines, but no editor users are configured: "+
			"add [[editor.users]] (hash passwords with \"runnel passwd\"), or allow anonymous access with "+
			"allow_anonymous = true in [editor] (RUNNEL_EDITOR_ALLOW_ANONYMOUS=true), or listen on 127.0.0.1", e.HTTP))
	}
	return errors.Join(errs...)
}
