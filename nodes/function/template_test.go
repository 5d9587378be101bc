package function

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
)

// templateJSON returns a template node's JSON with the given template and
// extra properties.
func templateJSON(t testing.TB, tmpl string, extra string) string {
	t.Helper()
	q := string(engine.MarshalJSON(tmpl))
	if extra != "" {
		extra = "," + extra
	}
	return `{"type":"template","template":` + q + extra + `}`
}

func mustJSON(t testing.TB, s string) any {
	t.Helper()
	v, err := engine.ParseJSON([]byte(s))
	if err != nil {
		t.Fatalf("ParseJSON(%s): %v", s, err)
	}
	return v
}

// runTemplate sends one message through a template node and returns what
// came out (nil if nothing) and the errors the node reported.
func runTemplate(t *testing.T, nodeJSON string, m *engine.Message) (*engine.Message, []engine.ErrorEvent) {
	t.Helper()
	f := nodetest.Chain(t, nodeJSON, TemplateType)
	f.Inject("src", m)
	got := f.Received("sink")
	if len(got) > 1 {
		t.Fatalf("got %d messages, want at most 1", len(got))
	}
	if len(got) == 0 {
		return nil, f.Errors()
	}
	return got[0], f.Errors()
}

func TestTemplateRender(t *testing.T) {
	t.Setenv("RUNNEL_TEMPLATE_TEST", "from env")
	reading := `{"temperature":22.0,"readings":[{"t":21.5},{"t":22}],"items":[{"name":"a","value":1},{"name":"b","value":2.50}],"none":[],"text":"a/b=c` + "`" + `d\"<e>"}`
	tests := []struct {
		name    string
		tmpl    string
		topic   string
		payload any
		props   map[string]any
		want    string
	}{
		{"reference", "{{{topic}}}: temperature changed to {{payload.temperature}} °C", "sensors/kitchen", reading, nil,
			"sensors/kitchen: temperature changed to 22 °C"},
		{"escaped topic", "{{topic}}", "sensors/kitchen", nil, nil, "sensors&#x2F;kitchen"},
		{"html escaping", "{{payload.text}}|{{{payload.text}}}", "", reading, nil,
			"a&#x2F;b&#x3D;c&#x60;d&quot;&lt;e&gt;|a/b=c`d\"<e>"},
		{"array index", "{{payload.readings.0.t}} {{payload.readings.1.t}}", "", reading, nil, "21.5 22"},
		{"section over objects", "{{#payload.items}}{{name}}={{value}};{{/payload.items}}", "", reading, nil, "a=1;b=2.5;"},
		{"section falls back to msg", "{{#payload.items}}{{topic}}:{{name}} {{/payload.items}}", "t", reading, nil, "t:a t:b "},
		{"inverted", "{{^payload.none}}none{{/payload.none}}{{^payload.items}}no items{{/payload.items}}", "", reading, nil, "none"},
		{"missing", "[{{payload.nope}}][{{nope}}][{{payload.readings.5.t}}][{{flow.x}}][{{global.y}}]", "", reading, nil, "[][][][][]"},
		{"number", "{{payload}}", "", 22.0, nil, "22"},
		{"decoded number", "{{payload}}", "", 0.30000000000000004, nil, "0.30000000000000004"},
		{"string payload", "This is the payload: {{payload}} !", "", "<hi>", nil, "This is the payload: &lt;hi&gt; !"},
		{"object", "{{payload}}", "", reading, nil, "[object Object]"},
		{"array", "{{payload.readings}}|{{payload.none}}", "", reading, nil, "[object Object],[object Object]|"},
		{"null", "[{{payload}}]", "", nil, nil, "[]"},
		{"buffer", "{{payload}}", "", []byte("raw/bytes"), nil, "raw&#x2F;bytes"},
		// String(buffer) is Buffer.toString('utf8'), as node prints it.
		{"buffer not UTF-8", "{{payload}}|{{{payload}}}", "", []byte("\xC0\xAF<"), nil, "\uFFFD\uFFFD&lt;|\uFFFD\uFFFD<"},
		{"decoded map", "{{payload.a.1}}", "", map[string]any{"a": []any{1.0, "x"}}, nil, "x"},
		{"other properties", "{{qos}} {{retain}} {{custom.k}}", "", nil,
			map[string]any{"qos": 1.0, "retain": false, "custom": map[string]any{"k": "v"}}, "1 false v"},
		{"env", "{{env.RUNNEL_TEMPLATE_TEST}}|{{env.RUNNEL_NOT_SET}}|{{env.NR_NODE_ID}}", "", nil, nil, "from env||n1"},
		{"msg beats env", "{{env.RUNNEL_TEMPLATE_TEST}}", "", nil, map[string]any{"env": map[string]any{"RUNNEL_TEMPLATE_TEST": "msg"}}, "msg"},
		{"comment and standalone lines", "Items:\n{{! list them }}\n{{#payload.items}}\n- {{name}}\n{{/payload.items}}\n", "", reading, nil, "Items:\n- a\n- b\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := tc.payload
			if s, ok := payload.(string); ok && strings.HasPrefix(s, "{") {
				payload = mustJSON(t, s)
			}
			m := engine.NewMessage(tc.topic, payload)
			for k, v := range tc.props {
				m.SetProp(k, v)
			}
			got, errs := runTemplate(t, templateJSON(t, tc.tmpl, ""), m)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs[0].Err)
			}
			if got == nil {
				t.Fatal("no message")
			}
			s, ok := got.Payload.(string)
			if !ok {
				t.Fatalf("payload is %T, want string", got.Payload)
			}
			if s != tc.want {
				t.Errorf("got  %q\nwant %q", s, tc.want)
			}
		})
	}
}

