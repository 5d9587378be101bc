package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/runnel-io/runnel/engine/cli"
	"github.com/runnel-io/runnel/flows"
)

// canary is the password under test: it must appear nowhere but in memory.
const canary = "Pw-7f3c-LEAK-CANARY"

// credFlow is the seed flow's shape with an mqtt-broker config node that
// has credentials, as Node-RED's editor posts it.
func credFlow(mqttAddr, user, password string) string {
	port := strings.Split(mqttAddr, ":")[1]
	return fmt.Sprintf(`[
{"id":"t","type":"tab","label":"creds"},
{"id":"b1","type":"mqtt-broker","name":"local","broker":"localhost","port":%q,"credentials":{"user":%q,"password":%q}},
{"id":"i","type":"mqtt in","z":"t","topic":"in/+","datatype":"utf8","broker":"b1","wires":[["m"]]},
{"id":"m","type":"template","z":"t","template":"echo {{payload}}","wires":[["o"]]},
{"id":"o","type":"mqtt out","z":"t","topic":"out/echo","broker":"b1"}
]`, port, user, password)
}

// TestCredentialsNeverLeave deploys a flow whose mqtt-broker has a
// password and checks that the password is in none of the admin API's
// answers, the live websocket, flows.json, flows_cred.json, the SQLite
// files or the logs; that the credentials survive a __PWRD__ deploy and a
// restart; and that flows_cred.json is Node-RED's format with the secret
// serve generated.
func TestCredentialsNeverLeave(t *testing.T) {
	t.Setenv(cli.EnvCredentialSecret, "")
	r, stop := startServeAt(t, t.TempDir(), "", "--log-level", "debug")
	base := "http://" + r.http
	var seen bytes.Buffer // every byte the API and the websocket answered
	var seenMu sync.Mutex
	record := func(b []byte) {
		seenMu.Lock()
		seen.Write(b)
		seen.WriteByte('\n')
		seenMu.Unlock()
	}
	do := func(method, path, body string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		record(b)
		return resp.StatusCode, string(b)
	}

	// The live websocket, for the whole test.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+r.http+"/comms", nil)
	if err != nil {
		t.Fatal(err)
	}
	wsDone := make(chan struct{})
	go func() {
		defer close(wsDone)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			record(b)
		}
	}()

	if code, body := do("POST", "/flows", credFlow(r.mqtt, "edge-user", canary)); code != 204 {
		t.Fatalf("deploy: %d %s", code, body)
	}
	// The flow runs with its broker config node.
	sub := subscribe(t, r.mqtt, "out/#", 0)
	pub := publisher(t, r.mqtt)
	pub.Publish(context.Background(), &paho.Publish{Topic: "in/1", Payload: []byte("hi")})
	if got := sub.waitFor(t, 1); got[0] != "out/echo echo hi" {
		t.Fatalf("flow output %q", got)
	}

	code, body := do("GET", "/credentials/mqtt-broker/b1", "")
	if code != 200 || body != `{"has_password":true,"user":"edge-user"}`+"\n" {
		t.Fatalf("GET /credentials: %d %s", code, body)
	}
	// Node-RED's type name works too, and a node without credentials has none.
	if _, body := do("GET", "/credentials/mqtt-broker/i", ""); body != "{}\n" {
		t.Fatalf("credentials of a node of another type: %s", body)
	}

	// The editor sends __PWRD__ for a password it did not change.
	if code, body := do("POST", "/flows", credFlow(r.mqtt, "edge-user2", flows.KeepPassword), "Node-RED-Deployment-Type", "nodes"); code != 204 {
		t.Fatalf("deploy with __PWRD__: %d %s", code, body)
	}
	if _, body := do("GET", "/credentials/mqtt-broker/b1", ""); body != `{"has_password":true,"user":"edge-user2"}`+"\n" {
		t.Fatalf("after __PWRD__: %s", body)
	}
	secretBytes, err := os.ReadFile(filepath.Join(r.data, "credential_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(r.data, "credential_secret")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential_secret mode %v, want 0600", fi.Mode().Perm())
	}
	secret := strings.TrimSpace(string(secretBytes))
	creds, err := flows.ReadCredentialsFile(filepath.Join(r.data, "flows_cred.json"), secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := creds["b1"]; got["password"] != canary || got["user"] != "edge-user2" {
		t.Fatalf("flows_cred.json holds %v", creds)
	}

	// Every other answer.
	for _, path := range []string{"/flows", "/nodes", "/flows/revisions", "/flows/revisions/1", "/flows/revisions/2",
		"/flows/revisions/3", "/flows/revisions/1/diff/3", "/flows/revisions/2/diff/3"} {
		if code, body := do("GET", path, ""); code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	do("GET", "/flows", "", "Node-RED-API-Version", "v2")
	if code, body := do("POST", "/flows/revisions/2/rollback", ""); code != 200 {
		t.Fatalf("rollback: %d %s", code, body)
	}
	if _, body := do("GET", "/credentials/mqtt-broker/b1", ""); body != `{"has_password":true,"user":"edge-user"}`+"\n" {
		t.Fatalf("after the rollback to revision 2: %s", body)
	}
	if code, body := do("POST", "/flows", "", "Node-RED-Deployment-Type", "reload"); code != 204 {
		t.Fatalf("reload: %d %s", code, body)
	}
	time.Sleep(300 * time.Millisecond) // let the live channel flush its last frames (it flushes every 100 ms)
	ws.Close()
	<-wsDone

	// A restart reads them back from the database.
	if !strings.Contains(r.stderr.String(), "generated one to encrypt node credentials") {
		t.Fatalf("no log line about the generated secret:\n%s", r.stderr.String())
	}
	stop()
	// The restart sets a secret of its own: the credentials saved with the
	// generated one are encrypted again with it.
	const newSecret = "configured-secret-9d2e"
	t.Setenv(cli.EnvCredentialSecret, newSecret)
	r2, stop2 := startServeAt(t, r.data, r.mqtt, "--log-level", "debug") // the broker config node points at this port
	defer stop2()
	base = "http://" + r2.http
	if _, body := do("GET", "/credentials/mqtt-broker/b1", ""); body != `{"has_password":true,"user":"edge-user"}`+"\n" {
		t.Fatalf("after a restart: %s", body)
	}
	if n := strings.Count(r.stderr.String()+r2.stderr.String(), "generated one to encrypt"); n != 1 {
		t.Fatalf("the generated secret was logged %d times, want once", n)
	}
	if !strings.Contains(r2.stderr.String(), "the credential secret changed") {
		t.Fatalf("no log line about the new secret:\n%s", r2.stderr.String())
	}
	if c, err := flows.ReadCredentialsFile(filepath.Join(r.data, "flows_cred.json"), newSecret); err != nil || c["b1"]["password"] != canary {
		t.Fatalf("flows_cred.json with the new secret: %v %v", c, err)
	}
	// A rollback to revision 3 still opens what the old secret encrypted.
	if code, body := do("POST", "/flows/revisions/3/rollback", ""); code != 200 {
		t.Fatalf("rollback to a revision of the old secret: %d %s", code, body)
	}
	if _, body := do("GET", "/credentials/mqtt-broker/b1", ""); body != `{"has_password":true,"user":"edge-user2"}`+"\n" {
		t.Fatalf("after the rollback to revision 3: %s", body)
	}

	check := func(what string, b []byte) {
		t.Helper()
		for _, s := range []string{canary, secret, newSecret} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains %q", what, s)
			}
		}
	}
	check("the API's answers", seen.Bytes())
	check("the logs", []byte(r.stderr.String()+r2.stderr.String()))
	files, _ := filepath.Glob(filepath.Join(r.data, "*"))
	for _, f := range files {
		if filepath.Base(f) == "credential_secret" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(canary)) {
			t.Errorf("%s contains the password", f)
		}
	}
	if seen.Len() < 1000 || !bytes.Contains(seen.Bytes(), []byte(`"b1"`)) {
		t.Fatalf("the test saw too little to be meaningful (%d bytes)", seen.Len())
	}
	var revs struct {
		Revisions []json.RawMessage `json:"revisions"`
	}
	_, body = do("GET", "/flows/revisions", "")
	if json.Unmarshal([]byte(body), &revs) != nil || len(revs.Revisions) != 7 {
		t.Fatalf("revisions: %s", body)
	}
}

