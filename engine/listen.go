package engine

import (
	"fmt"
	"net"
	"strconv"
)

// NodeOptions are the settings of nodes that reach outside the process:
// listeners a flow opens (tcp in, tcp out as a server, udp in) and
// commands it runs (exec). Their zero value is the safe default.
type NodeOptions struct {
	// ListenAll lets a flow's listeners bind every interface; otherwise
	// they bind loopback only (the [nodes] listen_all setting).
	ListenAll bool
	// Exec enables the exec node; otherwise an exec node deploys but runs
	// nothing (the [nodes] exec setting).
	Exec bool
	// Reserved are the addresses of Runnel's own listeners (the editor's
	// HTTP address, the broker's TLS and WebSocket listeners) that no
	// flow may listen on; the embedded broker's TCP address (BrokerAddr)
	// is always reserved.
	Reserved []string
}

// ExecEnabled reports whether the configuration lets exec nodes run
// commands.
func (h *Host) ExecEnabled() bool { return h.rt.opts.Nodes.Exec }

// ListenHost returns the host a flow's listener binds: "127.0.0.1" (or
// "::1" for IPv6) unless the configuration lets listeners bind every
// interface, then "" (every interface).
func (h *Host) ListenHost(ipv6 bool) string {
	switch {
	case h.rt.opts.Nodes.ListenAll:
		return ""
	case ipv6:
		return "::1"
	}
	return "127.0.0.1"
}

// CheckListen returns an error when a listener on port (of any protocol)
// at host ("" for every interface) would take the address of one of
// Runnel's own listeners: the embedded broker's or the editor's. A flow
// must not be able to sit on the port the broker or the editor uses, nor
// to answer in their place.
func (h *Host) CheckListen(host string, port int) error {
	reserved := append([]string{h.rt.opts.BrokerAddr}, h.rt.opts.Nodes.Reserved...)
	for _, r := range reserved {
		rh, rp, err := net.SplitHostPort(r)
		if err != nil || rp != strconv.Itoa(port) || port == 0 {
			continue
		}
		if overlaps(host, rh) {
			return fmt.Errorf("port %d is Runnel's own listener %s: a flow may not listen there", port, r)
		}
	}
	return nil
}

// overlaps reports whether listeners on hosts a and b could take the same
// address: either binds every interface, both are the same address, or
// both are loopback.
func overlaps(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	if a == "" || b == "" || (ia != nil && ia.IsUnspecified()) || (ib != nil && ib.IsUnspecified()) {
		return true
	}
	if a == "localhost" {
		ia = net.IPv4(127, 0, 0, 1)
	}
	if b == "localhost" {
		ib = net.IPv4(127, 0, 0, 1)
	}
	if ia == nil || ib == nil {
		return a == b
	}
	return ia.Equal(ib) || (ia.IsLoopback() && ib.IsLoopback())
}
