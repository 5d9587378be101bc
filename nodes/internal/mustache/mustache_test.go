package mustache

import (
	"errors"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
)

// testCtx is a Context whose root view is a JSON object or a Go value,
// with a map of fallback values (standing in for Node-RED's env.X).
type testCtx struct {
	root     Value
	fallback map[string]string
}

func (c testCtx) Lookup(name string) (Value, bool) {
	var r renderer
	p := newPart(name)
	var v Value
	ok := r.prop(&c.root, &p, false, &v)
	return v, ok
}

func (c testCtx) Fallback(name string) Value {
	if s, ok := c.fallback[name]; ok {
		return StringValue(s)
	}
	return Value{}
}

func jsonCtx(t *testing.T, doc string) testCtx {
	t.Helper()
	v, err := engine.ParseJSON([]byte(doc))
	if err != nil {
		t.Fatalf("bad test data %s: %v", doc, err)
	}
	return testCtx{root: ValueOf(v)}
}

const data = `{
	"name": "Chris", "company": "<b>GitHub</b>",
	"num": 22.0, "float": 1.10, "big": 1e21, "small": 0.0000001, "neg": -3.5, "int": 12345678901,
	"t": true, "f": false, "zero": 0, "empty": "", "nul": null,
	"obj": {"a": 1, "b": {"c": "deep"}},
	"list": [{"n": "a"}, {"n": "b"}],
	"nums": [1, 2.5, 3],
	"mixed": [1, "x", null, true, {"k": 1}, [2, 3], "<&>"],
	"emptyList": [],
	"nested": [[1, 2], [3]],
	"readings": [{"t": 21.5}, {"t": 22}],
	"html": "a/b=c` + "`" + `d'e\"f&g<h>",
	"multi": "line1\nline2\t\\end",
	"unicode": "h\u00e9\ud83d\ude00!",
	"odd": {"a-b": 1, "x y": 2, "we*ird": 3, "": 4, "a.b": 5, "@at": 6, "#": 7, "length": 8},
	"env": {"FROM_MSG": "msg wins"}
}`

