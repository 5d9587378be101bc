package cli_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/runnel-io/runnel/engine/cli"
	"github.com/runnel-io/runnel/flows"
)

// TestRunWatchesTheFlowFile: runnel run deploys a saved change of its flow
// file as a nodes deploy (filter-on-change keeps its state, subscribers stay
// connected), and logs and ignores a file that is invalid.
func TestRunWatchesTheFlowFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "flows.json")
	doc := flows.ExampleDocument()
	if err := flows.WriteFile(file, doc); err != nil {
		t.Fatal(err)
	}
	mqtt := freePort(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.MainContext(ctx, []string{"run", "--mqtt", mqtt, "--watch", "20ms", "--log-level", "info", file}, io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("runnel run did not stop")
		}
	})
	waitListening(t, mqtt)
	sub := subscribe(t, mqtt, "alerts/#", 1)
	pub := publisher(t, mqtt)
	send := func(payload string) {
		t.Helper()
		pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer pcancel()
		if _, err := pub.Publish(pctx, &paho.Publish{Topic: "sensors/dev1/data", QoS: 1, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	waitLog := func(want string, n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(logs.String(), want) < n {
			if time.Now().After(deadline) {
				t.Fatalf("the log never said %q %d times:\n%s", want, n, logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	send(`{"temperature":21.5}`)
	sub.waitFor(t, 1)

	changed := doc.Clone()
	changed.Node("render-alert").Set("template", []byte(`"NEW {{payload.temperature}}"`))
	if err := flows.WriteFile(file, changed); err != nil {
		t.Fatal(err)
	}
	waitLog("flow file changed: deployed", 1)
	if !strings.Contains(logs.String(), "changes=\"1 changed\"") {
		t.Errorf("the deploy log line does not say what changed:\n%s", logs.String())
	}
	send(`{"temperature":21.5}`) // unchanged: the filter kept its state
	send(`{"temperature":22}`)

	os.WriteFile(file, []byte(`[{"id":"x","type":"template","template":"{{#a}}"}]`), 0o644)
	waitLog("is invalid; the running flows stay", 1)
	send(`{"temperature":23}`)
	got := sub.waitFor(t, 3)
	want := []string{alert("dev1", "21.5"), "alerts/temperature NEW 22", "alerts/temperature NEW 23"}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts:\n got %q\nwant %q", got, want)
	}
	if !strings.Contains(logs.String(), `node \"x\" (template) field \"template\"`) {
		t.Errorf("the log does not name the invalid node and field:\n%s", logs.String())
	}
}
