//go:build !linux

package broker

import "net"

// newNBListener returns ln as it is: the raw system calls that spare the
// Go scheduler's monitor thread, and the batched output built on them, are
// written for Linux only.
func newNBListener(ln net.Listener, _ *batcher, _ *outLimits) net.Listener { return ln }

// queuer returns nil: no connection queues output on this system, so the
// flows' messages go through mochi's own delivery.
func queuer(net.Conn) packetQueuer { return nil }

// backlogOf returns nil: writes to a client wait for its socket on this
// system, and nothing is dropped for a client that does not read.
func backlogOf(net.Conn) backlogger { return nil }
