package cli_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/runnel-io/runnel/broker/mosquittotest"
)

// TestConfigUsersReachBroker: [[broker.users]] and [[broker.acl]] in
// runnel.toml are what the running broker enforces, checked with Debian's
// mosquitto clients.
func TestConfigUsersReachBroker(t *testing.T) {
	pub := mosquittotest.Tool(t, "mosquitto_pub")
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "runnel.toml")
	toml := `[broker]
[[broker.users]]
name = "sensor1"
password_hash = "` + string(hash) + `"

[[broker.acl]]
topic = "sensors/%u/#"
access = "write"
`
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRunnel(t, "--config", cfg)
	host, port := splitAddr(t, r.mqtt)
	run := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(pub, append([]string{"-h", host, "-p", port, "-V", "mqttv5", "-q", "1", "-m", "x"}, args...)...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out)), code
	}
	if out, code := run("-u", "sensor1", "-P", "s3cret", "-t", "sensors/sensor1/data"); code != 0 {
		t.Errorf("allowed publish: exit %d: %s", code, out)
	}
	if out, code := run("-u", "sensor1", "-P", "wrong", "-t", "sensors/sensor1/data"); code == 0 || !strings.Contains(out, "Bad User Name or Password") {
		t.Errorf("wrong password: exit %d: %q", code, out)
	}
	if out, code := run("-t", "sensors/sensor1/data"); code == 0 || !strings.Contains(out, "Bad User Name or Password") {
		t.Errorf("anonymous: exit %d: %q", code, out)
	}
	if out, code := run("-u", "sensor1", "-P", "s3cret", "-t", "sensors/other/data"); !strings.Contains(out, "Publish 1 failed: Not authorized") {
		t.Errorf("denied topic: exit %d: %q", code, out)
	}
}

func splitAddr(t *testing.T, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
