package network_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/broker/mosquittotest"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// TestTLSConfigMissingFilesWarn: a tls-config whose certificate files are
// not on this machine (a flow exported elsewhere) compiles, as Node-RED
// loads it, with one warning per file naming the node, the field and the
// file; before, it refused the deploy. A bad PEM file that is there is
// still refused.
func TestTLSConfigMissingFilesWarn(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.pem")
	doc, err := flows.Parse([]byte(`[
{"id":"t1","type":"tls-config","cert":` + strconv.Quote(cert) + `,"key":` + strconv.Quote(key) + `,"ca":` + strconv.Quote(ca) + `,"verifyservercert":true},
{"id":"b1","type":"mqtt-broker","broker":"mqtts://example.com:8883","tls":"t1"},
{"id":"o1","type":"mqtt-out","topic":"x","broker":"b1","wires":[]}]`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := engine.New(engine.Options{BrokerAddr: "127.0.0.1:1883"}).Compile(doc)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	const tail = ": no such file or directory: connections that use this TLS configuration fail until the file is there"
	want := []flows.Warning{
		{NodeID: "t1", Type: "tls-config", Field: "cert", Line: 2, Msg: "open " + cert + tail},
		{NodeID: "t1", Type: "tls-config", Field: "key", Line: 2, Msg: "open " + key + tail},
		{NodeID: "t1", Type: "tls-config", Field: "ca", Line: 2, Msg: "open " + ca + tail},
	}
	if got := g.Warnings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("warnings:\n%+v\nwant:\n%+v", got, want)
	}

	if err := os.WriteFile(ca, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, _ = flows.Parse([]byte(`[{"id":"t1","type":"tls-config","ca":` + strconv.Quote(ca) + `}]`))
	_, err = engine.New(engine.Options{}).Compile(doc)
	if err == nil || !strings.Contains(err.Error(), `node "t1" (tls-config) field "ca": no PEM certificate found`) {
		t.Fatalf("a CA file that is not PEM: %v", err)
	}
}

// TestRemoteTLSMissingCA: against mosquitto over TLS, a flow whose
// tls-config names a CA file that is not there deploys; the tls-config
// reports the file as its error, the connection fails with an error naming
// the file (logged), and the mqtt nodes show "disconnected". Once the file
// is there, deploying again connects.
func TestRemoteTLSMissingCA(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeTestCA(t, dir)
	m := mosquittotest.Start(t, mosquittotest.Options{Extra: "cafile " + ca + "\ncertfile " + cert + "\nkeyfile " + key + "\n"})
	missing := filepath.Join(dir, "elsewhere", "ca.pem")
	flow := `[` + brokerNode("b1", m.Port, 4, `,"usetls":true,"tls":"t1"`) + `,
{"id":"t1","type":"tls-config","ca":` + strconv.Quote(missing) + `,"verifyservercert":true},
{"id":"i1","type":"mqtt-in","topic":"tls/test","qos":"1","datatype":"utf8","broker":"b1","wires":[]},
{"id":"o1","type":"mqtt-out","topic":"tls/test","qos":"1","broker":"b1","wires":[]}]`
	s := startRemoteStack(t, flow, engine.OutboxOptions{})
	if w := s.rt.Graph().Warnings(); len(w) != 1 || w[0].NodeID != "t1" || w[0].Field != "ca" || !strings.Contains(w[0].Msg, missing) {
		t.Fatalf("warnings %+v, want one on t1 field ca naming %s", w, missing)
	}
	s.waitStatus("o1", "disconnected")
	s.waitStatus("i1", "disconnected")
	log := s.log.String()
	for _, want := range []string{
		// the deploy's warning
		`level=WARN msg="flow warning" node=t1 type=tls-config field=ca line=2 warning="open ` + missing + `: no such file or directory`,
		// the node's error, as Node-RED's tls-config logs it on load
		`msg="node error" node=t1 type=tls-config msgid="" error="tls-config \"t1\": open ` + missing + `: no such file or directory"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks\n%s\nlog:\n%s", want, log)
		}
	}
	// the connection's failure (paho puts "network Error : " before it)
	failed := false
	for _, l := range strings.Split(log, "\n") {
		failed = failed || strings.Contains(l, `level=WARN msg="remote broker: cannot connect, retrying"`) &&
			strings.Contains(l, `url=mqtts://127.0.0.1:`+strconv.Itoa(m.Port)) &&
			strings.HasSuffix(l, `tls-config \"t1\": open `+missing+`: no such file or directory"`)
	}
	if !failed {
		t.Errorf("no log line says the connection failed naming the file:\n%s", log)
	}
	if t.Failed() {
		return
	}
	// The file arrives; a full deploy reads it and connects.
	if err := os.MkdirAll(filepath.Dir(missing), 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(missing, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s.deploy(flow, engine.DeployFull)
	if w := s.rt.Graph().Warnings(); len(w) != 0 {
		t.Fatalf("warnings after the file arrived: %+v", w)
	}
	s.waitStatus("o1", "connected")
}
