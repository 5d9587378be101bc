package function

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// ChangeRule is one rule of a change node, with Node-RED's property names.
type ChangeRule struct {
	T    string       `json:"t" label:"Action" default:"set" options:"set=Set,change=Change,delete=Delete,move=Move" help:"set: set the property; change: search and replace in it; delete: delete it; move: move it to another property"`
	P    string       `json:"p" label:"Property" default:"payload" typeprop:"pt" types:"msg,flow,global" help:"The property to set, change, delete or move, such as payload or payload.a[0]"`
	Pt   string       `json:"pt" label:"Property type" default:"msg" kind:"hidden" options:"msg=msg.,flow=flow.,global=global."`
	To   engine.Typed `json:"to" label:"To" showif:"t=set,change,move" typeprop:"tot" types:"str,msg,flow,global,num,bool,json,bin,date,jsonata,env,expr" help:"set: the value; change: the replacement; move: the property moved to (msg, flow or global)"`
	From engine.Typed `json:"from" label:"Search for" showif:"t=change" typeprop:"fromt" types:"str,msg,flow,global,re,num,bool,env" help:"change: what to search for"`
	Dc   bool         `json:"dc" label:"Deep copy value" showif:"t=set" help:"Node-RED copies the value; Runnel's values are never changed in place, so it makes no difference"`
}

// ChangeConfig is the configuration of a change node. Action, Property,
// From, To and Reg are the single-rule form of Node-RED's oldest change
// nodes, used when there are no rules; the form does not show them (as
// Node-RED's editor keeps them but shows only the rules).
type ChangeConfig struct {
	Rules    []ChangeRule `json:"rules" label:"Rules"`
	Action   string       `json:"action" label:"Action (legacy)" kind:"hidden" help:"The single-rule form of old flows: replace, change, delete or move; used when rules is missing"`
	Property string       `json:"property" label:"Property (legacy)" kind:"hidden"`
	From     string       `json:"from" label:"From (legacy)" kind:"hidden"`
	To       string       `json:"to" label:"To (legacy)" kind:"hidden"`
	Reg      bool         `json:"reg" label:"From is a regular expression (legacy)" default:"false" kind:"hidden"`
}

// ChangeType is Node-RED's change node.
var ChangeType = engine.NewType(engine.Meta{
	Type:     "change",
	Category: "function",
	Inputs:   1,
	Outputs:  1,
	Color:    "#E2D96E",
	Icon:     "swap.svg",
	Labels:   []engine.LabelRule{{Text: "change"}},
	Help: strings.ReplaceAll(`Sets, changes, deletes or moves message properties and flow or global context values: Node-RED's **change** node.

The **rules** run in order, each on the message as the previous one left it. Each rule has an action **t**, a property **p** and its type **pt** (msg, flow or global: flow and global keys may name their store, ´#:(persistent)::count´).

- **set** sets the property to the value **to** of type **tot**: str, num, bool, json, bin (a buffer), date (now), env, msg/flow/global (a copy of another property), jsonata or expr. Objects on the way are created (´payload.a.b´ on a message without payload.a makes it). Setting to a msg, flow or global property that does not exist deletes the target, as in Node-RED. Setting beneath a value that is not an object (a string, a number, null) is refused with a warning.
- **change** searches the property for **from** (type **fromt**) and replaces what it finds with **to**:
  - a string property: every occurrence of a str, num or bool *from* is replaced; a re *from* is a regular expression whose matches are replaced, with ´$1´, ´$&´, ´$<name>´ in *to* referring to its groups. When the whole property equals a str, num or bool *from*, it is replaced by *to* keeping *to*'s type (a number, a boolean). When *to* is a bool and the replaced text reads "true" or "false", the property becomes that boolean. An env *from* is searched for as written (´a${X}´), not its value, as in Node-RED (which, when it loads a flow, replaces any property that is exactly ´${X}´ with the variable: Runnel does not yet).
  - a number property is replaced when it equals a num *from*; a boolean property when it equals a bool *from* ("true" or "false", as written). Other types are left alone.
  - *from* may be a msg, flow or global property: a string is searched for as text; a number or boolean is compared with number and boolean properties (a string property then has the text "undefined" replaced, as Node-RED does); another type is an error (reported, and the message goes on).
- **delete** deletes the property (an array element is removed, the later ones move up).
- **move** moves the property to **to** (type **tot**, msg, flow or global), deleting the original; moving a property into one of its own children works (´payload´ to ´payload.data´).

Errors: a bad rule (a number that is not one, bad JSON, a regular expression Go cannot compile, a bad property path) is a deploy error naming the rule, such as ´rules[2].to´. A JSONata or expr error while running is reported with the message, which is then dropped. A message property that cannot be read (´payload.a.b´ when payload.a does not exist) makes the rule do nothing.

Like Node-RED 4.1.15, a **change** rule on a flow or global value that is not a string, and not a number or boolean equal to *from*, stops the message: it is not sent on.

The single-rule form of very old flows (action, property, from, to, reg without rules) is converted as Node-RED converts it. **dc** (deep copy) is accepted; Runnel's message values are never changed in place, so a copy is never needed.

Differences from Node-RED: regular expressions are Go's RE2 (no lookaround or back-references), and where a regular expression matches the empty string right after another match, that empty match is not replaced again. Paths and context keys with nested message references (´payload[msg.topic]´, ´flow.a[msg.topic]´) are not supported: they are refused at deploy.`, "´", "`"),
}, newChange)

