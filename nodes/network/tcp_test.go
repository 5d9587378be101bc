package network

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// deployAll deploys flowJSON with every registered type.
func deployAll(t testing.TB, flowJSON string, opts func(*engine.Options)) (*nodetest.Flow, error) {
	t.Helper()
	return nodetest.Deploy(t, flowJSON, nodetest.Options{Runtime: opts}, engine.DefaultRegistry.Types()...)
}

// dialRetry connects to a listener that a deploy has just started.
func dialRetry(t testing.TB, addr string) net.Conn {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(end) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tcp in (lines) → function → tcp out (reply): each client gets the
// answers to its own lines only, through msg._session.
func TestTCPRequestResponseFlow(t *testing.T) {
	port := freePort(t)
	_, err := deployAll(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},
	 {"id":"in","type":"tcp in","z":"t1","server":"server","port":"%d","datamode":"stream","datatype":"utf8","newline":"\\n","topic":"tcp","wires":[["fn"]]},
	 {"id":"fn","type":"function","z":"t1","func":"msg.payload = msg.topic + ':' + msg.payload.toUpperCase() + ':' + msg._session.type + ':' + (msg.ip === '127.0.0.1') + ':' + (typeof msg.port) + '\\n'; return msg;","outputs":1,"wires":[["out"]]},
	 {"id":"out","type":"tcp out","z":"t1","beserver":"reply","wires":[]}]`, port), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	a, b := dialRetry(t, addr), dialRetry(t, addr)
	fmt.Fprint(a, "hello\nwor")
	fmt.Fprint(b, "other\n")
	fmt.Fprint(a, "ld\n")
	ra, rb := bufio.NewReader(a), bufio.NewReader(b)
	for _, c := range []struct {
		r    *bufio.Reader
		want string
	}{{ra, "tcp:HELLO:tcp:true:number\n"}, {rb, "tcp:OTHER:tcp:true:number\n"}, {ra, "tcp:WORLD:tcp:true:number\n"}} {
		_ = a.SetReadDeadline(time.Now().Add(5 * time.Second))
		_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := c.r.ReadString('\n')
		if err != nil || got != c.want {
			t.Fatalf("got %q (%v), want %q", got, err, c.want)
		}
	}
}

// The same flow driven by Debian's nc, as a user would.
func TestTCPInWithNetcat(t *testing.T) {
	nc, err := exec.LookPath("nc")
	if err != nil {
		mosquittotest.Missing(t, "nc is not installed (Debian package netcat-openbsd)")
	}
	port := freePort(t)
	_, err = deployAll(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},
	 {"id":"in","type":"tcp in","z":"t1","server":"server","port":"%d","datamode":"stream","datatype":"utf8","newline":"\\n","wires":[["fn"]]},
	 {"id":"fn","type":"function","z":"t1","func":"msg.payload = 'got ' + msg.payload + '\\n'; return msg;","outputs":1,"wires":[["out"]]},
	 {"id":"out","type":"tcp out","z":"t1","beserver":"reply","wires":[]}]`, port), nil)
	if err != nil {
		t.Fatal(err)
	}
	dialRetry(t, fmt.Sprintf("127.0.0.1:%d", port)).Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// -q 1: quit a second after stdin ends, once the reply has come.
	cmd := exec.CommandContext(ctx, nc, "-q", "1", "127.0.0.1", fmt.Sprint(port))
	cmd.Stdin = strings.NewReader("ping\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nc: %v (%s)", err, out)
	}
	if string(out) != "got ping\n" {
		t.Fatalf("nc got %q", out)
	}
}

