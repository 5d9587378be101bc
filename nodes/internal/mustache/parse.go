// Package mustache renders mustache templates exactly as mustache.js 4.x
// does, as Node-RED's template node uses it: the same HTML escaping
// (including / = and backtick), the same way of writing numbers, objects
// and arrays, the same section and inverted-section rules, dotted names
// that index arrays ({{payload.readings.0.t}}) and fall back up the context
// stack when they do not resolve, the same standalone-line whitespace rules,
// comments and set delimiters. Partials always render empty (Node-RED
// passes none), and there are no lambdas (message values are data).
//
// A template is parsed once with Parse into a tree of tokens whose dotted
// names are split in advance, and rendered many times with Render into a
// caller-supplied buffer. Rendering looks names up through a Context, so
// the caller never has to build a map of its data; JSON kept as bytes
// (engine.RawJSON) is read in place: an object's keys by a scanner that
// reads only as far as the keys looked up (see objIndex), arrays and what
// the scanner leaves to it by gjson.
package mustache

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Template is a parsed template. It is immutable and safe for concurrent
// use.
type Template struct {
	src   string
	nodes []node
}

// Source returns the text the template was parsed from.
func (t *Template) Source() string { return t.src }

// SyntaxError is a template that does not parse: an unclosed tag, a
// section that is never closed or closed by the wrong tag, a closing tag
// without a section, or bad delimiters.
type SyntaxError struct {
	Line int    // 1-based line of the offending tag
	Msg  string // what is wrong
}

// Error returns "line N: message".
func (e *SyntaxError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Msg }

type nodeKind uint8

const (
	nodeText     nodeKind = iota // literal text
	nodeEscaped                  // {{name}}
	nodeRaw                      // {{{name}}} and {{&name}}
	nodeSection                  // {{#name}}...{{/name}}
	nodeInverted                 // {{^name}}...{{/name}}
)

// node is one element of a parsed template.
type node struct {
	kind     nodeKind
	text     string // nodeText
	name     *name  // the other kinds
	children []node // sections
}

// name is a tag name with its dotted parts split in advance.
type name struct {
	full string
	// dot is set for "." (the current view).
	dot bool
	// parts is nil unless the name is dotted: mustache.js treats a name as
	// dotted when it has a '.' after its first character.
	parts []part
	// one is the name as a single part, for names that are not dotted.
	one part
}

// part is one step of a dotted name.
type part struct {
	key string
	// esc is key escaped for a gjson path.
	esc string
	// index is key as an array index, or -1 when key is not one (only
	// canonical decimal forms such as "0" and "12" index arrays in
	// JavaScript; "01" does not).
	index int
}

func newPart(key string) part {
	return part{key: key, esc: gjsonEscape(key), index: arrayIndex(key)}
}

// newName splits the tag name s. Its parts' keys come from keys, which
// interns them, so that the same key in different names is the same
// string (renderer.rootProp compares keys, and equal pointers compare
// at once).
func newName(s string, keys map[string]string) *name {
	n := &name{full: s, one: newPart(intern(keys, s))}
	if s == "." {
		n.dot = true
		return n
	}
	if strings.IndexByte(s, '.') > 0 {
		split := strings.Split(s, ".")
		n.parts = make([]part, len(split))
		for i, k := range split {
			n.parts[i] = newPart(intern(keys, k))
		}
	}
	return n
}

// intern returns the string of keys equal to k, adding k if there is none.
func intern(keys map[string]string, k string) string {
	if s, ok := keys[k]; ok {
		return s
	}
	keys[k] = k
	return k
}

// arrayIndex returns k as an array index, or -1.
func arrayIndex(k string) int {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return -1
	}
	var n uint64 // 64 bits on every platform: ten digits overflow a 32-bit int
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + uint64(c-'0')
	}
	// JavaScript's array indexes end below 2^32-1; on a 32-bit platform
	// an index that does not fit an int cannot name an element either.
	if n >= 1<<32-1 || n > math.MaxInt {
		return -1
	}
	return int(n)
}

