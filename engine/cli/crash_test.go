package cli_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/runnel-io/runnel/engine/cli"
)

// TestServeChildProcess is not a test: it runs runnel serve in a child
// process for TestKillDuringDeploy.
func TestServeChildProcess(t *testing.T) {
	args := os.Getenv("RUNNEL_TEST_SERVE_ARGS")
	if args == "" {
		t.Skip("helper process")
	}
	os.Exit(cli.MainContext(context.Background(), strings.Split(args, " "), io.Discard, os.Stderr))
}

// crashFlow is a flow of n inject → debug pairs whose every node carries
// the generation g in its name.
func crashFlow(n, g int) []map[string]any {
	out := []map[string]any{{"id": "tab", "type": "tab", "label": fmt.Sprintf("gen %d", g)}}
	for i := range n {
		out = append(out,
			map[string]any{"id": fmt.Sprintf("in%d", i), "type": "inject", "z": "tab", "name": fmt.Sprintf("gen %d", g), "wires": [][]string{{fmt.Sprintf("dbg%d", i)}}},
			map[string]any{"id": fmt.Sprintf("dbg%d", i), "type": "debug", "z": "tab", "name": fmt.Sprintf("gen %d", g), "wires": [][]string{}})
	}
	return out
}

// TestKillDuringDeploy kills runnel serve with SIGKILL at random moments
// while it deploys, again and again, and restarts it each time: it always
// comes back with one whole generation of the flows (the last one deployed
// or the one before), never a mix, and the database passes
// PRAGMA integrity_check.
func TestKillDuringDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	data := t.TempDir()
	rounds := 8
	gen := 0
	for round := range rounds {
		mqtt, httpAddr := freePort(t), freePort(t)
		cmd := exec.Command(os.Args[0], "-test.run=^TestServeChildProcess$")
		cmd.Env = append(os.Environ(), "RUNNEL_TEST_SERVE_ARGS=serve --mqtt "+mqtt+" --http "+httpAddr+" --data "+data+" --log-level warn")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitListening(t, httpAddr)
		base := "http://" + httpAddr

		// After a restart the flows are one whole generation: the last one
		// whose deploy answered, or one whose deploy was cut short.
		if round > 0 {
			got := flowGeneration(t, base)
			if got != gen && got != gen+1 {
				t.Fatalf("round %d: restarted with generation %d; the last deploy that answered was %d", round, got, gen)
			}
			gen = got
		}
		// Deploy new generations; kill the process at a random moment.
		killAt := time.Duration(rand.IntN(150)+10) * time.Millisecond
		timer := time.AfterFunc(killAt, func() { cmd.Process.Signal(syscall.SIGKILL) })
		for {
			body, _ := json.Marshal(crashFlow(200, gen+1))
			resp, err := http.Post(base+"/flows", "application/json", bytes.NewReader(body))
			if err != nil {
				break // killed
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("deploy: %s", resp.Status)
			}
			gen++
		}
		timer.Stop()
		cmd.Wait()

		db, err := sql.Open("sqlite", filepath.Join(data, "runnel.db"))
		if err != nil {
			t.Fatal(err)
		}
		var ok string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("round %d: integrity_check: %q %v", round, ok, err)
		}
		db.Close()
	}
	t.Logf("%d kills, %d generations deployed", rounds, gen)
}

// flowGeneration reads the running flows and checks that every node is of
// one generation, which it returns.
func flowGeneration(t *testing.T, base string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/flows", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var nodes []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&nodes); err != nil {
		t.Fatal(err)
	}
	gen := -1
	for _, n := range nodes {
		label, _ := n["name"].(string)
		if n["type"] == "tab" {
			label, _ = n["label"].(string)
		}
		var g int
		if _, err := fmt.Sscanf(label, "gen %d", &g); err != nil {
			if len(nodes) > 0 && gen == -1 && n["type"] != "tab" {
				return 0 // the example flow: generation 0
			}
			continue
		}
		if gen != -1 && g != gen {
			t.Fatalf("the flows mix generations %d and %d", gen, g)
		}
		gen = g
	}
	if gen == -1 {
		return 0
	}
	if len(nodes) != 401 {
		t.Fatalf("generation %d has %d objects, want 401", gen, len(nodes))
	}
	return gen
}
