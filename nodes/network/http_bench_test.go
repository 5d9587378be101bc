package network

import (
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/runnel-io/runnel/editor"
)

// BenchmarkHTTPInResponse measures requests per second through http in →
// change → http response, served as runnel serve serves node routes,
// against a bare Go handler on the same kind of server, with the same
// keep-alive clients (b.RunParallel), in the same run:
//
//	go test -run '^$' -bench HTTPInResponse -benchmem -count 5 ./nodes/network/
func BenchmarkHTTPInResponse(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "hello "+r.URL.Query().Get("name"))
	})
	run := func(b *testing.B, h http.Handler, url string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := editor.NewServer(h, editor.DefaultServerLimits(), nil)
		go srv.Serve(ln)
		defer srv.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		target := "http://" + ln.Addr().String() + url
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := client.Get(target)
				if err != nil {
					b.Error(err)
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(body) != "hello w" {
					b.Errorf("got %q", body)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
	b.Run("bare-go-handler", func(b *testing.B) { run(b, bare, "/hello?name=w") })
	b.Run("http-in-change-response", func(b *testing.B) {
		f := newHTTPFlow(b, `[
 {"id":"in","type":"http in","url":"/hello","method":"get","wires":[["ch"]]},
 {"id":"ch","type":"change","rules":[{"t":"set","p":"payload","pt":"msg","to":"\"hello \" & req.query.name","tot":"jsonata"}],"wires":[["out"]]},
 {"id":"out","type":"http response","statusCode":"","headers":{},"wires":[]}
]`, editor.NodeRoutesOptions{MaxRequests: 1024})
		run(b, f.routes, "/hello?name=w")
	})
}
