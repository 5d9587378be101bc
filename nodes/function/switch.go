package function

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// SwitchRule is one rule of a switch node, with Node-RED's property names:
// the test t and its values v (of type vt) and v2 (of type v2t).
type SwitchRule struct {
	T    string `json:"t" label:"Test" default:"eq" options:"eq===,neq=!=,lt=<,lte=<=,gt=>,gte=>=,btwn=is between,cont=contains,regex=matches regex,true=is true,false=is false,null=is null,nnull=is not null,empty=is empty,nempty=is not empty,istype=is of type,hask=has key,head=head,index=index between,tail=tail,jsonata_exp=JSONata exp,else=otherwise"`
	V    string `json:"v" label:"Value" typeprop:"vt" types:"str,num,bool,json,bin,msg,flow,global,env,re,jsonata,expr,prev,string,number,boolean,array,buffer,object,undefined,null" showif:"t=eq,neq,lt,lte,gt,gte,btwn,cont,regex,istype,hask,head,index,tail,jsonata_exp"`
	Vt   string `json:"vt" label:"Value type" kind:"hidden" options:"str=string,num=number,bool=boolean,json=JSON,bin=buffer,msg=msg.,flow=flow.,global=global.,env=env variable,re=regular expression,jsonata=JSONata,expr=expr,prev=previous value" other:"a type name (is of type)" help:"msg, flow, global, str, num, bool, json, env, jsonata, expr or prev (the previous value); for istype the type tested: string, number, boolean, array, buffer, object, json, undefined or null"`
	V2   string `json:"v2" label:"Second value" typeprop:"v2t" types:"num,str,msg,flow,global,env,jsonata,expr,prev" showif:"t=btwn,index" help:"btwn and index: the upper bound"`
	V2t  string `json:"v2t" label:"Second value type" kind:"hidden" options:"num=number,str=string,msg=msg.,flow=flow.,global=global.,env=env variable,jsonata=JSONata,expr=expr,prev=previous value" other:"another type"`
	Case bool   `json:"case" label:"Ignore case" showif:"t=regex" help:"regex: match ignoring case"`
}

// SwitchConfig is the configuration of a switch node.
type SwitchConfig struct {
	Property engine.Typed    `json:"property" label:"Property" default:"payload" typeprop:"propertyType" types:"msg,flow,global,jsonata,env,expr"`
	Rules    []SwitchRule    `json:"rules" label:"Rules" default:"[{\"t\":\"eq\",\"v\":\"\",\"vt\":\"str\"}]" help:"A new switch node starts with one == rule, as in Node-RED"`
	Checkall json.RawMessage `json:"checkall" label:"Matching" kind:"select" default:"\"true\"" options:"true=checking all rules,false=stopping after first match" help:"Send to every output whose rule matches, or only to the first"`
	Repair   bool            `json:"repair" label:"Recreate message sequences" help:"For messages with msg.parts (from split): each output's messages get msg.parts of their own sequence"`
}

