//go:build !linux

package broker

import "net"

// newNBListener returns ln as it is: the raw system calls that spare the
// Go scheduler's monitor thread are written for Linux only.
func newNBListener(ln net.Listener) net.Listener { return ln }
