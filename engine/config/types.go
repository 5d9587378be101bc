package config

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// Addr is a listen address, host:port. An empty host listens on every
// interface; port 0 picks a free port; "" disables the listener.
type Addr string

// Check returns what is wrong with the address, if anything.
func (a Addr) Check() error {
	if a == "" {
		return nil
	}
	s := string(a)
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf(`must be an address such as "127.0.0.1:1883" or ":1883" ("" disables), got %q`, s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid host %q", host)
	}
	return nil
}

// Loopback reports whether the address only accepts connections from this
// machine: its host is a loopback IP or "localhost". An empty host or
// 0.0.0.0 listens on every interface.
func (a Addr) Loopback() bool {
	host, _, err := net.SplitHostPort(string(a))
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Size is a number of bytes. In the file: a whole number of bytes or a
// string with a unit, such as "64MiB", "512KiB", "1MB".
type Size int64

// UnmarshalText parses a size with a unit.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := humanize.ParseBytes(string(b))
	if err != nil || n > math.MaxInt64 {
		return fmt.Errorf(`must be a size such as "1MiB", got %q`, b)
	}
	*s = Size(n)
	return nil
}

// String formats the size with a binary unit where it is exact.
func (s Size) String() string {
	for _, u := range []struct {
		n    int64
		unit string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if s >= Size(u.n) && int64(s)%u.n == 0 {
			return fmt.Sprintf("%d%s", int64(s)/u.n, u.unit)
		}
	}
	return fmt.Sprintf("%dB", int64(s))
}

// Duration is a time.Duration written as a string such as "24h", "90s" or
// "0"; a bare number is seconds.
type Duration struct{ time.Duration }

// Dur makes a Duration.
func Dur(d time.Duration) Duration { return Duration{d} }

// UnmarshalText parses a duration.
func (d *Duration) UnmarshalText(b []byte) error {
	if isDigits(string(b)) {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return fmt.Errorf("too large: %s", b)
		}
		d.Duration = time.Duration(n) * time.Second
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf(`must be a duration such as "24h", "15m" or "30s", got %q`, b)
	}
	if v < 0 {
		return fmt.Errorf("must not be negative, got %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// enum checks s against the allowed values.
func enum(s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s, got %q", strings.Join(allowed, ", "), s)
}

// Level is a log level: debug, info, warn or error.
type Level string

// Check returns what is wrong with the level, if anything.
func (l Level) Check() error { return enum(string(l), "debug", "info", "warn", "error") }

// Access is what an ACL rule grants.
type Access string

// The ACL access values.
const (
	AccessRead      Access = "read"
	AccessWrite     Access = "write"
	AccessReadWrite Access = "readwrite"
	AccessDeny      Access = "deny"
)

// Check returns what is wrong with the value, if anything.
func (a Access) Check() error { return enum(string(a), "read", "write", "readwrite", "deny") }

// Role is an editor user's or token's role.
type Role string

// The editor roles: full may deploy, read may only look.
const (
	RoleFull Role = "full"
	RoleRead Role = "read"
)

// Check returns what is wrong with the value, if anything.
func (r Role) Check() error { return enum(string(r), "full", "read") }