// SwitchType is Node-RED's switch node.
var SwitchType = engine.NewType(engine.Meta{
	Type:        "switch",
	Category:    "function",
	Inputs:      1,
	Outputs:     1,
	Color:       "#E2D96E",
	Icon:        "switch.svg",
	OutputsFrom: "rules",
	Labels:      []engine.LabelRule{{Text: "switch"}},
	Help: strings.ReplaceAll(`Routes each message to the outputs whose rule its **property** passes: Node-RED's **switch** node. It has one output per rule.

**property** (with **propertyType** msg, flow, global, env, jsonata or expr) is the value tested; a property that does not exist is undefined.

**Rules** (t), each with its value v of type vt (msg, flow, global, str, num, bool, json, env, jsonata, expr, or prev: the property's value in the previous message, null at first) and for btwn and index a second value v2 (type v2t):
- **eq**, **neq**, **lt**, **lte**, **gt**, **gte**: JavaScript's ´==´, ´!=´, ´<´, ´<=´, ´>´, ´>=´, with its conversions: "5" == 5, true == 1, null == undefined; two strings compare as text, anything else as numbers. Objects and arrays are never equal to one another.
- **btwn**: between v and v2 inclusive, in either order.
- **cont**: the property as text contains v.
- **regex**: the property as text matches the regular expression v (**case** ignores case).
- **true**, **false**: the property is the boolean true or false (not just truthy).
- **null**, **nnull**: the property is (not) null or undefined.
- **empty**, **nempty**: an empty (non-empty) string, array, buffer or object; other types are neither.
- **istype**: the property is of type v: string, number (not NaN), boolean, array, buffer, object, json (text that parses as JSON), undefined or null.
- **hask**: the property has the key v.
- **head**, **index**, **tail**: sequence rules for messages with msg.parts (from split): the first v messages, those with index v to v2, the last v.
- **jsonata_exp**: the JSONata expression v is true.
- **else**: no rule before it has matched (since the last else).

**checkall** "true" sends the message to every output whose rule passes; "false" stops at the first. Like Node-RED, only the string "false" stops: a boolean false checks all.

**repair** (recreate message sequences): messages with msg.parts are held until their sequence is complete, and each output's share is sent with msg.parts renumbered as a sequence of its own. A **tail** rule holds sequences the same way, to know their length. There is no limit on what is held (Node-RED's default).

A rule error (a regular expression from a message that does not compile, a sequence rule on a message without msg.parts, a JSONata error) is reported with the message, which is then not sent.

Differences from Node-RED: regular expressions are Go's RE2 (no lookaround or back-references), and a constant one that does not compile is a deploy error; strings compare by code point rather than UTF-16 unit (the same order outside the astral planes); JSONata's $I and $N in jsonata_exp are not set yet.`, "´", "`"),
}, newSwitch)

func init() { engine.Register(SwitchType) }

// undef is JavaScript's undefined, which the switch node tells apart from
// null (nil): a missing property is undefined.
var undef any = jsv.Undefined

// switchValue is a rule's compiled v or v2.
type switchValue struct {
	konst  any          // a constant (also undef)
	isRef  bool         // typed is msg, flow or global
	prev   bool         // the previous property value
	typed  engine.Typed // evaluated per message when not constant
	isEval bool
}

type switchRule struct {
	t      string
	v, v2  switchValue
	re     *regexp.Regexp // regex with a constant v
	icase  bool
	isElse bool
}

type switchNode struct {
	h        *engine.Host
	prop     engine.Typed
	rules    []switchRule
	checkall bool
	repair   bool
	// needsCount: sequences are held until complete (repair or tail).
	needsCount bool
	stateful   bool // prev or sequences: messages are handled one at a time

	mu      sync.Mutex
	prevVal any
	pending map[string]*swGroup // sequences held until complete, by parts.id
	out     map[string]*swOut   // repaired sequences being built, by parts.id
	reCache regexCache          // regular expressions from messages, by source and case
}

// regexCache keeps the regular expressions compiled from message values,
// at most regexCacheMax of them: patterns come from messages, so a cache
// without a bound would grow with every distinct one.
type regexCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

const regexCacheMax = 64

func (c *regexCache) get(key string) *regexp.Regexp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *regexCache) put(key string, re *regexp.Regexp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= regexCacheMax {
		c.m = make(map[string]*regexp.Regexp, regexCacheMax) // start again rather than grow
	}
	c.m[key] = re
}

