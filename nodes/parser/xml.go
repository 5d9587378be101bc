package parser

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/runnel-io/runnel/engine"
)

// XMLConfig is the configuration of an xml node. The property names are
// Node-RED's.
type XMLConfig struct {
	Property string `json:"property" label:"Property" default:"payload" help:"The message property to convert"`
	Attr     string `json:"attr" label:"Property name for attributes" help:"Default $"`
	Chr      string `json:"chr" label:"Property name for text content" help:"Default _"`
}

// XMLType is the xml node type.
var XMLType = engine.NewType(engine.Meta{
	Type:     "xml",
	Category: "parser",
	Inputs:   1,
	Outputs:  1,
	Color:    "#DEBD5C",
	Icon:     "parser-xml.svg",
	Help: `Converts a property (msg.payload by default) between an XML string and an object, as Node-RED's **xml** node (xml2js) does.

- **XML to object**: {root: {...}}; each element is an object with its attributes under **$** (*Property name for attributes*), its text under **_** (*Property name for text content*) and its child elements as arrays, even when there is one; an element with text only is that string, an empty one "". Text of whitespace only is dropped. An empty string gives null.
- **Object to XML**: the object's one key names the root element (else it is <root>); $ gives attributes, _ text, arrays repeat an element. The result starts with <?xml version="1.0" encoding="UTF-8" standalone="yes"?> and has no line breaks.
- msg.options is passed to xml2js in Node-RED; Runnel reads these options from it: parsing explicitArray, explicitRoot, explicitCharkey, trim, normalize, ignoreAttrs, mergeAttrs, attrkey, charkey; building rootName, headless, attrkey, charkey. Others (renderOpts.pretty among them) are ignored.

Differences: error texts are Go's encoding/xml's, not sax's. A document's own entities (<!ENTITY>) are not expanded: a reference to one is an error, as in Node-RED, so entity expansion ("billion laughs") cannot happen. Bounds: 64 MiB of input and 1,000 levels of nesting.`,
}, newXML)

func init() { engine.Register(XMLType) }

const (
	xmlMaxInput = 64 << 20
	xmlMaxDepth = 1000
)

var errXMLType = "This node only handles xml strings or js objects."

type xmlNode struct {
	h                *engine.Host
	prop             engine.Path
	attrkey, charkey string
}

func newXML(cfg *XMLConfig, h *engine.Host) (engine.Node, error) {
	p, err := engine.ParsePath(cfg.Property)
	if err != nil {
		return nil, engine.ErrField("property", err)
	}
	return &xmlNode{h: h, prop: p, attrkey: cfg.Attr, charkey: cfg.Chr}, nil
}

// xmlOptions are the xml2js options Runnel reads.
type xmlOptions struct {
	attrkey, charkey                  string
	explicitArray, explicitRoot       bool
	explicitCharkey, trim, normalize  bool
	ignoreAttrs, mergeAttrs, headless bool
	rootName                          string
}

func (n *xmlNode) options(m *engine.Message, parsing bool) (xmlOptions, *object) {
	o := xmlOptions{attrkey: "$", charkey: "_", explicitArray: true, explicitRoot: true, rootName: "root"}
	var opts *object
	if v, ok := m.Prop("options"); ok {
		opts, _ = toJS(v).(*object)
	}
	str := func(k string, def string) string {
		if opts != nil {
			if v, ok := opts.get(k); ok && engine.Truthy(v) {
				return engine.ToString(v)
			}
		}
		return def
	}
	flag := func(k string, def bool) bool {
		if opts != nil {
			if v, ok := opts.get(k); ok {
				return engine.Truthy(v)
			}
		}
		return def
	}
	o.attrkey, o.charkey = str("attrkey", "$"), str("charkey", "_")
	if parsing {
		if n.attrkey != "" {
			o.attrkey = n.attrkey
		}
		if n.charkey != "" {
			o.charkey = n.charkey
		}
	}
	o.explicitArray, o.explicitRoot = flag("explicitArray", true), flag("explicitRoot", true)
	o.explicitCharkey, o.trim, o.normalize = flag("explicitCharkey", false), flag("trim", false), flag("normalize", false)
	o.ignoreAttrs, o.mergeAttrs, o.headless = flag("ignoreAttrs", false), flag("mergeAttrs", false), flag("headless", false)
	o.rootName = str("rootName", "root")
	return o, opts
}

