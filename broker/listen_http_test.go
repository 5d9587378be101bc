package broker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// wsClosedWithin reads from c until the broker closes it, or fails
// after wait.
func wsClosedWithin(t *testing.T, c net.Conn, wait time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	if b, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the connection is still open after %s (read %q)", what, wait, b)
	}
}

func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The MQTT-over-WebSocket listener closes connections that never finish
// their upgrade request (slowloris) and keep-alive connections that sit
// idle, after the connect timeout; an upgraded MQTT connection lives on.
func TestWSListenerTimeouts(t *testing.T) {
	lim := DefaultLimits()
	// Long enough for the upgrade and CONNECT of the long-lived client on
	// a loaded machine (300 ms was not, on a 2-core CI runner).
	lim.ConnectTimeout = 2 * time.Second
	b := startBroker(t, Options{WSAddr: "127.0.0.1:0", Limits: &lim})
	addr := b.Addrs().WS

	slow := rawDial(t, addr)
	fmt.Fprintf(slow, "GET /mqtt HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n", addr)

	idle := rawDial(t, addr)
	fmt.Fprintf(idle, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil || resp.StatusCode != 404 || resp.Close {
		t.Fatalf("GET /: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)

	c := mustConnect(t, b, nil, "ws", "ws-long")
	c.sub(t, "ws/t", 1)

	wsClosedWithin(t, slow, 5*time.Second, "an unfinished upgrade request")
	wsClosedWithin(t, idle, 5*time.Second, "an idle keep-alive connection")
	// The upgraded one, connected before the other two were closed, is
	// now more than a connect timeout old: past every timeout too.
	time.Sleep(lim.ConnectTimeout)
	c.pub(t, &paho.Publish{Topic: "ws/t", QoS: 1, Payload: []byte("still here")})
	if got := show(c.next(t)); got != "ws/t|still here|1|false" {
		t.Errorf("after the timeouts: %s", got)
	}
}

// A WS listener takes at most MaxConnections+wsConnSlack connections at
// once; more wait until one closes.
func TestWSListenerConnectionCap(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxConnections = 1
	b := startBroker(t, Options{WSAddr: "127.0.0.1:0", Limits: &lim})
	addr := b.Addrs().WS
	get := func(c net.Conn) {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	}
	var held []net.Conn
	for range wsConnCap(&lim) {
		c := rawDial(t, addr)
		get(c) // answered: surely accepted
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 404 {
			t.Fatalf("connection %d: %v %v", len(held)+1, resp, err)
		}
		held = append(held, c)
	}
	extra := rawDial(t, addr)
	get(extra)
	br := bufio.NewReader(extra)
	extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection %d was served (read: %v)", len(held)+1, err)
	}
	held[0].Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 404 {
		t.Fatalf("after one closed: %v %v", resp, err)
	}
}
