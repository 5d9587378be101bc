package cli_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/engine/cli"
)

// serveFails runs runnel with args and returns its exit code and stderr;
// it must stop by itself (start-up refused).
func serveFails(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := cli.MainContext(ctx, args, io.Discard, &stderr)
	return code, stderr.String()
}

// TestConfigErrors: a wrong or unknown setting stops start-up with the
// file, line and setting; so does a bad environment variable, naming it.
func TestConfigErrors(t *testing.T) {
	data := t.TempDir()
	file := filepath.Join(data, "runnel.toml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"serve", "--data", data, "--mqtt", freePort(t), "--http", freePort(t)}

	// DATA/runnel.toml is read by default.
	write("# limits\n[broker]\nmax_packet_size = \"lots\"\n")
	code, out := serveFails(t, base...)
	want := "runnel serve: " + file + `:3: broker.max_packet_size: must be a size such as "1MiB", got "lots"` + "\n"
	if code != 1 || out != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, out, want)
	}

	other := filepath.Join(t.TempDir(), "other.toml")
	os.WriteFile(other, []byte("[broker]\nmax_conections = 5\n\n[editor]\nsesion_ttl = \"1h\"\n"), 0o600)
	code, out = serveFails(t, append(base, "--config", other)...)
	want = "runnel serve: " + other + ":2: broker.max_conections: unknown setting\n" + other + ":5: editor.sesion_ttl: unknown setting\n"
	if code != 1 || out != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, out, want)
	}

	write("[broker]\nmax_connections = 5\n")
	t.Setenv("RUNNEL_MAX_CONNECTIONS", "lots")
	code, out = serveFails(t, base...)
	want = `runnel serve: RUNNEL_MAX_CONNECTIONS: broker.max_connections: must be a whole number, got "lots"` + "\n"
	if code != 1 || out != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, out, want)
	}
}

// TestSafeDefaults: without users, a broker or editor address that other
// machines can reach stops start-up, saying how to open up.
func TestSafeDefaults(t *testing.T) {
	data := t.TempDir()
	code, out := serveFails(t, "serve", "--data", data, "--mqtt", "0.0.0.0:0", "--http", freePort(t))
	if code != 1 || !strings.Contains(out, `--mqtt: broker.tcp: "0.0.0.0:0" is reachable from other machines, but no broker users are configured: `+
		`add users with "runnel passwd" ([[broker.users]]), or allow anonymous clients with allow_anonymous = true in [broker]`) {
		t.Errorf("exit %d: %s", code, out)
	}
	code, out = serveFails(t, "serve", "--data", data, "--mqtt", freePort(t), "--http", ":0")
	if code != 1 || !strings.Contains(out, `--http: editor.http: ":0" is reachable from other machines, but no editor users are configured`) {
		t.Errorf("exit %d: %s", code, out)
	}
	t.Setenv("RUNNEL_MQTT_WS", "0.0.0.0:0")
	code, out = serveFails(t, "run", "--mqtt", freePort(t), filepath.Join(data, "none.json"))
	if code != 1 || !strings.Contains(out, `runnel run: RUNNEL_MQTT_WS: broker.ws: "0.0.0.0:0" is reachable from other machines`) {
		t.Errorf("exit %d: %s", code, out)
	}
}

// TestConfigPrecedence: a flag beats RUNNEL_*, which beats the file, which
// beats the default; the file's listeners and limits reach the broker.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	flowFile := filepath.Join(dir, "flows.json")
	os.WriteFile(flowFile, []byte("[]"), 0o600)
	fromFile, fromEnv, fromFlag, ws := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "runnel.toml")
	os.WriteFile(cfg, []byte("log_level = \"debug\"\n[broker]\ntcp = \""+fromFile+"\"\nws = \""+ws+"\"\nmax_packet_size = \"2KiB\"\n"), 0o600)

	run := func(env string, flags ...string) (logs string, connack *paho.Connack) {
		t.Helper()
		if env != "" {
			t.Setenv("RUNNEL_MQTT", env)
		} else {
			os.Unsetenv("RUNNEL_MQTT")
		}
		stderr := &syncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		args := append(append([]string{"run", "--config", cfg, "--watch", "0"}, flags...), flowFile)
		go func() { done <- cli.MainContext(ctx, args, io.Discard, stderr) }()
		defer func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("exit %d: %s", code, stderr.String())
			}
		}()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(stderr.String(), "runnel running") {
			if time.Now().After(deadline) {
				t.Fatalf("did not start: %s", stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		logs = stderr.String()
		const key = `msg="runnel running" mqtt=`
		addr := logs[strings.Index(logs, key)+len(key):]
		addr = addr[:strings.IndexByte(addr, ' ')]
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := paho.NewClient(paho.ClientConfig{Conn: conn})
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		ack, err := c.Connect(cctx, &paho.Connect{ClientID: "probe", CleanStart: true, KeepAlive: 30})
		if err != nil {
			t.Fatal(err)
		}
		c.Disconnect(&paho.Disconnect{})
		return logs, ack
	}
	for _, c := range []struct {
		env   string
		flags []string
		want  string
	}{
		{"", nil, fromFile},
		{fromEnv, nil, fromEnv},
		{fromEnv, []string{"--mqtt", fromFlag}, fromFlag},
	} {
		logs, ack := run(c.env, c.flags...)
		if !strings.Contains(logs, `msg="runnel running" mqtt=`+c.want+" ") {
			t.Errorf("env %q flags %q: want mqtt=%s in:\n%s", c.env, c.flags, c.want, logs)
		}
		if ack.Properties == nil || ack.Properties.MaximumPacketSize == nil || *ack.Properties.MaximumPacketSize != 2048 {
			t.Errorf("CONNACK maximum packet size: %+v, want 2048", ack.Properties)
		}
		for _, line := range []string{
			`msg="mqtt listener open" component=broker listener=tcp url=mqtt://` + c.want + ` client_certificates=false`,
			`msg="mqtt listener open" component=broker listener=ws url=ws://` + ws + `/mqtt client_certificates=false`,
			`config=` + cfg + ` broker_auth="off: no users, loopback only"`,
		} {
			if !strings.Contains(logs, line) {
				t.Errorf("log lacks %s:\n%s", line, logs)
			}
		}
	}
}
