package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine/cli"
)

// nanFlow is the flow of the report: passed validation once, crashed the
// process in time.NewTicker, and was saved, so every restart crashed.
const nanFlow = `[{"id":"t","type":"tab"},{"id":"i","type":"inject","z":"t","repeat":"NaN","wires":[[]]}]`

type httpc struct {
	t    *testing.T
	base string
}

func (c httpc) do(method, path, body string, header ...string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type healthBody struct {
	Status, Flows, Problem string
}

func (c httpc) health() (int, healthBody) {
	c.t.Helper()
	code, body := c.do("GET", "/healthz", "")
	var h healthBody
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		c.t.Fatalf("GET /healthz: %v: %s", err, body)
	}
	return code, h
}

// TestServeStartsInSafeModeWhenTheStoredFlowsDoNotStart: runnel serve
// with stored flows that no longer validate comes up with the flows
// stopped and the problem shown (log, GET /healthz), instead of exiting;
// the admin API serves the stored flows, and a fixed deploy starts them.
func TestServeStartsInSafeModeWhenTheStoredFlowsDoNotStart(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "flows.json"), []byte(nanFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRunnel(t, "--data", data)
	c := httpc{t, "http://" + r.http}
	code, h := c.health()
	wantProblem := `line 1: node "i" (inject) field "repeat": "NaN" is not a number of seconds from 0 to 2147483`
	if code != 503 || h.Flows != "stopped" || h.Problem != wantProblem {
		t.Fatalf("GET /healthz: %d %+v; want 503, stopped, %q", code, h, wantProblem)
	}
	if log := r.stderr.String(); !strings.Contains(log, "safe mode: the flows are stopped because they do not start") || !strings.Contains(log, `field \"repeat\"`) {
		t.Fatalf("the log does not show the problem:\n%s", log)
	}
	if code, body := c.do("GET", "/flows", ""); code != 200 || !strings.Contains(body, `"repeat":"NaN"`) {
		t.Fatalf("GET /flows in safe mode: %d %s", code, body)
	}
	fixed := strings.Replace(nanFlow, `"NaN"`, `"60"`, 1)
	if code, body := c.do("POST", "/flows", fixed); code != 204 {
		t.Fatalf("POST /flows: %d %s", code, body)
	}
	if code, h := c.health(); code != 200 || h.Flows != "running" || h.Problem != "" {
		t.Fatalf("after deploying fixed flows: %d %+v", code, h)
	}
}

// TestServeSafeFlag: --safe starts with the flows stopped on purpose; a
// reload deploy (Node-RED's "restart flows") starts them.
func TestServeSafeFlag(t *testing.T) {
	r := startRunnel(t, "--safe")
	c := httpc{t, "http://" + r.http}
	if code, h := c.health(); code != 503 || h.Flows != "stopped" || !strings.Contains(h.Problem, "safe mode (--safe)") {
		t.Fatalf("GET /healthz: %d %+v", code, h)
	}
	code, body := c.do("GET", "/flows", "")
	if code != 200 || !strings.Contains(body, `"sensors/+/data"`) {
		t.Fatalf("GET /flows: %d %s", code, body)
	}
	if code, body := c.do("POST", "/flows", body, "Node-RED-Deployment-Type", "reload"); code != 204 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if code, h := c.health(); code != 200 || h.Flows != "running" {
		t.Fatalf("after reload: %d %+v", code, h)
	}
}

// TestRunSafeFlagThenFileChange: runnel run --safe runs the broker with
// the flows stopped; saving the file deploys it. An invalid file still
// makes runnel run exit non-zero (TestRunAndValidateCommands).
func TestRunSafeFlagThenFileChange(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "flows.json")
	good := `[{"id":"t","type":"tab"},{"id":"i","type":"inject","z":"t","repeat":"","wires":[[]]}]`
	if err := os.WriteFile(file, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	mqtt := freePort(t)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.MainContext(ctx, []string{"run", "--safe", "--mqtt", mqtt, "--watch", "20ms", file}, io.Discard, logs)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("runnel run exited with %d:\n%s", code, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("runnel run did not stop")
		}
	}()
	waitListening(t, mqtt)
	if !strings.Contains(logs.String(), "safe mode: the flows are stopped (--safe)") {
		t.Fatalf("no safe mode line:\n%s", logs.String())
	}
	// A bad change is refused; a good one deploys.
	time.Sleep(30 * time.Millisecond) // a new modification time
	if err := os.WriteFile(file, []byte(nanFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, logs, "flow file changed but is invalid")
	if err := os.WriteFile(file, []byte(strings.Replace(good, `"repeat":""`, `"repeat":"5"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, logs, "flow file changed: deployed")
}

func waitFor(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q:\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestValidateAndRunRefuseTheNaNRepeat: the reproduction of the report,
// runnel validate on a NaN repeat, said ok; it names the problem now, and
// runnel run exits non-zero with it.
func TestValidateAndRunRefuseTheNaNRepeat(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nan.json")
	if err := os.WriteFile(file, []byte(nanFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	want := file + `: line 1: node "i" (inject) field "repeat": "NaN" is not a number of seconds from 0 to 2147483` + "\n"
	if code := cli.MainContext(context.Background(), []string{"validate", file}, &out, &errOut); code != 1 || out.String() != want {
		t.Fatalf("validate: exit %d, %q; want 1, %q", code, out.String(), want)
	}
	if code := cli.MainContext(context.Background(), []string{"run", "--mqtt", freePort(t), file}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), `node "i" (inject) field "repeat": "NaN" is not a number`) {
		t.Fatalf("run: exit %d, %q", code, errOut.String())
	}
}
