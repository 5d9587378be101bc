package function

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/nodes/internal/mustache"
)

// TemplateConfig is the configuration of a template node. The property
// names and defaults are Node-RED's.
type TemplateConfig struct {
	Field     string `json:"field" label:"Property" default:"payload" help:"The message property, or with Property type flow. or global. the context key, the result is written to"`
	FieldType string `json:"fieldType" label:"Property type" default:"msg" options:"msg=msg.,flow=flow.,global=global." help:"msg.: set the message property; flow. or global.: set the context key and send the message on unchanged"`
	Format    string `json:"format" label:"Syntax highlight" default:"handlebars" options:"handlebars=mustache,html=HTML,json=JSON,javascript=JavaScript,css=CSS,markdown=Markdown,python=Python,sql=SQL,yaml=YAML,text=plain text" other:"another language" help:"How the editor colours the template; it does not change the result"`
	Template  string `json:"template" keepempty:"true" label:"Template" kind:"code" lang:"mustache" default:"This is the payload: {{payload}} !" help:"Empty: use msg.template"`
	Syntax    string `json:"syntax" label:"Format" default:"mustache" options:"mustache=Mustache template,plain=Plain text" help:"Mustache template: rendered; Plain text: output as it is"`
	Output    string `json:"output" label:"Output as" default:"str" options:"str=Plain text,json=Parsed JSON" help:"Plain text: the text as rendered; Parsed JSON: the text parsed as JSON (Node-RED's YAML output is not supported)"`
}

// TemplateType is the template node type. It is registered with
// engine.DefaultRegistry; tests may register it with a registry of their own.
var TemplateType = engine.NewType(engine.Meta{
	Type:     "template",
	Icon:     "template.svg",
	Category: "function",
	Inputs:   1,
	Outputs:  1,
	Color:    "rgb(243, 181, 103)",
	Help:     strings.ReplaceAll(templateHelp, "´", "`"),
}, newTemplate)

func init() { engine.Register(TemplateType) }

// templateHelp is the node's help; ´ stands for a backtick.
const templateHelp = `Sets a message property (msg.payload by default) from a template.

The template is [mustache](https://mustache.github.io/mustache.5.html), rendered exactly as Node-RED's
template node renders it (with mustache.js):

* ´{{payload}}´ writes a value HTML-escaped: & < > " ' / = and the backtick become entities.
  ´{{{payload}}}´ and ´{{& payload}}´ write it as it is.
* Dotted names read nested properties and array elements: ´{{payload.readings.0.t}}´.
* ´{{#items}}…{{/items}}´ repeats its contents for each element of an array, and shows them once for any
  other true value; ´{{^items}}…{{/items}}´ shows its contents for a false, missing or empty value.
  Inside a section, ´{{.}}´ is the current element.
* ´{{env.NAME}}´ is the environment variable NAME (a message property of that name wins).
  ´{{flow.x}}´ and ´{{global.x}}´ are flow and global context values (´{{flow[persistent].x}}´ names the store).
* Numbers are written as JavaScript writes them (22, not 22.0), objects as ´[object Object]´, arrays as
  their elements joined by commas, and missing values and null as nothing.

If the node's template is empty, msg.template is used. With **Format** plain, the template is output as it
is, without rendering. With **Output as** json, the result is parsed as JSON (string values from the top
level of the message have backslashes, newlines and tabs escaped first, as in Node-RED); a result that is
not valid JSON is an error. Node-RED's YAML output is not supported.

With **Property type** (fieldType) flow or global, the result is written to that context key (the
**Property**, which may name its store: ´#:(persistent)::page´) instead of the message, and the message is
sent on unchanged.`

// templateNode renders a template for each message.
type templateNode struct {
	h     *engine.Host
	src   string             // the node's template
	tmpl  *mustache.Template // src parsed; nil with plain syntax
	plain bool
	json  bool
	// target is where the result goes: a message property, or a flow or
	// global context key.
	target engine.Ref

	// last caches the most recent msg.template, parsed.
	last atomic.Pointer[mustache.Template]
}

func newTemplate(cfg *TemplateConfig, h *engine.Host) (engine.Node, error) {
	n := &templateNode{h: h, src: cfg.Template, plain: cfg.Syntax == "plain", json: cfg.Output == "json"}
	field := cfg.Field
	if field == "" {
		field = "payload" // as Node-RED: n.field || "payload"
	}
	scope := cfg.FieldType
	if scope == "" {
		scope = engine.TypeMsg
	}
	// Both fields are checked, so that a deploy names both when both are wrong.
	var errs []error
	target, err := engine.ParseRef(scope, field)
	if err != nil {
		errs = append(errs, engine.ErrField("field", err))
	}
	n.target = target
	if !n.plain {
		t, err := mustache.Parse(cfg.Template)
		if err != nil {
			errs = append(errs, engine.ErrFieldf("template", "%v", err))
		}
		n.tmpl = t
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return n, nil
}

// Receive renders the template against m, sets the result and sends m on.
func (n *templateNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	var v any
	var err error
	var mt any
	hasMT := false
	if n.src == "" {
		mt, hasMT = m.Prop("template")
	}
	switch {
	case hasMT:
		// Node-RED uses msg.template only when the node's template is empty.
		v, err = n.msgTemplate(mt, m)
	case n.plain:
		v, err = n.plainOutput(n.src)
	default:
		v, err = n.render(n.tmpl, m)
	}
	if err != nil {
		return err
	}
	if err := n.target.Set(n.h, m, v); err != nil {
		return err
	}
	out.Send(0, m)
	return nil
}

// msgTemplate renders msg.template (or outputs it, with plain syntax).
func (n *templateNode) msgTemplate(mt any, m *engine.Message) (any, error) {
	if n.plain {
		return n.plainOutput(mt)
	}
	s, ok := mt.(string)
	if !ok {
		return nil, fmt.Errorf("msg.template must be a string, not %s", engine.TypeName(mt))
	}
	t, err := n.dynamic(s)
	if err != nil {
		return nil, err
	}
	return n.render(t, m)
}

// plainOutput is the output of an unrendered template: the template
// itself, or parsed for JSON output, as JSON.parse(template) in Node-RED.
func (n *templateNode) plainOutput(text any) (any, error) {
	if !n.json {
		return text, nil
	}
	var b []byte
	switch x := text.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	case nil, bool, float64:
		return x, nil // JSON.parse(String(x)) gives x back
	default:
		return nil, fmt.Errorf("output is json but msg.template is a %s, not JSON text", engine.TypeName(x))
	}
	v, err := engine.ParseJSON(b)
	if err != nil {
		return nil, fmt.Errorf("output is json but the template is not valid JSON (%v): %s", err, preview(b))
	}
	return v, nil
}

