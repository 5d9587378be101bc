package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/runnel-io/runnel/flows/jsutf8"
)

// ParseError is an error in the text of a flow document that is not about
// one node's properties: text that is not JSON, a top level that is not an
// array of node objects, or an element that is not an object. Line and
// Column (1-based, columns counted in characters) locate the offending byte.
type ParseError struct {
	// Line and Column locate the error in the text (1-based).
	Line, Column int
	// Offset is the byte offset of the error in the text (0-based).
	Offset int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, if any (a *json.SyntaxError for text that
	// is not JSON).
	Err error
}

// Error formats the error as "line L, column C: msg".
func (e *ParseError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses a flow document: a JSON array of node objects (Node-RED's
// flows.json and admin API v1), or an object {"rev": "...", "flows": [...]}
// (admin API v2; rev is ignored). An empty array is a valid empty document.
//
// Every object keeps its properties in their original order with their raw
// values (whitespace compacted). If an object has the same key twice, the
// key keeps its first position and its last value, as JavaScript's
// JSON.parse does. Node-RED type names are converted to Runnel's (see
// RunnelType), in Node.Type and in the "type" property. A node's
// "credentials" object is moved out of the node into Document.Credentials
// (see MergeCredentials for the KeepPassword value).
//
// Text that is not JSON, a top level of the wrong shape and elements that are
// not objects are reported as a *ParseError. Node objects with a missing or
// malformed id, type, z, name or wires, and duplicate ids, are reported all
// together as Problems, and Parse then returns a nil Document. A null z,
// name or wires is read as absent, as Node-RED reads it, and kept as it is.
func Parse(data []byte) (*Document, error) {
	// Invalid UTF-8 becomes U+FFFD as Node-RED's JavaScript reads the
	// text, so that what is stored and served is valid UTF-8.
	if !utf8.Valid(data) {
		data = jsutf8.AppendDecode(make([]byte, 0, len(data)+8), data)
	}
	if !json.Valid(data) {
		return nil, syntaxError(data)
	}
	lines := newLineIndex(data)
	start := skipWS(data, 0)
	arr := start
	switch data[start] {
	case '[':
	case '{':
		flows := -1
		for _, m := range objectMembers(data, start) {
			if m.key == "flows" {
				flows = m.start
			}
		}
		if flows < 0 {
			return nil, lines.errorAt(start, nil, `the top-level object has no "flows" property; a flow document is a JSON array of node objects or {"rev": "...", "flows": [...]}`)
		}
		if data[flows] != '[' {
			return nil, lines.errorAt(flows, nil, fmt.Sprintf(`"flows" is %s, not an array of node objects`, kindOf(data[flows])))
		}
		arr = flows
	default:
		return nil, lines.errorAt(start, nil, fmt.Sprintf("a flow document is a JSON array of node objects, not %s", kindOf(data[start])))
	}

	elems := arrayElements(data, arr)
	doc := &Document{Nodes: make([]*Node, 0, len(elems))}
	var probs Problems
	var arena bytes.Buffer
	arena.Grow(len(data))
	firstLine := make(map[string]int, len(elems))
	creds := Credentials{}
	for i, e := range elems {
		if data[e] != '{' {
			return nil, lines.errorAt(e, nil, fmt.Sprintf("flows[%d] is %s, not a node object", i, kindOf(data[e])))
		}
		n := &Node{}
		n.Line, n.Column = lines.position(e)
		members := objectMembers(data, e)
		n.props = make([]Prop, 0, len(members))
		var keyIndex map[string]int // for objects with many keys
		if len(members) > 16 {
			keyIndex = make(map[string]int, len(members))
		}
		for _, m := range members {
			s := arena.Len()
			if err := json.Compact(&arena, data[m.start:m.end]); err != nil {
				// Cannot happen: the whole text is valid JSON.
				return nil, lines.errorAt(m.start, err, fmt.Sprintf("flows[%d] property %q: %v", i, m.key, err))
			}
			v := json.RawMessage(arena.Bytes()[s:arena.Len():arena.Len()])
			j, seen := -1, false
			if keyIndex != nil {
				j, seen = keyIndex[m.key]
			} else {
				j = n.index(m.key)
				seen = j >= 0
			}
			if seen {
				n.props[j].Value = v
				continue
			}
			if keyIndex != nil {
				keyIndex[m.key] = len(n.props)
			}
			n.props = append(n.props, Prop{Key: m.key, Value: v})
		}
		probs = append(probs, n.derive()...)
		if msg := n.extractCredentials(creds); msg != "" {
			probs = append(probs, Problem{NodeID: n.ID, Type: n.Type, Field: "credentials", Line: n.Line, Msg: msg})
		}
		if n.ID != "" {
			if l, dup := firstLine[n.ID]; dup {
				probs = append(probs, Problem{NodeID: n.ID, Type: n.Type, Field: "id", Line: n.Line,
					Msg: fmt.Sprintf("duplicate id: already used by the node on line %d", l)})
			} else {
				firstLine[n.ID] = n.Line
			}
		}
		doc.Nodes = append(doc.Nodes, n)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	if len(creds) > 0 {
		doc.Credentials = creds
	}
	return doc, nil
}

// derive sets the typed fields from the properties, rewrites the "type"
// property to Runnel's name, and returns the problems it finds, located at
// the node's line.
func (n *Node) derive() []Problem {
	var probs []Problem
	n.ID, n.Type, n.Z, n.Name, n.Wires, n.HasWires = "", "", "", "", nil, false
	seenID, seenType := false, false
	for i := range n.props {
		p := &n.props[i]
		switch p.Key {
		case "id":
			seenID = true
		case "type":
			seenType = true
		}
		if msg := n.deriveProp(p); msg != "" {
			probs = append(probs, Problem{Field: p.Key, Msg: msg})
		}
	}
	n.deriveDisabled()
	if !seenID {
		probs = append(probs, Problem{Field: "id", Msg: "missing id"})
	}
	if !seenType {
		probs = append(probs, Problem{Field: "type", Msg: "missing type"})
	}
	for i := range probs {
		probs[i].NodeID, probs[i].Type, probs[i].Line = n.ID, n.Type, n.Line
	}
	return probs
}

// deriveProp sets the typed field that p determines, if any, and returns a
// description of what is wrong with p's value, or "". A "type" property
// holding a string is rewritten to Runnel's name.
func (n *Node) deriveProp(p *Prop) string {
	switch p.Key {
	case "id":
		s, ok := stringValue(p.Value)
		n.ID = s
		switch {
		case !ok:
			return "id must be a string, not " + kindOf(firstByte(p.Value))
		case s == "":
			return "id must not be empty"
		}
	case "type":
		s, ok := stringValue(p.Value)
		if !ok {
			n.Type = ""
			return "type must be a string, not " + kindOf(firstByte(p.Value))
		}
		n.Type = RunnelType(s)
		if n.Type != s {
			p.Value = encodeString(n.Type)
		}
		if s == "" {
			return "type must not be empty"
		}
	case "z":
		s, ok := stringValue(p.Value)
		n.Z = s
		if !ok && !isNull(p.Value) {
			return "z must be a string (the id of a tab or subflow), not " + kindOf(firstByte(p.Value))
		}
	case "name":
		s, ok := stringValue(p.Value)
		n.Name = s
		if !ok && !isNull(p.Value) {
			return "name must be a string, not " + kindOf(firstByte(p.Value))
		}
	case "wires":
		n.HasWires = true
		if isNull(p.Value) {
			n.Wires = nil
			return ""
		}
		w, msg := wiresValue(p.Value)
		n.Wires = w
		return msg
	}
	return ""
}

// deriveDisabled sets Disabled from "d", or from "disabled" for a tab.
func (n *Node) deriveDisabled() {
	v, ok := n.raw(n.disabledKey())
	n.Disabled = ok && isTrue(v)
}

// disabledKey is the property that says whether the node is disabled.
func (n *Node) disabledKey() string {
	if n.Type == "tab" {
		return "disabled"
	}
	return "d"
}

// stringValue decodes a JSON string; ok is false if v is not one.
func stringValue(v json.RawMessage) (s string, ok bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// wiresValue decodes a "wires" value: an array of arrays of node ids. On a
// malformed value it returns nil and what is wrong.
func wiresValue(v json.RawMessage) ([][]string, string) {
	const want = "wires must be an array of arrays of node ids, like [[\"id1\",\"id2\"],[]]"
	if len(v) == 0 || v[0] != '[' {
		return nil, want + ", not " + kindOf(firstByte(v))
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, want + ": " + err.Error()
	}
	wires := make([][]string, len(raw))
	for i, port := range raw {
		if len(port) == 0 || port[0] != '[' {
			return nil, fmt.Sprintf("%s: output %d is %s", want, i, kindOf(firstByte(port)))
		}
		var ids []json.RawMessage
		if err := json.Unmarshal(port, &ids); err != nil {
			return nil, fmt.Sprintf("%s: output %d: %v", want, i, err)
		}
		wires[i] = make([]string, len(ids))
		for j, id := range ids {
			s, ok := stringValue(id)
			if !ok {
				return nil, fmt.Sprintf("%s: output %d, wire %d is %s", want, i, j, kindOf(firstByte(id)))
			}
			wires[i][j] = s
		}
	}
	return wires, ""
}

// isNull reports whether v is the JSON literal null. Node-RED reads a null
// z, name or wires as absent, and so does Parse (the value is kept).
func isNull(v json.RawMessage) bool {
	return string(bytes.TrimSpace(v)) == "null"
}

// isTrue reports whether v is the JSON literal true.
func isTrue(v json.RawMessage) bool {
	return string(bytes.TrimSpace(v)) == "true"
}

func firstByte(v []byte) byte {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// kindOf names the kind of JSON value that starts with c.
func kindOf(c byte) string {
	switch c {
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
	case 0:
		return "empty"
	default:
		return "a number"
	}
}

// syntaxError turns the error encoding/json reports for invalid text into a
// *ParseError located at the offending byte.
func syntaxError(data []byte) error {
	var raw json.RawMessage
	err := json.Unmarshal(data, &raw)
	if err == nil {
		err = errors.New("invalid JSON")
	}
	off := len(data)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = int(se.Offset)
		// Offset counts the bytes read, the offending one included; at the
		// end of the input there is no offending byte, so point past the end.
		if off > 0 && off <= len(data) && se.Error() != "unexpected end of JSON input" {
			off--
		}
	case errors.As(err, &te):
		off = int(te.Offset)
	}
	off = min(max(off, 0), len(data))
	return newLineIndex(data).errorAt(off, err, err.Error())
}

// lineIndex converts byte offsets into lines and columns.
type lineIndex struct {
	data   []byte
	starts []int // byte offset at which each line starts

	// The last position asked for: the parser asks in increasing order,
	// so counting on from it keeps a one-line document linear.
	lastLine, lastOff, lastCol int
}

func newLineIndex(data []byte) *lineIndex {
	starts := make([]int, 1, 1+bytes.Count(data, []byte{'\n'}))
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return &lineIndex{data: data, starts: starts}
}

// position returns the 1-based line and column (in characters) of the byte
// at offset off.
func (l *lineIndex) position(off int) (line, col int) {
	i := sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > off }) - 1
	from, col := l.starts[i], 1
	if l.lastLine == i+1 && l.lastOff <= off && l.lastOff >= from {
		from, col = l.lastOff, l.lastCol
	}
	col += utf8.RuneCount(l.data[from:off])
	l.lastLine, l.lastOff, l.lastCol = i+1, off, col
	return i + 1, col
}

func (l *lineIndex) errorAt(off int, err error, msg string) *ParseError {
	line, col := l.position(off)
	return &ParseError{Line: line, Column: col, Offset: off, Msg: msg, Err: err}
}

// The functions below walk text already known to be valid JSON.

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(data []byte, i int) int {
	for i < len(data) && isWS(data[i]) {
		i++
	}
	return i
}

// skipString returns the offset just past the string starting at data[i].
func skipString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// skipValue returns the offset just past the value starting at data[i].
func skipValue(data []byte, i int) int {
	depth := 0
	for i < len(data) {
		switch data[i] {
		case '"':
			i = skipString(data, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		default:
			if depth == 0 {
				for i < len(data) && !isWS(data[i]) && data[i] != ',' && data[i] != ']' && data[i] != '}' {
					i++
				}
				return i
			}
		}
		i++
	}
	return i
}

// arrayElements returns the offsets at which the elements of the array
// starting at data[i] start.
func arrayElements(data []byte, i int) []int {
	var elems []int
	i = skipWS(data, i+1)
	for i < len(data) && data[i] != ']' {
		elems = append(elems, i)
		i = skipWS(data, skipValue(data, i))
		if i < len(data) && data[i] == ',' {
			i = skipWS(data, i+1)
		}
	}
	return elems
}

// member is one key and the span of its value in an object.
type member struct {
	key        string
	start, end int
}

// objectMembers returns the members of the object starting at data[i].
func objectMembers(data []byte, i int) []member {
	var ms []member
	i = skipWS(data, i+1)
	for i < len(data) && data[i] == '"' {
		ke := skipString(data, i)
		var key string
		_ = json.Unmarshal(data[i:ke], &key) // valid: checked by json.Valid
		i = skipWS(data, ke)
		i = skipWS(data, i+1) // the colon
		ve := skipValue(data, i)
		ms = append(ms, member{key: key, start: i, end: ve})
		i = skipWS(data, ve)
		if i < len(data) && data[i] == ',' {
			i = skipWS(data, i+1)
		}
	}
	return ms
}