// startServeAt starts "runnel serve" in process on free ports with the
// data directory data and the MQTT address mqtt (a free port when empty);
// stop stops it and checks that it exited cleanly.
func startServeAt(t *testing.T, data, mqtt string, extra ...string) (r *runnel, stop func()) {
	t.Helper()
	if mqtt == "" {
		mqtt = freePort(t)
	}
	r = &runnel{mqtt: mqtt, http: freePort(t), data: data, stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{"serve", "--mqtt", r.mqtt, "--http", r.http, "--data", r.data}, extra...)
	go func() { done <- cli.MainContext(ctx, args, io.Discard, r.stderr) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("runnel serve exited with %d:\n%s", code, r.stderr.String())
				}
			case <-time.After(15 * time.Second):
				t.Errorf("runnel serve did not stop")
			}
		})
	}
	t.Cleanup(stop)
	waitListening(t, r.mqtt)
	waitListening(t, r.http)
	return r, stop
}

// TestRunReadsCredentialsFile runs "runnel run flows.json" beside a
// flows_cred.json: with the wrong secret it refuses to start and names the
// setting; with the right one it runs; plain credentials in the flow file
// are used, with a warning that does not show them.
func TestRunReadsCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	mqtt := freePort(t)
	file := filepath.Join(dir, "flows.json")
	doc, err := flows.Parse([]byte(credFlow(mqtt, "edge-user", canary)))
	if err != nil {
		t.Fatal(err)
	}
	if err := flows.WriteFile(file, doc); err != nil {
		t.Fatal(err)
	}
	if err := flows.WriteCredentialsFile(flows.CredentialsFile(file), doc.Credentials, "run secret"); err != nil {
		t.Fatal(err)
	}

	t.Setenv(cli.EnvCredentialSecret, "not the run secret")
	var errOut bytes.Buffer
	if code := cli.MainContext(context.Background(), []string{"run", "--mqtt", mqtt, file}, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "flows_cred.json: credentials: cannot decrypt") ||
		!strings.Contains(errOut.String(), "set RUNNEL_CREDENTIAL_SECRET") {
		t.Fatalf("run with the wrong secret: exit %d, %s", code, errOut.String())
	}

	runFor := func(t *testing.T) string {
		t.Helper()
		logs := &syncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- cli.MainContext(ctx, []string{"run", "--mqtt", mqtt, "--watch", "0", file}, io.Discard, logs)
		}()
		waitListening(t, mqtt)
		sub := subscribe(t, mqtt, "out/#", 0)
		publisher(t, mqtt).Publish(context.Background(), &paho.Publish{Topic: "in/1", Payload: []byte("hi")})
		if got := sub.waitFor(t, 1); got[0] != "out/echo echo hi" {
			t.Fatalf("flow output %q", got)
		}
		sub.c.Disconnect(&paho.Disconnect{})
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("run exited with %d:\n%s", code, logs.String())
		}
		return logs.String()
	}
	t.Setenv(cli.EnvCredentialSecret, "run secret")
	logs := runFor(t)
	if strings.Contains(logs, canary) || strings.Contains(logs, "plain text") {
		t.Fatalf("logs:\n%s", logs)
	}

	// A Node-RED export that includes the credentials, and no credentials file.
	os.Remove(flows.CredentialsFile(file))
	os.WriteFile(file, []byte(credFlow(mqtt, "edge-user", canary)), 0o600)
	t.Setenv(cli.EnvCredentialSecret, "")
	logs = runFor(t)
	if strings.Contains(logs, canary) || !strings.Contains(logs, "holds node credentials in plain text") || !strings.Contains(logs, "nodes=b1") {
		t.Fatalf("logs:\n%s", logs)
	}
}

