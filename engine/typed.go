package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The types of Node-RED's TypedInput, and Runnel's own expr.
const (
	TypeMsg     = "msg"     // a message property: payload.a[0]
	TypeFlow    = "flow"    // a flow context key, optionally with its store: #:(persistent)::count
	TypeGlobal  = "global"  // a global context key
	TypeStr     = "str"     // a string, as written
	TypeNum     = "num"     // a number, as JavaScript's Number(text)
	TypeBool    = "bool"    // true when the text is exactly "true" (any case, no spaces)
	TypeJSON    = "json"    // JSON text, parsed once at deploy
	TypeBin     = "bin"     // a buffer from a JSON array of bytes, or a string's UTF-8
	TypeRe      = "re"      // a regular expression
	TypeDate    = "date"    // the time now: milliseconds, or "iso", or "object"
	TypeEnv     = "env"     // an environment variable, or text with ${NAME} in it
	TypeJSONata = "jsonata" // a JSONata expression evaluated against the message
	TypeExpr    = "expr"    // an expr-lang expression (Runnel's fast expressions)
)

// AllTypes are every type a Typed value may have, in Node-RED's menu
// order with expr last.
var AllTypes = []string{TypeMsg, TypeFlow, TypeGlobal, TypeStr, TypeNum, TypeBool, TypeJSON, TypeBin, TypeRe, TypeDate, TypeJSONata, TypeEnv, TypeExpr}

// Typed is a value of one of Node-RED's TypedInput types (see the Type
// constants): a constant (str, num, bool, json, bin, re), a reference to
// a message property or a context key (msg, flow, global), or something
// computed per message (date, env, jsonata, expr). A node declares one as
// a config field of type Typed, and the schema parses and compiles it when
// the flow is deployed, so that a bad number, JSON text, regular
// expression or expression is a deploy error naming the node and the
// field; Eval then costs as little as the type allows.
//
// The zero Typed has no type: Eval returns nil. In a flow document a
// typed field is two properties, the value and its type (Node-RED's
// "payload" and "payloadType"); see Field.
type Typed struct {
	// Type is one of the Type constants.
	Type string
	// Value is the text the value was compiled from.
	Value string

	konst   any            // the value of a constant type
	isConst bool           // konst is the value
	ref     Ref            // msg, flow, global
	re      *regexp.Regexp // re
	eval    func(h *Host, m *Message) (any, error)
}

// ParseTyped compiles value as a TypedInput of type typ. It fails when the
// value cannot be one of that type: a number that is not one, JSON that
// does not parse, a bad path or regular expression, an expression that
// does not compile.
func ParseTyped(typ, value string) (Typed, error) {
	t := Typed{Type: typ, Value: value}
	switch typ {
	case "":
		if value != "" {
			return t, errors.New("a value without a type")
		}
	case TypeStr:
		t.konst, t.isConst = value, true
	case TypeNum:
		f, ok := jsNumber(value)
		if !ok {
			return t, fmt.Errorf("%q is not a number", value)
		}
		t.konst, t.isConst = f, true
	case TypeBool:
		t.konst, t.isConst = strings.EqualFold(value, "true"), true
	case TypeJSON:
		v, err := ParseJSON([]byte(value))
		if err != nil {
			return t, fmt.Errorf("invalid JSON: %w", err)
		}
		t.konst, t.isConst = v, true
	case TypeBin:
		b, err := parseBin(value)
		if err != nil {
			return t, err
		}
		t.konst, t.isConst = b, true
	case TypeRe:
		re, err := CompileRegExp(value, "")
		if err != nil {
			return t, err
		}
		t.re = re
		t.konst, t.isConst = re, true
	case TypeMsg, TypeFlow, TypeGlobal:
		r, err := ParseRef(typ, value)
		if err != nil {
			return t, err
		}
		t.ref = r
	case TypeDate:
		switch value {
		case "", "iso", "object":
		default:
			return t, fmt.Errorf("date format %q: want \"\" (milliseconds), \"iso\" or \"object\"", value)
		}
	case TypeEnv:
	case TypeJSONata:
		ev, err := compileJSONata(value)
		if err != nil {
			return t, err
		}
		t.eval = ev
	case TypeExpr:
		ev, err := compileExpr(value)
		if err != nil {
			return t, err
		}
		t.eval = ev
	default:
		return t, fmt.Errorf("unknown type %q", typ)
	}
	return t, nil
}

// IsZero reports whether t has no type (the property was not set).
func (t Typed) IsZero() bool { return t.Type == "" }

// Const returns the value of a constant type (str, num, bool, json, bin,
// re) and true; other types return false.
func (t Typed) Const() (any, bool) { return t.konst, t.isConst }

