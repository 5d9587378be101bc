package network

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// UDPInConfig is the configuration of a udp-in node (Node-RED's "udp in").
type UDPInConfig struct {
	Multicast string `json:"multicast" label:"Listen for" default:"false" options:"false=udp messages,true=multicast messages"`
	Group     string `json:"group" label:"Group" showif:"multicast=true" help:"The multicast group address, such as 239.1.2.3"`
	Iface     string `json:"iface" label:"Local interface" showif:"multicast=true" help:"Interface name or address for the group; empty: the system's choice"`
	Port      int    `json:"port" label:"Port" required:"true" min:"0" max:"65535" help:"0: any free port (the log line names it)"`
	Ipv       string `json:"ipv" label:"Using" default:"udp4" options:"udp4=ipv4,udp6=ipv6"`
	Datatype  string `json:"datatype" label:"Output" default:"buffer" options:"buffer=a Buffer,utf8=a String,base64=a Base64 encoded string"`
}

// UDPOutConfig is the configuration of a udp-out node (Node-RED's "udp
// out").
type UDPOutConfig struct {
	Addr      string `json:"addr" label:"Address" help:"Empty: msg.ip"`
	Port      int    `json:"port" label:"Port" min:"0" max:"65535" help:"Empty: msg.port"`
	Multicast string `json:"multicast" label:"Send a" default:"false" options:"false=udp message,board=broadcast message,multi=multicast message"`
	Iface     string `json:"iface" label:"Local interface" showif:"multicast=multi" kind:"hidden"`
	Ipv       string `json:"ipv" label:"Using" default:"udp4" options:"udp4=ipv4,udp6=ipv6"`
	Outport   int    `json:"outport" label:"Bind to local port" min:"0" max:"65535" help:"Empty: a random port"`
	Base64    bool   `json:"base64" label:"Decode Base64 encoded payload"`
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "udp-in",
		Category: "network",
		Label:    "udp in",
		Outputs:  1,
		Color:    "Silver",
		Icon:     "bridge-dash.svg",
		Labels:   []engine.LabelRule{{Text: "udp {port}"}},
		Help: `Receives UDP datagrams on a port (or from a multicast group) and sends each as a message:
msg.payload (a Buffer, a string or base64), msg.ip and msg.port of the sender, and msg.fromip
("ip:port").

Differs from Node-RED: it binds 127.0.0.1 (::1 for ipv6) unless [nodes] listen_all = true in
runnel.toml (Node-RED binds every interface), and may not use the port of Runnel's broker or editor
(refused at deploy). Multicast needs every interface, so a multicast udp in receives nothing (with a
deploy warning) until listen_all is set. Two udp in nodes cannot share a port, and udp out does not
reuse a udp in node's socket.`,
	}, newUDPIn))
	engine.Register(engine.NewType(engine.Meta{
		Type:     "udp-out",
		Category: "network",
		Label:    "udp out",
		Inputs:   1,
		Color:    "Silver",
		Icon:     "bridge-dash.svg",
		Labels:   []engine.LabelRule{{Text: "udp {addr}:{port}"}},
		Help: `Sends msg.payload as a UDP datagram to the configured address and port, or, when they are
empty, to msg.ip and msg.port: a Buffer as is, a string as UTF-8 (decoded from base64 when asked),
anything else as its string form. Broadcast and multicast are sent to the address given.

Differs from Node-RED: multicast loopback is left on (Node-RED turns it off), so a udp in on the same
machine receives what it sends; the sender does not join the group.`,
	}, newUDPOut))
}

// udpIn is a udp-in node.
type udpIn struct {
	h     *engine.Host
	cfg   UDPInConfig
	host  string
	group net.IP
	off   bool // multicast without listen_all: nothing is received

	conn *net.UDPConn
	wg   sync.WaitGroup
}

func newUDPIn(cfg *UDPInConfig, h *engine.Host) (engine.Node, error) {
	n := &udpIn{h: h, cfg: *cfg, host: h.ListenHost(cfg.Ipv == "udp6")}
	if cfg.Multicast == "true" {
		n.group = net.ParseIP(cfg.Group)
		if n.group == nil || !n.group.IsMulticast() {
			return nil, engine.ErrFieldf("group", "%q is not a multicast address", cfg.Group)
		}
		if n.host != "" {
			h.Warn("multicast", "multicast listens on every interface: set [nodes] listen_all = true in runnel.toml to receive")
			n.off = true
		}
	}
	if err := h.CheckListen(n.host, cfg.Port); err != nil {
		return nil, engine.ErrFieldf("port", "%v", err)
	}
	return n, nil
}

// Start binds the port and starts reading.
func (n *udpIn) Start(context.Context) error {
	if n.off {
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "multicast needs listen_all"})
		return nil
	}
	var err error
	addr := net.JoinHostPort(n.host, strconv.Itoa(n.cfg.Port))
	if n.group != nil {
		var ifi *net.Interface
		if ifi, err = udpInterface(n.cfg.Iface); err == nil {
			n.conn, err = net.ListenMulticastUDP(n.cfg.Ipv, ifi, &net.UDPAddr{IP: n.group, Port: n.cfg.Port})
		}
		addr = net.JoinHostPort(n.group.String(), strconv.Itoa(n.cfg.Port))
	} else {
		var ua *net.UDPAddr
		if ua, err = net.ResolveUDPAddr(n.cfg.Ipv, addr); err == nil {
			n.conn, err = net.ListenUDP(n.cfg.Ipv, ua)
		}
	}
	if err != nil {
		n.h.Error(fmt.Errorf("udp in: cannot listen on %s: %w", addr, err), nil)
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "cannot listen on port " + strconv.Itoa(n.cfg.Port)})
		return nil
	}
	n.h.Logger().Info("udp in: listening on " + n.conn.LocalAddr().String())
	if n.group != nil {
		n.h.Logger().Info("udp in: joined multicast group " + n.group.String())
	}
	n.wg.Add(1)
	n.h.Go(func() {
		defer n.wg.Done()
		n.read()
	})
	return nil
}