// gjsonEscape escapes the characters that gjson's path syntax gives a
// meaning, so that any object key can be looked up.
func gjsonEscape(k string) string {
	safe := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c <= ' ' || c > '~' || c == '_' || c == '-' || c == ':'
	}
	for i := 0; i < len(k); i++ {
		if !safe(k[i]) {
			var b strings.Builder
			b.Grow(len(k) + 4)
			for j := 0; j < len(k); j++ {
				if !safe(k[j]) {
					b.WriteByte('\\')
				}
				b.WriteByte(k[j])
			}
			return b.String()
		}
	}
	return k
}

// isSpace reports whether r is white space as JavaScript's \s defines it.
func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// token is a tag or a character of text, as mustache.js's parser produces
// them before it squashes text and nests sections.
type token struct {
	typ        byte // 't' text, 'n' name, '&', '#', '^', '/', '>', '!', '='
	value      string
	start, end int
	deleted    bool // white space of a standalone line
}

type parser struct {
	src         string
	pos         int
	open, close string
	toks        []token
	spaces      []int // white-space text tokens on the current line
	hasTag      bool  // a tag on the current line
	nonSpace    bool  // text or a value tag on the current line
	sections    []int // open section tokens
}

// Parse parses a template with the default {{ }} delimiters. It follows
// mustache.js's parser, so it accepts exactly the templates mustache.js
// accepts; a template that does not parse returns a *SyntaxError naming
// the problem and its line.
func Parse(src string) (*Template, error) {
	p := &parser{src: src, open: "{{", close: "}}"}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return &Template{src: src, nodes: p.nest()}, nil
}

func (p *parser) line(pos int) int { return strings.Count(p.src[:pos], "\n") + 1 }

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Line: p.line(pos), Msg: fmt.Sprintf(format, args...)}
}

// skipSpace advances over white space.
func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		if !isSpace(r) {
			return
		}
		p.pos += size
	}
}

// until returns the text from the current position to the first match of
// /\s*lit/ and moves to that match, or returns the rest of the template
// when there is none (mustache.js's Scanner.scanUntil).
func (p *parser) until(lit string) string {
	i := strings.Index(p.src[p.pos:], lit)
	if i < 0 {
		s := p.src[p.pos:]
		p.pos = len(p.src)
		return s
	}
	end := p.pos + i
	for end > p.pos {
		r, size := utf8.DecodeLastRuneInString(p.src[p.pos:end])
		if !isSpace(r) {
			break
		}
		end -= size
	}
	s := p.src[p.pos:end]
	p.pos = end
	return s
}

// scan consumes /\s*lit/ at the current position and reports whether it
// was there (mustache.js's Scanner.scan).
func (p *parser) scan(lit string) bool {
	save := p.pos
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], lit) {
		p.pos += len(lit)
		return true
	}
	p.pos = save
	return false
}

// stripSpace ends a line: if it held a tag and nothing else but white
// space, the white space goes (the line is "standalone").
func (p *parser) stripSpace() {
	if p.hasTag && !p.nonSpace {
		for _, i := range p.spaces {
			p.toks[i].deleted = true
		}
	}
	p.spaces = p.spaces[:0]
	p.hasTag = false
	p.nonSpace = false
}

