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
//	                     n.property || "payload"; see keepempty
//	keepempty:"true"     an empty string is kept rather than replaced by
//	                     the default (template's "" means msg.template)
//	options:"a,b,c"      the allowed values (a select box); "" may be one of them
//	required:"true"      the property must be present and not empty
//	kind:"code"          overrides the form widget: code, json, password
//	lang:"mustache"      the code editor's language, with kind code
//	node:"mqtt-broker"   the property references a config node of this type
//	help:"..."           a one-line hint shown under the field
//	min:"0" max:"60"     bounds of an integer or number field (inclusive)
//
// Go field types map to kinds: string to "string" (or "select" with
// options), bool to "boolean", int to "integer", float64 to "number", and
// json.RawMessage to "json". Node-RED stores numbers and booleans as
// strings in places ("qos": "2"); decoding accepts both. A number field
// never holds NaN or ±Inf ("NaN", "Infinity" and 1e400 are refused), so a
// node can use its value without checking.
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
}

type schema struct {
	typ    reflect.Type
	fields []Field
	sf     []schemaField
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

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
		if opts, ok := f.Tag.Lookup("options"); ok {
			sf.Options = strings.Split(opts, ",")
		}
		sf.keepEmpty = f.Tag.Get("keepempty") == "true" || slices.Contains(sf.Options, "")
		switch {
		case f.Type == rawMessageType:
			sf.raw = true
			sf.Kind = "json"
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
		if _, ok := f.Tag.Lookup("default"); ok {
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
	v := ptr.Elem()
	var probs flows.Problems
	bad := func(f *schemaField, format string, args ...any) {
		probs = append(probs, flows.Problem{NodeID: n.ID, Type: n.Type, Field: f.Name, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
	}
	for i := range sc.sf {
		f := &sc.sf[i]
		fv := v.Field(f.index)
		if f.def != "" || f.raw {
			if dv, err := f.parseText(f.def); err == nil && (f.def != "" || !f.raw) {
				fv.Set(dv)
			}
		}
		raw, present := n.Get(f.Name)
		raw = bytes.TrimSpace(raw)
		if !present || len(raw) == 0 || string(raw) == "null" {
			if f.Required {
				bad(f, "required")
			}
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
				bad(f, "invalid string: %v", err)
				continue
			}
			if text == "" && (f.goKind != reflect.String || !f.keepEmpty) {
				if f.Required {
					bad(f, "required")
				}
				continue // "" means "use the default"
			}
		case '{', '[':
			bad(f, "expected a %s, got %s", f.Kind, map[byte]string{'{': "an object", '[': "an array"}[raw[0]])
			continue
		default:
			text = string(raw) // number, true, false: their text form
		}
		if f.Required && strings.TrimSpace(text) == "" {
			bad(f, "required")
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
			bad(f, "%v", err)
			continue
		}
		if msg := f.outOfBounds(pv); msg != "" {
			bad(f, "%s", msg)
			continue
		}
		if f.Options != nil && f.goKind == reflect.String {
			ok := false
			for _, o := range f.Options {
				if o == text {
					ok = true
					break
				}
			}
			if !ok {
				bad(f, "%q is not one of %s", text, quoteList(f.Options))
				continue
			}
		}
		fv.Set(pv)
	}
	return ptr.Interface(), probs
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
