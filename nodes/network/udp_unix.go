//go:build unix

package network

import "syscall"

// setBroadcast lets a UDP socket send to broadcast addresses.
func setBroadcast(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
}