// TestRunWatchesTheCredentialsFile: a new flows_cred.json alone (a rotated
// password) is deployed, replacing the broker config node and the nodes
// that use it.
func TestRunWatchesTheCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	mqtt := freePort(t)
	file := filepath.Join(dir, "flows.json")
	doc, err := flows.Parse([]byte(credFlow(mqtt, "edge-user", canary)))
	if err != nil {
		t.Fatal(err)
	}
	if err := flows.WriteFile(file, doc); err != nil {
		t.Fatal(err)
	}
	credFile := flows.CredentialsFile(file)
	if err := flows.WriteCredentialsFile(credFile, doc.Credentials, "watch secret"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(cli.EnvCredentialSecret, "watch secret")
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.MainContext(ctx, []string{"run", "--mqtt", mqtt, "--watch", "20ms", file}, io.Discard, logs)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run exited with %d:\n%s", code, logs.String())
		}
	}()
	waitListening(t, mqtt)
	doc.Credentials["b1"]["password"] = "rotated-" + canary
	if err := flows.WriteCredentialsFile(credFile, doc.Credentials, "watch secret"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `msg="flow file changed: deployed"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the new credentials file was not deployed:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), `changes="3 changed"`) || strings.Contains(logs.String(), canary) {
		t.Fatalf("logs:\n%s", logs.String())
	}
}
