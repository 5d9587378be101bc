package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runnel-io/runnel/engine/config"
)

// benchChild is a server process the bench started. It is stopped by its
// own PID only, never by name.
type benchChild struct {
	name   string
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{}
	err    error // from Wait, valid once exited is closed
}

// startChild starts path with args, in its own process group (so a ctrl-C
// at the terminal reaches the bench, which then stops the child itself),
// and with SIGKILL as parent-death signal in case the bench dies first.
// env, when not nil, is its environment. With cred it runs as that user: a daemon that switches users itself
// would lose the parent-death signal.
func startChild(name string, cred *syscall.Credential, env []string, path string, args ...string) (*benchChild, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env // nil: this process's environment
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &benchChild{name: name, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func (c *benchChild) pid() int { return c.cmd.Process.Pid }

// stop asks the child to stop (SIGTERM), waits up to 5 s, then kills it.
func (c *benchChild) stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return
	case <-time.After(5 * time.Second):
	}
	c.cmd.Process.Kill()
	<-c.exited
}

// failure describes a child that exited early, with its last output.
func (c *benchChild) failure() error {
	return fmt.Errorf("%s exited early (%v); its last output:\n%s", c.name, c.err, c.out.String())
}

// waitPort dials addr until it accepts a connection, the child exits or
// timeout passes.
func (c *benchChild) waitPort(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-c.exited:
			return c.failure()
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s did not accept connections within %v:\n%s", c.name, addr, timeout, c.out.String())
		}
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// mosquittoUser is, when the bench runs as root, the unprivileged user to
// run mosquitto as. Run as root, mosquitto would switch to that user
// itself, which clears the parent-death signal.
func mosquittoUser() *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	for _, name := range []string{"mosquitto", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		}
	}
	return nil
}

// freeLoopbackAddr returns 127.0.0.1:<a port that was free just now>.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// checkLoopback refuses addresses that are not on the loopback interface.
func checkLoopback(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return err
	}
	if !config.Addr(addr).Loopback() {
		return fmt.Errorf("%s is not a loopback address: the bench only runs against 127.0.0.1, ::1 or localhost", addr)
	}
	return nil
}

// clockTicks returns the kernel's USER_HZ (sysconf(_SC_CLK_TCK)), the unit
// of utime and stime in /proc/PID/stat. Go has no sysconf without cgo, so
// it reads AT_CLKTCK from the auxiliary vector the kernel passed this
// process, and assumes 100 (the value on all mainstream Linux platforms)
// if that fails.
func clockTicks() int64 {
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		for ; len(b) >= 16; b = b[16:] {
			k, v := binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:])
			if k == atClkTck && v > 0 {
				return int64(v)
			}
			if k == 0 {
				break
			}
		}
	}
	return 100
}

var clkTck = sync.OnceValue(clockTicks)

// procCPU returns the user plus system CPU time pid has used (all its
// threads), from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / time.Duration(clkTck()), nil
}

// procMem returns pid's resident set size now (VmRSS) and its peak
// (VmHWM), in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(val) // "1234 kB"
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if name == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm, nil
}
