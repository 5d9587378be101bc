package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/runnel-io/runnel/flows"
)

// Field describes one setting of a node type. Fields come from the exported
// fields of the type's config struct and these struct tags:
//
//	json:"name"          the property name in the flow document (required)
//	label:"Topic"        the form label (defaults to the name)
//	default:"payload"    the value used when the property is missing, null or
//	                     empty (""), as Node-RED's runtime does with
//	                     n.property || "payload"; see keepempty. A list
//	                     field's default is its JSON text
//	keepempty:"true"     an empty string is kept rather than replaced by
//	                     the default (template's "" means msg.template)
//	options:"a,b,c"      the allowed values (a select box); "" may be one of them.
//	                     A value may carry its form label after "=":
//	                     options:"rbe=Block unless value changes,deadband=..."
//	                     (OptionLabels carries them); a comma inside a
//	                     label is written \\, (the tag's quoting eats one
//	                     backslash): "once=Send headers once\\, until msg.reset"
//	other:"msg. property" with options: any other value is allowed too, and
//	                     the form offers it as a choice with this label and
//	                     a text box (debug's complete: payload, true, or a
//	                     property path)
//	showif:"mode=a,b"    the form shows the field only while the property mode
//	                     is one of a, b ("" matches a missing property);
//	                     several conditions, all needed: "mode=a;unit=s".
//	                     Only the form hides it: decoding is the same
//	required:"true"      the property must be present and not empty
//	kind:"code"          overrides the form widget: code, json, password,
//	                     hidden (kept and decoded, but not in the form)
//	                     or a widget of the editor's own (editor/web/src/
//	                     widgets.ts): schedule (inject's repeat picker,
//	                     which writes repeat and crontab)
//	lang:"mustache"      the code editor's language, with kind code
//	                     (mustache, json, markdown, javascript)
//	tab:"On Message"     the form tab the field is on. The tray shows one
//	                     tab per name, in the order the names first appear
//	                     among the fields; fields without a tab go on a
//	                     first "Properties" tab. When no field has a tab
//	                     the form is one page. (The function node: Setup,
//	                     On Start, On Message, On Stop, as Node-RED's.)
//	node:"mqtt-broker"   the property references a config node of this type
//	help:"..."           a one-line hint shown under the field
//	min:"0" max:"60"     bounds of an integer or number field (inclusive)
//	types:"msg,str,num"  a Typed field's allowed TypedInput types; the first
//	                     is its type when the document gives none
//	typelabels:"pay=the original msg.payload,nul=nothing"
//	                     the form's labels of a typed field's own types
//	                     (the standard ones have theirs, see TypeLabel)
//	novalue:"pay,nul"    a typed field's types that take no value: the
//	                     form shows no text box for them
//	typeprop:"tot"       the property holding a Typed field's type
//	                     (default: the name plus "Type", as "payloadType");
//	                     on a string field, the form shows a TypedInput
//	                     (with types) while the node decodes both
//	                     properties as text itself
//	toplevel:"payload=payload:payloadType,topic=topic"
//	                     on a list field: an entry whose first field (its
//	                     key) is payload and that has no value of its own
//	                     takes its value and type from the node's payload
//	                     and payloadType properties; with no type property
//	                     (topic=topic) only an entry of type str takes its
//	                     value from the property. The entry's value is its
//	                     first Typed field. This is how Node-RED's inject
//	                     keeps its payload and topic; the editor writes
//	                     them back there too (see TopLevel)
//
// Go field types map to kinds: string to "string" (or "select" with
// options), bool to "boolean", int to "integer", float64 to "number", and
// json.RawMessage to "json", Typed to "typed" (Node-RED's TypedInput: a
// value property and a type property, compiled at deploy; see Typed), and
// a slice of structs to "list" (Node-RED's rule lists: a JSON array of
// objects, each decoded with the struct's own fields and tags, problems
// named like rules[2].to). Node-RED stores numbers and booleans as
// strings in places ("qos": "2"); decoding accepts both. A number field
// never holds NaN or ±Inf ("NaN", "Infinity" and 1e400 are refused), so a
// node can use its value without checking.
//
// A problem with a code field that concerns one line of the code says so
// in its message as "line N" (1-based, the first such mention counts):
// "line 2: unclosed section", or "SyntaxError: Unexpected token (line 3,
// column 5)". The editor marks that line in the field's code editor, both
// for a rejected deploy and while validating in the tray (POST
// /flows/validate); Problem.Line stays the node's line in the flow file.
type Field struct {
	Name     string   `json:"name"`
	Label    string   `json:"label"`
	Kind     string   `json:"kind"`
	Default  any      `json:"default,omitempty"`
	Options  []string `json:"options,omitempty"`
	Required bool     `json:"required,omitempty"`
	NodeType string   `json:"nodeType,omitempty"`
	Lang     string   `json:"lang,omitempty"`
	Help     string   `json:"help,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	// Types are the TypedInput types a typed field allows, the first
	// being its type when the document gives none.
	Types []string `json:"types,omitempty"`
	// TypeLabels are the form labels of Types, in the same order: the
	// typelabels tag's, else TypeLabel's.
	TypeLabels []string `json:"typeLabels,omitempty"`
	// NoValue lists the Types that take no value (the novalue tag).
	NoValue []string `json:"noValue,omitempty"`
	// TypeProp is the property that holds a typed field's type, such as
	// "payloadType" for "payload".
	TypeProp string `json:"typeProp,omitempty"`
	// Item describes the fields of each entry of a list field.
	Item []Field `json:"item,omitempty"`
	// OptionLabels are the form labels of Options, in the same order
	// (the value itself where the tag gives none); absent when no option
	// has a label.
	OptionLabels []string `json:"optionLabels,omitempty"`
	// Other, when set, lets a select field hold a value outside Options;
	// the form offers it as a further choice labelled Other.
	Other string `json:"other,omitempty"`
	// ShowIf shows the field in the form only while each property named
	// has one of the values listed (as text; "" for a missing property).
	ShowIf map[string][]string `json:"showIf,omitempty"`
	// TopLevel lists, for a list field, the entries kept in the node's own
	// properties (the toplevel tag).
	TopLevel []TopLevel `json:"topLevel,omitempty"`
	// Tab is the form tab the field is on (the tab tag); "" for the first
	// tab, or for a form without tabs.
	Tab string `json:"tab,omitempty"`
}

// TopLevel says where a list entry's value lives when the entry has none
// of its own: the entry whose key is Key takes its value from the node's
// property Value, and its type from the property Type; without Type only
// an entry of type str does, and only its value moves.
type TopLevel struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Type  string `json:"type,omitempty"`
}

type schemaField struct {
	Field
	index  int
	goKind reflect.Kind
	raw    bool   // json.RawMessage
	def    string // default tag as written
	// keepEmpty is set when "" is a value of its own rather than "use the
	// default": by the keepempty tag, or by "" being one of the options.
	keepEmpty bool
	typed     bool    // an engine.Typed
	hasDef    bool    // a default tag is present
	item      *schema // the entries' schema of a list field
	valueIdx  int     // a list entry's value: the index in item.sf of its first Typed field
}

type schema struct {
	typ    reflect.Type
	fields []Field
	sf     []schemaField
}

var (
	rawMessageType = reflect.TypeOf(json.RawMessage(nil))
	typedType      = reflect.TypeOf(Typed{})
)

func schemaOf(ptr any) (*schema, error) {
	t := reflect.TypeOf(ptr).Elem()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("config must be a struct, not %s", t)
	}
	sc := &schema{typ: t}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		sf := schemaField{index: i, goKind: f.Type.Kind(), def: f.Tag.Get("default")}
		sf.Name = name
		sf.Label = f.Tag.Get("label")
		if sf.Label == "" {
			sf.Label = name
		}
		sf.Help = f.Tag.Get("help")
		sf.Required = f.Tag.Get("required") == "true"
		sf.NodeType = f.Tag.Get("node")
		sf.Lang = f.Tag.Get("lang")
		sf.Tab = strings.TrimSpace(f.Tag.Get("tab"))
		if opts, ok := f.Tag.Lookup("options"); ok {
			labelled := false
			for _, o := range splitEscaped(opts) {
				v, label, ok := strings.Cut(o, "=")
				if !ok {
					label = v
				}
				labelled = labelled || ok
				sf.Options = append(sf.Options, v)
				sf.OptionLabels = append(sf.OptionLabels, label)
			}
			if !labelled {
				sf.OptionLabels = nil
			}
		}
		sf.Other = f.Tag.Get("other")
		if si := f.Tag.Get("showif"); si != "" {
			sf.ShowIf = map[string][]string{}
			for _, cond := range strings.Split(si, ";") {
				prop, vals, ok := strings.Cut(cond, "=")
				if !ok || strings.TrimSpace(prop) == "" {
					return nil, fmt.Errorf("field %s: showif %q: want property=value,value", f.Name, si)
				}
				sf.ShowIf[strings.TrimSpace(prop)] = strings.Split(vals, ",")
			}
		}
		sf.keepEmpty = f.Tag.Get("keepempty") == "true" || slices.Contains(sf.Options, "")
		_, sf.hasDef = f.Tag.Lookup("default")
		switch {
		case f.Type == typedType:
			sf.typed = true
			sf.Kind = "typed"
			sf.Types = AllTypes
			if ts := f.Tag.Get("types"); ts != "" {
				sf.Types = strings.Split(ts, ",")
			}
			sf.TypeProp = f.Tag.Get("typeprop")
			if sf.TypeProp == "" {
				sf.TypeProp = name + "Type"
			}
		case sf.goKind == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			item, err := schemaOf(reflect.New(f.Type.Elem()).Interface())
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			sf.item = item
			sf.Kind = "list"
			sf.Item = item.fields
			if tl := f.Tag.Get("toplevel"); tl != "" {
				sf.valueIdx = slices.IndexFunc(item.sf, func(x schemaField) bool { return x.typed })
				if sf.valueIdx < 1 {
					return nil, fmt.Errorf("field %s: toplevel needs entries whose first field is the key and a later one Typed", f.Name)
				}
				for _, e := range strings.Split(tl, ",") {
					key, props, ok := strings.Cut(e, "=")
					value, typ, _ := strings.Cut(props, ":")
					if !ok || key == "" || value == "" {
						return nil, fmt.Errorf("field %s: toplevel %q: want key=valueprop[:typeprop],...", f.Name, tl)
					}
					sf.TopLevel = append(sf.TopLevel, TopLevel{Key: key, Value: value, Type: typ})
				}
			}
		case f.Type == rawMessageType:
			sf.raw = true
			sf.Kind = "json"
		case sf.goKind == reflect.String && f.Tag.Get("typeprop") != "":
			// A value whose type is another string field the node reads
			// itself (switch's v and vt, whose istype values are type
			// names, not values): a TypedInput in the form, text here.
			sf.Kind = "typed"
			sf.Types = strings.Split(f.Tag.Get("types"), ",")
			sf.TypeProp = f.Tag.Get("typeprop")
		case sf.goKind == reflect.String:
			sf.Kind = "string"
			if sf.Options != nil {
				sf.Kind = "select"
			}
			if sf.NodeType != "" {
				sf.Kind = "node"
			}
		case sf.goKind == reflect.Bool:
			sf.Kind = "boolean"
		case sf.goKind == reflect.Int:
			sf.Kind = "integer"
		case sf.goKind == reflect.Float64:
			sf.Kind = "number"
		default:
			return nil, fmt.Errorf("field %s: unsupported type %s", f.Name, f.Type)
		}
		for _, b := range []struct {
			tag string
			to  **float64
		}{{"min", &sf.Min}, {"max", &sf.Max}} {
			t, ok := f.Tag.Lookup(b.tag)
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(t, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || (sf.goKind != reflect.Int && sf.goKind != reflect.Float64) {
				return nil, fmt.Errorf("field %s: %s %q: want a finite number on an int or float64 field", f.Name, b.tag, t)
			}
			*b.to = &v
		}
		if k := f.Tag.Get("kind"); k != "" {
			sf.Kind = k
		}
		if sf.Kind == "typed" {
			if err := sf.typeLabels(f.Tag.Get("typelabels"), f.Tag.Get("novalue")); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		if sf.typed && sf.hasDef {
			sf.Default = sf.def
		}
		if sf.item != nil && sf.hasDef {
			if !json.Valid([]byte(sf.def)) {
				return nil, fmt.Errorf("field %s: default: not JSON", f.Name)
			}
			sf.Default = json.RawMessage(sf.def)
		}
		if _, ok := f.Tag.Lookup("default"); ok && !sf.typed && sf.item == nil {
			v, err := sf.parseText(sf.def)
			if err != nil {
				return nil, fmt.Errorf("field %s: default: %w", f.Name, err)
			}
			if !sf.raw {
				sf.Default = v.Interface()
			} else {
				sf.Default = json.RawMessage(sf.def)
			}
		}
		sc.sf = append(sc.sf, sf)
		sc.fields = append(sc.fields, sf.Field)
	}
	return sc, nil
}

// typeLabelText are the form labels of the TypedInput types, as Node-RED's
// editor shows them, and of switch's "is of type" names.
var typeLabelText = map[string]string{
	TypeMsg: "msg.", TypeFlow: "flow.", TypeGlobal: "global.", TypeStr: "string", TypeNum: "number",
	TypeBool: "boolean", TypeJSON: "JSON", TypeBin: "buffer", TypeRe: "regular expression",
	TypeDate: "timestamp", TypeJSONata: "JSONata", TypeEnv: "env variable", TypeExpr: "expr",
	"prev":   "previous value",
	"string": "a string", "number": "a number", "boolean": "a boolean", "array": "an array",
	"buffer": "a buffer", "object": "an object", "undefined": "undefined", "null": "null",
}

// TypeLabel returns the form label of a TypedInput type ("msg." for msg,
// "JSONata" for jsonata), or "" for a type with no standard label.
func TypeLabel(typ string) string { return typeLabelText[typ] }

// typeLabels sets TypeLabels from the standard labels and the typelabels
// tag tl (type=label,...), and NoValue from the novalue tag nv. Every type
// must end up with a label, so that the form shows no codes.
func (sf *schemaField) typeLabels(tl, nv string) error {
	own := map[string]string{}
	if tl != "" {
		for _, e := range splitEscaped(tl) {
			typ, label, ok := strings.Cut(e, "=")
			if !ok || label == "" || !slices.Contains(sf.Types, typ) {
				return fmt.Errorf("typelabels %q: want type=label,... for types of the field", tl)
			}
			own[typ] = label
		}
	}
	sf.TypeLabels = make([]string, len(sf.Types))
	for i, t := range sf.Types {
		sf.TypeLabels[i] = own[t]
		if sf.TypeLabels[i] == "" {
			sf.TypeLabels[i] = TypeLabel(t)
		}
		if sf.TypeLabels[i] == "" {
			return fmt.Errorf("type %q has no label: give it one with typelabels", t)
		}
	}
	if nv != "" {
		for _, t := range strings.Split(nv, ",") {
			if !slices.Contains(sf.Types, t) {
				return fmt.Errorf("novalue %q: %q is not one of the field's types", nv, t)
			}
			sf.NoValue = append(sf.NoValue, t)
		}
	}
	return nil
}

// splitEscaped splits a tag's list at commas, except those written \,
// (which stay in the item as commas).
func splitEscaped(s string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ',':
			b.WriteByte(',')
			i++
		case s[i] == ',':
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(s[i])
		}
	}
	return append(out, b.String())
}

// parseText converts the text form of a value (a default tag, or a string
// in a flow document) to the field's Go type.
func (sf *schemaField) parseText(s string) (reflect.Value, error) {
	switch {
	case sf.raw:
		return reflect.ValueOf(json.RawMessage(s)), nil
	case sf.goKind == reflect.String:
		return reflect.ValueOf(s), nil
	case sf.goKind == reflect.Bool:
		switch strings.TrimSpace(s) {
		case "true":
			return reflect.ValueOf(true), nil
		case "false", "":
			return reflect.ValueOf(false), nil
		}
		return reflect.Value{}, fmt.Errorf("%q is not true or false", s)
	case sf.goKind == reflect.Int:
		if strings.TrimSpace(s) == "" {
			return reflect.ValueOf(0), nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return reflect.Value{}, fmt.Errorf("%q is not a whole number", s)
		}
		return reflect.ValueOf(n), nil
	case sf.goKind == reflect.Float64:
		if strings.TrimSpace(s) == "" {
			return reflect.ValueOf(0.0), nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return reflect.Value{}, fmt.Errorf("%q is not a number", s)
		}
		return reflect.ValueOf(f), nil
	}
	return reflect.Value{}, fmt.Errorf("unsupported field")
}

// decode builds a config value from a node's properties: defaults first,
// then each known property, coerced leniently; it returns every problem.
func (sc *schema) decode(n *flows.Node) (any, flows.Problems) {
	ptr := reflect.New(sc.typ)
	var probs flows.Problems
	bad := func(field, msg string) {
		probs = append(probs, flows.Problem{NodeID: n.ID, Type: n.Type, Field: field, Line: n.Line, Msg: msg})
	}
	sc.decodeInto(ptr.Elem(), n.Get, "", bad)
	return ptr.Interface(), probs
}

// decodeInto fills the struct v from the properties get returns, naming
// fields with prefix (such as "rules[2].") in the problems it reports.
func (sc *schema) decodeInto(v reflect.Value, get func(string) (json.RawMessage, bool), prefix string, report func(field, msg string)) {
	for i := range sc.sf {
		f := &sc.sf[i]
		fv := v.Field(f.index)
		bad := func(format string, args ...any) { report(prefix+f.Name, fmt.Sprintf(format, args...)) }
		if f.typed {
			f.decodeTyped(fv, get, bad)
			continue
		}
		if f.def != "" || f.raw {
			if dv, err := f.parseText(f.def); err == nil && (f.def != "" || !f.raw) {
				fv.Set(dv)
			}
		}
		raw, present := get(f.Name)
		raw = bytes.TrimSpace(raw)
		if f.item != nil && f.hasDef && (!present || len(raw) == 0 || string(raw) == "null") {
			raw, present = json.RawMessage(f.def), true
		}
		if !present || len(raw) == 0 || string(raw) == "null" {
			if f.Required {
				bad("required")
			}
			continue
		}
		if f.item != nil {
			f.decodeList(fv, raw, sc.withDefaults(get), prefix, report, bad)
			continue
		}
		if f.raw {
			fv.Set(reflect.ValueOf(json.RawMessage(raw)))
			continue
		}
		var text string
		switch raw[0] {
		case '"':
			if err := json.Unmarshal(raw, &text); err != nil {
				bad("invalid string: %v", err)
				continue
			}
			if text == "" && (f.goKind != reflect.String || !f.keepEmpty) {
				if f.Required {
					bad("required")
				}
				continue // "" means "use the default"
			}
		case '{', '[':
			bad("expected a %s, got %s", f.Kind, map[byte]string{'{': "an object", '[': "an array"}[raw[0]])
			continue
		default:
			text = string(raw) // number, true, false: their text form
		}
		if f.Required && strings.TrimSpace(text) == "" {
			bad("required")
			continue
		}
		if f.goKind == reflect.Int {
			// Accept 2.0 for 2 (JSON numbers are floats).
			if fl, err := strconv.ParseFloat(strings.TrimSpace(text), 64); err == nil && fl == float64(int(fl)) {
				text = strconv.Itoa(int(fl))
			}
		}
		pv, err := f.parseText(text)
		if err != nil {
			bad("%v", err)
			continue
		}
		if msg := f.outOfBounds(pv); msg != "" {
			bad("%s", msg)
			continue
		}
		if f.Options != nil && f.Other == "" && f.goKind == reflect.String && !slices.Contains(f.Options, text) {
			bad("%q is not one of %s", text, quoteList(f.Options))
			continue
		}
		fv.Set(pv)
	}
}

// decodeTyped sets a typed field from its value and type properties. A
// missing type is the field's first allowed type when there is a value
// (or a default); with neither the field stays zero.
func (sf *schemaField) decodeTyped(fv reflect.Value, get func(string) (json.RawMessage, bool), bad func(string, ...any)) {
	value, hasValue := "", false
	if raw, ok := get(sf.Name); ok {
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) == 0 || string(raw) == "null":
		case raw[0] == '"':
			if err := json.Unmarshal(raw, &value); err != nil {
				bad("invalid string: %v", err)
				return
			}
			hasValue = true
		case raw[0] == '{' || raw[0] == '[':
			// Node-RED writes json values as text, but a hand-written
			// flow may hold the JSON itself.
			value, hasValue = string(raw), true
		default:
			value, hasValue = string(raw), true // a number or boolean
		}
	}
	typ := ""
	if raw, ok := get(sf.TypeProp); ok {
		_ = json.Unmarshal(raw, &typ)
	}
	if !hasValue && sf.hasDef {
		value, hasValue = sf.def, true
	}
	if typ == "" {
		if !hasValue {
			if sf.Required {
				bad("required")
			}
			return
		}
		typ = sf.Types[0]
	}
	if !slices.Contains(sf.Types, typ) {
		bad("type %q is not one of %s", typ, quoteList(sf.Types))
		return
	}
	if sf.Required && strings.TrimSpace(value) == "" && typ != TypeStr {
		bad("required")
		return
	}
	t, err := ParseTyped(typ, value)
	if err != nil {
		if !slices.Contains(AllTypes, typ) {
			// A type of the node's own (switch's "prev"), which it
			// evaluates itself.
			fv.Set(reflect.ValueOf(Typed{Type: typ, Value: value}))
			return
		}
		bad("%v", err)
		return
	}
	fv.Set(reflect.ValueOf(t))
}

// decodeList sets a list field from a JSON array of objects, decoding
// each entry with the entries' schema.
func (sf *schemaField) decodeList(fv reflect.Value, raw json.RawMessage, parent func(string) (json.RawMessage, bool), prefix string, report func(string, string), bad func(string, ...any)) {
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		bad("expected a list, got %s", kindOfJSON(raw))
		return
	}
	list := reflect.MakeSlice(fv.Type(), len(entries), len(entries))
	for i, e := range entries {
		var props map[string]json.RawMessage
		if err := json.Unmarshal(e, &props); err != nil || props == nil {
			report(fmt.Sprintf("%s%s[%d]", prefix, sf.Name, i), "expected an object, got "+kindOfJSON(e))
			continue
		}
		get := func(k string) (json.RawMessage, bool) { v, ok := props[k]; return v, ok }
		if tl := sf.topLevel(props); tl != nil {
			// Node-RED's inject: the entry's value is the node's own
			// property (payload, payloadType; topic).
			vf := sf.item.sf[sf.valueIdx]
			get = func(k string) (json.RawMessage, bool) {
				switch {
				case k == vf.Name:
					return parent(tl.Value)
				case k == vf.TypeProp && tl.Type != "":
					return parent(tl.Type)
				}
				v, ok := props[k]
				return v, ok
			}
		}
		sf.item.decodeInto(list.Index(i), get, fmt.Sprintf("%s%s[%d].", prefix, sf.Name, i), report)
	}
	fv.Set(list)
}

// withDefaults returns get that answers a missing, null or empty property
// with its field's default, for list entries that read the node's
// properties (see TopLevel).
func (sc *schema) withDefaults(get func(string) (json.RawMessage, bool)) func(string) (json.RawMessage, bool) {
	return func(k string) (json.RawMessage, bool) {
		raw, ok := get(k)
		if t := bytes.TrimSpace(raw); ok && len(t) > 0 && string(t) != "null" && string(t) != `""` {
			return raw, ok
		}
		for _, f := range sc.sf {
			if f.Name == k && f.hasDef && f.def != "" && f.goKind == reflect.String {
				b, _ := json.Marshal(f.def)
				return b, true
			}
		}
		return raw, ok
	}
}

// topLevel returns the toplevel entry that applies to a list entry with
// properties props: one whose key matches, when the entry has no value of
// its own (and, for an entry without a type property, is of type str).
func (sf *schemaField) topLevel(props map[string]json.RawMessage) *TopLevel {
	if sf.TopLevel == nil {
		return nil
	}
	var key string
	if json.Unmarshal(props[sf.item.sf[0].Name], &key) != nil {
		return nil
	}
	vf := sf.item.sf[sf.valueIdx]
	if _, has := props[vf.Name]; has {
		return nil
	}
	for i, tl := range sf.TopLevel {
		if tl.Key != key {
			continue
		}
		if tl.Type == "" {
			var typ string
			if json.Unmarshal(props[vf.TypeProp], &typ) != nil || typ != TypeStr {
				return nil
			}
		}
		return &sf.TopLevel[i]
	}
	return nil
}

// kindOfJSON names the kind of a JSON value for problems.
func kindOfJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// outOfBounds says how v breaks the field's min and max, if it does.
func (sf *schemaField) outOfBounds(v reflect.Value) string {
	if sf.Min == nil && sf.Max == nil {
		return ""
	}
	var x float64
	switch sf.goKind {
	case reflect.Int:
		x = float64(v.Int())
	case reflect.Float64:
		x = v.Float()
	default:
		return ""
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case sf.Min != nil && sf.Max != nil && (x < *sf.Min || x > *sf.Max):
		return fmt.Sprintf("%s is out of range: want %s to %s", num(x), num(*sf.Min), num(*sf.Max))
	case sf.Min != nil && x < *sf.Min:
		return fmt.Sprintf("%s is out of range: want at least %s", num(x), num(*sf.Min))
	case sf.Max != nil && x > *sf.Max:
		return fmt.Sprintf("%s is out of range: want at most %s", num(x), num(*sf.Max))
	}
	return ""
}

func quoteList(opts []string) string {
	q := make([]string, len(opts))
	for i, o := range opts {
		q[i] = strconv.Quote(o)
	}
	return strings.Join(q, ", ")
}

// FieldError is an error about one config field. A constructor returns it
// (see ErrField) so that the problem names the field.
type FieldError struct {
	Field string
	Err   error
}

// Error returns "field: error".
func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// ErrField wraps err as a problem with the named config field.
func ErrField(field string, err error) error { return &FieldError{Field: field, Err: err} }

// ErrFieldf formats a problem with the named config field.
func ErrFieldf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
