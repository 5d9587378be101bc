package sequence

import (
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

func TestSplit(t *testing.T) {
	sp := func(extra string) string {
		return `{"type":"split","splt":"\\n","spltType":"str","arraySplt":1,"stream":false,"addname":"","property":"payload"` + extra + `}`
	}
	for _, c := range []seqCase{
		{name: "string", node: sp(""), in: []string{`{"payload":"a\nb"}`},
			want: `{"payload":"a","parts":{"ch":"\n","count":2,"id":"ID","index":0,"type":"string"}}` + "\n" +
				`{"payload":"b","parts":{"ch":"\n","count":2,"id":"ID","index":1,"type":"string"}}`},
		{name: "an empty string is one empty part", node: sp(""), in: []string{`{"payload":""}`},
			want: `{"payload":"","parts":{"ch":"\n","count":1,"id":"ID","index":0,"type":"string"}}`},
		{name: "an empty splt is \\n", node: sp(`,"splt":""`), in: []string{`{"payload":"a\nb"}`},
			want: `{"payload":"a","parts":{"ch":"\n","count":2,"id":"ID","index":0,"type":"string"}}` + "\n" +
				`{"payload":"b","parts":{"ch":"\n","count":2,"id":"ID","index":1,"type":"string"}}`},
		{name: "length", node: sp(`,"splt":"2","spltType":"len"`), in: []string{`{"payload":"abc"}`},
			want: `{"payload":"ab","parts":{"ch":"","count":2,"id":"ID","index":0,"len":2,"type":"string"}}` + "\n" +
				`{"payload":"c","parts":{"ch":"","count":2,"id":"ID","index":1,"len":2,"type":"string"}}`},
		{name: "string stream", node: sp(`,"stream":true`), in: []string{`{"payload":"a\nb"}`, `{"payload":"c\n"}`},
			want: `{"payload":"a","parts":{"ch":"\n","id":"ID","index":0,"type":"string"}}` + "\n" +
				`{"payload":"bc","parts":{"ch":"\n","id":"ID","index":1,"type":"string"}}`},
		{name: "buffer ending with the separator", node: sp(""), in: []string{`{"payloadHex":"a\nb\n"}`},
			want: `{"payload":{"type":"Buffer","data":[97]},"parts":{"ch":"\n","count":3,"id":"ID","index":0,"type":"buffer"}}` + "\n" +
				`{"payload":{"type":"Buffer","data":[98]},"parts":{"ch":"\n","count":3,"id":"ID","index":1,"type":"buffer"}}`},
		{name: "buffer by bytes", node: sp(`,"splt":"[44]","spltType":"bin"`), in: []string{`{"payloadHex":"x,y"}`},
			want: `{"payload":{"type":"Buffer","data":[120]},"parts":{"ch":[44],"count":2,"id":"ID","index":0,"type":"buffer"}}` + "\n" +
				`{"payload":{"type":"Buffer","data":[121]},"parts":{"ch":[44],"count":2,"id":"ID","index":1,"type":"buffer"}}`},
		{name: "array in pairs", node: sp(`,"arraySplt":"2"`), in: []string{`{"payload":[1,2,3]}`},
			want: `{"payload":[1,2],"parts":{"count":2,"id":"ID","index":0,"len":2,"type":"array"}}` + "\n" +
				`{"payload":[3],"parts":{"count":2,"id":"ID","index":1,"len":2,"type":"array"}}`},
		{name: "object with addname", node: sp(`,"addname":"topic"`), in: []string{`{"payload":{"b":1,"2":3}}`},
			want: `{"topic":"2","payload":3,"parts":{"count":2,"id":"ID","index":0,"key":"2","type":"object"}}` + "\n" +
				`{"topic":"b","payload":1,"parts":{"count":2,"id":"ID","index":1,"key":"b","type":"object"}}`},
		{name: "existing parts nest", node: sp(""), in: []string{`{"payload":"a","parts":{"id":"x","index":3}}`},
			want: `{"payload":"a","parts":{"ch":"\n","count":1,"id":"ID","index":0,"parts":{"id":"x","index":3},"type":"string"}}`},
		{name: "another property", node: sp(`,"property":"data"`), in: []string{`{"payload":"p","data":[7]}`},
			want: `{"payload":"p","data":7,"parts":{"count":1,"id":"ID","index":0,"len":1,"property":"data","type":"array"}}`},
		{name: "numbers, booleans, null and a missing property send nothing", node: sp(""),
			in: []string{`{"payload":5}`, `{"payload":true}`, `{"payload":null}`, `{"topic":"x"}`}},
	} {
		t.Run(c.name, func(t *testing.T) { runSeq(t, c, SplitType) })
	}
}

// parts keys come in Node-RED's order, which a published msg.parts shows.
func TestSplitPartsKeyOrder(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"split","splt":"2","spltType":"len"}`, SplitType)
	f.Inject("src", engine.NewMessage("", "abc"))
	got := f.Received("sink")
	if len(got) != 2 {
		t.Fatalf("got %d messages", len(got))
	}
	p, _ := got[0].Prop("parts")
	s := string(engine.MarshalJSON(p))
	if want := `","type":"string","ch":"","len":2,"count":2,"index":0}`; !strings.HasPrefix(s, `{"id":"`) || !strings.HasSuffix(s, want) {
		t.Errorf("parts %s, want keys id,type,ch,len,count,index", s)
	}
	if got[0].ID() == got[1].ID() {
		t.Error("the parts share a _msgid")
	}
}

func TestSplitDeployErrors(t *testing.T) {
	for _, c := range []struct{ node, want string }{
		{`{"type":"split","splt":"x","spltType":"len"}`, `field "splt": invalid split length`},
		{`{"type":"split","splt":"0","spltType":"len"}`, `field "splt": invalid split length`},
		{`{"type":"split","splt":"-3","spltType":"len"}`, `field "splt": invalid split length`},
		{`{"type":"split","splt":"[]","spltType":"bin"}`, `field "splt": an empty byte separator`},
		{`{"type":"split","splt":"{}","spltType":"bin"}`, `field "splt": not a JSON array`},
		{`{"type":"split","arraySplt":"0"}`, `field "arraySplt": invalid array split length`},
		{`{"type":"split","arraySplt":"NaN"}`, `field "arraySplt": invalid array split length`},
		{`{"type":"split","spltType":"re"}`, `field "spltType"`},
	} {
		_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, c.node), nodetest.Options{}, SplitType)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: deploy error %v, want %s", c.node, err, c.want)
		}
	}
}

// A huge length is bounded, not an overflow.
func TestSplitHugeLength(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"split","splt":"99999999999999999999","spltType":"len"}`, SplitType)
	f.Inject("src", engine.NewMessage("", "abc"))
	if got := received(f); got != `{"payload":"abc","parts":{"ch":"","count":1,"id":"ID","index":0,"len":2147483647,"type":"string"}}` {
		t.Errorf("got %s", got)
	}
}

func TestSplitConformance(t *testing.T) {
	nodetest.Conformance(t, SplitType, nodetest.ConformanceOptions{})
}