// Ref returns the message property or context key a msg, flow or global
// value refers to, and true; other types return false. Nodes that write
// (change's target, template's field) use it.
func (t Typed) Ref() (Ref, bool) {
	switch t.Type {
	case TypeMsg, TypeFlow, TypeGlobal:
		return t.ref, true
	}
	return Ref{}, false
}

// Regexp returns the compiled regular expression of an re value.
func (t Typed) Regexp() *regexp.Regexp { return t.re }

// Eval returns the value for message m, handled by the node h (whose
// flow, global context and environment it reads). A property or key that
// does not exist gives nil. Values it returns are shared: do not modify
// them (see Message).
func (t Typed) Eval(h *Host, m *Message) (any, error) {
	if t.isConst {
		return t.konst, nil
	}
	switch t.Type {
	case "":
		return nil, nil
	case TypeMsg, TypeFlow, TypeGlobal:
		v, _ := t.ref.Get(h, m)
		return v, nil
	case TypeDate:
		now := time.Now()
		switch t.Value {
		case "iso":
			return now.UTC().Format("2006-01-02T15:04:05.000Z"), nil
		case "object":
			// A Date object; JSON.stringify writes it as this ISO string.
			return now.UTC().Format("2006-01-02T15:04:05.000Z"), nil
		}
		return float64(now.UnixMilli()), nil
	case TypeEnv:
		return h.EnvValue(t.Value), nil
	}
	if t.eval != nil {
		return t.eval(h, m)
	}
	return nil, fmt.Errorf("type %q cannot be evaluated", t.Type)
}

// jsNumber converts text as JavaScript's Number(text) does, refusing what
// gives NaN; "" and white space are 0.
func jsNumber(s string) (float64, bool) {
	t := strings.TrimSpace(s)
	switch t {
	case "":
		return 0, true
	case "Infinity", "+Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	if len(t) > 2 && t[0] == '0' {
		base := 0
		switch t[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			n, err := strconv.ParseUint(t[2:], base, 64)
			return float64(n), err == nil
		}
	}
	for _, c := range t {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true // ±Inf or 0, as JavaScript rounds
		}
		return 0, false
	}
	return f, true
}

// parseBin parses a bin value: a JSON array of bytes, or a JSON string
// whose UTF-8 bytes are the buffer (Node-RED's Buffer.from(JSON.parse(v))).
func parseBin(value string) ([]byte, error) {
	var v any
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		return nil, fmt.Errorf("invalid buffer: %w", err)
	}
	switch x := v.(type) {
	case string:
		return []byte(x), nil
	case []any:
		b := make([]byte, len(x))
		for i, e := range x {
			f, ok := e.(float64)
			if !ok {
				return nil, fmt.Errorf("invalid buffer: element %d is not a number", i)
			}
			// Buffer.from([...]) keeps the low 8 bits, as Uint8Array does.
			b[i] = byte(int64(f) & 0xff)
		}
		return b, nil
	}
	return nil, errors.New("invalid buffer: want an array of bytes or a string")
}

