package remote

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/runnel-io/runnel/nodes/internal/outbox"
)

// v3 is an MQTT 3.1.1 (or 3.1) session: a paho.mqtt.golang client per
// connection attempt, with Runnel's own reconnect loop (paho's own has no
// jitter) and no resending by paho (the Conn's queue resends).
type v3 struct {
	c    *Conn
	mu   sync.Mutex
	cli  mqtt.Client // the connected client, or nil
	stop chan struct{}
	done chan struct{}
}

func dialV3(c *Conn) (*v3, error) {
	u, err := url.Parse(c.opts.URL)
	if err != nil {
		return nil, fmt.Errorf("broker URL: %w", err)
	}
	switch u.Scheme {
	case "mqtt", "tcp", "mqtts", "ssl", "tls", "ws", "wss":
	default:
		return nil, fmt.Errorf("broker URL %q: unsupported scheme %q", c.opts.URL, u.Scheme)
	}
	s := &v3{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	c.goroutine(s.loop)
	return s, nil
}

func (s *v3) options(lost chan<- error) *mqtt.ClientOptions {
	o := s.c.opts
	server := o.URL
	if u, err := url.Parse(server); err == nil {
		switch u.Scheme {
		case "mqtt":
			u.Scheme = "tcp"
		case "mqtts":
			u.Scheme = "ssl"
		}
		server = u.String()
	}
	co := mqtt.NewClientOptions().AddBroker(server).
		SetClientID(o.ClientID).
		SetCleanSession(o.CleanSession).
		SetKeepAlive(o.KeepAlive).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetOrderMatters(true).
		SetResumeSubs(false).
		SetProtocolVersion(uint(max(o.Version, 4)))
	if o.Version == 3 {
		co.SetProtocolVersion(3)
	}
	if o.TLS != nil {
		co.SetTLSConfig(o.TLS)
	}
	if o.Username != "" || o.Password != "" {
		co.SetUsername(o.Username).SetPassword(o.Password)
	}
	if w := o.Will; w != nil && w.Topic != "" {
		co.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retain)
	}
	co.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		s.c.deliver(m.Topic(), m.Payload(), m.Qos(), m.Retained())
	})
	co.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		select {
		case lost <- err:
		default:
		}
	})
	return co
}

// loop connects, waits for the connection to drop, and reconnects with
// backoff, until close.
func (s *v3) loop() {
	defer close(s.done)
	log := s.c.log
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(s.c.jitter.backoff(attempt, s.c.opts.MinBackoff, s.c.opts.MaxBackoff)):
			case <-s.stop:
				return
			}
		}
		lost := make(chan error, 1)
		cli := mqtt.NewClient(s.options(lost))
		tok := cli.Connect()
		select {
		case <-tok.Done():
		case <-s.stop:
			s.c.goroutine(func() { tok.Wait(); cli.Disconnect(0) })
			return
		}
		if err := tok.Error(); err != nil {
			log.Debug("remote broker: connect failed", slog.String("broker", s.c.opts.Name), slog.String("url", s.c.opts.URL), slog.String("error", err.Error()))
			if attempt == 0 || attempt%10 == 0 {
				log.Warn("remote broker: cannot connect, retrying", slog.String("broker", s.c.opts.Name), slog.String("url", s.c.opts.URL), slog.String("error", err.Error()))
			}
			s.c.setState(Disconnected)
			continue
		}
		attempt = 0
		s.mu.Lock()
		s.cli = cli
		s.mu.Unlock()
		s.c.up(&v3conn{v3: s, cli: cli, lost: lost}, nil)
		var err error
		select {
		case err = <-lost:
		case <-s.stop:
			return // close disconnects
		}
		s.mu.Lock()
		s.cli = nil
		s.mu.Unlock()
		s.c.down(err)
		// After a drop the client is still connected; after a loss this
		// returns at once. On Options.Go, as every goroutine of the
		// connection: a panic in the client library is reported against
		// the node.
		s.c.goroutine(func() { cli.Disconnect(0) })
	}
}

func (s *v3) client() mqtt.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cli
}

// v3conn is one connection of a v3 session: what is published through it
// goes over that connection or fails, never over a later one (which could
// let a message overtake one that failed and is to be sent again).
type v3conn struct {
	*v3
	cli  mqtt.Client
	lost chan<- error
}

// drop ends the connection as if it had been lost.
func (s *v3conn) drop(err error) {
	select {
	case s.lost <- fmt.Errorf("publish failed: %w", err):
	default:
	}
}

func (s *v3conn) publish(ctx context.Context, m *outbox.Message) func(context.Context) (bool, error) {
	tok := s.cli.Publish(m.Topic, m.QoS, m.Retain, m.Payload)
	return func(ctx context.Context) (bool, error) {
		select {
		case <-tok.Done():
			return false, tok.Error()
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (s *v3conn) subscribe(ctx context.Context, filters map[string]byte) error {
	tok := s.cli.SubscribeMultiple(filters, nil)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return err
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for f, q := range st.Result() {
			if q == 0x80 {
				return fmt.Errorf("the broker refused the subscription to %q", f)
			}
		}
	}
	return nil
}

func (s *v3conn) unsubscribe(ctx context.Context, filter string) error {
	tok := s.cli.Unsubscribe(filter)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *v3) close(ctx context.Context) {
	close(s.stop)
	select {
	case <-s.done:
	case <-ctx.Done():
		// Still in a connect's birth message or resubscription.
	}
	cli := s.client()
	if cli == nil {
		return
	}
	if m := s.c.opts.Close; m != nil && m.Topic != "" {
		// Publish itself blocks while the connection is stalled.
		sent := make(chan struct{})
		s.c.goroutine(func() {
			defer close(sent)
			tok := cli.Publish(m.Topic, m.QoS, m.Retain, m.Payload)
			select {
			case <-tok.Done():
			case <-ctx.Done():
			}
		})
		select {
		case <-sent:
		case <-ctx.Done():
		}
	}
	quiesce := uint(250)
	if d, ok := ctx.Deadline(); ok {
		quiesce = uint(max(0, min(250, time.Until(d).Milliseconds())))
	}
	cli.Disconnect(quiesce)
}