func TestTemplateMsgID(t *testing.T) {
	m := engine.NewMessage("", nil)
	got, _ := runTemplate(t, templateJSON(t, "{{_msgid}}", ""), m)
	if got == nil || got.Payload != m.ID() {
		t.Fatalf("got %v, want %q", got, m.ID())
	}
}

func TestTemplateOutputJSON(t *testing.T) {
	tmpl := `{"topic":"{{{topic}}}","t":{{payload.t}},"s":"{{{payload.s}}}","list":[{{#payload.l}}{{.}},{{/payload.l}}0]}`
	payload := mustJSON(t, `{"t":21.5,"s":"line1\nline2\ttab \\ backslash","l":[1,2]}`)
	got, errs := runTemplate(t, templateJSON(t, tmpl, `"output":"json"`), engine.NewMessage("a/b", payload))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs[0].Err)
	}
	want := map[string]any{"topic": "a/b", "t": 21.5, "s": "line1\nline2\ttab \\ backslash", "list": []any{1.0, 2.0, 0.0}}
	if _, ok := got.Payload.(engine.RawJSON); !ok {
		t.Errorf("payload is %T, want engine.RawJSON", got.Payload)
	}
	if !engine.Equal(got.Payload, want) {
		t.Errorf("payload = %s, want %s", engine.MarshalJSON(got.Payload), engine.MarshalJSON(want))
	}

	// Scalars parse to scalars.
	got, _ = runTemplate(t, templateJSON(t, "{{payload}}", `"output":"json"`), engine.NewMessage("", 42.0))
	if got == nil || got.Payload != 42.0 {
		t.Errorf("scalar: got %#v, want 42", got)
	}
}

