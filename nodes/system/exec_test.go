package system

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// execFlow deploys test-source → exec (props) → sinks for its three
// outputs, with exec enabled or not.
func execFlow(t *testing.T, props string, enabled bool) *nodetest.Flow {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the commands are POSIX shell commands")
	}
	f, err := nodetest.Deploy(t, `[{"id":"t1","type":"tab"},
	 {"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},
	 {"id":"n1","type":"exec","z":"t1",`+props+`,"wires":[["out"],["err"],["rc"]]},
	 {"id":"out","type":"test-sink","z":"t1","wires":[]},
	 {"id":"err","type":"test-sink","z":"t1","wires":[]},
	 {"id":"rc","type":"test-sink","z":"t1","wires":[]}]`,
		nodetest.Options{Runtime: func(o *engine.Options) { o.Nodes.Exec = enabled }}, engine.DefaultRegistry.Types()...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func js(v any) string { return string(engine.MarshalJSON(v)) }

// Without [nodes] exec = true the node deploys, says it is disabled, runs
// nothing and fails each message.
func TestExecDisabledByDefault(t *testing.T) {
	f := execFlow(t, `"command":"touch /tmp/runnel-exec-must-not-run","addpay":""`, false)
	if st := fmt.Sprint(f.Statuses()); !strings.Contains(st, "exec is disabled") {
		t.Fatalf("statuses %s", st)
	}
	m := engine.NewMessage("", "x")
	f.Inject("src", m)
	errs := f.Errors()
	if len(errs) != 1 || errs[0].MsgID != m.ID() || !strings.Contains(errs[0].Err.Error(), "[nodes] exec = true") {
		t.Fatalf("errors %v", errs)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(f.Received("out")) + len(f.Received("rc")); n != 0 {
		t.Fatalf("a disabled exec sent %d messages", n)
	}
}

// Exec mode: payload and extra parameters appended; stdout, stderr and
// the return code as Node-RED sends them, msg.rc on the first two.
func TestExecMode(t *testing.T) {
	f := execFlow(t, `"command":"echo","addpay":"payload","append":"there","useSpawn":"false","timer":""`, true)
	m := engine.NewMessage("t", "hi")
	f.Inject("src", m)
	out := f.WaitReceived("out", 1)[0]
	rc := f.WaitReceived("rc", 1)[0]
	if out.Payload != "hi there\n" || js(rc.Payload) != `{"code":0}` || out.Topic != "t" {
		t.Fatalf("out %v rc %v", out.Value(), rc.Value())
	}
	if r, _ := out.Prop("rc"); js(r) != `{"code":0}` {
		t.Fatalf("msg.rc %v", r)
	}
	if n := len(f.Received("err")); n != 0 {
		t.Fatalf("%d stderr messages for a quiet command", n)
	}

	f = execFlow(t, `"command":"echo oops >&2; printf '\\377'; exit 3","addpay":false`, true)
	f.Inject("src", engine.NewMessage("", "ignored"))
	out = f.WaitReceived("out", 1)[0]
	errm := f.WaitReceived("err", 1)[0]
	rc = f.WaitReceived("rc", 1)[0]
	want := `{"code":3,"message":"Command failed: echo oops >&2; printf '\\377'; exit 3\noops\n"}`
	if fmt.Sprintf("%#v", out.Payload) != `[]byte{0xff}` || errm.Payload != "oops\n" || js(rc.Payload) != want {
		t.Fatalf("out %#v err %#v rc %s", out.Payload, errm.Payload, js(rc.Payload))
	}
	if r, _ := errm.Prop("rc"); js(r) != want {
		t.Fatalf("stderr msg.rc %v", r)
	}
}

// A timeout kills the command, and everything it started.
func TestExecTimeoutKills(t *testing.T) {
	f := execFlow(t, `"command":"sleep 30; echo late","addpay":"","timer":"0.2"`, true)
	f.Inject("src", engine.NewMessage("", ""))
	rc := f.WaitReceived("rc", 1)[0]
	p := rc.Payload.(map[string]any)
	if p["code"] != nil || p["signal"] != "SIGTERM" {
		t.Fatalf("rc %s", js(rc.Payload))
	}
	if out := f.WaitReceived("out", 1)[0]; out.Payload != "" {
		t.Fatalf("stdout %#v", out.Payload)
	}
	if st := fmt.Sprint(f.Statuses()); !strings.Contains(st, "killed") {
		t.Fatalf("statuses %s", st)
	}
}

// Spawn mode sends output while the program runs; msg.kill ends it.
func TestExecSpawnStreamsAndKill(t *testing.T) {
	f := execFlow(t, `"command":"sh -c \"echo one; echo two >&2; sleep 30\"","addpay":"","useSpawn":"true"`, true)
	f.Inject("src", engine.NewMessage("", ""))
	// The first lines arrive while the program still runs.
	if out := f.WaitReceived("out", 1)[0]; out.Payload != "one\n" {
		t.Fatalf("stdout %#v", out.Payload)
	}
	if e := f.WaitReceived("err", 1)[0]; e.Payload != "two\n" {
		t.Fatalf("stderr %#v", e.Payload)
	}
	if n := len(f.Received("rc")); n != 0 {
		t.Fatal("the program ended before it was killed")
	}
	kill := engine.NewMessage("", nil)
	kill.SetProp("kill", "SIGINT")
	f.Inject("src", kill)
	rc := f.WaitReceived("rc", 1)[0]
	if js(rc.Payload) != `{"code":null,"signal":"SIGINT"}` {
		t.Fatalf("rc %s", js(rc.Payload))
	}

	f = execFlow(t, `"command":"no-such-command-runnel","addpay":"","useSpawn":"true"`, true)
	f.Inject("src", engine.NewMessage("", ""))
	if rc := f.WaitReceived("rc", 1)[0]; js(rc.Payload) != `{"code":-2}` {
		t.Fatalf("unknown command rc %s", js(rc.Payload))
	}
}

// A command that ignores SIGTERM is ended with SIGKILL execKillGrace
// after its timeout, so neither it nor Close (and with it every deploy)
// waits for it without end.
func TestExecKillsWhatIgnoresTerm(t *testing.T) {
	f := execFlow(t, `"command":"trap '' TERM; sleep 30; echo late","addpay":"","timer":"0.2"`, true)
	f.Inject("src", engine.NewMessage("", ""))
	rc := f.WaitReceived("rc", 1)[0] // WaitReceived gives up after a few seconds
	if p := rc.Payload.(map[string]any); p["signal"] != "SIGKILL" {
		t.Fatalf("rc %s", js(rc.Payload))
	}
}
