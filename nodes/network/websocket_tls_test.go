package network

import (
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/runnel-io/runnel/editor"
	"github.com/runnel-io/runnel/engine"
)

// TestWebSocketClientTLS: a websocket-client reaches a wss:// server
// through its tls-config's CA, both ways; without that CA (the system's
// CAs) the certificate is refused and nothing is received; with
// "verify server certificate" off it connects.
func TestWebSocketClientTLS(t *testing.T) {
	got := make(chan string, 4)
	up := websocket.Upgrader{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello over tls"))
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			got <- string(b)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "wss://" + strings.TrimPrefix(srv.URL, "https://") + "/x"
	flow := func(tls string) string {
		return fmt.Sprintf(`[
 %s
 {"id":"c","type":"websocket-client","path":%q,"tls":"%s","wholemsg":"false","hb":""},
 {"id":"in","type":"websocket in","server":"","client":"c","wires":[["sink"]]},
 {"id":"src","type":"test-source","wires":[["out"]]},
 {"id":"out","type":"websocket out","server":"","client":"c","wires":[]},
 {"id":"sink","type":"test-sink","wires":[]}
]`, tls, url, map[bool]string{true: "tls1", false: ""}[tls != ""])
	}

	t.Run("with the CA", func(t *testing.T) {
		f := newHTTPFlow(t, flow(fmt.Sprintf(`{"id":"tls1","type":"tls-config","ca":%q,"verifyservercert":true},`, ca)), editor.NodeRoutesOptions{})
		if msgs := f.WaitReceived("sink", 1); msgs[0].Payload != "hello over tls" {
			t.Fatalf("got %#v", msgs[0].Payload)
		}
		waitStatus(t, f, "out", "connected")
		f.Inject("src", engine.NewMessage("", "back"))
		if s := <-got; s != "back" {
			t.Fatalf("server got %q", s)
		}
	})
	t.Run("verification off", func(t *testing.T) {
		f := newHTTPFlow(t, flow(`{"id":"tls1","type":"tls-config","verifyservercert":false},`), editor.NodeRoutesOptions{})
		if msgs := f.WaitReceived("sink", 1); msgs[0].Payload != "hello over tls" {
			t.Fatalf("got %#v", msgs[0].Payload)
		}
	})
	t.Run("without the CA", func(t *testing.T) {
		f := newHTTPFlow(t, flow(""), editor.NodeRoutesOptions{})
		waitStatus(t, f, "out", "error")
		if n := len(f.Received("sink")); n != 0 {
			t.Fatalf("received %d messages from a server whose certificate no CA signed", n)
		}
	})
}