func TestTemplateOutputJSONInvalid(t *testing.T) {
	for _, tmpl := range []string{`{"a": {{payload}}`, `{"a":"{{payload}}"}`, ``} {
		// A payload with a double quote breaks the JSON: Node-RED does not
		// escape quotes either.
		got, errs := runTemplate(t, templateJSON(t, tmpl, `"output":"json"`), engine.NewMessage("", `say "hi"`))
		if tmpl == `{"a":"{{payload}}"}` {
			// {{payload}} is HTML-escaped, so the quotes become &quot; and the
			// JSON is valid.
			if got == nil || !engine.Equal(got.Payload, map[string]any{"a": "say &quot;hi&quot;"}) {
				t.Errorf("%s: got %v, errors %v", tmpl, got, errs)
			}
			continue
		}
		if got != nil {
			t.Errorf("%s: a message was sent: %v", tmpl, got.Payload)
		}
		if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "not valid JSON") || errs[0].NodeID != "n1" {
			t.Errorf("%s: errors = %v", tmpl, errs)
		}
	}
	got, errs := runTemplate(t, templateJSON(t, `{"a":"{{{payload}}}"}`, `"output":"json"`), engine.NewMessage("", `say "hi"`))
	if got != nil || len(errs) != 1 {
		t.Errorf("unescaped quote: got %v, errors %v", got, errs)
	}
}

func TestTemplatePlain(t *testing.T) {
	got, _ := runTemplate(t, templateJSON(t, "{{payload}} stays", `"syntax":"plain"`), engine.NewMessage("", "x"))
	if got == nil || got.Payload != "{{payload}} stays" {
		t.Errorf("plain: got %#v", got)
	}
	got, _ = runTemplate(t, templateJSON(t, `{"a":[1,"{{x}}"]}`, `"syntax":"plain","output":"json"`), engine.NewMessage("", "x"))
	if got == nil || !engine.Equal(got.Payload, map[string]any{"a": []any{1.0, "{{x}}"}}) {
		t.Errorf("plain json: got %#v", got)
	}
	// A plain template is not parsed, so it may be anything.
	if _, err := nodetest.Deploy(t, nodetest.ChainJSON(t, templateJSON(t, "{{#a}", `"syntax":"plain"`)), nodetest.Options{}, TemplateType); err != nil {
		t.Errorf("plain template with braces: %v", err)
	}
}

func TestTemplateField(t *testing.T) {
	got, _ := runTemplate(t, templateJSON(t, "alerts/{{payload.room}}", `"field":"topic"`),
		engine.NewMessage("in", mustJSON(t, `{"room":"kitchen"}`)))
	if got == nil || got.Topic != "alerts/kitchen" {
		t.Fatalf("field topic: got %#v", got)
	}
	if !engine.Equal(got.Payload, map[string]any{"room": "kitchen"}) {
		t.Errorf("payload changed: %s", engine.MarshalJSON(got.Payload))
	}

	got, _ = runTemplate(t, templateJSON(t, "{{payload.t}} °C", `"field":"payload.text"`),
		engine.NewMessage("", mustJSON(t, `{"t":20}`)))
	if got == nil || !engine.Equal(got.Payload, map[string]any{"t": 20.0, "text": "20 °C"}) {
		t.Errorf("field payload.text: got %s", engine.MarshalJSON(got.Payload))
	}

	got, _ = runTemplate(t, templateJSON(t, "x", `"field":"out.deep[1]"`), engine.NewMessage("", nil))
	v, ok := got.Get(engine.MustParsePath("out.deep[1]"))
	if !ok || v != "x" {
		t.Errorf("field out.deep[1]: got %v %v", v, ok)
	}

	// An empty field means payload, as in Node-RED.
	got, _ = runTemplate(t, templateJSON(t, "y", `"field":""`), engine.NewMessage("", nil))
	if got == nil || got.Payload != "y" {
		t.Errorf("empty field: got %#v", got)
	}
}

