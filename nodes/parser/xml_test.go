package parser

import (
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// TestXML compares the xml node with Node-RED 4.1.15's (see nrCase).
func TestXML(t *testing.T) {
	runNRCases(t, XMLType, []nrCase{
		{name: "attributes, text and repeated children", cfg: `{"property": "payload", "attr": "", "chr": ""}`,
			in:   []string{`{"payload": "<?xml version=\"1.0\"?><root a=\"1\" b=\"x&amp;y\"><item id=\"1\">one</item><item>two</item><empty/><ws>  </ws><mixed>x<b>1</b>y</mixed></root>"}`},
			want: []string{`SEND {"payload":{"root":{"$":{"a":"1","b":"x&y"},"item":[{"_":"one","$":{"id":"1"}},"two"],"empty":[""],"ws":["  "],"mixed":[{"_":"xy","b":["1"]}]}}}`}},
		{name: "text with attributes", cfg: `{"property": "payload"}`,
			in:   []string{`{"payload": "<a x=\"1\">text<!-- c --><![CDATA[<raw>]]></a>"}`},
			want: []string{`SEND {"payload":{"a":{"_":"text<raw>","$":{"x":"1"}}}}`}},
		{name: "whitespace between children", cfg: `{"property": "payload"}`,
			in:   []string{`{"payload": "\n<a>\n  <b> 1 </b>\n  <c/>\n</a>\n"}`},
			want: []string{`SEND {"payload":{"a":{"b":[" 1 "],"c":[""]}}}`}},
		{name: "custom keys", cfg: `{"property": "payload", "attr": "@", "chr": "#"}`,
			in:   []string{`{"payload": "<a x=\"1\">t</a>"}`},
			want: []string{`SEND {"payload":{"a":{"#":"t","@":{"x":"1"}}}}`}},
		{name: "namespaces", cfg: `{"property": "payload"}`,
			in:   []string{`{"payload": "<s:Env xmlns:s=\"urn:x\"><s:Body s:id=\"2\">&#65;&lt;</s:Body></s:Env>"}`},
			want: []string{`SEND {"payload":{"s:Env":{"$":{"xmlns:s":"urn:x"},"s:Body":[{"_":"A<","$":{"s:id":"2"}}]}}}`}},
		{name: "empty string", cfg: `{"property": "payload"}`,
			in:   []string{`{"payload": ""}`},
			want: []string{`SEND {"payload":null}`}},
		{name: "errors", cfg: `{"property": "payload"}`,
			in: []string{`{"payload": "<a><b></a>"}`, `{"payload": "not xml"}`, `{"payload": "<a>&foo;</a>"}`},
			// Node-RED's texts are sax's: "Unexpected close tag", "Non-whitespace
			// before first tag.", "Invalid character entity".
			want: []string{"ERROR invalid XML: unexpected close tag </a>",
				"ERROR invalid XML: text data outside of root node",
				"ERROR invalid XML: XML syntax error on line 1: invalid character entity &foo;"}},
		{name: "options explicitArray false", cfg: `{"property": "payload"}`,
			in:   []string{`{"payload": "<a><b>1</b><b>2</b><c>3</c></a>", "options": {"explicitArray": false}}`},
			want: []string{`SEND {"options":{"explicitArray":false,"async":true,"attrkey":"$","charkey":"_"},"payload":{"a":{"b":["1","2"],"c":"3"}}}`}},
		{name: "object to xml", cfg: `{"property": "payload"}`,
			in:   []string{`{"payload": {"root": {"$": {"a": "1", "q": "\"<&>\t\n"}, "item": [{"$": {"id": 1}, "_": "one"}, "two", 3, null, {"x": "y"}], "t": "a<b&c>d\r", "n": 5, "z": null, "e": "", "o": {}, "b": true}}}`},
			want: []string{`SEND {"payload":"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><root a=\"1\" q=\"&quot;&lt;&amp;>&#x9;&#xA;\"><item id=\"1\">one</item><item>two</item><item>3</item><item/><item><x>y</x></item><t>a&lt;b&amp;c&gt;d&#xD;</t><n>5</n><z/><e/><o/><b>true</b></root>"}`}},
		{name: "object with several keys gets a root", cfg: `{"property": "payload"}`,
			in: []string{`{"payload": {"a": 1, "b": [1, 2]}}`, `{"payload": [1, 2]}`, `{"payload": {"x": {"_": "t", "$": {"k": "v"}}}}`},
			want: []string{`SEND {"payload":"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><root><a>1</a><b>1</b><b>2</b></root>"}`,
				`SEND {"payload":"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><root/>"}`,
				`SEND {"payload":"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><x k=\"v\">t</x>"}`}},
		{name: "number is a warning", cfg: `{"property": "payload"}`,
			in: []string{`{"payload": 5}`, `{"foo": 1}`},
			want: []string{`WARN This node only handles xml strings or js objects.`,
				`SEND {"foo":1}`}},
		{name: "other property", cfg: `{"property": "data.x"}`,
			in:   []string{`{"data": {"x": "<a>1</a>"}}`},
			want: []string{`SEND {"data":{"x":{"a":"1"}}}`}},
		{name: "buffer", cfg: `{"property": "payload"}`,
			in: []string{`{"_buf": "<a>1</a>"}`},
			// Node-RED's xmlbuilder throws on the buffer's index keys.
			want: []string{"ERROR Invalid character in name"}},
	})
}

// TestXMLHostile checks the bounds: entity expansion is refused, deep
// nesting is cut off.
func TestXMLHostile(t *testing.T) {
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`
	deep := strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000)
	for name, in := range map[string]string{"billion laughs": laughs, "deep": deep, "invalid UTF-8": "<a>\xff</a>"} {
		f := nodetest.Chain(t, `{"type":"xml"}`, XMLType)
		f.Inject("src", engine.NewMessage("", in))
		errs := f.Errors()
		if name == "invalid UTF-8" {
			if len(errs) != 0 {
				t.Errorf("%s: %v", name, errs[0].Err)
			}
			continue
		}
		if len(errs) != 1 || len(f.Received("sink")) != 0 {
			t.Errorf("%s: errors %v", name, errs)
		} else {
			t.Logf("%s: %v", name, errs[0].Err)
		}
	}
}
