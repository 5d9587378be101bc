package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine/cli"
)

// partialExport is part of a flow exported from Node-RED on another
// machine: an inject wired to a node that was not exported, a debug whose
// name is null, a tls-config whose CA file is not on this machine.
func partialExport(t *testing.T) (file, ca string) {
	t.Helper()
	dir := t.TempDir()
	ca = filepath.Join(dir, "certs", "ca.pem")
	file = filepath.Join(dir, "part.json")
	err := os.WriteFile(file, []byte(`[
{"id":"f1","type":"tab","label":"Flow 1","disabled":false,"info":"","env":[]},
{"id":"inj","type":"inject","z":"f1","name":"","props":[{"p":"payload"}],"repeat":"","once":false,"topic":"","payload":"","payloadType":"date","x":130,"y":80,"wires":[["dbg","gone"]]},
{"id":"dbg","type":"debug","z":"f1","name":null,"active":true,"tosidebar":true,"complete":"false","x":300,"y":80,"wires":[]},
{"id":"tls","type":"tls-config","name":"","cert":"","key":"","ca":`+strconv.Quote(ca)+`,"verifyservercert":true}
]`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return file, ca
}

// TestValidateWarnings: runnel validate prints each warning on its own line
// after the file name and exits 0 (before: exit 1, "wired to missing node",
// "name must be a string, not null" and the CA file as problems).
func TestValidateWarnings(t *testing.T) {
	file, ca := partialExport(t)
	var out, errOut bytes.Buffer
	code := cli.MainContext(context.Background(), []string{"validate", file}, &out, &errOut)
	want := file + `: warning: line 3: node "inj" (inject) field "wires": output 1 is wired to missing node "gone": the wire is dropped
` + file + `: warning: line 5: node "tls" (tls-config) field "ca": open ` + ca + `: no such file or directory: connections that use this TLS configuration fail until the file is there
` + file + `: ok (4 objects, 2 warnings)
`
	if code != 0 || out.String() != want || errOut.Len() != 0 {
		t.Fatalf("validate: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 0 and stdout:\n%s", code, out.String(), errOut.String(), want)
	}
}

// TestRunLogsWarnings: runnel run starts the same file and logs each
// warning on one line at level WARN.
func TestRunLogsWarnings(t *testing.T) {
	file, ca := partialExport(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.MainContext(ctx, []string{"run", "--mqtt", freePort(t), "--watch", "0", file}, &out, &errOut)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errOut.String(), "runnel running") {
		select {
		case code := <-done:
			t.Fatalf("run exited %d:\n%s", code, errOut.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not start:\n%s", errOut.String())
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("run exited %d", code)
	}
	var lines []string
	for _, l := range strings.Split(errOut.String(), "\n") {
		if strings.Contains(l, `msg="flow warning"`) {
			_, l, _ = strings.Cut(l, " ") // the time
			lines = append(lines, l)
		}
	}
	want := []string{
		`level=WARN msg="flow warning" node=inj type=inject field=wires line=3 warning="output 1 is wired to missing node \"gone\": the wire is dropped"`,
		`level=WARN msg="flow warning" node=tls type=tls-config field=ca line=5 warning="open ` + ca + `: no such file or directory: connections that use this TLS configuration fail until the file is there"`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("warning lines:\n%s\nwant:\n%s\nlog:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"), errOut.String())
	}
}
