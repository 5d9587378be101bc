package parser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// JSONConfig is the configuration of a json node. The property names are
// Node-RED's.
type JSONConfig struct {
	Property string `json:"property" label:"Property" default:"payload" help:"The message property to convert"`
	Action   string `json:"action" label:"Action" options:"=Convert between JSON String & Object,str=Always convert to JSON String,obj=Always convert to JavaScript Object"`
	Pretty   bool   `json:"pretty" label:"Format JSON string" help:"Indent the JSON text with four spaces"`
}

// JSONType is the json node type.
var JSONType = engine.NewType(engine.Meta{
	Type:     "json",
	Category: "parser",
	Inputs:   1,
	Outputs:  1,
	Color:    "#DEBD5C",
	Icon:     "json.svg",
	Help: `Converts a property (msg.payload by default) between a JSON string and the value it encodes, as Node-RED's **json** node does.

- A **string** (or a buffer of UTF-8 text) is parsed: objects, arrays, numbers, booleans and null. Invalid JSON is reported as an error of the node and the message is dropped.
- An **object, array, number or boolean** is written as a JSON string; with *pretty*, indented by four spaces.
- *action* "str" leaves strings and buffers as they are; "obj" leaves objects and other non-strings as they are.
- A message without the property is passed on unchanged.

Node-RED's JSON schema validation (msg.schema) is not supported yet: msg.schema is ignored.`,
}, newJSON)

func init() { engine.Register(JSONType) }

// jsonNode is a running json node.
type jsonNode struct {
	h      *engine.Host
	prop   engine.Path
	action string
	pretty bool
}

func newJSON(cfg *JSONConfig, h *engine.Host) (engine.Node, error) {
	n := &jsonNode{h: h, action: cfg.Action, pretty: cfg.Pretty}
	switch cfg.Action {
	case "", "str", "obj":
	default:
		return nil, engine.ErrFieldf("action", "%q is not empty, str or obj", cfg.Action)
	}
	prop := cfg.Property
	if strings.TrimSpace(prop) == "" {
		prop = "payload" // Node-RED: n.property || "payload"
	}
	p, err := engine.ParsePath(prop)
	if err != nil {
		return nil, engine.ErrField("property", err)
	}
	n.prop = p
	return n, nil
}

// Receive converts the property, following Node-RED's 70-JSON.js.
func (n *jsonNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	v, ok := m.Lookup(n.prop)
	if !ok {
		out.Send(0, m) // no property: passed on as it is
		return nil
	}
	var text []byte
	switch x := v.(type) {
	case string:
		if n.action == "str" {
			out.Send(0, m)
			return nil
		}
		// Read in place: the parsed value may share the string's bytes
		// (see parseJSONText), which nobody modifies.
		text = unsafe.Slice(unsafe.StringData(x), len(x))
	case []byte:
		if n.action == "str" {
			out.Send(0, m) // Node-RED passes a buffer on unchanged too
			return nil
		}
		// JSON.parse(buffer) parses buffer.toString(): invalid UTF-8
		// becomes U+FFFD before parsing.
		text = x
		if !utf8.Valid(x) {
			text = jsutf8.AppendDecode(nil, x)
		}
	default:
		if n.action == "obj" {
			out.Send(0, m)
			return nil
		}
		s, ok, err := n.stringify(v)
		if err != nil || !ok {
			return err // !ok: an unsupported type, warned about
		}
		if err := m.Set(n.prop, s); err != nil {
			return err
		}
		out.Send(0, m)
		return nil
	}
	parsed, err := parseJSONText(text)
	if err != nil {
		return err
	}
	if err := m.Set(n.prop, parsed); err != nil {
		return err
	}
	out.Send(0, m)
	return nil
}

// stringify is JSON.stringify(v, null, pretty ? 4 : 0). It returns ok
// false (after a warning) for values JSON cannot hold, such as functions.
func (n *jsonNode) stringify(v any) (s string, ok bool, err error) {
	var b []byte
	switch v.(type) {
	case nil, bool, float64, int, int64, engine.RawJSON, map[string]any, []any:
	default:
		switch reflect.TypeOf(v).Kind() {
		case reflect.Func, reflect.Chan, reflect.UnsafePointer:
			n.h.Logger().Warn("Ignored unsupported payload type")
			return "", false, nil
		}
		if _, err := json.Marshal(v); err != nil {
			return "", false, fmt.Errorf("failed to convert payload: %w", err)
		}
	}
	if n.pretty {
		b = engine.IndentJSON(v)
	} else {
		b = engine.MarshalJSON(v)
	}
	// b is ours alone, or the bytes of a RawJSON, which nobody modifies:
	// use it as the string's bytes without a copy.
	return unsafe.String(unsafe.SliceData(b), len(b)), true, nil
}

// parseJSONText is JSON.parse. Objects and arrays become RawJSON that
// shares text's bytes (message values are never modified, so this is
// safe and costs no copy); scalars become their Go values.
func parseJSONText(text []byte) (any, error) {
	if !gjson.ValidBytes(text) { // the same grammar as json.Valid, at about twice the speed
		return nil, jsonSyntaxError(text)
	}
	// Valid JSON has at least one non-space byte.
	i, j := 0, len(text)
	for isJSONSpace(text[i]) {
		i++
	}
	for isJSONSpace(text[j-1]) {
		j--
	}
	t := text[i:j:j]
	switch t[0] {
	case '{', '[':
		// As JSON.parse makes it, so that every lookup sees what Node-RED
		// sees: of a repeated key, the last value (gjson finds the first).
		return engine.ParsedJSON(engine.RawJSON(t)), nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	case '"':
		s := unsafe.String(unsafe.SliceData(t), len(t))
		return strings.Clone(gjson.Parse(s).Str), nil
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(t), len(t)), 64)
	if err != nil && !math.IsInf(f, 0) {
		// Cannot happen for valid JSON except out of range, which is ±Inf
		// in JavaScript too.
		return nil, fmt.Errorf("invalid JSON number %s", t)
	}
	return f, nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// jsonSyntaxError describes why text is not JSON, with the 0-based byte
// position of the problem as JavaScript's messages give it.
func jsonSyntaxError(text []byte) error {
	var v any
	err := json.Unmarshal(text, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Error(), "unexpected end") {
			return errors.New("invalid JSON: unexpected end of JSON input")
		}
		return fmt.Errorf("invalid JSON at position %d: %s", se.Offset-1, se.Error())
	}
	if err == nil {
		err = errors.New("not valid JSON")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}