// render renders tmpl against m: the result as a string, or parsed when
// the output is JSON.
func (n *templateNode) render(tmpl *mustache.Template, m *engine.Message) (any, error) {
	s := renderScratch.Get().(*templateScratch)
	s.view = messageView{m: m, h: n.h}
	s.buf = tmpl.RenderWith(s.buf[:0], &s.view, mustache.Options{EscapeRootStrings: n.json})
	var v any
	var err error
	if n.json {
		v, err = engine.ParseJSON(s.buf)
		if err != nil {
			err = fmt.Errorf("output is json but the result is not valid JSON (%v): %s", err, preview(s.buf))
		}
	} else {
		v = string(s.buf)
	}
	s.view = messageView{}
	if cap(s.buf) <= 64<<10 {
		renderScratch.Put(s)
	}
	return v, err
}

// dynamic returns msg.template parsed, reusing the last parse when the
// template has not changed.
func (n *templateNode) dynamic(src string) (*mustache.Template, error) {
	if t := n.last.Load(); t != nil && t.Source() == src {
		return t, nil
	}
	t, err := mustache.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("msg.template: %w", err)
	}
	n.last.Store(t)
	return t, nil
}

// preview quotes the start of b for an error message.
func preview(b []byte) string {
	const max = 80
	if len(b) <= max {
		return fmt.Sprintf("%q", b)
	}
	end := max
	for end > 0 && !utf8.RuneStart(b[end]) {
		end--
	}
	return fmt.Sprintf("%q...", b[:end])
}

// templateScratch is the per-render state, recycled so that rendering
// does not allocate beyond its result.
type templateScratch struct {
	buf  []byte
	view messageView
}

var renderScratch = sync.Pool{New: func() any { return &templateScratch{buf: make([]byte, 0, 256)} }}

// messageView is the mustache context of a message, as Node-RED's
// NodeContext: names resolve on the message first, then flow.x and
// global.x on the context, then env.X is the environment variable X.
type messageView struct {
	m *engine.Message
	h *engine.Host
}

// Lookup returns a top-level message property.
func (v *messageView) Lookup(name string) (mustache.Value, bool) {
	switch name {
	case "payload":
		return mustache.ValueOf(v.m.Payload), true
	case "topic":
		return mustache.StringValue(v.m.Topic), true
	case "_msgid":
		return mustache.StringValue(v.m.ID()), true
	}
	x, ok := v.m.Prop(name)
	if !ok {
		return mustache.Value{}, false
	}
	return mustache.ValueOf(x), true
}

// contextName is Node-RED's template syntax for context values:
// flow.key, global.key, with an optional store: flow[persistent].key.
var contextName = regexp.MustCompile(`^(flow|global)(?:\[(\w+)\])?\.(.+)$`)

// contextNameOf matches name against contextName, without running the
// regular expression for the names that cannot match (every name missing
// from a message comes here).
func contextNameOf(name string) []string {
	if !strings.HasPrefix(name, "flow") && !strings.HasPrefix(name, "global") {
		return nil
	}
	return contextName.FindStringSubmatch(name)
}

// Fallback resolves what is not on the message: flow.x and global.x (and
// flow[store].x) from the context, and env.X, with Node-RED's NR_NODE_ID,
// NR_NODE_NAME and NR_FLOW_ID.
func (v *messageView) Fallback(name string) mustache.Value {
	if m := contextNameOf(name); m != nil {
		c := v.h.FlowContext()
		if m[1] == "global" {
			c = v.h.GlobalContext()
		}
		key := m[3]
		if m[2] != "" {
			key = "#:(" + m[2] + ")::" + key
		}
		if x, ok := c.Get(key); ok {
			return mustache.ValueOf(x)
		}
		return mustache.Value{}
	}
	env, ok := strings.CutPrefix(name, "env.")
	if !ok || env == "" {
		return mustache.Value{}
	}
	switch env {
	case "NR_NODE_ID":
		return mustache.StringValue(v.h.ID())
	case "NR_NODE_NAME":
		return mustache.StringValue(v.h.Name())
	case "NR_FLOW_ID":
		if z := v.h.Flow(); z != "" {
			return mustache.StringValue(z)
		}
	}
	if s, ok := os.LookupEnv(env); ok {
		return mustache.StringValue(s)
	}
	return mustache.Value{}
}