// udpInterface finds an interface by name or by one of its addresses;
// nil for "".
func udpInterface(name string) (*net.Interface, error) {
	if name == "" {
		return nil, nil
	}
	if ifi, err := net.InterfaceByName(name); err == nil {
		return ifi, nil
	}
	ip := net.ParseIP(name)
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, _ := ifs[i].Addrs()
		for _, a := range addrs {
			if in, ok := a.(*net.IPNet); ok && ip != nil && in.IP.Equal(ip) {
				return &ifs[i], nil
			}
		}
	}
	return nil, fmt.Errorf("interface %q not found", name)
}

func (n *udpIn) read() {
	buf := make([]byte, 65536)
	for {
		k, from, err := n.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an ICMP error for an earlier send: keep reading
		}
		var payload any
		switch n.cfg.Datatype {
		case "utf8":
			payload = jsutf8.Decode(buf[:k])
		case "base64":
			payload = base64.StdEncoding.EncodeToString(buf[:k])
		default:
			payload = append([]byte(nil), buf[:k]...)
		}
		ip := from.IP.String()
		m := engine.NewMessage("", payload)
		m.SetProp("fromip", ip+":"+strconv.Itoa(from.Port))
		m.SetProp("ip", ip)
		m.SetProp("port", float64(from.Port))
		n.h.Send(0, m)
	}
}

// Close stops reading and releases the port.
func (n *udpIn) Close(context.Context) error {
	if n.conn != nil {
		_ = n.conn.Close()
		n.wg.Wait()
		n.h.Logger().Info("udp in: stopped listening")
	}
	return nil
}

// udpOut is a udp-out node.
type udpOut struct {
	h    *engine.Host
	cfg  UDPOutConfig
	conn net.PacketConn
}

func newUDPOut(cfg *UDPOutConfig, h *engine.Host) (engine.Node, error) {
	if cfg.Outport != 0 {
		if err := h.CheckListen("", cfg.Outport); err != nil {
			return nil, engine.ErrFieldf("outport", "%v", err)
		}
	}
	if cfg.Addr != "" && cfg.Multicast == "multi" {
		if ip := net.ParseIP(cfg.Addr); ip == nil || !ip.IsMulticast() {
			return nil, engine.ErrFieldf("addr", "%q is not a multicast address", cfg.Addr)
		}
	}
	return &udpOut{h: h, cfg: *cfg}, nil
}

// Start opens the sending socket, bound to the local port if one is set.
func (n *udpOut) Start(ctx context.Context) error {
	lc := net.ListenConfig{}
	if n.cfg.Multicast != "false" {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = setBroadcast(fd) }); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := lc.ListenPacket(ctx, n.cfg.Ipv, ":"+strconv.Itoa(n.cfg.Outport))
	if err != nil {
		n.h.Error(fmt.Errorf("udp out: cannot bind local port %d: %w", n.cfg.Outport, err), nil)
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "cannot bind"})
		return nil
	}
	n.conn = c
	return nil
}

// Close closes the socket.
func (n *udpOut) Close(context.Context) error {
	if n.conn != nil {
		_ = n.conn.Close()
	}
	return nil
}

// Receive sends the payload as one datagram.
func (n *udpOut) Receive(ctx context.Context, m *engine.Message, _ engine.Output) error {
	if _, ok := m.Prop("payload"); !ok || n.conn == nil {
		return nil
	}
	addr := n.cfg.Addr
	if addr == "" {
		if v, ok := m.Prop("ip"); ok && v != nil {
			addr = engine.ToString(v)
		}
	}
	port := n.cfg.Port
	if port == 0 {
		if v, ok := m.Prop("port"); ok && v != nil {
			p, err := strconv.Atoi(engine.ToString(v))
			if err != nil || p < 1 || p > 65535 {
				n.h.Logger().Warn("udp out: invalid port: message not sent", "port", engine.ToString(v))
				return nil
			}
			port = p
		}
	}
	switch {
	case addr == "":
		n.h.Logger().Warn("udp out: no address: set it in the node or in msg.ip")
		return nil
	case port == 0:
		n.h.Logger().Warn("udp out: no port: set it in the node or in msg.port")
		return nil
	}
	var b []byte
	if s, ok := m.Payload.(string); ok && n.cfg.Base64 {
		b = jsv.DecodeBase64(s)
	} else {
		b = tcpPayload(m.Payload, false)
	}
	ua, err := net.ResolveUDPAddr(n.cfg.Ipv, net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("udp : %w", err)
	}
	if _, err := n.conn.WriteTo(b, ua); err != nil {
		return fmt.Errorf("udp : %w", err)
	}
	return nil
}