// renderTests are templates with what mustache.js renders for them.
var renderTests = []struct {
	name, tmpl, want string
	data             string // JSON root view; data when empty
}{
	// Interpolation and escaping.
	{"plain text", "Hello, world!", "Hello, world!", ""},
	{"empty template", "", "", ""},
	{"name", "Hello {{name}}!", "Hello Chris!", ""},
	{"escaped", "{{company}}", "&lt;b&gt;GitHub&lt;&#x2F;b&gt;", ""},
	{"triple", "{{{company}}}", "<b>GitHub</b>", ""},
	{"ampersand", "{{&company}}", "<b>GitHub</b>", ""},
	{"escape map", "{{html}}", "a&#x2F;b&#x3D;c&#x60;d&#39;e&quot;f&amp;g&lt;h&gt;", ""},
	{"raw map", "{{{html}}}", "a/b=c`d'e\"f&g<h>", ""},
	{"spaces in tags", "{{ name }}|{{{ company }}}|{{& company }}|{{# t }}y{{/ t }}", "Chris|<b>GitHub</b>|<b>GitHub</b>|y", ""},
	{"backslash and newline kept", "{{multi}}", "line1\nline2\t\\end", ""},
	{"unicode", "{{unicode}}", "hé😀!", ""},

	// Numbers and other types as String() writes them.
	{"integer float", "{{num}}", "22", ""},
	{"decimal", "{{float}}", "1.1", ""},
	{"big", "{{big}}", "1e+21", ""},
	{"small", "{{small}}", "1e-7", ""},
	{"negative", "{{neg}}", "-3.5", ""},
	{"large integer", "{{int}}", "12345678901", ""},
	{"booleans and zero", "{{t}} {{f}} {{zero}}", "true false 0", ""},
	{"null missing empty", "[{{nul}}][{{missing}}][{{empty}}][{{{nul}}}][{{{missing}}}]", "[][][][][]", ""},
	{"object", "{{obj}}", "[object Object]", ""},
	{"array", "{{nums}}", "1,2.5,3", ""},
	{"mixed array escaped", "{{mixed}}", "1,x,,true,[object Object],2,3,&lt;&amp;&gt;", ""},
	{"mixed array raw", "{{{mixed}}}", "1,x,,true,[object Object],2,3,<&>", ""},
	{"empty array", "[{{emptyList}}]", "[]", ""},
	{"root", "{{.}}", "[object Object]", ""},

	// Dotted names.
	{"dotted", "{{obj.b.c}}", "deep", ""},
	{"array index", "{{readings.0.t}} {{readings.1.t}}", "21.5 22", ""},
	{"index out of range", "[{{readings.2.t}}]", "[]", ""},
	{"non-canonical index", "[{{readings.01.t}}]", "[]", ""},
	{"array length", "{{readings.length}} {{emptyList.length}}", "2 0", ""},
	{"string length", "{{name.length}} {{unicode.length}}", "5 5", ""},
	{"string index", "{{name.0}}{{name.4}}[{{name.5}}]", "Cs[]", ""},
	{"broken chain", "[{{obj.x.y}}][{{nul.x}}][{{name.x}}][{{num.x}}]", "[][][][]", ""},
	{"odd keys", "{{odd.a-b}} {{odd.x y}} {{odd.we*ird}} {{odd.}} {{odd.@at}} {{odd.#}} {{odd.length}}", "1 2 3 4 6 7 8", ""},
	{"dot-key unreachable", "[{{odd.a.b}}]", "[]", ""},
	{"leading dot is not dotted", "[{{.name}}]", "[]", ""},
	{"dotted through section value", "{{#obj}}{{b.c}}{{/obj}}", "deep", ""},

	// Sections.
	{"list of objects", "{{#list}}<{{n}}>{{/list}}", "<a><b>", ""},
	{"falls back to root", "{{#list}}{{name}}-{{n}} {{/list}}", "Chris-a Chris-b ", ""},
	{"implicit iterator", "{{#nums}}{{.}};{{/nums}}", "1;2.5;3;", ""},
	{"implicit iterator objects", "{{#list}}{{.}}{{/list}}", "[object Object][object Object]", ""},
	{"nested arrays", "{{#nested}}({{#.}}{{.}}{{/.}}){{/nested}}", "(12)(3)", ""},
	{"object pushed", "{{#obj}}{{a}}{{b.c}}{{/obj}}", "1deep", ""},
	{"nested fallback", "{{#list}}{{#obj}}{{n}}{{a}}{{/obj}}{{/list}}", "a1b1", ""},
	{"truthy and falsy", "{{#t}}yes{{/t}}{{#f}}F{{/f}}{{#zero}}Z{{/zero}}{{#empty}}E{{/empty}}{{#nul}}N{{/nul}}{{#missing}}M{{/missing}}", "yes", ""},
	{"empty list renders nothing", "[{{#emptyList}}x{{/emptyList}}]", "[]", ""},
	{"string pushed", "{{#name}}[{{.}}]{{/name}}", "[Chris]", ""},
	{"number pushed", "{{#num}}[{{.}}]{{/num}}", "[22]", ""},
	{"no primitive props without dots", "[{{#name}}{{length}}{{/name}}]", "[]", ""},
	{"array length without dots", "{{#nested}}{{length}}{{/nested}}", "21", ""},
	{"true keeps context", "{{#t}}{{.}}{{/t}}", "[object Object]", ""},
	{"root pushed", "{{#.}}{{name}}{{/.}}", "Chris", ""},
	{"escaped implicit", "{{#mixed}}{{.}}|{{/mixed}}", "1|x||true|[object Object]|2,3|&lt;&amp;&gt;|", ""},
	{"spec context precedence (mustache.js falls back)", "{{#a}}{{b.c}}{{/a}}", "ERROR", `{"a":{"b":{}},"b":{"c":"ERROR"}}`},
	{"spec deeply nested", "{{#a}}{{one}}{{#b}}{{one}}{{two}}{{one}}{{/b}}{{/a}}", "1121", `{"a":{"one":1},"b":{"two":2}}`},
	{"list of strings", "{{#s}}{{.}}{{/s}}|{{#s}}{{{.}}}{{/s}}", "&lt;a&gt;&amp;|<a>&", `{"s":["<a>","&"]}`},
	{"list of falsy elements pushed", "{{#l}}({{.}}){{/l}}", "(0)()(false)()", `{"l":[0,"",false,null]}`},

	// Inverted sections.
	{"inverted", "{{^t}}T{{/t}}{{^f}}F{{/f}}{{^zero}}Z{{/zero}}{{^empty}}E{{/empty}}{{^nul}}N{{/nul}}{{^missing}}M{{/missing}}{{^list}}L{{/list}}{{^obj}}O{{/obj}}{{^emptyList}}EL{{/emptyList}}", "FZENMEL", ""},
	{"inverted keeps context", "{{^f}}{{name}}{{/f}}", "Chris", ""},

	// Comments.
	{"inline comment", "12345{{! Comment Block! }}67890", "1234567890", ""},
	{"multiline comment", "12345{{!\n  This is a\n  multi-line comment...\n}}67890", "1234567890", ""},
	{"standalone comment", "Begin.\n{{! Comment Block! }}\nEnd.", "Begin.\nEnd.", ""},
	{"indented standalone comment", "Begin.\n  {{! Indented Comment Block! }}\nEnd.", "Begin.\nEnd.", ""},
	{"multiline standalone comment", "Begin.\n{{!\nSomething's going on here...\n}}\nEnd.", "Begin.\nEnd.", ""},
	{"comment with text is not standalone", "  12 {{! 34 }}\n", "  12 \n", ""},

	// Standalone lines.
	{"standalone section lines", "| This Is\n{{#t}}\n|\n{{/t}}\n| A Line", "| This Is\n|\n| A Line", ""},
	{"indented standalone lines", "| This Is\n  {{#t}}\n|\n  {{/t}}\n| A Line", "| This Is\n|\n| A Line", ""},
	{"standalone inverted", "| This Is\n{{^f}}\n|\n{{/f}}\n| A Line", "| This Is\n|\n| A Line", ""},
	{"inline section", " | {{#t}}\t|\t{{/t}} | \n", " | \t|\t | \n", ""},
	{"indented inline sections", " {{#t}}YES{{/t}}\n {{#t}}GOOD{{/t}}\n", " YES\n GOOD\n", ""},
	{"CRLF standalone", "|\r\n{{#t}}\r\n{{/t}}\r\n|", "|\r\n|", ""},
	{"standalone without previous line", "  {{#t}}\n#{{/t}}\n/", "#\n/", ""},
	{"standalone without newline", "#{{#t}}\n/\n  {{/t}}", "#\n/\n", ""},
	{"value tag is not standalone", "  {{name}}\n", "  Chris\n", ""},
	{"empty value tag line is not standalone", "a\n  {{missing}}\nb", "a\n  \nb", ""},
	{"two tags on a line", "a\n {{#t}} {{/t}} \nb", "a\nb", ""},
	{"list over lines", "{{#list}}\n- {{n}}\n{{/list}}\n", "- a\n- b\n", ""},

	// Set delimiters.
	{"delimiters", "{{=<% %>=}}(<%name%>)", "(Chris)", ""},
	{"special delimiters", "({{=[ ]=}}[name])", "(Chris)", ""},
	{"delimiters triple", "{{=<% %>=}}<%{company}%>|<%&company%>|<%company%>", "<b>GitHub</b>|<b>GitHub</b>|&lt;b&gt;GitHub&lt;&#x2F;b&gt;", ""},
	{"delimiters in sections", "[\n{{#t}}\n  {{name}}\n  |name|\n{{/t}}\n\n{{= | | =}}\n|#t|\n  {{name}}\n  |name|\n|/t|\n]\n", "[\n  Chris\n  |name|\n\n  {{name}}\n  Chris\n]\n", ""},
	{"standalone delimiters", "Begin.\n{{=@ @=}}\nEnd.", "Begin.\nEnd.", ""},
	{"indented standalone delimiters", "Begin.\n  {{=@ @=}}\nEnd.", "Begin.\nEnd.", ""},
	{"delimiters back", "{{=<% %>=}}<%name%><%={{ }}=%>{{name}}", "ChrisChris", ""},

	// Partials render empty: Node-RED passes none.
	{"partial", "[{{>p}}]", "[]", ""},
	{"standalone partial", "a\n  {{> p}}\nb", "a\nb", ""},

	// Odd names.
	{"empty name", "{{}}|{{odd.}}", "|4", ""},
	{"empty key at root", "{{}}", "4", `{"":4}`},
	{"name with space", "{{odd.x y}}", "2", ""},

	// Fallback (Node-RED's env.X) after the message.
	{"fallback", "{{{env.HOME}}}|{{env.FROM_MSG}}|{{env.NONE}}", "/home/nr|msg wins|", ""},
	{"fallback in section", "{{#list}}{{{env.HOME}}}{{/list}}", "/home/nr/home/nr", ""},
	{"fallback escaped", "{{env.HTML}}|{{{env.HTML}}}", "&lt;i&gt;|<i>", ""},
	{"fallback section", "{{#env.HOME}}{{.}}{{/env.HOME}}", "&#x2F;home&#x2F;nr", ""},
}