// CompileRegExp compiles a JavaScript regular expression with its flags
// (i, m, s, g, u, y: g, u and y do not change matching here). Go's RE2
// syntax covers what flows use; lookahead, lookbehind and back-references
// are refused with an error that says so.
func CompileRegExp(src, flags string) (*regexp.Regexp, error) {
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's':
			if !strings.ContainsRune(prefix, f) {
				prefix += string(f)
			}
		case 'g', 'u', 'y':
		default:
			return nil, fmt.Errorf("invalid regular expression flag %q", f)
		}
	}
	expr := src
	if prefix != "" {
		expr = "(?" + prefix + ")" + src
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %s (Runnel uses Go's RE2 syntax: no lookaround or back-references)",
			src, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

// Ref is a message property or a context key, as a msg, flow or global
// TypedInput names one: where change sets and deletes, and where
// template writes.
type Ref struct {
	// Scope is TypeMsg, TypeFlow or TypeGlobal.
	Scope string
	// Path is the property path within the message or context.
	Path  Path
	store int // context store index
	key   string
}

// ParseRef parses a property of scope msg, flow or global: a path such
// as payload.a[0], and for flow and global optionally its store
// (#:(persistent)::count).
func ParseRef(scope, s string) (Ref, error) {
	r := Ref{Scope: scope, key: s}
	switch scope {
	case TypeMsg:
		if strings.TrimSpace(s) == "" {
			return r, errors.New("no property given")
		}
		p, err := ParsePath(s)
		if err != nil {
			return r, err
		}
		r.Path = p
	case TypeFlow, TypeGlobal:
		if strings.TrimSpace(s) == "" {
			return r, errors.New("no context key given")
		}
		store, p, err := splitKey(s)
		if err != nil {
			return r, err
		}
		r.store, r.Path = store, p
	default:
		return r, fmt.Errorf("%q is not msg, flow or global", scope)
	}
	return r, nil
}

// String returns the reference as Node-RED writes it: msg.payload,
// flow.count, global.#:(persistent)::n.
func (r Ref) String() string { return r.Scope + "." + r.key }

// context returns the flow or global context of h.
func (r Ref) context(h *Host) *Context {
	if r.Scope == TypeFlow {
		return h.FlowContext()
	}
	return h.GlobalContext()
}

// Get returns the value r refers to, for message m handled by node h, and
// whether it exists. For the message it is Message.Lookup: a missing
// payload or empty topic does not exist.
func (r Ref) Get(h *Host, m *Message) (any, bool) {
	if r.Scope == TypeMsg {
		return m.Lookup(r.Path)
	}
	return r.context(h).getParsed(r.store, r.Path)
}

// Set sets the value r refers to, creating objects on the way, as
// Node-RED's setMessageProperty(msg, prop, value, true) and context set do.
func (r Ref) Set(h *Host, m *Message, v any) error {
	if r.Scope == TypeMsg {
		return m.Set(r.Path, v)
	}
	return r.context(h).setParsed(r.store, r.Path, r.key, v)
}

// Delete removes what r refers to.
func (r Ref) Delete(h *Host, m *Message) {
	if r.Scope == TypeMsg {
		m.Delete(r.Path)
		return
	}
	_ = r.context(h).setParsed(r.store, r.Path, r.key, nil)
}

// EnvExpand resolves an env TypedInput's text as Node-RED does: a plain
// name (or ${NAME}) is that variable's value; other text has each ${NAME}
// replaced by its value ("" when unset). Names are looked up as Env does.
func (h *Host) EnvExpand(text string) string {
	v := h.EnvValue(text)
	if s, ok := v.(string); ok {
		return s
	}
	return ToString(v)
}

// EnvValue is an env TypedInput's value, as Node-RED's
// evaluateEnvProperty gives it: for a plain name or ${NAME}, the
// variable's value with its type (a tab's num variable is a number, a
// json one an object), "" when it is not set; for other text, the text
// with each ${NAME} replaced by the variable's text.
func (h *Host) EnvValue(text string) any {
	name := text
	switch {
	case envWhole.MatchString(text):
		name = text[2 : len(text)-1]
	case envSomeRef.MatchString(text):
		return envRef.ReplaceAllStringFunc(text, func(s string) string {
			v, _ := h.Env(s[2 : len(s)-1])
			return v
		})
	}
	v, ok := h.envTyped(name)
	if !ok {
		return ""
	}
	return v
}

// envTyped returns a variable with its type: the node's built-ins and
// process variables as strings, tab and group variables as their JSON
// values decoded.
func (h *Host) envTyped(name string) (any, bool) {
	switch name {
	case "NR_NODE_ID", "NR_NODE_NAME", "NR_NODE_PATH":
		return h.Env(name)
	}
	raw, ok := h.env.lookup(name)
	if !ok {
		return nil, false
	}
	v, err := ParseJSON(raw)
	if err != nil {
		return string(raw), true
	}
	return v, true
}

var (
	envWhole   = regexp.MustCompile(`^\$\{[^}]+\}$`) // Node-RED's /^\${[^}]+}$/
	envSomeRef = regexp.MustCompile(`\$\{\S+\}`)     // Node-RED's /\${\S+}/
)

var envRef = regexp.MustCompile(`\$\{([^}]+)\}`)

// Env returns the environment variable name as the node sees it, as
// Node-RED's getSetting: the node's own NR_NODE_ID, NR_NODE_NAME and
// NR_NODE_PATH; then its group's variables (and NR_GROUP_ID,
// NR_GROUP_NAME), the groups around it, its tab's (and NR_FLOW_ID,
// NR_FLOW_NAME), and the process environment; and whether it is set.
// Values that are not strings (a num or json variable) are given as JSON.
func (h *Host) Env(name string) (string, bool) {
	switch name {
	case "NR_NODE_ID":
		return h.id, true
	case "NR_NODE_NAME":
		return h.name, true
	case "NR_NODE_PATH":
		if h.path != "" {
			return h.path, true
		}
		z := h.z
		if z == "" {
			z = "global"
		}
		return z + "/" + h.id, true
	}
	return h.env.text(name)
}
