package parser

import (
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// TestCSV compares the csv node with Node-RED 4.1.15's (see nrCase).
func TestCSV(t *testing.T) {
	runNRCases(t, CSVType, []nrCase{
		{name: "rfc header row, one message per row", cfg: `{"spec": "rfc", "sep": ",", "hdrin": true, "multi": "one", "strings": true, "hdrout": "none", "temp": "", "skip": "0"}`,
			in: []string{`{"payload": "a,b,c\n1,\"x,y\",0x1A\n  ,+5,-01\n"}`},
			want: []string{`SEND {"columns":"a,b,c","parts":{"id":"ID","index":0,"count":2},"payload":{"a":1,"b":"x,y","c":26}}`,
				`SEND {"columns":"a,b,c","parts":{"id":"ID","index":1,"count":2},"payload":{"a":0,"b":"+5","c":"-01"}}`}},
		{name: "rfc mult", cfg: `{"spec": "rfc", "sep": ",", "hdrin": true, "multi": "mult", "strings": true, "hdrout": "none", "temp": ""}`,
			in:   []string{`{"payload": "a,b\r\n1,2\r\n3,4"}`},
			want: []string{`SEND {"columns":"a,b","payload":[{"a":1,"b":2},{"a":3,"b":4}]}`}},
		{name: "rfc no header: col1", cfg: `{"spec": "rfc", "sep": ",", "multi": "mult", "strings": true, "hdrout": "none", "temp": ""}`,
			in:   []string{`{"payload": "1,2,3\n4,,\"\"\n"}`},
			want: []string{`SEND {"columns":"col1,col2,col3","payload":[{"col1":1,"col2":2,"col3":3},{"col1":4}]}`}},
		{name: "rfc empty and null included", cfg: `{"spec": "rfc", "sep": ",", "multi": "mult", "strings": true, "hdrout": "none", "temp": "", "include_empty_strings": true, "include_null_values": true}`,
			in:   []string{`{"payload": "1,,\"\",x\n"}`},
			want: []string{`SEND {"columns":"col1,col2,col3,col4","payload":[{"col1":1,"col2":null,"col3":"","col4":"x"}]}`}},
		{name: "rfc strings not parsed", cfg: `{"spec": "rfc", "sep": ",", "multi": "mult", "strings": false, "temp": "a,b"}`,
			in:   []string{`{"payload": "1,2.5"}`},
			want: []string{`SEND {"columns":"a,b","payload":[{"a":"1","b":"2.5"}]}`}},
		{name: "rfc template with gaps", cfg: `{"spec": "rfc", "sep": ",", "multi": "mult", "strings": true, "temp": "a,,c"}`,
			in:   []string{`{"payload": "1,2,3,4"}`},
			want: []string{`SEND {"columns":"a,c","payload":[{"a":1,"c":3}]}`}},
		{name: "rfc quotes", cfg: `{"spec": "rfc", "sep": ",", "multi": "mult", "temp": "a,b,c"}`,
			in:   []string{`{"payload": "\"say \"\"hi\"\"\",\"line\nbreak\",x\"y\"z\n\"ab\"cd,e"}`},
			want: []string{`SEND {"columns":"a,b,c","payload":[{"a":"say \"hi\"","b":"line\nbreak","c":"x\"y\"z"},{"a":"ab\"cd","b":"e"}]}`}},
		{name: "rfc tab separator", cfg: `{"spec": "rfc", "sep": "\\t", "multi": "mult", "hdrin": true}`,
			in:   []string{`{"payload": "a\tb\n1\t2"}`},
			want: []string{`SEND {"columns":"a,b","payload":[{"a":1,"b":2}]}`}},
		{name: "rfc skip lines", cfg: `{"spec": "rfc", "sep": ",", "multi": "mult", "hdrin": true, "skip": "2"}`,
			in:   []string{`{"payload": "junk\nmore junk\nx,y\n1,2\n"}`},
			want: []string{`SEND {"columns":"x,y","payload":[{"x":1,"y":2}]}`}},
		{name: "rfc numbers", cfg: `{"spec": "rfc", "sep": ",", "multi": "mult", "temp": "a,b,c,d,e,f,g,h"}`,
			in:   []string{`{"payload": "1e3,.5,5.,Infinity,-7,0,00,1_0"}`},
			want: []string{`SEND {"columns":"a,b,c,d,e,f,g,h","payload":[{"a":1000,"b":0.5,"c":5,"d":null,"e":-7,"f":0,"g":"00","h":"1_0"}]}`}},
		{name: "rfc object to csv with template", cfg: `{"spec": "rfc", "sep": ",", "temp": "a,b,c", "hdrout": "all", "ret": "\\n"}`,
			in: []string{`{"payload": {"a": 1, "b": "x,y", "c": "q\"t", "d": 4}}`, `{"payload": [{"a": 1}, {"b": true, "c": null}]}`},
			want: []string{`SEND {"columns":"a,b,c","payload":"a,b,c\n1,\"x,y\",\"q\"\"t\"\n"}`,
				`SEND {"columns":"a,b,c","payload":"a,b,c\n1,,\n,true,null\n"}`}},
		{name: "rfc object to csv without template", cfg: `{"spec": "rfc", "sep": ",", "temp": "", "hdrout": "all", "ret": "\\r\\n"}`,
			in:   []string{`{"payload": [{"b": 1, "a": 2, "o": {"x": 1}}, {"a": 3, "b": 4, "c": 5}]}`},
			want: []string{`SEND {"columns":"b,a,o","payload":"b,a,o\r\n1,2,\"{\"\"x\"\":1}\"\r\n4,3,\r\n"}`}},
		{name: "rfc array of arrays", cfg: `{"spec": "rfc", "sep": ";", "temp": "", "hdrout": "none"}`,
			in: []string{`{"payload": [[1, "a;b", null], [2, [3, 4]]]}`, `{"payload": [1, 2, "x"]}`},
			want: []string{`SEND {"columns":"","payload":"1;\"a;b\";null\r\n2;[3,4]\r\n"}`,
				`SEND {"columns":"","payload":"1;2;x\r\n"}`}},
		{name: "rfc msg.columns", cfg: `{"spec": "rfc", "sep": ",", "temp": "", "hdrout": "all"}`,
			in:   []string{`{"payload": {"a": 1, "b": 2, "c": 3}, "columns": "c,a"}`},
			want: []string{`SEND {"columns":"c,a","payload":"c,a\r\n3,1\r\n"}`}},
		{name: "rfc hdrout once and reset", cfg: `{"spec": "rfc", "sep": ",", "temp": "a,b", "hdrout": "once"}`,
			in: []string{`{"payload": {"a": 1, "b": 2}}`, `{"payload": {"a": 3, "b": 4}}`, `{"reset": true}`, `{"payload": {"a": 5, "b": 6}}`},
			want: []string{`SEND {"columns":"a,b","payload":"a,b\r\n1,2\r\n"}`,
				`SEND {"columns":"a,b","payload":"3,4\r\n"}`,
				`SEND {"columns":"a,b","payload":"a,b\r\n5,6\r\n"}`}},
		{name: "rfc no payload passes, reset is dropped", cfg: `{"spec": "rfc", "sep": ","}`,
			in:   []string{`{"foo": 1}`, `{"reset": true}`},
			want: []string{`SEND {"foo":1}`}},
		{name: "rfc number payload is an error", cfg: `{"spec": "rfc", "sep": ","}`,
			in:   []string{`{"payload": 5}`},
			want: []string{`ERROR This node only handles CSV strings or js objects.`}},
		{name: "rfc strict header error", cfg: `{"spec": "rfc", "sep": ",", "hdrin": true, "multi": "mult"}`,
			in:   []string{`{"payload": "a\"b,c\n1,2"}`},
			want: []string{`ERROR Quote found in the middle of an unquoted field`}},
		{name: "rfc parts sequence one", cfg: `{"spec": "rfc", "sep": ",", "hdrin": true, "multi": "one", "temp": ""}`,
			in: []string{`{"payload": "a,b", "parts": {"id": "P", "index": 0, "count": 3}}`, `{"payload": "1,2", "parts": {"id": "P", "index": 1, "count": 3}}`, `{"payload": "3,4", "parts": {"id": "P", "index": 2, "count": 3}}`},
			want: []string{`SEND {"columns":"a,b","parts":{"id":"P","index":0,"count":2},"payload":{"a":1,"b":2}}`,
				`SEND {"columns":"a,b","complete":true,"parts":{"id":"P","index":1,"count":2},"payload":{"a":3,"b":4}}`}},
		{name: "rfc parts sequence mult", cfg: `{"spec": "rfc", "sep": ",", "hdrin": true, "multi": "mult", "temp": ""}`,
			in:   []string{`{"payload": "a,b", "parts": {"id": "P", "index": 0, "count": 3}}`, `{"payload": "1,2", "parts": {"id": "P", "index": 1, "count": 3}}`, `{"payload": "3,4", "parts": {"id": "P", "index": 2, "count": 3}}`},
			want: []string{`SEND {"columns":"a,b","payload":[{"a":1,"b":2},{"a":3,"b":4}]}`}},
		{name: "rfc empty array", cfg: `{"spec": "rfc", "sep": ",", "hdrout": "none"}`,
			in:   []string{`{"payload": []}`},
			want: []string{`SEND {"columns":"","payload":"\r\n"}`}},
		{name: "rfc duplicate columns", cfg: `{"spec": "rfc", "sep": ",", "hdrin": true, "multi": "mult"}`,
			in:   []string{`{"payload": "a,b,a\n1,2,3"}`},
			want: []string{`SEND {"columns":"a,b,a","payload":[{"a":3,"b":2}]}`}},
		{name: "rfc cr only lines", cfg: `{"spec": "rfc", "sep": ",", "temp": "a", "multi": "mult"}`,
			in:   []string{`{"payload": "1\r2\r\r3"}`},
			want: []string{`SEND {"columns":"a","payload":[{"a":1},{"a":2},{"a":3}]}`}},
		{name: "rfc buffer is an object", cfg: `{"spec": "rfc", "sep": ","}`,
			in: []string{`{"_buf": "hi"}`},
			want: []string{`WARN No columns template specified for object -> CSV.`,
				`SEND {"columns":"0,1","payload":"104,105\r\n"}`}},
		{name: "legacy defaults newline", cfg: `{"sep": ",", "temp": "a,b", "hdrout": "none", "multi": "mult"}`,
			in: []string{`{"payload": {"a": 1, "b": 2}}`, `{"payload": "1,2\n3,04"}`},
			want: []string{`SEND {"columns":"a,b","payload":"1,2\n"}`,
				`SEND {"columns":"a,b","payload":[{"a":1,"b":2},{"a":3,"b":"04"}]}`}},
	})
}

// TestCSVBounds checks that hostile input is refused, not built.
func TestCSVBounds(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"csv","spec":"rfc","multi":"mult"}`, CSVType)
	f.Inject("src", engine.NewMessage("", strings.Repeat(",", 1_000_000)))
	if errs := f.Errors(); len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "more than 100000 cells") {
		t.Errorf("errors %v", errs)
	}
	if got := f.Received("sink"); len(got) != 0 {
		t.Errorf("sent %d", len(got))
	}
}

func TestCSVConfig(t *testing.T) {
	for cfg, field := range map[string]string{
		`{"spec":"rfc","temp":"a\"b"}`: "temp",
		`{"multi":"many"}`:             "multi",
		`{"hdrout":"twice"}`:           "hdrout",
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, `{"type":"csv",`+cfg[1:]), nodetest.Options{}, CSVType)
		if err == nil || !strings.Contains(err.Error(), `"`+field+`"`) {
			t.Errorf("%s: error %v, want one about %s", cfg, err, field)
		}
	}
}