// Receive converts the property, following Node-RED's 70-XML.js.
func (n *xmlNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	v, ok := m.Lookup(n.prop)
	if !ok {
		out.Send(0, m)
		return nil
	}
	switch x := v.(type) {
	case string:
		o, opts := n.options(m, true)
		if opts != nil { // Node-RED adds what it used to msg.options
			opts.set("async", true)
			opts.set("attrkey", o.attrkey)
			opts.set("charkey", o.charkey)
			m.SetProp("options", toValue(opts))
		}
		res, err := parseXML(x, o)
		if err != nil {
			return err
		}
		if err := m.Set(n.prop, toValue(res)); err != nil {
			return err
		}
		out.Send(0, m)
		return nil
	case []byte:
		return errors.New("Invalid character in name") // xmlbuilder on a Buffer's index keys
	}
	if !isObjectJS(v) && !isObjectValue(v) {
		n.h.Logger().Warn(errXMLType)
		return nil
	}
	o, opts := n.options(m, false)
	if opts != nil {
		opts.set("async", false)
		m.SetProp("options", toValue(opts))
	}
	s, err := buildXML(toJS(v), o)
	if err != nil {
		return err
	}
	if err := m.Set(n.prop, s); err != nil {
		return err
	}
	out.Send(0, m)
	return nil
}

// xmlElem is an element being parsed.
type xmlElem struct {
	name  string
	obj   *object
	text  strings.Builder
	cdata bool
}

// parseXML is xml2js's parseString with Node-RED's options.
func parseXML(s string, o xmlOptions) (any, error) {
	if len(s) > xmlMaxInput {
		return nil, fmt.Errorf("XML of %d bytes is more than %d", len(s), xmlMaxInput)
	}
	s = strings.TrimPrefix(strings.ToValidUTF8(s, "\ufffd"), "\ufeff") // as Node's strings hold it
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil } // the text is already decoded
	var stack []*xmlElem
	var result any
	rootSeen := false
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && rootSeen {
				return nil, errors.New("invalid XML: text data outside of root node")
			}
			if len(stack) >= xmlMaxDepth {
				return nil, fmt.Errorf("invalid XML: more than %d levels of nesting", xmlMaxDepth)
			}
			e := &xmlElem{name: qname(t.Name), obj: newObject()}
			e.obj.set(o.charkey, "") // xml2js puts the text key first
			if !o.ignoreAttrs {
				for _, a := range t.Attr {
					if o.mergeAttrs {
						addXMLValue(e.obj, qname(a.Name), a.Value, o.explicitArray)
						continue
					}
					av, ok := e.obj.get(o.attrkey)
					if !ok {
						av = newObject()
						e.obj.set(o.attrkey, av)
					}
					av.(*object).set(qname(a.Name), a.Value)
				}
			}
			stack = append(stack, e)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].name != qname(t.Name) {
				return nil, fmt.Errorf("invalid XML: unexpected close tag </%s>", qname(t.Name))
			}
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			v := closeXML(e, o)
			if len(stack) > 0 {
				addXMLValue(stack[len(stack)-1].obj, e.name, v, o.explicitArray)
				continue
			}
			rootSeen = true
			if o.explicitRoot {
				r := newObject()
				r.set(e.name, v)
				result = r
			} else {
				result = v
			}
		case xml.CharData:
			if len(stack) == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return nil, errors.New("invalid XML: text data outside of root node")
				}
				continue
			}
			stack[len(stack)-1].text.Write(t)
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("invalid XML: unclosed tag <%s>", stack[len(stack)-1].name)
	}
	if !rootSeen {
		return nil, errors.New("invalid XML: no root element")
	}
	return result, nil
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// closeXML is the value of a closed element, as xml2js's closetag makes it.
func closeXML(e *xmlElem, o xmlOptions) any {
	obj := e.obj
	text := e.text.String()
	var emptyStr string
	if strings.TrimSpace(text) == "" && !e.cdata {
		emptyStr = text
		delete(obj.vals, o.charkey)
		obj.keys = obj.keys[1:]
	} else {
		if o.trim {
			text = strings.TrimSpace(text)
		}
		if o.normalize {
			text = strings.Join(strings.Fields(text), " ")
		}
		obj.vals[o.charkey] = text
		if len(obj.keys) == 1 && !o.explicitCharkey {
			return text
		}
	}
	if len(obj.keys) == 0 {
		return emptyStr
	}
	return obj
}

// addXMLValue is xml2js's addValue: the first value in an array (with
// explicitArray) or alone, the next ones appended to an array.
func addXMLValue(obj *object, key string, v any, explicitArray bool) {
	old, ok := obj.get(key)
	if !ok {
		if explicitArray {
			obj.set(key, []any{v})
		} else {
			obj.set(key, v)
		}
		return
	}
	arr, isArr := old.([]any)
	if !isArr {
		arr = []any{old}
	}
	obj.set(key, append(arr[:len(arr):len(arr)], v))
}

