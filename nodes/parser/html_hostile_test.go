package parser

import (
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// TestHTMLHostile checks the bounds: each hostile input ends in a result
// or an error against the message, in bounded time.
func TestHTMLHostile(t *testing.T) {
	deepAtLimit := strings.Repeat("<div>", htmlMaxDepth-20) + strings.Repeat("<span>"+strings.Repeat("x", 300)+"</span>", (htmlMaxInput-6*htmlMaxDepth)/314)
	for _, tc := range []struct {
		name, cfg, in string
		wantErr       string // "" for a result
	}{
		{"deep", `{"tag":"div","ret":"text"}`, strings.Repeat("<div>", 100000) + "x", "parsing HTML: html: open stack of elements exceeds 512 nodes"},
		{"deep formatting", `{"tag":"b","ret":"text"}`, strings.Repeat("<b>", 100000), "parsing HTML: html: open stack of elements exceeds 512 nodes"},
		{"too large", `{"tag":"p","ret":"text"}`, strings.Repeat("x", htmlMaxInput+1), "HTML of 16777217 bytes is more than 16777216"},
		{"many matches", `{"tag":"*","ret":"text"}`, strings.Repeat("<i></i>", htmlMaxMatches), "the selector matches more than 100000 elements"},
		{"many matches positional", `{"tag":"i:first","ret":"text"}`, strings.Repeat("<i></i>", htmlMaxMatches+1), "the selector matches more than 100000 elements"},
		{"quadratic output", `{"tag":"*","ret":"html"}`, strings.Repeat("<div>", 500) + strings.Repeat("y", 200000), "the results are more than 67108864 bytes"},
		{"deep at the limit", `{"tag":"span:first","ret":"text"}`, deepAtLimit, ""},
		{"unclosed optional ends", `{"tag":"li:last","ret":"text"}`, "<ul>" + strings.Repeat("<li>x", 50000), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nodetest.Chain(t, `{"type":"html",`+tc.cfg[1:], HTMLType)
			start := time.Now()
			f.Inject("src", engine.NewMessage("", tc.in))
			t.Logf("%s: %v", tc.name, time.Since(start))
			errs := f.Errors()
			if tc.wantErr == "" {
				if len(errs) != 0 || len(f.Received("sink")) != 1 {
					t.Fatalf("errors %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Err.Error() != tc.wantErr || len(f.Received("sink")) != 0 {
				t.Fatalf("errors %v, want %q", errs, tc.wantErr)
			}
		})
	}
}

// TestHTMLInvalidUTF8 checks that bytes that are not UTF-8 become U+FFFD
// as Node's Buffer.toString does, one for each byte of a broken sequence.
func TestHTMLInvalidUTF8(t *testing.T) {
	for _, in := range []any{"<p>a\xff\xfeb</p>", []byte("<p>a\xff\xfeb</p>")} {
		f := nodetest.Chain(t, `{"type":"html","tag":"p","ret":"text"}`, HTMLType)
		f.Inject("src", engine.NewMessage("", in))
		got := f.Received("sink")
		if len(got) != 1 {
			t.Fatalf("%q: errors %v", in, f.Errors())
		}
		if s := string(engine.MarshalJSON(got[0].Payload)); s != `["a\ufffd\ufffdb"]` && s != "[\"a\uFFFD\uFFFDb\"]" {
			t.Errorf("%q: got %s", in, s)
		}
	}
}

// TestHTMLConfig checks the deploy errors.
func TestHTMLConfig(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"type":"html","tag":"p["}`:          "tag",
		`{"type":"html","tag":"p","ret":"x"}`: "ret",
		`{"type":"html","tag":"p","as":"x"}`:  "as",
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, cfg), nodetest.Options{}, HTMLType)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", cfg, err)
		}
	}
}
