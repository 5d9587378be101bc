package editor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// serveAPI serves a test API with NewServer and LimitListener on a
// loopback port; it returns the address.
func serveAPI(t *testing.T, lim ServerLimits) string {
	t.Helper()
	api, _ := newTestAPI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewServer(api, lim, nil)
	go hs.Serve(LimitListener(ln, lim.MaxConns))
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// quickLimits are DefaultServerLimits with the given timeouts.
func quickLimits(header, read, write, idle time.Duration) ServerLimits {
	lim := DefaultServerLimits()
	lim.ReadHeaderTimeout, lim.ReadTimeout, lim.WriteTimeout, lim.IdleTimeout = header, read, write, idle
	return lim
}

// closedWithin reads from c until the server closes it, or fails after
// wait. It returns what was read.
func closedWithin(t *testing.T, c net.Conn, wait time.Duration, what string) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the connection is still open after %s (read %q)", what, wait, b)
	}
	return string(b)
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A client that never finishes its headers (slowloris) is closed after
// ReadHeaderTimeout; one that sends nothing too.
func TestServerSlowHeaders(t *testing.T) {
	addr := serveAPI(t, quickLimits(300*time.Millisecond, time.Minute, time.Minute, time.Minute))
	slow := dialRaw(t, addr)
	fmt.Fprintf(slow, "GET /flows HTTP/1.1\r\nHost: %s\r\n", addr)
	silent := dialRaw(t, addr)
	for range 3 { // keep trickling, as slowloris does
		time.Sleep(100 * time.Millisecond)
		fmt.Fprintf(slow, "X-A: b\r\n")
	}
	closedWithin(t, slow, 5*time.Second, "unfinished headers")
	closedWithin(t, silent, 5*time.Second, "a connection that sends nothing")
}

// A keep-alive connection is closed after IdleTimeout.
func TestServerIdle(t *testing.T) {
	addr := serveAPI(t, quickLimits(time.Minute, time.Minute, time.Minute, 300*time.Millisecond))
	c := dialRaw(t, addr)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	closedWithin(t, c, 5*time.Second, "an idle keep-alive connection")
}

// A body sent too slowly is cut off after ReadTimeout.
func TestServerSlowBody(t *testing.T) {
	addr := serveAPI(t, quickLimits(time.Minute, 500*time.Millisecond, time.Minute, time.Minute))
	c := dialRaw(t, addr)
	fmt.Fprintf(c, "POST /flows HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[", addr)
	got := closedWithin(t, c, 5*time.Second, "a body that never ends")
	if got != "" && !strings.Contains(got, " 400 ") {
		t.Errorf("answer to the cut-off body: %q", got)
	}
}

// A header over MaxHeaderBytes is refused.
func TestServerHeaderCap(t *testing.T) {
	lim := DefaultServerLimits()
	lim.MaxHeaderBytes = 4 << 10
	addr := serveAPI(t, lim)
	req, _ := http.NewRequest("GET", "http://"+addr+"/flows", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: %d, want 431", resp.StatusCode)
	}
}

// Connections over MaxConns wait until one closes.
func TestServerConnectionCap(t *testing.T) {
	lim := DefaultServerLimits()
	lim.MaxConns = 3
	addr := serveAPI(t, lim)
	var held []net.Conn
	for range lim.MaxConns {
		c := dialRaw(t, addr)
		// One request each, so that the server has surely accepted it.
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v %v", resp, err)
		}
		held = append(held, c)
	}
	extra := dialRaw(t, addr) // the kernel completes the handshake
	fmt.Fprintf(extra, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(extra)
	extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection over the cap was served (read: %v)", err)
	}
	held[0].Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after one closed: %v %v", resp, err)
	}
}

// Flow uploads share a byte budget: two of the largest size at once; a
// third is answered 503 until one is done.
func TestServerBodyBudget(t *testing.T) {
	addr := serveAPI(t, DefaultServerLimits())
	post := func() net.Conn {
		c := dialRaw(t, addr)
		// Chunked: the size is unknown, so it reserves the most.
		fmt.Fprintf(c, "POST /flows HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n", addr)
		return c
	}
	a, b := post(), post()
	var code int
	var retry string
	// A third upload may get in before a and b have reserved their room;
	// then the later of them is refused (503, closing its connection) and
	// is sent again, until both hold the budget and the third is refused.
	resend := func(c *net.Conn) {
		(*c).SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if resp, err := http.ReadResponse(bufio.NewReader(*c), nil); err == nil {
			resp.Body.Close()
			if resp.StatusCode != 503 {
				t.Fatalf("an upload still being sent was answered %d", resp.StatusCode)
			}
			*c = post()
			return
		}
		(*c).SetReadDeadline(time.Time{})
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		req, _ := http.NewRequest("POST", "http://"+addr+"/flows", strings.NewReader(guardFlow))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		code, retry = resp.StatusCode, resp.Header.Get("Retry-After")
		if code == 503 {
			break
		}
		resend(&a)
		resend(&b)
	}
	if code != 503 || retry != "1" {
		t.Fatalf("a third upload while two are read: %d Retry-After %q, want 503 and 1", code, retry)
	}
	fmt.Fprintf(a, "0\r\n\r\n") // a ends (an invalid document: 400)
	resp, err := http.ReadResponse(bufio.NewReader(a), nil)
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("first upload: %v %v", resp, err)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/flows", strings.NewReader(guardFlow))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Errorf("an upload after one ended: %d, want 204", resp.StatusCode)
	}
	b.Close()
}

// The /comms websocket outlives the read and write timeouts: the upgrade
// clears the deadlines the server set. The timeouts (1 s) are long enough
// for the deploy request on a loaded machine, and the websocket stays
// open three times as long.
func TestServerWebsocketOutlivesTimeouts(t *testing.T) {
	addr := serveAPI(t, quickLimits(time.Second, time.Second, time.Second, time.Second))
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/comms", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	time.Sleep(3 * time.Second) // past every timeout
	req, _ := http.NewRequest("POST", "http://"+addr+"/flows", strings.NewReader(otherFlow))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Other messages (the nodes' rates) come every second or so: read
	// until the deploy's.
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after the timeouts: %v, want the deploy notification", err)
		}
		if strings.Contains(string(msg), `"topic":"deploy"`) {
			break
		}
	}
}