// xmlOut writes XML as xmlbuilder does without pretty printing.
type xmlOut struct {
	b     strings.Builder
	depth int
}

// buildXML is xml2js's Builder.buildObject with Node-RED's options.
func buildXML(v any, o xmlOptions) (string, error) {
	rootName := o.rootName
	if obj, ok := v.(*object); ok && len(obj.keys) == 1 && o.rootName == "root" {
		rootName = obj.keys[0]
		v = obj.vals[rootName]
	} else if arr, ok := v.([]any); ok && len(arr) == 1 && o.rootName == "root" {
		rootName = "0"
		v = arr[0]
	}
	var w xmlOut
	if !o.headless {
		w.b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`)
	}
	el, err := newXMLOutElem(rootName)
	if err != nil {
		return "", err
	}
	if err := el.render(v, o, 0); err != nil {
		return "", err
	}
	el.write(&w.b)
	return w.b.String(), nil
}

type xmlOutElem struct {
	name     string
	attrs    []string // name="value" pairs, escaped
	children []any    // string (escaped text) or *xmlOutElem
}

func newXMLOutElem(name string) (*xmlOutElem, error) {
	if !validXMLName(name) {
		return nil, errors.New("Invalid character in name")
	}
	return &xmlOutElem{name: name}, nil
}

func (e *xmlOutElem) child(name string) (*xmlOutElem, error) {
	c, err := newXMLOutElem(name)
	if err != nil {
		return nil, err
	}
	e.children = append(e.children, c)
	return c, nil
}

func (e *xmlOutElem) txt(v any) {
	s := jsString(v)
	if s != "" {
		e.children = append(e.children, escapeXMLText(s))
	}
}

func jsString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	return engine.ToString(v)
}

// render is xml2js's render.
func (e *xmlOutElem) render(v any, o xmlOptions, depth int) error {
	if depth > xmlMaxDepth {
		return fmt.Errorf("more than %d levels of nesting", xmlMaxDepth)
	}
	switch x := v.(type) {
	case []any:
		for _, c := range x {
			obj, ok := c.(*object)
			if !ok {
				continue // for key in a primitive: nothing
			}
			for _, k := range obj.keys {
				ce, err := e.child(k)
				if err != nil {
					return err
				}
				if err := ce.render(obj.vals[k], o, depth+1); err != nil {
					return err
				}
			}
		}
	case *object:
		for _, k := range x.keys {
			c := x.vals[k]
			switch {
			case k == o.attrkey:
				if a, ok := c.(*object); ok {
					for _, an := range a.keys {
						if !validXMLName(an) {
							return errors.New("Invalid character in name")
						}
						e.attrs = append(e.attrs, an+`="`+escapeXMLAttr(jsString(a.vals[an]))+`"`)
					}
				}
			case k == o.charkey:
				e.txt(c)
			default:
				if arr, ok := c.([]any); ok {
					for _, entry := range arr {
						ce, err := e.child(k)
						if err != nil {
							return err
						}
						if s, ok := entry.(string); ok {
							ce.txt(s)
						} else if err := ce.render(entry, o, depth+1); err != nil {
							return err
						}
					}
					continue
				}
				ce, err := e.child(k)
				if err != nil {
					return err
				}
				if isObjectJS(c) {
					if err := ce.render(c, o, depth+1); err != nil {
						return err
					}
				} else {
					ce.txt(c)
				}
			}
		}
	case nil:
	default:
		e.txt(x)
	}
	return nil
}

func (e *xmlOutElem) write(b *strings.Builder) {
	b.WriteByte('<')
	b.WriteString(e.name)
	for _, a := range e.attrs {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	if len(e.children) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, c := range e.children {
		switch x := c.(type) {
		case string:
			b.WriteString(x)
		case *xmlOutElem:
			x.write(b)
		}
	}
	b.WriteString("</")
	b.WriteString(e.name)
	b.WriteByte('>')
}

var (
	xmlTextEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	xmlAttrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;", "\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")
)

func escapeXMLText(s string) string { return xmlTextEscaper.Replace(s) }
func escapeXMLAttr(s string) string { return xmlAttrEscaper.Replace(s) }

// validXMLName is xmlbuilder's name check, simplified: a letter, _ or :
// first, then letters, digits, . - _ : and combining marks.
func validXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == ':' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == 0xB7):
		default:
			return false
		}
	}
	return true
}