func TestRender(t *testing.T) {
	for _, tc := range renderTests {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.data
			if doc == "" {
				doc = data
			}
			ctx := jsonCtx(t, doc)
			ctx.fallback = map[string]string{"env.HOME": "/home/nr", "env.FROM_MSG": "env", "env.HTML": "<i>"}
			tmpl, err := Parse(tc.tmpl)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.tmpl, err)
			}
			got := string(tmpl.Render(nil, ctx))
			if got != tc.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tc.tmpl, got, tc.want)
			}
			// Decoded Go values render the same as RawJSON.
			v, _ := engine.ParseJSON([]byte(doc))
			ctx.root = ValueOf(v.(engine.RawJSON).Decode())
			if got := string(tmpl.Render(nil, ctx)); got != tc.want {
				t.Errorf("Render(%q) on decoded values\n got %q\nwant %q", tc.tmpl, got, tc.want)
			}
		})
	}
}

func TestRenderGoValues(t *testing.T) {
	root := map[string]any{
		"int":   5,
		"i64":   int64(-7),
		"f32":   float32(0.5),
		"buf":   []byte("h\xc3\xa9/<"),
		"bad":   []byte{'a', 0xff, 'b'},
		"arr":   []any{1.0, nil, "x", []byte("y"), map[string]any{}},
		"raw":   engine.RawJSON(`{"a":[1,{"b":"c"}]}`),
		"inner": map[string]any{"raw": engine.RawJSON(`[10,20]`)},
	}
	ctx := testCtx{root: ValueOf(root)}
	tests := []struct{ tmpl, want string }{
		{"{{int}} {{i64}} {{f32}}", "5 -7 0.5"},
		{"{{buf}}|{{{buf}}}|{{buf.length}}|{{buf.0}}", "hé&#x2F;&lt;|hé/<|5|104"},
		{"{{{bad}}}", "a\uFFFDb"},
		{"{{arr}}|{{arr.length}}|{{arr.2}}", "1,,x,y,[object Object]|5|x"},
		{"{{raw.a.1.b}}|{{#raw.a}}({{.}}){{/raw.a}}", "c|(1)([object Object])"},
		{"{{inner.raw.1}}|{{#inner.raw}}{{.}};{{/inner.raw}}", "20|10;20;"},
		{"{{#buf}}{{length}}{{/buf}}", "5"},
	}
	for _, tc := range tests {
		tmpl, err := Parse(tc.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(tmpl.Render(nil, ctx)); got != tc.want {
			t.Errorf("Render(%q)\n got %q\nwant %q", tc.tmpl, got, tc.want)
		}
	}
}

func TestEscapeRootStrings(t *testing.T) {
	ctx := jsonCtx(t, `{"s":"a\"b\\c\nd\te\rf\fg\bh","o":{"s":"x\ny"},"l":["p\nq"],"t":true}`)
	ctx.fallback = map[string]string{"env.X": "e\nv"}
	opts := Options{EscapeRootStrings: true}
	tests := []struct{ tmpl, want string }{
		{`{{{s}}}`, `a"b\\c\nd\te\rf\fg\bh`},
		{`{{s}}`, `a&quot;b\\c\nd\te\rf\fg\bh`},
		{`{{#t}}{{{s}}}{{/t}}`, `a"b\\c\nd\te\rf\fg\bh`},           // true does not push
		{`{{^f}}{{{s}}}{{/f}}`, `a"b\\c\nd\te\rf\fg\bh`},           // nor does an inverted section
		{"{{#o}}{{{s}}}{{/o}}", "x\ny"},                            // a pushed view: not escaped
		{"{{#o}}{{{t}}}{{/o}}", "true"},                            // not a string
		{"{{{o.s}}}", `x\ny`},                                      // dotted from the root: escaped
		{`{{#s}}{{{.}}}{{/s}}`, `a"b\\c\nd\te\rf\fg\bh`},           // the escaped string was pushed
		{"{{#l}}{{{.}}}{{/l}}|{{{l}}}", "p\nq|p\nq"},               // arrays are not strings
		{"{{{env.X}}}", "e\nv"},                                    // fallback values: not escaped
		{"{{#o}}{{{l}}}{{/o}}", "p\nq"},                            // found on the root from inside a push
		{"{{#o}}{{{env.X}}}{{/o}}{{#o}}{{{s}}}{{/o}}", "e\nvx\ny"}, // stack first
	}
	for _, tc := range tests {
		tmpl, err := Parse(tc.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(tmpl.RenderWith(nil, ctx, opts)); got != tc.want {
			t.Errorf("RenderWith(%q)\n got %q\nwant %q", tc.tmpl, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		tmpl string
		line int
		msg  string // a substring of the message
	}{
		{"{{#a}}x", 1, `unclosed section "a"`},
		{"a\n{{#items}}\n{{#b}}{{/b}}\n", 2, `unclosed section "items": {{#items}} is never closed`},
		{"a\n{{#a}}\n{{/b}}", 3, `unclosed section "a" (opened on line 2): it is closed by {{/b}}`},
		{"x\n\n{{/a}}", 3, `closing tag {{/a}} has no open section`},
		{"a\n{{name", 2, `unclosed tag "{{name": no "}}" after it`},
		{"{{{name}}", 1, `unclosed tag "{{{name}}"`},
		{"ok {{a}}\n{{=<%=}}", 2, `invalid delimiters "<%"`},
		{"{{#a}}{{#b}}{{/b}}", 1, `unclosed section "a"`},
		{"{{=<% %>=}}\n<%#a%>{{/a}}", 2, `unclosed section "a"`},
		{"{{#a}}{{/a }}{{/a}}", 1, `closing tag {{/a}} has no open section`},
		{"{{{ name } }}", 1, `unclosed tag`},
		{"{{==}}", 1, `invalid delimiters ""`},
	}
	for _, tc := range tests {
		_, err := Parse(tc.tmpl)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a *SyntaxError", tc.tmpl, err)
			continue
		}
		if se.Line != tc.line || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("Parse(%q) = %q (line %d), want line %d and %q", tc.tmpl, se.Msg, se.Line, tc.line, tc.msg)
		}
		if !strings.HasPrefix(err.Error(), "line ") {
			t.Errorf("Error() = %q, want it to start with the line", err.Error())
		}
	}
}

func TestTemplateConcurrent(t *testing.T) {
	tmpl, err := Parse("{{#list}}{{n}}{{/list}} {{name}}")
	if err != nil {
		t.Fatal(err)
	}
	ctx := jsonCtx(t, data)
	done := make(chan string)
	for i := 0; i < 8; i++ {
		go func() {
			var out string
			for j := 0; j < 200; j++ {
				out = string(tmpl.Render(nil, ctx))
			}
			done <- out
		}()
	}
	for i := 0; i < 8; i++ {
		if got := <-done; got != "ab Chris" {
			t.Errorf("got %q", got)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	tmpl, err := Parse("{{{topic}}}: temperature changed to {{payload.temperature}} °C")
	if err != nil {
		b.Fatal(err)
	}
	ctx := jsonCtx(&testing.T{}, `{"topic":"sensors/kitchen/temperature","payload":{"temperature":22.5,"humidity":40}}`)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = tmpl.Render(buf[:0], &ctx)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"{{a}}", "{{#a}}{{/a}}", "{{=<% %>=}}<%a%>", "{{{a}}}", "  {{!x}}\n", "{{#a}}\n{{.}}\n{{/a}}"} {
		f.Add(s)
	}
	ctx := testCtx{root: ValueOf(map[string]any{"a": []any{1.0, "x"}})}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := Parse(s)
		if err != nil {
			return
		}
		_ = tmpl.Render(nil, ctx)
	})
}