func TestTemplateMsgTemplate(t *testing.T) {
	m := engine.NewMessage("t", 5.0)
	m.SetProp("template", "from msg: {{payload}}")
	got, _ := runTemplate(t, templateJSON(t, "", ""), m)
	if got == nil || got.Payload != "from msg: 5" {
		t.Errorf("empty template: got %#v", got)
	}

	m = engine.NewMessage("t", 5.0)
	m.SetProp("template", "from msg: {{payload}}")
	got, _ = runTemplate(t, templateJSON(t, "node: {{payload}}", ""), m)
	if got == nil || got.Payload != "node: 5" {
		t.Errorf("node template wins: got %#v", got)
	}

	// No template at all renders an empty string.
	got, _ = runTemplate(t, templateJSON(t, "", ""), engine.NewMessage("t", 5.0))
	if got == nil || got.Payload != "" {
		t.Errorf("no template: got %#v", got)
	}

	// A msg.template that does not parse is an error, with its line.
	m = engine.NewMessage("t", 5.0)
	m.SetProp("template", "ok\n{{#x}}")
	got, errs := runTemplate(t, templateJSON(t, "", ""), m)
	if got != nil || len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), `msg.template: line 2: unclosed section "x"`) {
		t.Errorf("bad msg.template: got %v, errors %v", got, errs)
	}

	m = engine.NewMessage("t", 5.0)
	m.SetProp("template", 7.0)
	got, errs = runTemplate(t, templateJSON(t, "", ""), m)
	if got != nil || len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "must be a string") {
		t.Errorf("number msg.template: got %v, errors %v", got, errs)
	}

	// The same node with changing msg.template values.
	f := nodetest.Chain(t, templateJSON(t, "", ""), TemplateType)
	for i, tmpl := range []string{"a{{payload}}", "b{{payload}}", "b{{payload}}"} {
		m := engine.NewMessage("", float64(i))
		m.SetProp("template", tmpl)
		f.Inject("src", m)
	}
	var outs []string
	for _, m := range f.Received("sink") {
		outs = append(outs, m.Payload.(string))
	}
	if strings.Join(outs, " ") != "a0 b1 b2" {
		t.Errorf("changing msg.template: %v", outs)
	}
}

func TestTemplateConfigErrors(t *testing.T) {
	tests := []struct {
		name, node string
		field, msg string
	}{
		{"unclosed section", templateJSON(t, "Hello\n{{#payload.items}}\n{{name}}", ""), "template", `line 2: unclosed section "payload.items"`},
		{"mismatched close", templateJSON(t, "{{#a}}\n{{/b}}", ""), "template", `line 2: unclosed section "a" (opened on line 1)`},
		{"unopened close", templateJSON(t, "x {{/a}}", ""), "template", `line 1: closing tag {{/a}} has no open section`},
		{"unclosed tag", templateJSON(t, "a\nb\n{{payload", ""), "template", `line 3: unclosed tag "{{payload"`},
		{"yaml", templateJSON(t, "a: 1", `"output":"yaml"`), "output", `"yaml" is not one of "str", "json"`},
		{"bad context key", templateJSON(t, "x", `"fieldType":"flow","field":"#:(nowhere)::x"`), "field", "nowhere"},
		{"bad output", templateJSON(t, "x", `"output":"xml"`), "output", `"xml" is not one of`},
		{"bad syntax", templateJSON(t, "x", `"syntax":"handlebars"`), "syntax", `"handlebars" is not one of`},
		{"bad field", templateJSON(t, "x", `"field":"payload..x"`), "field", "invalid property path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, tc.node), nodetest.Options{}, TemplateType)
			var probs flows.Problems
			if !errors.As(err, &probs) || len(probs) != 1 {
				t.Fatalf("deploy error = %v, want one problem", err)
			}
			p := probs[0]
			if p.NodeID != "n1" || p.Type != "template" || p.Field != tc.field || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("problem = %+v\nwant field %q and %q", p, tc.field, tc.msg)
			}
		})
	}
}

