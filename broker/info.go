package broker

// The broker's figures: Info for GET /metrics and GET /healthz, and the
// $SYS topics. mochi publishes its own $SYS/broker/... topics (retained)
// every second; sysAliases adds mosquitto's names for the figures that
// mochi names differently, so that dashboards made for mosquitto work.

import (
	"strconv"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/system"
)

// Info returns a snapshot of the broker's counters (clients, messages,
// bytes, retained messages, subscriptions, inflight, uptime), or nil once
// the broker is closed. Messages the flows publish count as received.
func (b *Broker) Info() *system.Info {
	if b.closed.Load() {
		return nil
	}
	i := b.srv.Info.Clone()
	now := time.Now().Unix()
	i.Time = now
	i.Uptime = now - i.Started
	i.ClientsTotal = 0
	for _, cl := range b.srv.Clients.GetAll() {
		if !cl.Net.Inline {
			i.ClientsTotal++
		}
	}
	i.ClientsDisconnected = max(i.ClientsTotal-i.ClientsConnected, 0)
	return i
}

// sysAliases publishes mosquitto's $SYS names for figures mochi publishes
// under other names (or not at all), on every $SYS tick.
type sysAliases struct {
	mqtt.HookBase
	srv *mqtt.Server
}

func (h *sysAliases) ID() string { return "runnel-sys-aliases" }

func (h *sysAliases) Provides(b byte) bool { return b == mqtt.OnSysInfoTick }

// OnSysInfoTick publishes the aliases as retained messages. They go
// through the inline client, which counts them as received messages and
// packets; that is undone, so that $SYS traffic does not show in the
// figures it reports.
func (h *sysAliases) OnSysInfoTick(i *system.Info) {
	topics := [...]struct {
		topic string
		v     int64
	}{
		{"$SYS/broker/bytes/received", i.BytesReceived},
		{"$SYS/broker/bytes/sent", i.BytesSent},
		{"$SYS/broker/publish/messages/received", i.MessagesReceived},
		{"$SYS/broker/publish/messages/sent", i.MessagesSent},
		{"$SYS/broker/publish/messages/dropped", i.MessagesDropped},
		{"$SYS/broker/retained messages/count", i.Retained},
		{"$SYS/broker/subscriptions/count", i.Subscriptions},
		{"$SYS/broker/heap/current", i.MemoryAlloc},
	}
	for _, t := range topics {
		if err := h.srv.Publish(t.topic, strconv.AppendInt(nil, t.v, 10), true, 0); err == nil {
			atomic.AddInt64(&h.srv.Info.MessagesReceived, -1)
			atomic.AddInt64(&h.srv.Info.PacketsReceived, -1)
		}
	}
}
