package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/nodes/internal/outbox"
)

// v5 is an MQTT 5 session through autopaho, which reconnects with
// Runnel's backoff (exponential with jitter).
type v5 struct {
	c        *Conn
	cm       atomic.Pointer[autopaho.ConnectionManager] // set by dialV5 or the first connect, whichever is first
	epoch    atomic.Uint64                              // bumped on every connect and disconnect
	failures atomic.Uint64                              // connect attempts failed in a row
}

func dialV5(c *Conn) (*v5, error) {
	u, err := url.Parse(c.opts.URL)
	if err != nil {
		return nil, fmt.Errorf("broker URL: %w", err)
	}
	switch u.Scheme {
	case "mqtt", "tcp":
		u.Scheme = "mqtt"
	case "mqtts", "ssl", "tls":
		u.Scheme = "tls"
	case "ws", "wss":
	default:
		return nil, fmt.Errorf("broker URL %q: unsupported scheme %q", c.opts.URL, u.Scheme)
	}
	o := c.opts
	s := &v5{c: c}
	ka := uint16(min(o.KeepAlive/time.Second, 65535))
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        o.TLS,
		KeepAlive:                     ka,
		CleanStartOnInitialConnection: o.CleanSession,
		ConnectTimeout:                10 * time.Second,
		ReconnectBackoff: func(n int) time.Duration {
			return c.jitter.backoff(n, o.MinBackoff, o.MaxBackoff)
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			// autopaho wants this not to block; subscribing does.
			s.cm.CompareAndSwap(nil, cm)
			s.failures.Store(0)
			e := s.epoch.Add(1)
			c.goroutine(func() { c.up(s, func() bool { return s.epoch.Load() == e }) })
		},
		OnConnectionDown: func() bool {
			// Under c.mu (taken by down), so that up cannot go online
			// with this connection after it dropped.
			c.mu.Lock()
			s.epoch.Add(1)
			c.mu.Unlock()
			c.down(nil)
			return true
		},
		OnConnectError: func(err error) {
			if n := s.failures.Add(1); n == 1 || n%10 == 0 {
				c.log.Warn("remote broker: cannot connect, retrying", slog.String("broker", o.Name), slog.String("url", o.URL), slog.String("error", err.Error()))
			} else {
				c.log.Debug("remote broker: connect failed", slog.String("broker", o.Name), slog.String("url", o.URL), slog.String("error", err.Error()))
			}
			c.setState(Disconnected)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: o.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					p := pr.Packet
					c.deliver(p.Topic, p.Payload, p.QoS, p.Retain)
					return true, nil
				},
			},
		},
	}
	if !o.CleanSession {
		cfg.SessionExpiryInterval = 0xFFFFFFFF
	} else {
		// autopaho asks to resume the session on reconnects; with a clean
		// session there is none to resume, and a stale in-flight message
		// of the last connection would hold up the first publish.
		cfg.ConnectPacketBuilder = func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			cp.CleanStart = true
			return cp, nil
		}
	}
	if o.Username != "" || o.Password != "" {
		cfg.ConnectUsername, cfg.ConnectPassword = o.Username, []byte(o.Password)
	}
	if w := o.Will; w != nil && w.Topic != "" {
		cfg.WillMessage = &paho.WillMessage{Topic: w.Topic, Payload: w.Payload, QoS: w.QoS, Retain: w.Retain}
	}
	cm, err := autopaho.NewConnection(c.ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.URL, err)
	}
	s.cm.CompareAndSwap(nil, cm)
	return s, nil
}

func (s *v5) publish(ctx context.Context, m *outbox.Message) func(context.Context) (bool, error) {
	p := &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain}
	if m.QoS == 0 {
		_, err := s.cm.Load().Publish(ctx, p)
		return func(context.Context) (bool, error) { return false, err }
	}
	// paho.golang's Publish blocks until the acknowledgement, so QoS 1 and
	// 2 messages are sent one at a time: in order, at one round trip each.
	return func(ctx context.Context) (bool, error) {
		pr, err := s.cm.Load().Publish(ctx, p)
		if pr == nil || pr.ReasonCode < 0x80 {
			return false, err
		}
		if err == nil {
			err = fmt.Errorf("reason code %#x", pr.ReasonCode)
		}
		if pr.ReasonCode == quotaExceeded {
			// Flow control, not a verdict on the message: send it again.
			return false, err
		}
		return true, err
	}
}

// quotaExceeded is MQTT 5's reason code "Quota exceeded".
const quotaExceeded = 0x97

// drop does nothing: paho.golang reports a broken connection itself, and
// a message refused for its quota is sent again on the same one.
func (s *v5) drop(error) {}

func (s *v5) subscribe(ctx context.Context, filters map[string]byte) error {
	sub := &paho.Subscribe{}
	for f, q := range filters {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: q, RetainAsPublished: s.c.retainAsPublished(f)})
	}
	sa, err := s.cm.Load().Subscribe(ctx, sub)
	if err != nil {
		return err
	}
	for i, r := range sa.Reasons {
		if r >= 0x80 && i < len(sub.Subscriptions) {
			return fmt.Errorf("the broker refused the subscription to %q (reason code %#x)", sub.Subscriptions[i].Topic, r)
		}
	}
	return nil
}

func (s *v5) unsubscribe(ctx context.Context, filter string) error {
	_, err := s.cm.Load().Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{filter}})
	return err
}

func (s *v5) close(ctx context.Context) {
	if m := s.c.opts.Close; m != nil && m.Topic != "" {
		pctx, cancel := context.WithTimeout(ctx, time.Second/2)
		_, err := s.cm.Load().Publish(pctx, &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain})
		cancel()
		if err != nil && !errors.Is(err, autopaho.ConnectionDownError) {
			s.c.log.Debug("remote broker: close message not sent", slog.String("broker", s.c.opts.Name), slog.String("error", err.Error()))
		}
	}
	s.cm.Load().Disconnect(ctx)
}