// With fieldType flow or global the result goes to the context key, the
// message on unchanged.
func TestTemplateContextTarget(t *testing.T) {
	for _, scope := range []string{"flow", "global"} {
		f := nodetest.Chain(t, templateJSON(t, "<{{payload}}>", `"fieldType":"`+scope+`","field":"page.html","output":"str"`), TemplateType)
		f.Inject("src", engine.NewMessage("t", "p"))
		got := f.Received("sink")
		if len(got) != 1 || got[0].Payload != "p" {
			t.Fatalf("%s: sent %v", scope, got)
		}
		h := f.SourceHost("src")
		c := h.FlowContext()
		if scope == "global" {
			c = h.GlobalContext()
		}
		if v, _ := c.Get("page"); string(engine.MarshalJSON(v)) != `{"html":"<p>"}` {
			t.Errorf("%s.page = %s", scope, engine.MarshalJSON(v))
		}
	}
	f := nodetest.Chain(t, templateJSON(t, `{"n":{{payload}}}`, `"fieldType":"flow","field":"#:(memory)::doc","output":"json"`), TemplateType)
	f.Inject("src", engine.NewMessage("t", 5.0))
	if v, _ := f.SourceHost("src").FlowContext().Get("doc"); string(engine.MarshalJSON(v)) != `{"n":5}` {
		t.Errorf("flow.doc = %s", engine.MarshalJSON(v))
	}
}

func TestTemplateDefaults(t *testing.T) {
	f := nodetest.Chain(t, `{"type":"template"}`, TemplateType)
	f.Inject("src", engine.NewMessage("", "p"))
	got := f.Received("sink")
	if len(got) != 1 || got[0].Payload != "This is the payload: p !" {
		t.Errorf("default template: %v", got)
	}
}

func TestTemplateConcurrent(t *testing.T) {
	f := nodetest.Chain(t, templateJSON(t, "{{topic}}={{#payload.l}}{{.}}{{/payload.l}}", ""), TemplateType)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				f.Inject("src", engine.NewMessage("x", mustJSON(t, `{"l":[1,2,3]}`)))
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	got := f.Received("sink")
	if len(got) != 800 {
		t.Fatalf("got %d messages", len(got))
	}
	for _, m := range got {
		if m.Payload != "x=123" {
			t.Fatalf("payload %q", m.Payload)
		}
	}
}

// mixedTemplate is the template node of the mixed reference flow.
const mixedTemplate = `{"alert":"{{kind}}","device":"{{payload.device}}","temperature":{{payload.temperature}},"fahrenheit":{{payload.fahrenheit}},"ts":{{payload.ts}}}`