func (p *parser) parse() error {
	src := p.src
	for p.pos < len(src) {
		// Text up to the next opening delimiter, one character at a time
		// so that standalone lines can be found.
		start := p.pos
		text := src[start:]
		if i := strings.Index(text, p.open); i >= 0 {
			text = text[:i]
		}
		p.pos += len(text)
		for i, r := range text {
			size := utf8.RuneLen(r)
			if r == utf8.RuneError {
				_, size = utf8.DecodeRuneInString(text[i:])
			}
			if isSpace(r) {
				p.spaces = append(p.spaces, len(p.toks))
			} else {
				p.nonSpace = true
			}
			p.toks = append(p.toks, token{typ: 't', start: start + i, end: start + i + size})
			if r == '\n' {
				p.stripSpace()
			}
		}
		if !strings.HasPrefix(src[p.pos:], p.open) {
			break
		}
		tagStart := p.pos
		p.pos += len(p.open)
		p.skipSpace()
		p.hasTag = true

		typ := byte('n')
		if p.pos < len(src) && strings.IndexByte("#^/>{&=!", src[p.pos]) >= 0 {
			typ = src[p.pos]
			p.pos++
		}
		p.skipSpace()
		var value string
		switch typ {
		case '=':
			value = p.until("=")
			p.scan("=")
			p.until(p.close)
		case '{':
			value = p.until("}" + p.close)
			p.scan("}")
			p.until(p.close)
			typ = '&'
		default:
			value = p.until(p.close)
		}
		if !p.scan(p.close) {
			return p.errorf(tagStart, "unclosed tag %s: no %q after it", quoteTag(src[tagStart:]), p.close)
		}
		tok := token{typ: typ, value: value, start: tagStart, end: p.pos}
		p.toks = append(p.toks, tok)
		switch typ {
		case '#', '^':
			p.sections = append(p.sections, len(p.toks)-1)
		case '/':
			if len(p.sections) == 0 {
				return p.errorf(tagStart, "closing tag %s has no open section", src[tagStart:p.pos])
			}
			open := p.toks[p.sections[len(p.sections)-1]]
			p.sections = p.sections[:len(p.sections)-1]
			if open.value != value {
				return p.errorf(tagStart, "unclosed section %q (opened on line %d): it is closed by %s",
					open.value, p.line(open.start), src[tagStart:p.pos])
			}
		case 'n', '&':
			p.nonSpace = true
		case '=':
			if err := p.setDelimiters(value, tagStart); err != nil {
				return err
			}
		}
	}
	p.stripSpace()
	if n := len(p.sections); n > 0 {
		open := p.toks[p.sections[n-1]]
		return p.errorf(open.start, "unclosed section %q: %s is never closed",
			open.value, src[open.start:open.end])
	}
	return nil
}

// setDelimiters applies a {{=open close=}} tag. Like mustache.js it splits
// the value at white space and uses the first two parts.
func (p *parser) setDelimiters(value string, tagStart int) error {
	cut := func(s string) (string, string, bool) {
		for i, r := range s {
			if isSpace(r) {
				j := i
				for j < len(s) {
					r2, size := utf8.DecodeRuneInString(s[j:])
					if !isSpace(r2) {
						break
					}
					j += size
				}
				return s[:i], s[j:], true
			}
		}
		return s, "", false
	}
	open, rest, ok := cut(value)
	if !ok || open == "" || rest == "" {
		return p.errorf(tagStart, "invalid delimiters %q: want two delimiters separated by a space, as in {{=<%% %%>=}}", value)
	}
	closing, _, _ := cut(rest)
	p.open, p.close = open, closing
	return nil
}

// quoteTag quotes the start of an unclosed tag for an error message.
func quoteTag(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		end := 40
		for end > 0 && !utf8.RuneStart(s[end]) {
			end--
		}
		s = s[:end] + "..."
	}
	return strconv.Quote(s)
}

// nest turns the flat token list into a tree: deleted white space goes,
// adjacent text joins up, sections take their contents, and comments,
// delimiter changes and partials (which render empty) disappear.
func (p *parser) nest() []node {
	type frame struct {
		nodes []node
		sec   node
	}
	var stack []frame
	var cur []node
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			cur = append(cur, node{kind: nodeText, text: text.String()})
			text.Reset()
		}
	}
	names := map[string]*name{}
	keys := map[string]string{}
	nameOf := func(s string) *name {
		n, ok := names[s]
		if !ok {
			n = newName(s, keys)
			names[s] = n
		}
		return n
	}
	for _, t := range p.toks {
		switch t.typ {
		case 't':
			if !t.deleted {
				text.WriteString(p.src[t.start:t.end])
			}
		case 'n':
			flush()
			cur = append(cur, node{kind: nodeEscaped, name: nameOf(t.value)})
		case '&':
			flush()
			cur = append(cur, node{kind: nodeRaw, name: nameOf(t.value)})
		case '#', '^':
			flush()
			kind := nodeSection
			if t.typ == '^' {
				kind = nodeInverted
			}
			stack = append(stack, frame{nodes: cur, sec: node{kind: kind, name: nameOf(t.value)}})
			cur = nil
		case '/':
			flush()
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			f.sec.children = cur
			cur = append(f.nodes, f.sec)
		}
	}
	flush()
	return cur
}