func init() { engine.Register(ChangeType) }

// The operations a change node runs. move compiles to set and delete.
const (
	opSet = iota
	opChange
	opDelete
)

// The kinds of a change rule's from.
const (
	fromStr  = "str"
	fromNum  = "num"
	fromBool = "bool"
	fromRe   = "re"
)

// changeOp is one compiled step of a change node.
type changeOp struct {
	kind   int
	target engine.Ref
	parent engine.Path // the target's parent (msg only), to read it as Node-RED does
	// prefixes are the paths on the way to a msg target (payload,
	// payload.a for payload.a.b), checked before setting.
	prefixes []engine.Path
	to       engine.Typed
	toPar    engine.Path // parent of a msg to
	totStr   string      // the to's type, as written
	// from, for change: a msg/flow/global reference (fromRef set), or a
	// constant: its kind, its text as written and its regular expression.
	fromRef  bool
	from     engine.Typed
	fromPar  engine.Path
	fromType string
	fromText string
	fromRE   *regexp.Regexp
}

type changeNode struct {
	h   *engine.Host
	ops []changeOp
}

func newChange(cfg *ChangeConfig, h *engine.Host) (engine.Node, error) {
	rules := cfg.Rules
	if rules == nil && cfg.Action != "" {
		r, err := legacyRule(cfg)
		if err != nil {
			return nil, err
		}
		rules = []ChangeRule{r}
	}
	n := &changeNode{h: h}
	// Every rule is compiled, so that a deploy names each bad one.
	var errs []error
	for i := range rules {
		if err := n.compile(i, &rules[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return n, nil
}

// legacyRule converts the single-rule form as Node-RED's constructor does.
func legacyRule(cfg *ChangeConfig) (ChangeRule, error) {
	r := ChangeRule{T: cfg.Action, P: cfg.Property, Pt: engine.TypeMsg}
	if r.T == "replace" {
		r.T = "set"
	}
	var err error
	switch r.T {
	case "set", "move":
		tot, to := engine.TypeStr, cfg.To
		if r.T == "move" {
			tot = engine.TypeMsg
		}
		if rest, ok := strings.CutPrefix(to, "msg."); ok {
			tot, to = engine.TypeMsg, rest
		}
		if r.To, err = engine.ParseTyped(tot, to); err != nil {
			return r, engine.ErrField("to", err)
		}
	case "change":
		if r.To, err = engine.ParseTyped(engine.TypeStr, cfg.To); err != nil {
			return r, engine.ErrField("to", err)
		}
		fromt := engine.TypeStr
		if cfg.Reg {
			fromt = engine.TypeRe
		}
		if r.From, err = engine.ParseTyped(fromt, cfg.From); err != nil {
			return r, engine.ErrField("from", err)
		}
	case "delete":
	default:
		return r, engine.ErrFieldf("action", "%q is not replace, change, delete or move", cfg.Action)
	}
	return r, nil
}

// compile turns rule i into operations.
func (n *changeNode) compile(i int, r *ChangeRule) error {
	field := func(f string) string { return fmt.Sprintf("rules[%d].%s", i, f) }
	pt := r.Pt
	if pt == "" {
		pt = engine.TypeMsg
	}
	target, err := engine.ParseRef(pt, r.P)
	if err != nil {
		return engine.ErrField(field("p"), err)
	}
	to := r.To
	if to.IsZero() {
		to, _ = engine.ParseTyped(engine.TypeStr, "")
	}
	switch r.T {
	case "set", "delete":
		kind := opSet
		if r.T == "delete" {
			kind = opDelete
		}
		n.ops = append(n.ops, newOp(kind, target, to))
	case "change":
		op := newOp(opChange, target, to)
		if err := op.compileFrom(r.From); err != nil {
			return engine.ErrField(field("from"), err)
		}
		n.ops = append(n.ops, op)
	case "move":
		dest, ok := to.Ref()
		if !ok {
			return engine.ErrFieldf(field("to"), "move needs a msg, flow or global property, not %s", to.Type)
		}
		src, _ := engine.ParseTyped(pt, r.P)
		if dest.Scope != pt || strings.Contains(r.P, to.Value) && r.P != to.Value {
			n.ops = append(n.ops, newOp(opSet, dest, src), newOp(opDelete, target, engine.Typed{}))
			break
		}
		// Node-RED moves in two steps, through _temp_move, so that a
		// property can move into one of its own children.
		tmp, _ := engine.ParseRef(dest.Scope, "_temp_move")
		tmpVal, _ := engine.ParseTyped(pt, "_temp_move")
		n.ops = append(n.ops,
			newOp(opSet, tmp, src),
			newOp(opDelete, target, engine.Typed{}),
			newOp(opSet, dest, tmpVal),
			newOp(opDelete, tmp, engine.Typed{}))
	default:
		return engine.ErrFieldf(field("t"), "%q is not set, change, delete or move", r.T)
	}
	return nil
}

func newOp(kind int, target engine.Ref, to engine.Typed) changeOp {
	op := changeOp{kind: kind, target: target, to: to, totStr: to.Type}
	if target.Scope == engine.TypeMsg {
		op.parent = parentPath(target.Path)
		segs := target.Path.Segments()
		for i := 1; i < len(segs); i++ {
			op.prefixes = append(op.prefixes, engine.MustParsePath(pathString(segs[:i])))
		}
	}
	if r, ok := to.Ref(); ok && r.Scope == engine.TypeMsg {
		op.toPar = parentPath(r.Path)
	}
	return op
}

// compileFrom prepares a change rule's from as Node-RED does: a str, num,
// bool or env text is searched for literally, a re is a regular
// expression, and msg, flow and global are read per message.
func (op *changeOp) compileFrom(from engine.Typed) error {
	if from.IsZero() {
		from, _ = engine.ParseTyped(engine.TypeStr, "")
	}
	op.from = from
	switch from.Type {
	case engine.TypeMsg, engine.TypeFlow, engine.TypeGlobal:
		op.fromRef = true
		if r, _ := from.Ref(); r.Scope == engine.TypeMsg {
			op.fromPar = parentPath(r.Path)
		}
		return nil
	case engine.TypeRe:
		op.fromType, op.fromText, op.fromRE = fromRe, from.Value, from.Regexp()
		return nil
	case engine.TypeExpr, engine.TypeJSONata:
		return fmt.Errorf("type %s cannot be searched for", from.Type)
	}
	op.fromType, op.fromText = from.Type, from.Value
	op.fromRE = regexp.MustCompile(regexp.QuoteMeta(from.Value))
	return nil
}

// parentPath returns the path of p's parent, or the zero Path for a
// top-level property.
func parentPath(p engine.Path) engine.Path {
	segs := p.Segments()
	if len(segs) < 2 {
		return engine.Path{}
	}
	return engine.MustParsePath(pathString(segs[:len(segs)-1]))
}

// pathString writes segments as a property path ParsePath reads back.
func pathString(segs []engine.Segment) string {
	var b strings.Builder
	for i, s := range segs {
		switch {
		case i == 0:
			b.WriteString(s.Key)
		case s.IsIndex:
			b.WriteString("[" + strconv.Itoa(s.Index) + "]")
		case isIdent(s.Key):
			b.WriteString("." + s.Key)
		default:
			b.WriteString(`["` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s.Key) + `"]`)
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c == '.' || c == '[' || c == ']' || c == '"' || c == '\'' {
			return false
		}
	}
	return true
}

// errUnreadable is Node-RED's TypeError when a message path goes through
// a missing or null value.
var errUnreadable = errors.New("cannot read a property of undefined")

// getMsg reads path p of m as Node-RED's getMessageProperty does: it
// reports whether the value is defined, and errUnreadable when a value on
// the way (parent) is missing or null, which Node-RED throws for.
func getMsg(m *engine.Message, p, parent engine.Path) (any, bool, error) {
	if v, ok := m.Lookup(p); ok {
		return v, true, nil
	}
	if parent.IsZero() {
		return nil, false, nil
	}
	if v, ok := m.Lookup(parent); !ok || v == nil {
		return nil, false, errUnreadable
	}
	return nil, false, nil
}

// Receive applies the rules to m and sends it on, unless a rule dropped it.
func (n *changeNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	for i := range n.ops {
		if !n.apply(m, &n.ops[i]) {
			return nil
		}
	}
	out.Send(0, m)
	return nil
}

// value evaluates op's to for m. skip is set when the rule is to do
// nothing (a msg property that cannot be read); drop when the message is
// to stop (an expression failed: reported).
func (n *changeNode) value(m *engine.Message, op *changeOp) (v any, def, skip, drop bool) {
	if r, ok := op.to.Ref(); ok {
		if r.Scope == engine.TypeMsg {
			v, def, err := getMsg(m, r.Path, op.toPar)
			return v, def, err != nil, false
		}
		v, def := r.Get(n.h, m)
		return v, def, false, false
	}
	v, err := op.to.Eval(n.h, m)
	if err != nil {
		n.h.Error(fmt.Errorf("invalid expression: %w", err), m)
		return nil, false, false, true
	}
	return v, true, false, false
}

// apply runs one operation; it returns false when the message stops.
func (n *changeNode) apply(m *engine.Message, op *changeOp) bool {
	if op.kind == opDelete {
		op.target.Delete(n.h, m)
		return true
	}
	v, def, skip, drop := n.value(m, op)
	if drop {
		return false
	}
	if skip {
		return true
	}
	msgTarget := op.target.Scope == engine.TypeMsg
	if op.kind == opSet {
		if !def {
			op.target.Delete(n.h, m)
			return true
		}
		if msgTarget {
			n.setMsg(m, op, v)
			return true
		}
		if err := op.target.Set(n.h, m, v); err != nil {
			n.h.Error(err, m)
			return false
		}
		return true
	}

	// change: what to search for.
	fromType, fromText, fromRE := op.fromType, op.fromText, op.fromRE
	var fromVal any
	if op.fromRef {
		r, _ := op.from.Ref()
		var fv any
		var ok bool
		if r.Scope == engine.TypeMsg {
			var err error
			if fv, ok, err = getMsg(m, r.Path, op.fromPar); err != nil {
				return true // Node-RED's "okay error": the rule does nothing
			}
		} else {
			fv, ok = r.Get(n.h, m)
		}
		fromType, fromText, fromRE = "", "", nil
		switch x := fv.(type) {
		case string:
			fromType, fromText, fromRE = fromStr, x, regexp.MustCompile(regexp.QuoteMeta(x))
		case bool:
			fromType, fromVal = fromBool, x
		default:
			if f, isNum := engine.Number(fv); isNum && ok {
				fromType, fromVal = fromNum, f
				break
			}
			// Node-RED reports the error and then goes on with the rule
			// (its callback runs twice), searching for nothing.
			what := "undefined"
			if ok {
				what = "object"
			}
			n.h.Error(fmt.Errorf("invalid 'from' property: unsupported type: %s", what), m)
		}
	}

	var cur any
	var curOK bool
	if msgTarget {
		var err error
		if cur, curOK, err = getMsg(m, op.target.Path, op.parent); err != nil {
			return true
		}
	} else {
		cur, curOK = op.target.Get(n.h, m)
	}
	set := func(x any, xdef bool) bool {
		if msgTarget {
			if !xdef {
				op.target.Delete(n.h, m)
			} else {
				_ = op.target.Set(n.h, m, x)
			}
			return true
		}
		if !xdef {
			x = nil
		}
		if err := op.target.Set(n.h, m, x); err != nil {
			n.h.Error(err, m)
			return false
		}
		return true
	}
	switch c := cur.(type) {
	case string:
		if !op.fromRef && (fromType == fromNum || fromType == fromBool || fromType == fromStr) && c == fromText ||
			op.fromRef && fromType == fromStr && c == fromText {
			return set(v, def)
		}
		repl := jsStringDef(v, def)
		var res string
		if fromRE == nil {
			// String.prototype.replace(undefined, to): the text "undefined", once.
			res = jsReplaceLiteral(c, "undefined", repl)
		} else {
			res = jsReplaceAll(c, fromRE, repl)
		}
		if msgTarget && op.totStr == engine.TypeBool {
			if b, isBool := v.(bool); isBool && res == strconv.FormatBool(b) {
				return set(b, true)
			}
		}
		return set(res, true)
	case bool:
		if fromType == fromBool && !op.fromRef && strconv.FormatBool(c) == fromText {
			return set(v, def)
		}
	default:
		if f, isNum := engine.Number(cur); isNum && curOK && fromType == fromNum {
			want, _ := fromVal.(float64)
			if !op.fromRef {
				want = jsv.ToNumber(fromText)
			}
			if f == want {
				return set(v, def)
			}
		}
	}
	// Nothing changed. Node-RED goes on with a message property, but never
	// calls back for a context value: the message stops there.
	return msgTarget
}

// setMsg sets a message property as Node-RED's setMessageProperty does,
// warning instead of setting beneath a value that is not an object.
func (n *changeNode) setMsg(m *engine.Message, op *changeOp, v any) {
	for _, p := range op.prefixes {
		pv, ok := m.Lookup(p)
		if !ok {
			break // created from here on
		}
		if t := engine.TypeName(pv); t != "object" && t != "array" {
			// A string, number, boolean, buffer or null on the way.
			n.h.Logger().Warn("cannot set property of non-object type: " + op.target.Path.String())
			return
		}
	}
	if err := op.target.Set(n.h, m, v); err != nil {
		n.h.Logger().Warn("cannot set property of non-object type: " + op.target.Path.String())
	}
}

// jsStringDef is String(v) for a value that may be undefined.
func jsStringDef(v any, def bool) string {
	if !def {
		return "undefined"
	}
	return jsv.ToString(v)
}

// jsReplaceAll is s.replace(re, repl) for a regular expression with the g
// flag: every match replaced, with JavaScript's $ patterns in repl.
func jsReplaceAll(s string, re *regexp.Regexp, repl string) string {
	matches := re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b []byte
	last := 0
	for _, mt := range matches {
		b = append(b, s[last:mt[0]]...)
		b = jsExpand(b, repl, s, mt, re)
		last = mt[1]
	}
	return string(append(b, s[last:]...))
}

// jsReplaceLiteral is s.replace(pattern, repl) for a string pattern: the
// first occurrence only.
func jsReplaceLiteral(s, pattern, repl string) string {
	i := strings.Index(s, pattern)
	if i < 0 {
		return s
	}
	b := append([]byte(nil), s[:i]...)
	b = jsExpand(b, repl, s, []int{i, i + len(pattern)}, nil)
	return string(append(b, s[i+len(pattern):]...))
}

// jsExpand appends repl with JavaScript's replacement patterns expanded:
// $$, $&, $`, $', $1 to $99 and $<name>; a pattern naming no group is
// kept as written.
func jsExpand(b []byte, repl, s string, match []int, re *regexp.Regexp) []byte {
	groups := len(match)/2 - 1
	group := func(k int) string {
		if match[2*k] < 0 {
			return ""
		}
		return s[match[2*k]:match[2*k+1]]
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '$' || i+1 == len(repl) {
			b = append(b, c)
			continue
		}
		d := repl[i+1]
		switch {
		case d == '$':
			b = append(b, '$')
			i++
		case d == '&':
			b = append(b, group(0)...)
			i++
		case d == '`':
			b = append(b, s[:match[0]]...)
			i++
		case d == '\'':
			b = append(b, s[match[1]:]...)
			i++
		case d >= '0' && d <= '9':
			k := int(d - '0')
			width := 1
			if i+2 < len(repl) && repl[i+2] >= '0' && repl[i+2] <= '9' {
				if k2 := k*10 + int(repl[i+2]-'0'); k2 >= 1 && k2 <= groups {
					k, width = k2, 2
				}
			}
			if k < 1 || k > groups {
				b = append(b, c)
				continue
			}
			b = append(b, group(k)...)
			i += width
		case d == '<' && re != nil && hasNamedGroups(re):
			end := strings.IndexByte(repl[i+2:], '>')
			if end < 0 {
				b = append(b, c)
				continue
			}
			name := repl[i+2 : i+2+end]
			if k := re.SubexpIndex(name); k > 0 {
				b = append(b, group(k)...)
			}
			i += 2 + end
		default:
			b = append(b, c)
		}
	}
	return b
}

func hasNamedGroups(re *regexp.Regexp) bool {
	for _, n := range re.SubexpNames() {
		if n != "" {
			return true
		}
	}
	return false
}