func (c *regexCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

type swGroup struct {
	count int // -1 until known
	msgs  []*engine.Message
}

type swOut struct {
	received int
	onwards  [][]bool
	msgs     []*engine.Message
}

func newSwitch(cfg *SwitchConfig, h *engine.Host) (engine.Node, error) {
	n := &switchNode{h: h, prop: cfg.Property, checkall: true, repair: cfg.Repair, prevVal: nil}
	if n.prop.IsZero() {
		n.prop, _ = engine.ParseTyped(engine.TypeMsg, "payload")
	}
	if len(cfg.Checkall) > 0 {
		var s string
		// Node-RED: checkall == "false" stops at the first match; a
		// boolean false is not the string "false".
		if json.Unmarshal(cfg.Checkall, &s) == nil && s == "false" {
			n.checkall = false
		}
	}
	n.needsCount = n.repair
	// Every rule is checked, so that a deploy names each bad one.
	var errs []error
	for i, r := range cfg.Rules {
		field := func(f string) string { return fmt.Sprintf("rules[%d].%s", i, f) }
		sr := switchRule{t: r.T, icase: r.Case, isElse: r.T == "else"}
		if _, ok := switchOps[r.T]; !ok {
			errs = append(errs, engine.ErrFieldf(field("t"), "unknown rule %q", r.T))
			continue
		}
		var err, verr error
		if sr.v, verr = compileSwitchValue(r.V, r.Vt); verr != nil {
			errs = append(errs, engine.ErrField(field("v"), verr))
		}
		if sr.v2, err = compileSwitchValue(r.V2, r.V2t); err != nil {
			errs = append(errs, engine.ErrField(field("v2"), err))
		}
		if verr == nil && r.T == "regex" && !sr.v.isEval && !sr.v.prev && !sr.v.isRef {
			if sr.re, err = engine.CompileRegExp(jsStringDef(sr.v.konst, sr.v.konst != undef), caseFlag(r.Case)); err != nil {
				errs = append(errs, engine.ErrField(field("v"), err))
			}
		}
		if r.T == "tail" {
			n.needsCount = true
		}
		if sr.v.prev || sr.v2.prev {
			n.stateful = true
		}
		n.rules = append(n.rules, sr)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if n.needsCount {
		n.stateful = true
		n.pending = make(map[string]*swGroup)
		n.out = make(map[string]*swOut)
	}
	return n, nil
}

func caseFlag(icase bool) string {
	if icase {
		return "i"
	}
	return ""
}

// compileSwitchValue prepares v of type vt as Node-RED's switch does: no
// type means num when v reads as a number, else str.
func compileSwitchValue(v, vt string) (switchValue, error) {
	if vt == "" {
		vt = engine.TypeStr
		if !math.IsNaN(jsv.StringToNumber(v)) {
			vt = engine.TypeNum
		}
	}
	switch vt {
	case "prev":
		return switchValue{prev: true}, nil
	case "json", "null":
		// Node-RED gives the type's name (istype's json and null).
		return switchValue{konst: vt}, nil
	case engine.TypeNum:
		f := jsv.StringToNumber(v)
		if math.IsNaN(f) {
			return switchValue{}, fmt.Errorf("%q is not a number", v)
		}
		return switchValue{konst: f}, nil
	case engine.TypeStr, engine.TypeBool, engine.TypeBin, engine.TypeMsg, engine.TypeFlow, engine.TypeGlobal,
		engine.TypeEnv, engine.TypeDate, engine.TypeJSONata, engine.TypeExpr:
		t, err := engine.ParseTyped(vt, v)
		if err != nil {
			return switchValue{}, err
		}
		if k, ok := t.Const(); ok {
			return switchValue{konst: k}, nil
		}
		_, isRef := t.Ref()
		return switchValue{typed: t, isRef: isRef, isEval: !isRef}, nil
	case engine.TypeRe:
		// new RegExp(v): compared as its text /v/.
		return switchValue{konst: "/" + v + "/"}, nil
	}
	// istype's type names and other types: the value as written.
	return switchValue{konst: v}, nil
}

// Outputs is the number of rules: the switch has one output per rule.
func (n *switchNode) Outputs() int { return len(n.rules) }

// value returns a rule value for m.
func (n *switchNode) value(v *switchValue, m *engine.Message, prev any) (any, error) {
	switch {
	case v.prev:
		return prev, nil
	case v.isRef:
		r, _ := v.typed.Ref()
		if x, ok := r.Get(n.h, m); ok {
			return x, nil
		}
		return undef, nil
	case v.isEval:
		x, err := v.typed.Eval(n.h, m)
		if err != nil {
			return nil, fmt.Errorf("invalid expression: %w", err)
		}
		return x, nil
	}
	return v.konst, nil
}

// property returns the tested value; an expression error is reported as
// a warning and drops the message (ok false).
func (n *switchNode) property(m *engine.Message) (any, bool) {
	if r, ok := n.prop.Ref(); ok {
		if x, ok := r.Get(n.h, m); ok {
			return x, true
		}
		return undef, true
	}
	x, err := n.prop.Eval(n.h, m)
	if err != nil {
		n.h.Logger().Warn("invalid expression: " + err.Error())
		return nil, false
	}
	return x, true
}

// Receive routes m.
func (n *switchNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	if !n.stateful {
		prop, ok := n.property(m)
		if !ok {
			return nil
		}
		// The outputs are decided and sent before Receive returns, so
		// a small node keeps them on the stack.
		var buf [onwardStack]bool
		onward, err := n.applyRules(m, prop, nil, buf[:0])
		if err != nil {
			return err
		}
		n.send(out, m, onward)
		return nil
	}
	n.mu.Lock()
	var sends []swSend
	err := n.process(m, true, &sends)
	n.mu.Unlock()
	for _, s := range sends {
		if s.onward == nil {
			out.Send(s.port, s.m)
		} else {
			n.send(out, s.m, s.onward)
		}
	}
	return err
}

// swSend is a send decided under the lock and made after it: m to the
// ports of onward, or to port when onward is nil.
type swSend struct {
	m      *engine.Message
	onward []bool
	port   int
}

// parts reads msg.parts's id, index and count; has is Node-RED's
// hasParts (parts with an id and an index).
func parts(m *engine.Message) (id any, index any, count any, hasCount, has bool) {
	p, ok := m.Prop("parts")
	if !ok {
		return
	}
	pm := engine.NewMessage("", p)
	id, okID := pm.Lookup(pathPayloadID)
	index, okIdx := pm.Lookup(pathPayloadIndex)
	count, hasCount = pm.Lookup(pathPayloadCount)
	return id, index, count, hasCount, okID && okIdx
}

var (
	pathPayloadID    = engine.MustParsePath("payload.id")
	pathPayloadIndex = engine.MustParsePath("payload.index")
	pathPayloadCount = engine.MustParsePath("payload.count")
	pathPartsID      = engine.MustParsePath("parts.id")
	pathPartsIndex   = engine.MustParsePath("parts.index")
	pathPartsCount   = engine.MustParsePath("parts.count")
)

// process is Node-RED's processMessage, run under n.mu.
func (n *switchNode) process(m *engine.Message, checkParts bool, sends *[]swSend) error {
	id, _, count, hasCount, has := parts(m)
	if n.needsCount && checkParts && has {
		gid := jsv.ToString(id)
		g := n.pending[gid]
		if g == nil {
			g = &swGroup{count: -1}
			n.pending[gid] = g
		}
		g.msgs = append(g.msgs, m)
		if hasCount {
			g.count = int(jsv.ToNumber(count))
		}
		if g.count == len(g.msgs) {
			delete(n.pending, gid)
			for _, gm := range g.msgs {
				_ = gm.Set(pathPartsCount, float64(g.count))
				if err := n.process(gm, false, sends); err != nil {
					n.h.Error(err, gm)
				}
			}
		}
		return nil
	}
	prop, ok := n.property(m)
	if !ok {
		return nil
	}
	onward, err := n.applyRules(m, prop, &n.prevVal, nil)
	if err != nil {
		return err
	}
	if !n.repair || !has {
		*sends = append(*sends, swSend{m: m, onward: onward})
		return nil
	}
	n.sendGroup(m, id, onward, sends)
	return nil
}

// sendGroup is Node-RED's sendGroupMessages: once every message of the
// sequence has been through the rules, each output gets its messages as a
// sequence of its own, with a new parts.id, index and count.
func (n *switchNode) sendGroup(m *engine.Message, id any, onward []bool, sends *[]swSend) {
	gid := jsv.ToString(id)
	g := n.out[gid]
	if g == nil {
		g = &swOut{}
		n.out[gid] = g
	}
	g.received++
	g.onwards = append(g.onwards, onward)
	g.msgs = append(g.msgs, m)
	_, _, count, _, _ := parts(m)
	if f, ok := engine.Number(count); !ok || float64(g.received) != f {
		return
	}
	delete(n.out, gid)
	ports := len(onward)
	counts := make([]int, ports)
	for _, on := range g.onwards {
		for j, ok := range on {
			if ok {
				counts[j]++
			}
		}
	}
	ids := make([]string, ports)
	for j := range ids {
		ids[j] = newPartsID()
	}
	indexes := make([]int, ports)
	for i, on := range g.onwards {
		for j, ok := range on {
			if !ok {
				continue
			}
			c := g.msgs[i].Copy()
			_ = c.Set(pathPartsID, ids[j])
			_ = c.Set(pathPartsIndex, float64(indexes[j]))
			_ = c.Set(pathPartsCount, float64(counts[j]))
			indexes[j]++
			*sends = append(*sends, swSend{m: c, port: j})
		}
	}
}

// newPartsID is a new sequence id, as RED.util.generateId: 16 hex digits.
func newPartsID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// onwardStack is the number of outputs up to which Receive keeps a
// message's outputs on the stack.
const onwardStack = 8

// applyRules runs the rules on prop, as Node-RED's applyRules; prev, when
// set, holds the previous property value and is updated. The outputs
// whose rules passed are returned in buf when it has room for them.
func (n *switchNode) applyRules(m *engine.Message, prop any, prev *any, buf []bool) ([]bool, error) {
	var onward []bool
	if cap(buf) >= len(n.rules) {
		onward = buf[:len(n.rules)]
		clear(onward)
	} else {
		onward = make([]bool, len(n.rules))
	}
	if len(n.rules) == 0 {
		return onward, nil
	}
	var pv any
	if prev != nil {
		pv = *prev
	}
	elseflag := true
	for i := range n.rules {
		r := &n.rules[i]
		v1, err := n.value(&r.v, m, pv)
		if err != nil {
			return nil, err
		}
		v2, err := n.value(&r.v2, m, pv)
		if err != nil {
			return nil, err
		}
		a := prop
		if r.isElse {
			a = elseflag
			elseflag = true
		}
		ok, err := n.test(r, m, a, v1, v2)
		if err != nil {
			return nil, err
		}
		if ok {
			onward[i] = true
			elseflag = false
			if !n.checkall {
				break
			}
		}
	}
	if prev != nil {
		*prev = prop
	}
	return onward, nil
}

// send passes m to every output whose rule passed: copies to all but the
// last, m itself to the last.
func (n *switchNode) send(out engine.Output, m *engine.Message, onward []bool) {
	last := -1
	for i, ok := range onward {
		if ok {
			last = i
		}
	}
	for i, ok := range onward {
		if !ok {
			continue
		}
		if i == last {
			out.Send(i, m)
		} else {
			out.Send(i, m.Copy())
		}
	}
}

var switchOps = map[string]bool{
	"eq": true, "neq": true, "lt": true, "lte": true, "gt": true, "gte": true, "btwn": true,
	"cont": true, "regex": true, "true": true, "false": true, "null": true, "nnull": true,
	"empty": true, "nempty": true, "istype": true, "hask": true, "head": true, "index": true,
	"tail": true, "jsonata_exp": true, "else": true,
}

var errNoParts = errors.New("cannot read properties of undefined (reading 'index'): the rule needs msg.parts")

// test is Node-RED's operators[t](a, v1, v2, case, msg.parts).
func (n *switchNode) test(r *switchRule, m *engine.Message, a, b, c any) (bool, error) {
	switch r.t {
	case "eq":
		return jsv.LooseEqual(a, b), nil
	case "neq":
		return !jsv.LooseEqual(a, b), nil
	case "lt":
		k, ok := jsCompare(a, b)
		return ok && k < 0, nil
	case "lte":
		k, ok := jsCompare(a, b)
		return ok && k <= 0, nil
	case "gt":
		k, ok := jsCompare(a, b)
		return ok && k > 0, nil
	case "gte":
		k, ok := jsCompare(a, b)
		return ok && k >= 0, nil
	case "btwn":
		ab, okb := jsCompare(a, b)
		ac, okc := jsCompare(a, c)
		return okb && okc && (ab >= 0 && ac <= 0 || ab <= 0 && ac >= 0), nil
	case "cont":
		return strings.Contains(jsv.ToString(a), jsv.ToString(b)), nil
	case "regex":
		re := r.re
		if re == nil {
			src := jsv.ToString(b)
			key := caseFlag(r.icase) + "/" + src
			if re = n.reCache.get(key); re == nil {
				var err error
				if re, err = engine.CompileRegExp(src, caseFlag(r.icase)); err != nil {
					return false, err
				}
				n.reCache.put(key, re)
			}
		}
		return re.MatchString(jsv.ToString(a)), nil
	case "true", "else", "jsonata_exp":
		if r.t == "jsonata_exp" {
			a = b
		}
		x, ok := a.(bool)
		return ok && x, nil
	case "false":
		x, ok := a.(bool)
		return ok && !x, nil
	case "null":
		return a == nil || a == undef, nil
	case "nnull":
		return a != nil && a != undef, nil
	case "empty", "nempty":
		l, ok := jsLength(a)
		if !ok {
			return false, nil
		}
		return (l == 0) == (r.t == "empty"), nil
	case "istype":
		return jsIsType(a, b), nil
	case "hask":
		return jsHasKey(a, b), nil
	case "head", "tail", "index":
		p, ok := m.Prop("parts")
		if !ok || p == nil {
			return false, errNoParts
		}
		pm := engine.NewMessage("", p)
		index := lookupOr(pm, pathPayloadIndex)
		switch r.t {
		case "head":
			k, ok := jsCompare(index, jsv.ToNumber(b))
			return ok && k < 0, nil
		case "tail":
			count := jsv.ToNumber(lookupOr(pm, pathPayloadCount))
			k, ok := jsCompare(count-jsv.ToNumber(b), index)
			return ok && k <= 0, nil
		default:
			k1, ok1 := jsCompare(jsv.ToNumber(b), index)
			k2, ok2 := jsCompare(index, jsv.ToNumber(c))
			return ok1 && ok2 && k1 <= 0 && k2 <= 0, nil
		}
	}
	return false, nil
}

func lookupOr(m *engine.Message, p engine.Path) any {
	if v, ok := m.Lookup(p); ok {
		return v
	}
	return undef
}

// The JavaScript value rules the switch needs beyond engine/jsv.

// jsCompare compares a and b as JavaScript's <, <=, >, >= do: two strings
// as text, anything else as numbers. ok is false when a number is NaN
// (every comparison is then false).
func jsCompare(a, b any) (int, bool) {
	switch {
	case jsv.Less(a, b):
		return -1, true
	case jsv.Greater(a, b):
		return 1, true
	case jsv.LessOrEqual(a, b):
		return 0, true
	}
	return 0, false // NaN on one side: every comparison is false
}

// jsLength is the length of a string (UTF-16 units), array or buffer, or
// the number of keys of an object; ok is false for other values.
func jsLength(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		return len(utf16.Encode([]rune(x))), true
	case []byte:
		return len(x), true
	case []any:
		return len(x), true
	case map[string]any:
		return len(x), true
	case engine.RawJSON:
		switch d := x.Decode().(type) {
		case []any:
			return len(d), true
		case map[string]any:
			return len(d), true
		}
	}
	return 0, false
}

// jsIsType is the switch's istype test of a against type name b.
func jsIsType(a, b any) bool {
	t, _ := b.(string)
	return jsv.IsType(a, t)
}

// jsHasKey is the switch's hask test: a.hasOwnProperty(b + "").
func jsHasKey(a, b any) bool {
	if a == nil || a == undef || jsv.TypeOf(b) == "object" {
		return false
	}
	key := jsv.ToString(b)
	idx, err := strconv.Atoi(key)
	isIdx := err == nil && idx >= 0 && strconv.Itoa(idx) == key
	switch x := a.(type) {
	case string:
		l, _ := jsLength(x)
		return key == "length" || isIdx && idx < l
	case []byte:
		return isIdx && idx < len(x)
	case []any:
		return key == "length" || isIdx && idx < len(x)
	case map[string]any:
		_, ok := x[key]
		return ok
	case engine.RawJSON:
		return jsHasKey(x.Decode(), b)
	}
	return false
}
