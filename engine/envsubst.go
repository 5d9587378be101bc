package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"unicode"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine/jsv"
	"github.com/runnel-io/runnel/flows"
)

// envScope is one level of Node-RED's environment: a group or a tab (or
// the global flow, for config nodes on no tab) with its own variables
// (its "env" property) and built-in names, inside its parent. The
// outermost parent is the process environment.
type envScope struct {
	builtins map[string]json.RawMessage // NR_GROUP_ID/NAME or NR_FLOW_ID/NAME
	vars     map[string]json.RawMessage // the env property, evaluated
	parent   *envScope
}

// lookup returns the variable name as Node-RED's getSetting on a flow or
// group does, as a JSON value: this level's built-ins and variables,
// then the parent's, then the process environment (as a string).
// "$parent.NAME" skips a level, as in Node-RED.
func (s *envScope) lookup(name string) (json.RawMessage, bool) {
	v, rest, ok := s.lookupScopes(name)
	if ok {
		return v, true
	}
	if v, ok := os.LookupEnv(rest); ok {
		return jsonString(v), true
	}
	return nil, false
}

// lookupScopes is lookup without the process environment; when the name
// is not found it also returns what is left of it once the levels its
// "$parent." prefixes skipped are passed, for the process environment.
func (s *envScope) lookupScopes(name string) (json.RawMessage, string, bool) {
	for sc := s; sc != nil; sc = sc.parent {
		if rest, ok := strings.CutPrefix(name, "$parent."); ok {
			name = rest
			continue
		}
		if v, ok := sc.builtins[name]; ok {
			return v, name, true
		}
		if v, ok := sc.vars[name]; ok {
			return v, name, true
		}
	}
	return nil, name, false
}

// text returns the variable name as text (see Host.Env): a string as it
// is, other values as JSON.
func (s *envScope) text(name string) (string, bool) {
	v, rest, ok := s.lookupScopes(name)
	if ok {
		return jsonText(v), true
	}
	return os.LookupEnv(rest)
}

func jsonText(v json.RawMessage) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]) // no escapes: the text as it is
	}
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// scope returns the environment of the node: its group's (and the groups
// around that), else its tab's, else the global flow's.
func (c *compiler) scope(n *flows.Node) *envScope {
	if raw, ok := n.Get("g"); ok {
		var g string
		if json.Unmarshal(raw, &g) == nil {
			if gn := c.byID[g]; gn != nil && gn.Type == "group" {
				return c.groupScope(gn, 0)
			}
		}
	}
	return c.tabScope(n.Z)
}

// groupScope returns the environment of group gn, built once; depth
// stops a group that contains itself.
func (c *compiler) groupScope(gn *flows.Node, depth int) *envScope {
	if s, ok := c.scopes[gn.ID]; ok {
		return s
	}
	var parent *envScope
	if raw, ok := gn.Get("g"); ok && depth < 64 {
		var g string
		if json.Unmarshal(raw, &g) == nil {
			if pg := c.byID[g]; pg != nil && pg.Type == "group" && pg.ID != gn.ID {
				parent = c.groupScope(pg, depth+1)
			}
		}
	}
	if parent == nil {
		parent = c.tabScope(gn.Z)
	}
	s := &envScope{builtins: map[string]json.RawMessage{"NR_GROUP_ID": jsonString(gn.ID)}, parent: parent}
	if raw, ok := gn.Get("name"); ok {
		s.builtins["NR_GROUP_NAME"] = raw
	}
	s.vars = evalEnvList(gn, parent)
	c.scopes[gn.ID] = s
	return s
}

// tabScope returns the environment of tab id ("" or a missing tab: the
// global flow), built once.
func (c *compiler) tabScope(id string) *envScope {
	if c.scopes == nil {
		c.scopes = make(map[string]*envScope)
	}
	if s := c.subflowScope(id); s != nil {
		return s // the nodes of a subflow instance (see subflow.go)
	}
	if tab := c.byID[id]; tab == nil || tab.Type != "tab" {
		id = ""
	}
	if s, ok := c.scopes["tab:"+id]; ok {
		return s
	}
	s := &envScope{builtins: map[string]json.RawMessage{"NR_FLOW_ID": jsonString("global")}}
	if tab := c.byID[id]; id != "" {
		s.builtins["NR_FLOW_ID"] = jsonString(id)
		if raw, ok := tab.Get("label"); ok {
			s.builtins["NR_FLOW_NAME"] = raw
		}
		s.vars = evalEnvList(tab, nil)
	}
	c.scopes["tab:"+id] = s
	return s
}

