//go:build !unix

package network

// setBroadcast is not supported here: sending to a broadcast address
// fails with the operating system's error.
func setBroadcast(uintptr) error { return nil }
