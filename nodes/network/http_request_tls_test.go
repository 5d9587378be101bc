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

	"github.com/runnel-io/runnel/engine"
)

// TestHTTPRequestTLS: http request reaches an https server through its
// tls-config's CA, or with verification off; without the CA (the system's
// CAs) the certificate is refused, reported against the message, and the
// message goes on with the error as its payload, as in Node-RED.
func TestHTTPRequestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "secure "+r.URL.Path)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, tls, want string
		errs            int
	}{
		{"with the CA", fmt.Sprintf(`{"id":"tls1","type":"tls-config","ca":%q,"verifyservercert":true}`, ca), "secure /a", 0},
		{"verification off", `{"id":"tls1","type":"tls-config","verifyservercert":false}`, "secure /a", 0},
		{"without the CA", "", "RequestError: self-signed certificate : URL/a", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			node := fmt.Sprintf(`{"method":"GET","url":%q,"tls":""}`, srv.URL+"/a")
			if c.tls != "" {
				node = fmt.Sprintf(`{"method":"GET","url":%q,"tls":"tls1"},%s`, srv.URL+"/a", c.tls)
			}
			f := requestFlow(t, node, nil)
			f.Inject("src", engine.NewMessage("", nil))
			got := f.WaitReceived("sink", 1)
			p, _ := got[0].Payload.(string)
			if b, ok := got[0].Payload.([]byte); ok {
				p = string(b)
			}
			if want := strings.ReplaceAll(c.want, "URL", srv.URL); p != want {
				t.Fatalf("payload %q, want %q", p, c.want)
			}
			f.Settle()
			if n := len(f.Errors()); n != c.errs {
				t.Fatalf("%d errors, want %d: %v", n, c.errs, f.Errors())
			}
			if c.errs > 0 && prop(got[0], "statusCode") != `"DEPTH_ZERO_SELF_SIGNED_CERT"` {
				t.Fatalf("statusCode %s", prop(got[0], "statusCode"))
			}
		})
	}
}
