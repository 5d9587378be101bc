// Package defaults holds the built-in values of Runnel's settings, in one
// place that imports nothing: package config starts from them, and the
// packages that apply a setting (broker, editor, the edge queues) fall back
// on them when not told otherwise. Keeping them here, rather than in the
// server packages, lets config stay free of server imports while still
// having one copy of each number.
package defaults

import "time"

// The embedded broker's limits (broker.DefaultLimits, [broker] in
// runnel.toml). A limit not listed here defaults to 0: no limit.
const (
	// BrokerMaxPacketSize is the largest MQTT packet accepted: 1 MiB.
	BrokerMaxPacketSize = 1 << 20
	// BrokerMaxInflight is the most QoS 1 and 2 messages in flight per
	// client, each way.
	BrokerMaxInflight = 1024
	// BrokerMaxQueued is the most messages waiting to be written per
	// client.
	BrokerMaxQueued = 4096
	// BrokerMaxQueuedBytes is the most bytes waiting to be written per
	// client: at 8 MiB a gateway with a few stuck subscribers holds tens of
	// MiB for them, and a subscriber that keeps up on average has room for
	// bursts of thousands of small messages or 32 of 256 KiB.
	BrokerMaxQueuedBytes = 8 << 20
	// BrokerKeepaliveMax is the largest keep alive granted, in seconds:
	// 65535, unbounded.
	BrokerKeepaliveMax = 65535
	// BrokerConnectTimeout is how long a new connection may take to send
	// CONNECT.
	BrokerConnectTimeout = 10 * time.Second
	// BrokerMessageExpiryMax caps how long a queued or retained message
	// lives.
	BrokerMessageExpiryMax = 24 * time.Hour
)

// EditorSessionTTL is how long an editor login lasts
// (editor.DefaultSessionTTL, editor.session_ttl).
const EditorSessionTTL = 12 * time.Hour

// The bounds of each store-and-forward queue towards a remote broker
// ([edge] in runnel.toml).
const (
	EdgeQueueMaxMessages = 100000
	EdgeQueueMaxBytes    = 64 << 20
	EdgeQueueMaxAge      = 24 * time.Hour
)