// evalEnvList evaluates the "env" property of a tab or group
// ([{"name","value","type"}]) as Node-RED's evaluateEnvProperties does:
// str as written, num as Number(value), bool true only for "true", json
// parsed; env types last, each naming a variable of this level or of
// the levels around it (parent), or text with ${NAME} in it. Other types
// are kept as their text.
func evalEnvList(n *flows.Node, parent *envScope) map[string]json.RawMessage {
	raw, ok := n.Get("env")
	if !ok {
		return nil
	}
	var vars []struct {
		Name  string          `json:"name"`
		Value json.RawMessage `json:"value"`
		Type  string          `json:"type"`
	}
	if json.Unmarshal(raw, &vars) != nil || len(vars) == 0 {
		return nil
	}
	out := make(map[string]json.RawMessage, len(vars))
	for _, v := range vars {
		if len(v.Value) == 0 {
			v.Value = json.RawMessage("null")
		}
		var text string
		isText := json.Unmarshal(v.Value, &text) == nil
		switch v.Type {
		case TypeEnv:
			continue
		case TypeNum:
			f := jsv.ToNumber(jsonText(v.Value))
			out[v.Name] = AppendJSON(nil, f)
		case TypeBool:
			out[v.Name] = json.RawMessage(map[bool]string{true: "true", false: "false"}[(isText && text == "true") || string(v.Value) == "true"])
		case TypeJSON:
			if isText && json.Valid([]byte(text)) {
				out[v.Name] = json.RawMessage(text)
			}
		default:
			out[v.Name] = v.Value
		}
	}
	level := &envScope{vars: out, parent: parent}
	for _, v := range vars {
		if v.Type != TypeEnv {
			continue
		}
		name := jsonText(v.Value)
		if name == v.Name {
			name = "$parent." + name
		}
		out[v.Name] = envProperty(level, name)
	}
	return out
}

// envProperty is Node-RED's evaluateEnvProperty: ${NAME} or a plain NAME
// is the variable's value ("" when unset), other text has each ${NAME}
// replaced by its text.
func envProperty(s *envScope, text string) json.RawMessage {
	name, exact := "", false
	switch {
	case strings.HasPrefix(text, "${") && strings.HasSuffix(text, "}") && !strings.Contains(text[2:len(text)-1], "}") && len(text) > 3:
		name, exact = text[2:len(text)-1], true
	case !envRef.MatchString(text):
		name, exact = text, true
	}
	if exact {
		if v, ok := s.lookup(name); ok {
			return v
		}
		return jsonString("")
	}
	return jsonString(envRef.ReplaceAllStringFunc(text, func(m string) string {
		v, _ := s.text(m[2 : len(m)-1])
		return v
	}))
}

// substituteEnv returns n with every property whose string value is
// exactly ${NAME} (or the older $(NAME)), at any depth inside objects and
// arrays, replaced by the variable's value, as Node-RED's
// mapEnvVarProperties does when it creates a node: NR_NODE_ID,
// NR_NODE_NAME and NR_NODE_PATH, then the node's group, tab and the
// process environment. A variable that is not set leaves the text as it
// is; ${NAME} inside longer text is not replaced. The value keeps its
// type (a num tab variable becomes a number). id, type, z, g and wires are
// left alone: Runnel builds the graph from them. n itself is not changed;
// without anything to replace it is returned as it is.
func (c *compiler) substituteEnv(n *flows.Node) *flows.Node {
	out := n
	var scope *envScope
	for _, p := range n.Props() {
		switch p.Key {
		case "id", "type", "z", "g", "wires", "credentials":
			continue
		}
		if !bytes.Contains(p.Value, []byte(`"$`)) {
			continue
		}
		if scope == nil {
			scope = c.scope(n)
		}
		lookup := func(name string) (json.RawMessage, bool) {
			switch name {
			case "NR_NODE_NAME":
				return out.Get("name")
			case "NR_NODE_ID":
				return jsonString(n.ID), true
			case "NR_NODE_PATH":
				return jsonString(c.nodePath(n)), true
			}
			return scope.lookup(name)
		}
		if v, changed := substJSON(gjson.ParseBytes(p.Value), lookup); changed {
			if out == n {
				out = n.Clone()
			}
			out.Set(p.Key, v)
		}
	}
	return out
}

// substJSON returns r's JSON with the strings that are exactly ${NAME} or
// $(NAME) replaced by lookup's value, and whether anything was replaced.
func substJSON(r gjson.Result, lookup func(string) (json.RawMessage, bool)) (json.RawMessage, bool) {
	switch {
	case r.Type == gjson.String:
		if name, ok := envPlaceholder(r.Str); ok {
			if v, ok := lookup(name); ok {
				return v, true
			}
		}
	case r.IsObject(), r.IsArray():
		changed := false
		var b []byte
		open, close := byte('['), byte(']')
		if r.IsObject() {
			open, close = '{', '}'
		}
		b = append(b, open)
		first := true
		r.ForEach(func(k, v gjson.Result) bool {
			if !first {
				b = append(b, ',')
			}
			first = false
			if r.IsObject() {
				b = append(append(b, k.Raw...), ':')
			}
			nv, ch := substJSON(v, lookup)
			if ch {
				changed = true
				b = append(b, nv...)
			} else {
				b = append(b, v.Raw...)
			}
			return true
		})
		if changed {
			return append(b, close), true
		}
	}
	return json.RawMessage(r.Raw), false
}

// envPlaceholder reports whether s is ${NAME} or $(NAME) with a NAME of
// one or more characters that are not JavaScript white space (Node-RED's
// /^\${(\S+)}$/ and /^\$\((\S+)\)$/), and returns NAME.
func envPlaceholder(s string) (string, bool) {
	if len(s) < 4 || s[0] != '$' {
		return "", false
	}
	if !(s[1] == '{' && s[len(s)-1] == '}') && !(s[1] == '(' && s[len(s)-1] == ')') {
		return "", false
	}
	name := s[2 : len(s)-1]
	for _, r := range name {
		if jsSpace(r) {
			return "", false
		}
	}
	return name, true
}

// jsSpace reports whether r is white space to JavaScript's \s.
func jsSpace(r rune) bool {
	return r == '\ufeff' || (unicode.IsSpace(r) && r != '\u0085')
}