// Single mode sends a connection's bytes as one message when the client
// ends it; buffer and base64 payloads; client mode connects to a server.
func TestTCPInSingleAndClient(t *testing.T) {
	// A Go server that sends one message per connection and closes it.
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{0xff, 'h', 'i'})
			c.Close()
		}
	}()
	port := freePort(t)
	f, err := deployAll(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},
	 {"id":"s","type":"tcp in","z":"t1","server":"server","port":"%d","datamode":"single","datatype":"base64","wires":[["sink"]]},
	 {"id":"c","type":"tcp in","z":"t1","server":"client","host":"127.0.0.1","port":"%d","datamode":"single","datatype":"buffer","topic":"cl","wires":[["sinkc"]]},
	 {"id":"sink","type":"test-sink","z":"t1","wires":[]},
	 {"id":"sinkc","type":"test-sink","z":"t1","wires":[]}]`, port, srv.Addr().(*net.TCPAddr).Port), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := dialRetry(t, fmt.Sprintf("127.0.0.1:%d", port))
	c.Write([]byte("ab"))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("c\x00"))
	c.(*net.TCPConn).CloseWrite()
	got := f.WaitReceived("sink", 1)
	if p := got[0].Payload; p != "YWJjAA==" {
		t.Fatalf("single base64 payload %#v", p)
	}
	if id, _ := got[0].Get(pathSessionID); id == nil {
		t.Fatal("no _session.id")
	}
	// The client reconnects at once after a message the server ended,
	// so a second one comes soon.
	for end := time.Now().Add(5 * time.Second); len(f.Received("sinkc")) < 2 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	cl := f.Received("sinkc")
	if len(cl) < 2 || !bytes.Equal(cl[0].Payload.([]byte), []byte{0xff, 'h', 'i'}) || cl[0].Topic != "cl" {
		t.Fatalf("client messages %v", cl)
	}
	if _, ok := cl[0].Prop("ip"); ok {
		t.Fatal("a client's message has msg.ip (Node-RED sets it as a server only)")
	}
}

// A flow may not listen on the broker's or the editor's address.
func TestTCPListenerOnRunnelsOwnPortRefused(t *testing.T) {
	for _, node := range []string{
		`{"id":"in","type":"tcp in","z":"t1","server":"server","port":"%d","wires":[]}`,
		`{"id":"out","type":"tcp out","z":"t1","beserver":"server","port":"%d","wires":[]}`,
		`{"id":"u","type":"udp in","z":"t1","port":"%d","ipv":"udp4","wires":[]}`,
	} {
		for _, reserved := range []string{"broker", "editor"} {
			port := freePort(t)
			_, err := deployAll(t, `[{"id":"t1","type":"tab"},`+fmt.Sprintf(node, port)+`]`, func(o *engine.Options) {
				if reserved == "broker" {
					o.BrokerAddr = fmt.Sprintf("127.0.0.1:%d", port)
				} else {
					o.Nodes.Reserved = []string{fmt.Sprintf("0.0.0.0:%d", port)}
				}
			})
			if err == nil || !strings.Contains(err.Error(), "Runnel's own listener") {
				t.Errorf("%s on the %s's port: deploy error %v", node, reserved, err)
			}
		}
	}
}

// Listeners bind loopback by default and every interface with
// [nodes] listen_all.
func TestTCPListenerLoopbackByDefault(t *testing.T) {
	for _, all := range []bool{false, true} {
		port := freePort(t)
		f, err := deployAll(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},
		 {"id":"in","type":"tcp in","z":"t1","server":"server","port":"%d","wires":[]}]`, port),
			func(o *engine.Options) { o.Nodes.ListenAll = all })
		if err != nil {
			t.Fatal(err)
		}
		dialRetry(t, fmt.Sprintf("127.0.0.1:%d", port)).Close()
		logs := nodetest.LogMessages(f.Logged(0))
		want := fmt.Sprintf("tcp in: listening on 127.0.0.1:%d", port)
		if all {
			want = fmt.Sprintf("tcp in: listening on [::]:%d", port)
		}
		if !strings.Contains(logs, want) {
			t.Errorf("listen_all=%v: logs do not name the address %s:\n%s", all, want, logs)
		}
	}
}

