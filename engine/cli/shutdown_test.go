package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/flows"
)

// TestRunStopsGracefullyOnSIGTERM runs "runnel run" in a child process
// with the example flow, its filter keeping state in the persistent
// context store, publishes readings at QoS 1 without pause, and sends
// SIGTERM in the middle of the stream. The process must exit with status 0
// and log a clean stop, and the persistent context must hold the state of
// every reading the broker acknowledged (an acknowledged message has run
// through the flow): the last value written is at least the last one
// acknowledged and at most the last one sent.
func TestRunStopsGracefullyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("child process test")
	}
	dir := t.TempDir()
	doc := flows.ExampleDocument()
	doc.Node("temp-changed").Set("store", []byte(`"persistent"`))
	file := filepath.Join(dir, "flows.json")
	if err := flows.WriteFile(file, doc); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	mqtt := freePort(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChildProcess$")
	cmd.Env = append(os.Environ(), "RUNNEL_TEST_SERVE_ARGS=run --mqtt "+mqtt+" --data "+data+" --watch 0 "+file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	waited := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // in case the test failed before it exited
		<-waited
	})
	waitListening(t, mqtt)

	conn, err := net.Dial("tcp", mqtt)
	if err != nil {
		t.Fatal(err)
	}
	pub := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pub.Connect(ctx, &paho.Connect{ClientID: "sigterm-pub", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	const signalAfter = 300
	lastAcked, lastSent := 0, 0
	for seq := 1; seq < 1_000_000; seq++ {
		if seq == signalAfter+1 {
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
		lastSent = seq
		pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := pub.Publish(pctx, &paho.Publish{Topic: "sensors/dev1/data", QoS: 1,
			Payload: []byte(fmt.Sprintf(`{"temperature":%d,"humidity":40}`, seq))})
		pcancel()
		if err != nil {
			break // the broker stopped taking messages
		}
		lastAcked = seq
	}
	if lastAcked < signalAfter {
		t.Fatalf("only %d messages acknowledged before SIGTERM", lastAcked)
	}

	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("runnel run exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("runnel run did not exit within 20 s of SIGTERM:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "msg=stopping") || !strings.Contains(stderr.String(), "msg=stopped") {
		t.Fatalf("no clean stop in the log:\n%s", stderr.String())
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "runnel.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	err = db.QueryRow(`SELECT CAST(value AS TEXT) FROM context_entries WHERE scope = 'node:temp-changed' AND key = 'sensors/dev1/data'`).Scan(&v)
	if err != nil {
		t.Fatalf("the filter's persistent state was not written: %v\n%s", err, stderr.String())
	}
	var stored int
	if _, err := fmt.Sscan(v, &stored); err != nil {
		t.Fatalf("stored state %q: %v", v, err)
	}
	if stored < lastAcked || stored > lastSent {
		t.Fatalf("persistent state %d; acknowledged up to %d, sent up to %d", stored, lastAcked, lastSent)
	}
	t.Logf("SIGTERM after %d messages: %d acknowledged, %d sent, state written: %d", signalAfter, lastAcked, lastSent, stored)
}
