// Package mosquittotest runs Debian's mosquitto as a second, real broker for
// tests: on a free loopback port, with a generated configuration, stopped
// and restarted by its PID.
package mosquittotest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StrictEnv names the environment variable that turns a missing tool from
// a skipped test into a failed one. The README's test command (.ci/test)
// installs every tool and sets it, so a suite that looks green has run
// everything.
const StrictEnv = "RUNNEL_TEST_STRICT"

// Missing skips the test because a tool it needs is missing, or fails it
// when StrictEnv is set (or CI is).
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(StrictEnv) != "" || os.Getenv("CI") != "" {
		t.Fatalf("%s (%s is set: the test command installs every tool)", why, StrictEnv)
	}
	t.Skip(why)
}

// Tool returns the path of a program the test needs (mosquitto_sub, say),
// or calls Missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, fmt.Sprintf("%s is not installed (Debian package mosquitto-clients)", name))
	}
	return path
}

// Path is where Debian installs the broker.
const Path = "/usr/sbin/mosquitto"

// Broker is a mosquitto process.
type Broker struct {
	t    testing.TB
	dir  string
	conf string
	// Addr is host:port of the listener; Port its port.
	Addr string
	Port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    bytes.Buffer
}

// Options configure a broker.
type Options struct {
	// Persistence keeps sessions and queued messages across a stop with
	// SIGTERM (mosquitto writes them on exit).
	Persistence bool
	// Passwords maps user names to passwords; when set, anonymous clients
	// are refused.
	Passwords map[string]string
	// Extra is appended to the configuration.
	Extra string
	// Port is the port to listen on; a free one when zero.
	Port int
}

// Start starts mosquitto, skipping the test when it is not installed, and
// stops it when the test ends.
func Start(t testing.TB, o Options) *Broker {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		Missing(t, fmt.Sprintf("mosquitto is not installed (%s): apt-get install mosquitto", Path))
	}
	b := &Broker{t: t, dir: t.TempDir(), Port: o.Port}
	if b.Port == 0 {
		b.Port = FreePort(t)
	}
	b.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port))
	conf := fmt.Sprintf("listener %d 127.0.0.1\nmax_queued_messages 0\nset_tcp_nodelay true\n", b.Port)
	if os.Geteuid() == 0 {
		// Started as root, mosquitto would switch to the mosquitto user,
		// who cannot read the test's private directory.
		conf += "user root\n"
	}
	if o.Persistence {
		conf += fmt.Sprintf("persistence true\npersistence_location %s/\nautosave_interval 0\n", b.dir)
	} else {
		conf += "persistence false\n"
	}
	if len(o.Passwords) > 0 {
		pw := filepath.Join(b.dir, "passwd")
		for u, p := range o.Passwords {
			args := []string{"-b", pw, u, p}
			if _, err := os.Stat(pw); err != nil {
				args = append([]string{"-c"}, args...)
			}
			if out, err := exec.Command("mosquitto_passwd", args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v: %s", err, out)
			}
		}
		conf += "allow_anonymous false\npassword_file " + pw + "\n"
	} else {
		conf += "allow_anonymous true\n"
	}
	conf += o.Extra
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	t.Cleanup(func() { b.Stop(syscall.SIGKILL) })
	return b
}

// Restart starts the (stopped) broker again on the same port and waits
// until it accepts connections.
func (b *Broker) Restart() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		b.t.Fatal("mosquitto is running")
	}
	cmd := exec.Command(Path, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = &b.log, &b.log
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.cmd, b.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			b.t.Fatalf("mosquitto exited: %s", b.log.String())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not listen on %s in 10 s", b.Addr)
		}
	}
}

// Stop sends sig to the broker's process and waits until it has exited.
func (b *Broker) Stop(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(sig)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
	}
	b.cmd = nil
}

// PID returns the running broker's process id, or 0.
func (b *Broker) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
