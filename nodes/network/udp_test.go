package network

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
)

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// udp in gives payload, ip, port and fromip; udp out sends to msg.ip and
// msg.port when it has no address, so a reply goes back to the sender.
func TestUDPRoundTrip(t *testing.T) {
	port := freeUDPPort(t)
	f, err := deployAll(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},
	 {"id":"in","type":"udp in","z":"t1","port":"%d","ipv":"udp4","multicast":"false","datatype":"utf8","wires":[["sink","fn"]]},
	 {"id":"fn","type":"function","z":"t1","func":"msg.payload = 're:' + msg.payload; return msg;","outputs":1,"wires":[["out"]]},
	 {"id":"out","type":"udp out","z":"t1","addr":"","port":"","ipv":"udp4","outport":"","base64":false,"multicast":"false","wires":[]},
	 {"id":"sink","type":"test-sink","z":"t1","wires":[]}]`, port), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	buf := make([]byte, 100)
	// The listener starts with the deploy: resend until the reply comes.
	var got string
	for end := time.Now().Add(5 * time.Second); got == "" && time.Now().Before(end); {
		c.WriteTo([]byte("héllo"), to)
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if k, _, err := c.ReadFrom(buf); err == nil {
			got = string(buf[:k])
		}
	}
	if got != "re:héllo" {
		t.Fatalf("reply %q", got)
	}
	m := f.Received("sink")[0]
	me := c.LocalAddr().(*net.UDPAddr).Port
	ip, _ := m.Prop("ip")
	p, _ := m.Prop("port")
	from, _ := m.Prop("fromip")
	if m.Payload != "héllo" || ip != "127.0.0.1" || p != float64(me) || from != fmt.Sprintf("127.0.0.1:%d", me) {
		t.Fatalf("message %v", m.Value())
	}
}

// udp out with an address and base64 decoding; udp in as base64 and
// Buffer.
func TestUDPOutConfiguredAndBase64(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	f, err := deployAll(t, fmt.Sprintf(`[{"id":"t1","type":"tab"},
	 {"id":"src","type":"test-source","z":"t1","wires":[["out"]]},
	 {"id":"out","type":"udp out","z":"t1","addr":"127.0.0.1","port":"%d","ipv":"udp4","base64":true,"multicast":"false","wires":[]}]`, port), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := engine.NewMessage("", "AP9h") // 00 ff 61
	m.SetProp("ip", "10.9.9.9")        // the node's address wins, as in Node-RED
	f.Inject("src", m)
	buf := make([]byte, 100)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, _, err := c.ReadFrom(buf)
	if err != nil || string(buf[:k]) != "\x00\xffa" {
		t.Fatalf("got %q (%v)", buf[:k], err)
	}
}

// Multicast: udp out sends to a group that udp in (with listen_all)
// joined. Without listen_all, a multicast udp in deploys with a warning
// and receives nothing.
func TestUDPMulticast(t *testing.T) {
	const group = "239.255.42.99"
	port := freeUDPPort(t)
	probe, err := net.ListenMulticastUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(group), Port: port})
	if err != nil {
		t.Skipf("multicast is not available here: %v", err)
	}
	s, err := net.Dial("udp4", net.JoinHostPort(group, fmt.Sprint(port)))
	if err == nil {
		s.Write([]byte("probe"))
		s.Close()
	}
	probe.SetReadDeadline(time.Now().Add(time.Second))
	_, _, perr := probe.ReadFrom(make([]byte, 10))
	probe.Close()
	if err != nil || perr != nil {
		t.Skipf("multicast does not loop back in this sandbox: %v %v", err, perr)
	}
	flow := fmt.Sprintf(`[{"id":"t1","type":"tab"},
	 {"id":"src","type":"test-source","z":"t1","wires":[["out"]]},
	 {"id":"out","type":"udp out","z":"t1","addr":"%s","port":"%d","ipv":"udp4","multicast":"multi","wires":[]},
	 {"id":"in","type":"udp in","z":"t1","multicast":"true","group":"%s","port":"%d","ipv":"udp4","datatype":"utf8","wires":[["sink"]]},
	 {"id":"sink","type":"test-sink","z":"t1","wires":[]}]`, group, port, group, port)
	f, err := deployAll(t, flow, func(o *engine.Options) { o.Nodes.ListenAll = true })
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); len(f.Received("sink")) == 0 && time.Now().Before(end); {
		f.Inject("src", engine.NewMessage("", "to the group"))
		time.Sleep(50 * time.Millisecond)
	}
	if got := f.Received("sink"); len(got) == 0 || got[0].Payload != "to the group" {
		t.Fatalf("multicast messages %v", got)
	}
	f.Runtime().Stop(t.Context())

	f, err = deployAll(t, flow, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := f.Statuses(); len(st) == 0 || !strings.Contains(fmt.Sprint(st), "multicast needs listen_all") {
		t.Fatalf("statuses %v", st)
	}
}