// TestTemplateMixedPayloads renders the mixed flow's template for payloads
// that take every path of a JSON object lookup: numbers JavaScript writes
// differently from their JSON text, escaped keys and strings, nested
// values, repeated keys, large objects and payloads that are not objects.
func TestTemplateMixedPayloads(t *testing.T) {
	var big strings.Builder
	big.WriteString("{")
	for i := range 1000 {
		big.WriteString(`"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i) + ",")
	}
	big.WriteString(`"device":"last","temperature":-1.5e-7}`)
	out := func(device, temperature, fahrenheit, ts string) string {
		return `{"alert":"alert","device":"` + device + `","temperature":` + temperature + `,"fahrenheit":` + fahrenheit + `,"ts":` + ts + `}`
	}
	tests := []struct {
		name    string
		payload any // JSON text is parsed as the json node parses it
		want    string
	}{
		{"reference", `{"temperature":1234,"fahrenheit":2253.2,"device":"dev3"}`, out("dev3", "1234", "2253.2", "")},
		{"numbers", `{"temperature":1.0,"fahrenheit":1e21,"device":"d","ts":-0}`, out("d", "1", "1e+21", "0")},
		{"more numbers", `{"temperature":0.1e1,"fahrenheit":1E-7,"ts":123456789012345678}`, out("", "1", "1e-7", "123456789012345680")},
		{"zeros and fractions", `{"temperature":-0.0,"fahrenheit":0.000001,"ts":10.50}`, out("", "0", "0.000001", "10.5")},
		{"escaped key", `{"dev\u0069ce":"esc","temperature":-12}`, out("esc", "-12", "", "")},
		{"nested", `{"device":{"a":1},"temperature":[1,2.50,"x"],"fahrenheit":null,"ts":true}`, out("[object Object]", "1,2.5,x", "", "true")},
		{"escaped string", `{"device":"d\u00e9v \"<3\" /é\n","temperature":"1/2"}`, out("dév &quot;&lt;3&quot; &#x2F;é\n", "1&#x2F;2", "", "")},
		{"repeated key", `{"device":"first","temperature":1,"device":"second"}`, out("second", "1", "", "")},
		{"large", big.String(), out("last", "-1.5e-7", "", "")},
		{"raw JSON with space", engine.RawJSON(" {\n \"device\" : \"d\" ,\t\"temperature\" : 5 ,\"ts\":[ ] } "), out("d", "5", "", "")},
		{"raw JSON invalid UTF-8", engine.RawJSON("{\"device\":\"a\xffb\",\"ts\":\"\xc3\"}"), out("a\xffb", "", "", "\xc3")},
		{"raw JSON escaped key after", engine.RawJSON(`{"temperature":1,"dev\u0069ce":"esc","device":"plain"}`), out("esc", "1", "", "")},
		{"string payload", "dev3", out("", "", "", "")},
		{"number payload", 42.0, out("", "", "", "")},
		{"buffer payload", []byte(`{"device":"b"}`), out("", "", "", "")},
		{"null payload", nil, out("", "", "", "")},
		{"decoded payload", map[string]any{"device": "m", "temperature": 1.5, "ts": int64(7)}, out("m", "1.5", "", "7")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := tc.payload
			if s, ok := payload.(string); ok && strings.HasPrefix(s, "{") {
				payload = mustJSON(t, s)
			}
			m := engine.NewMessage("sensors/dev3/data", payload)
			m.SetProp("kind", "alert")
			got, errs := runTemplate(t, templateJSON(t, mixedTemplate, `"field":"payload","fieldType":"msg","format":"handlebars","syntax":"mustache","output":"str"`), m)
			if len(errs) > 0 || got == nil {
				t.Fatalf("no message, errors %v", errs)
			}
			if got.Payload != tc.want {
				t.Errorf("got  %q\nwant %q", got.Payload, tc.want)
			}
		})
	}
}

// BenchmarkTemplateRender renders templates for readings kept as JSON
// bytes, as they arrive from the json node: "reference" is the example
// flow's template, "mixed" the template node of the mixed reference flow
// (mqtt in -> json -> switch -> function -> change -> rbe -> template).
//
//	go test -run '^$' -bench TemplateRender -benchmem ./nodes/function/
func BenchmarkTemplateRender(b *testing.B) {
	b.Run("reference", func(b *testing.B) {
		benchTemplate(b, "{{{topic}}}: temperature changed to {{payload.temperature}} °C",
			`{"temperature":22.5,"humidity":41,"battery":0.93}`, nil,
			"sensors/dev3/data: temperature changed to 22.5 °C")
	})
	b.Run("mixed", func(b *testing.B) {
		benchTemplate(b,
			mixedTemplate,
			`{"temperature":1234,"fahrenheit":2253.2,"device":"dev3"}`, map[string]any{"kind": "alert"},
			`{"alert":"alert","device":"dev3","temperature":1234,"fahrenheit":2253.2,"ts":}`)
	})
}

// benchTemplate renders tmpl for a message on sensors/dev3/data with the
// JSON payload and the extra top-level properties, and checks the result.
func benchTemplate(b *testing.B, tmpl, payloadJSON string, props map[string]any, want string) {
	node, err := newTemplate(&TemplateConfig{
		Field: "payload", FieldType: "msg", Format: "handlebars", Syntax: "mustache", Output: "str",
		Template: tmpl,
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	n := node.(*templateNode)
	payload := mustJSON(b, payloadJSON)
	m := engine.NewMessage("sensors/dev3/data", payload)
	for k, v := range props {
		m.SetProp(k, v)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Payload = payload
		if err := n.Receive(context.Background(), m, engine.Output{}); err != nil {
			b.Fatal(err)
		}
	}
	if m.Payload != want {
		b.Fatalf("rendered %q", m.Payload)
	}
}