// A client that never reads is disconnected once its queue is full,
// while the flow goes on and a client that reads gets everything.
func TestTCPOutNeverReadingClient(t *testing.T) {
	port := freePort(t)
	f, err := deployAll(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},
	 {"id":"src","type":"test-source","z":"t1","wires":[["out"]]},
	 {"id":"out","type":"tcp out","z":"t1","beserver":"server","port":"%d","wires":[]}]`, port), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	stuck := dialRetry(t, addr)
	good := dialRetry(t, addr)
	var read atomic.Int64
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := good.Read(buf)
			read.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	// Both connections are registered once the status says so.
	for end := time.Now().Add(5 * time.Second); ; {
		st := f.Statuses()
		if len(st) > 0 && st[len(st)-1].Status.Text == "2 connections" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("statuses %v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	const batches, perBatch = 32, 16 // 32 MiB in all
	for i := 0; i < batches; i++ {
		for j := 0; j < perBatch; j++ {
			f.Inject("src", engine.NewMessage("", chunk))
		}
		want := int64((i + 1) * perBatch * len(chunk))
		for end := time.Now().Add(10 * time.Second); read.Load() < want; {
			if time.Now().After(end) {
				t.Fatalf("the reading client got %d bytes of %d", read.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// The stuck client was cut off: reading now ends before 32 MiB.
	_ = stuck.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, stuck)
	if n >= batches*perBatch*int64(len(chunk)) {
		t.Fatalf("the client that did not read got all %d bytes", n)
	}
	if logs := nodetest.LogMessages(f.Logged(0)); !strings.Contains(logs, "does not read") {
		t.Fatalf("no log line about the client:\n%s", logs)
	}
}

// echoServer echoes what each connection sends and passes it to got.
func echoServer(t *testing.T) (port int, got chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						got <- string(buf[:n])
						c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, got
}

// tcp request against a Go echo server, in each of its out modes.
func TestTCPRequestModes(t *testing.T) {
	for _, c := range []struct {
		name, props, send string
		want              []any
	}{
		{"time", `"out":"time","splitc":"50","ret":"string"`, "hello", []any{"hello"}},
		{"char", `"out":"char","splitc":"\\n","ret":"string"`, "ab\ncd", []any{"ab\n"}},
		{"char-hex", `"out":"char","splitc":"0x63","ret":"buffer"`, "abcd", []any{[]byte("abc")}},
		{"count", `"out":"count","splitc":"3","ret":"buffer"`, "abcdef", []any{[]byte("abc")}},
		{"sit-lines", `"out":"sit","ret":"string","newline":"\\n","trim":true`, "l1\nl2\n", []any{"l1\n", "l2\n"}},
		{"immed", `"out":"immed"`, "x", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			port, got := echoServer(t)
			f, err := deployAll(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},
			 {"id":"src","type":"test-source","z":"t1","wires":[["req"]]},
			 {"id":"req","type":"tcp request","z":"t1","server":"127.0.0.1","port":"%d",%s,"wires":[["sink"]]},
			 {"id":"sink","type":"test-sink","z":"t1","wires":[]}]`, port, c.props), nil)
			if err != nil {
				t.Fatal(err)
			}
			m := engine.NewMessage("tp", c.send)
			m.SetProp("keep", "me")
			f.Inject("src", m)
			select {
			case s := <-got:
				if s != c.send {
					t.Fatalf("server got %q", s)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the server got nothing")
			}
			if c.want == nil {
				time.Sleep(100 * time.Millisecond)
				if n := len(f.Received("sink")); n != 0 {
					t.Fatalf("immed sent %d messages", n)
				}
				return
			}
			msgs := f.WaitReceived("sink", len(c.want))
			for i, w := range c.want {
				if fmt.Sprintf("%#v", msgs[i].Payload) != fmt.Sprintf("%#v", w) {
					t.Errorf("message %d: payload %#v, want %#v", i, msgs[i].Payload, w)
				}
				if k, _ := msgs[i].Prop("keep"); k != "me" || msgs[i].Topic != "tp" {
					t.Errorf("message %d lost its properties: %v", i, msgs[i].Value())
				}
			}
		})
	}
}

// tcp request takes host and port from the message when the node has
// none, and reports a refused connection against the message.
func TestTCPRequestMsgHostPortAndRefused(t *testing.T) {
	port, _ := echoServer(t)
	f, err := deployAll(t, `[{"id":"t1","type":"tab"},
	 {"id":"src","type":"test-source","z":"t1","wires":[["req"]]},
	 {"id":"req","type":"tcp request","z":"t1","server":"","port":"","out":"count","splitc":"2","ret":"string","wires":[["sink"]]},
	 {"id":"sink","type":"test-sink","z":"t1","wires":[]}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := engine.NewMessage("", "ok")
	m.SetProp("host", "127.0.0.1")
	m.SetProp("port", float64(port))
	f.Inject("src", m)
	if p := f.WaitReceived("sink", 1)[0].Payload; p != "ok" {
		t.Fatalf("payload %#v", p)
	}
	m = engine.NewMessage("", "x")
	m.SetProp("host", "127.0.0.1")
	m.SetProp("port", float64(freePort(t)))
	f.Inject("src", m)
	for end := time.Now().Add(5 * time.Second); len(f.Errors()) == 0; {
		if time.Now().After(end) {
			t.Fatal("no error for a refused connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if e := f.Errors()[0]; e.MsgID != m.ID() || !strings.Contains(e.Err.Error(), "cannot connect") {
		t.Fatalf("error %v for message %s", e.Err, e.MsgID)
	}
}

// Stopping a tcp in while clients keep connecting ends: a connection
// accepted just as the listener closes is closed too, not kept open by a
// client that never writes (which held Stop, and so a deploy, forever).
func TestTCPListenerStopsWhileClientsConnect(t *testing.T) {
	for iter := 0; iter < 50; iter++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		f, err := nodetest.Deploy(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},{"id":"in","type":"tcp in","z":"t1","server":"server","port":%d,"datamode":"stream","datatype":"buffer","wires":[[]]}]`, port),
			nodetest.Options{}, engine.DefaultRegistry.Types()...)
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var mu sync.Mutex
		var conns []net.Conn
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
					mu.Lock()
					conns = append(conns, c) // never writes, never closes
					mu.Unlock()
				}
			}
		}()
		time.Sleep(2 * time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- f.Runtime().Stop(context.Background()) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			close(stop)
			t.Fatalf("iteration %d: Stop hangs", iter)
		}
		close(stop)
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}
}
