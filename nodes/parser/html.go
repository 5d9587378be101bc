package parser

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// HTMLConfig is the configuration of an html node. The property names are
// Node-RED's.
type HTMLConfig struct {
	Property    string `json:"property" label:"Property" default:"payload" help:"The message property holding the HTML"`
	Outproperty string `json:"outproperty" label:"Output property" help:"Where the result goes; empty: the input property"`
	Tag         string `json:"tag" label:"Selector" help:"A CSS selector, such as h1 or div.item > a; empty: msg.select"`
	Ret         string `json:"ret" label:"Output" default:"html" options:"html=the html content of the elements,text=only the text content of the elements,attr=an object of any attributes of the elements,compl=html content and attributes of the elements"`
	As          string `json:"as" label:"As" default:"single" options:"single=a single message containing an array,multi=multiple messages\\, one for each element"`
	Chr         string `json:"chr" label:"Property name for the html content" default:"_" help:"With Output compl: the key of the html content in each object"`
}

// HTMLType is the html node type.
var HTMLType = engine.NewType(engine.Meta{
	Type:     "html",
	Category: "parser",
	Inputs:   1,
	Outputs:  1,
	Color:    "#DEBD5C",
	Icon:     "parser-html.svg",
	Help: `Extracts elements from an HTML document (msg.payload by default) with a CSS selector, as Node-RED's **html** node (cheerio) does.

- **Selector**: a CSS selector; when it is empty, msg.select gives it.
- **Output**: *html* the element's content as XHTML (as cheerio's .xml() writes it: empty elements as <br/>, non-ASCII as &#xE9;), *text* its text (without scripts, styles and comments), *attr* an object of its attributes, *compl* an object with the element's content as HTML under *Property name* (default _) and its attributes.
- **As** *single*: one message whose output property is the array of results (empty when nothing matches); *multi*: one message per element, with msg.parts (type string), skipping an empty html or text result as Node-RED does.
- A buffer is read as UTF-8 (bytes that are not UTF-8 become U+FFFD); an object gives an empty array.

Differences: selectors are CSS as github.com/andybalholm/cascadia reads them. Of jQuery's extensions Runnel takes :first, :last, :eq(n), :gt(n), :lt(n), :even and :odd at the end of a selector (h2:first, li:eq(-1)); :contains is case-insensitive in Runnel (case-sensitive in Node-RED). A selector Runnel cannot read is a deploy error for *Selector* (Node-RED reports it against each message), and an error against the message for msg.select; the error texts are cascadia's. Bounds: 16 MiB of HTML, 512 levels of nesting (the parser's bound), 100,000 matching elements and 64 MiB of results; beyond them the message gets an error.`,
}, newHTML)

func init() { engine.Register(HTMLType) }

const (
	htmlMaxInput   = 16 << 20
	htmlMaxDepth   = 512 // golang.org/x/net/html's bound on its stack of open elements
	htmlMaxMatches = 100000
	htmlMaxOutput  = 64 << 20
)

type htmlNode struct {
	h        *engine.Host
	prop     engine.Path
	out      engine.Path
	tag      string
	sel      *htmlSelector // nil when tag is empty
	ret, as  string
	chr      string
	outIsIn  bool
	hasOutPr bool
}

func newHTML(cfg *HTMLConfig, h *engine.Host) (engine.Node, error) {
	prop := cfg.Property
	if prop == "" {
		prop = "payload"
	}
	p, err := engine.ParsePath(prop)
	if err != nil {
		return nil, engine.ErrField("property", err)
	}
	outName := cfg.Outproperty
	if outName == "" {
		outName = prop
	}
	o, err := engine.ParsePath(outName)
	if err != nil {
		return nil, engine.ErrField("outproperty", err)
	}
	n := &htmlNode{h: h, prop: p, out: o, tag: cfg.Tag, ret: cfg.Ret, as: cfg.As, chr: cfg.Chr}
	if n.ret == "" {
		n.ret = "html"
	}
	if n.as == "" {
		n.as = "single"
	}
	if n.chr == "" {
		n.chr = "_"
	}
	switch n.ret {
	case "html", "text", "attr", "compl":
	default:
		return nil, engine.ErrFieldf("ret", "%q is not html, text, attr or compl", cfg.Ret)
	}
	switch n.as {
	case "single", "multi":
	default:
		return nil, engine.ErrFieldf("as", "%q is not single or multi", cfg.As)
	}
	if n.tag != "" {
		if n.sel, err = compileHTMLSelector(n.tag); err != nil {
			return nil, engine.ErrField("tag", err)
		}
	}
	return n, nil
}

// Receive extracts the matching elements, following Node-RED's 70-HTML.js.
func (n *htmlNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	v, ok := m.Lookup(n.prop)
	if !ok {
		out.Send(0, m)
		return nil
	}
	sel := n.sel
	if sel == nil {
		if s, ok := m.Prop("select"); ok {
			if str, ok := s.(string); ok && str != "" {
				var err error
				if sel, err = compileHTMLSelector(str); err != nil {
					return err
				}
			}
		}
	}
	var src string
	switch x := v.(type) {
	case string:
		src = x
	case []byte:
		if len(x) > htmlMaxInput {
			return fmt.Errorf("HTML of %d bytes is more than %d", len(x), htmlMaxInput)
		}
		src = string(jsutf8.AppendDecode(nil, x))
	case nil:
		return errors.New("cheerio.load() expects a string")
	case bool:
		return fmt.Errorf("Cannot create property 'prev' on boolean '%t'", x)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				return fmt.Errorf("Cannot create property 'prev' on string '%s'", s)
			}
		}
		src = "" // cheerio takes the objects for nodes: nothing matches
	case engine.RawJSON, map[string]any:
		if arr, ok := toJS(x).([]any); ok {
			for _, e := range arr {
				if s, ok := e.(string); ok {
					return fmt.Errorf("Cannot create property 'prev' on string '%s'", s)
				}
			}
		}
		src = ""
	default:
		if f, ok := engine.Number(v); ok {
			return fmt.Errorf("Cannot create property 'prev' on number '%s'", engine.FormatNumber(f))
		}
		src = engine.ToString(v)
	}
	if len(src) > htmlMaxInput {
		return fmt.Errorf("HTML of %d bytes is more than %d", len(src), htmlMaxInput)
	}
	var matches []*html.Node
	if sel != nil && src != "" {
		if !utf8.ValidString(src) {
			src = string(jsutf8.AppendDecode(nil, []byte(src)))
		}
		orders := scanHTML(src)
		doc, err := html.Parse(strings.NewReader(src))
		if err != nil {
			return fmt.Errorf("parsing HTML: %w", err)
		}
		orders.restore(doc)
		if matches, err = sel.selectAll(doc); err != nil {
			return err
		}
	}
	results := make([]any, 0, len(matches))
	total := 0
	for _, e := range matches {
		r, size, err := n.result(e)
		if err != nil {
			return err
		}
		if total += size; total > htmlMaxOutput {
			return errTooMuchOutput
		}
		results = append(results, r)
	}
	if n.as == "single" {
		if err := m.Set(n.out, toValue(results)); err != nil {
			return err
		}
		out.Send(0, m)
		return nil
	}
	id := m.ID()
	for i, r := range results {
		if s, ok := r.(string); ok && s == "" {
			continue // Node-RED sends only a truthy result
		}
		nm := m.Copy()
		if err := nm.Set(n.out, toValue(r)); err != nil {
			return err
		}
		parts := newObject()
		parts.set("id", id)
		parts.set("index", float64(i))
		parts.set("count", float64(len(results)))
		parts.set("type", "string")
		parts.set("ch", "")
		nm.SetProp("parts", toValue(parts))
		out.Send(0, nm)
	}
	return nil
}

// result is one element's result and its size in bytes, for the bound.
func (n *htmlNode) result(e *html.Node) (any, int, error) {
	switch n.ret {
	case "html":
		inner := jsTrim(htmlInner(e))
		if len(inner) > htmlMaxOutput {
			return nil, 0, errTooMuchOutput
		}
		s, err := htmlAsXML(inner)
		return s, max(len(s), len(inner)), err
	case "text":
		var b strings.Builder
		htmlText(&b, e, 0)
		return b.String(), b.Len(), nil
	case "attr":
		o := htmlAttrs(newObject(), e)
		return o, attrsSize(o), nil
	default: // compl
		o := newObject()
		inner := jsTrim(htmlInner(e))
		o.set(n.chr, inner)
		htmlAttrs(o, e)
		return o, len(inner) + attrsSize(o), nil
	}
}

func attrsSize(o *object) int {
	s := 0
	for _, k := range o.keys {
		s += len(k)
		if v, ok := o.vals[k].(string); ok {
			s += len(v)
		}
	}
	return s
}

// htmlAttrs sets e's attributes on o, as Object.assign(o, elem.attribs)
// does: the parser kept the first of duplicate names.
func htmlAttrs(o *object, e *html.Node) *object {
	for _, a := range e.Attr {
		o.set(a.Key, a.Val)
	}
	return o
}

// attrOrders holds the attributes of formatting elements (a, b, i...)
// in the order the document gives them. golang.org/x/net/html sorts
// them by name when it parses (to compare them for the active formatting
// elements), where cheerio keeps the document's order.
type attrOrders map[string][]html.Attribute

// htmlFormatting are the elements whose attributes the parser sorts.
var htmlFormatting = map[atom.Atom]bool{
	atom.A: true, atom.B: true, atom.Big: true, atom.Code: true, atom.Em: true, atom.Font: true,
	atom.I: true, atom.Nobr: true, atom.S: true, atom.Small: true, atom.Strike: true, atom.Strong: true,
	atom.Tt: true, atom.U: true,
}

func attrKey(name string, attrs []html.Attribute) string {
	s := slices.Clone(attrs)
	slices.SortFunc(s, func(a, b html.Attribute) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Val, b.Val))
	})
	var b strings.Builder
	b.WriteString(name)
	for _, a := range s {
		b.WriteString("\x00")
		b.WriteString(a.Namespace)
		b.WriteString("\x01")
		b.WriteString(a.Key)
		b.WriteString("\x01")
		b.WriteString(a.Val)
	}
	return b.String()
}

// restore puts the attributes of the formatting elements under n back in
// the document's order.
func (o attrOrders) restore(n *html.Node) {
	if len(o) == 0 {
		return
	}
	walkElements(n, func(e *html.Node) bool {
		if htmlFormatting[e.DataAtom] && e.Namespace == "" && len(e.Attr) > 1 {
			if orig, ok := o[attrKey(e.Data, e.Attr)]; ok {
				e.Attr = slices.Clone(orig)
			}
		}
		return true
	})
}

// scanHTML tokenizes the document before the parser sees it, to record
// the formatting elements' attribute order (see attrOrders).
func scanHTML(src string) attrOrders {
	z := html.NewTokenizer(strings.NewReader(src))
	var orders attrOrders
	for {
		switch z.Next() {
		case html.ErrorToken:
			return orders
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if !hasAttr || !htmlFormatting[atom.Lookup(name)] {
				continue
			}
			var attrs []html.Attribute
			for more := true; more; {
				var k, v []byte
				k, v, more = z.TagAttr()
				attrs = append(attrs, html.Attribute{Key: string(k), Val: string(v)})
			}
			if attrs = dedupAttrs(attrs); len(attrs) < 2 {
				continue
			}
			k := attrKey(string(name), attrs)
			if orders == nil {
				orders = attrOrders{}
			}
			if _, ok := orders[k]; !ok {
				orders[k] = attrs
			}
		}
	}
}

// dedupAttrs keeps the first of attributes with the same name, as the
// parser does.
func dedupAttrs(attrs []html.Attribute) []html.Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		if !slices.ContainsFunc(out, func(b html.Attribute) bool { return b.Key == a.Key && b.Namespace == a.Namespace }) {
			out = append(out, a)
		}
	}
	return out
}

var htmlOptionalEnd = map[atom.Atom]bool{
	atom.P: true, atom.Li: true, atom.Dt: true, atom.Dd: true, atom.Option: true, atom.Optgroup: true,
	atom.Tr: true, atom.Td: true, atom.Th: true, atom.Tbody: true, atom.Thead: true, atom.Tfoot: true,
	atom.Colgroup: true, atom.Rb: true, atom.Rt: true, atom.Rp: true, atom.Rtc: true,
	atom.Html: true, atom.Head: true, atom.Body: true,
}

// htmlVoid are the elements parse5 writes without content or end tag.
var htmlVoid = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Basefont: true, atom.Bgsound: true, atom.Br: true, atom.Col: true,
	atom.Embed: true, atom.Frame: true, atom.Hr: true, atom.Img: true, atom.Input: true, atom.Keygen: true,
	atom.Link: true, atom.Meta: true, atom.Param: true, atom.Source: true, atom.Track: true, atom.Wbr: true,
}

// htmlRawText are the elements whose text parse5 writes unescaped.
var htmlRawText = map[atom.Atom]bool{
	atom.Style: true, atom.Script: true, atom.Xmp: true, atom.Iframe: true, atom.Noembed: true,
	atom.Noframes: true, atom.Plaintext: true, atom.Noscript: true,
}

// htmlText is cheerio's .text(): the text of e and its descendants, but
// not of comments, scripts and styles.
func htmlText(b *strings.Builder, n *html.Node, depth int) {
	switch n.Type {
	case html.TextNode:
		b.WriteString(n.Data)
		return
	case html.ElementNode:
		if n.Data == "script" || n.Data == "style" {
			return
		}
	case html.CommentNode, html.DoctypeNode:
		return
	}
	if depth > htmlMaxDepth*2 {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		htmlText(b, c, depth+1)
	}
}

// htmlInner is cheerio's .html() of an element: its content as parse5's
// serializer writes HTML.
func htmlInner(e *html.Node) string {
	var b strings.Builder
	for c := e.FirstChild; c != nil; c = c.NextSibling {
		writeHTML(&b, c, 0)
	}
	return b.String()
}

var (
	htmlTextEscaper = strings.NewReplacer("&", "&amp;", "\u00a0", "&nbsp;", "<", "&lt;", ">", "&gt;")
	htmlAttrEscaper = strings.NewReplacer("&", "&amp;", "\u00a0", "&nbsp;", `"`, "&quot;")
)

func writeHTML(b *strings.Builder, n *html.Node, depth int) {
	switch n.Type {
	case html.TextNode:
		if p := n.Parent; p != nil && p.Type == html.ElementNode && htmlRawText[p.DataAtom] {
			b.WriteString(n.Data)
		} else {
			b.WriteString(htmlTextEscaper.Replace(n.Data))
		}
	case html.CommentNode:
		b.WriteString("<!--")
		b.WriteString(n.Data)
		b.WriteString("-->")
	case html.DoctypeNode:
		b.WriteString("<!DOCTYPE ")
		b.WriteString(n.Data)
		b.WriteString(">")
	case html.ElementNode:
		b.WriteByte('<')
		b.WriteString(n.Data)
		for _, a := range n.Attr {
			b.WriteByte(' ')
			if a.Namespace != "" {
				b.WriteString(a.Namespace)
				b.WriteByte(':')
			}
			b.WriteString(a.Key)
			b.WriteString(`="`)
			b.WriteString(htmlAttrEscaper.Replace(a.Val))
			b.WriteByte('"')
		}
		b.WriteByte('>')
		if htmlVoid[n.DataAtom] && n.Namespace == "" {
			return
		}
		if depth <= htmlMaxDepth*2 {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				writeHTML(b, c, depth+1)
			}
		}
		b.WriteString("</")
		b.WriteString(n.Data)
		b.WriteByte('>')
	}
}

// htmlAsXML is Node-RED's html output,
// cheerio.load($(e).html().trim(), null, false).xml(): the element's
// content written as HTML and trimmed (inner) is parsed again as a
// fragment and written as XML.
func htmlAsXML(inner string) (string, error) {
	if inner == "" {
		return "", nil
	}
	ctx := &html.Node{Type: html.ElementNode, Data: "template", DataAtom: atom.Template}
	orders := scanHTML(inner)
	nodes, err := html.ParseFragment(strings.NewReader(inner), ctx)
	if err != nil {
		return "", fmt.Errorf("parsing HTML: %w", err)
	}
	for _, c := range nodes {
		if c.Type == html.ElementNode && htmlFormatting[c.DataAtom] && c.Namespace == "" && len(c.Attr) > 1 {
			if orig, ok := orders[attrKey(c.Data, c.Attr)]; ok {
				c.Attr = slices.Clone(orig)
			}
		}
		orders.restore(c)
	}
	var b strings.Builder
	for _, c := range nodes {
		writeXML(&b, c, 0)
	}
	return b.String(), nil
}

// writeXML writes a node as dom-serializer does in XML mode.
func writeXML(b *strings.Builder, n *html.Node, depth int) {
	switch n.Type {
	case html.TextNode:
		b.WriteString(encodeXMLEntities(n.Data))
	case html.CommentNode:
		b.WriteString("<!--")
		b.WriteString(n.Data)
		b.WriteString("-->")
	case html.DoctypeNode:
		b.WriteString("<!DOCTYPE ")
		b.WriteString(n.Data)
		b.WriteString(">")
	case html.ElementNode:
		b.WriteByte('<')
		b.WriteString(n.Data)
		for _, a := range n.Attr {
			b.WriteByte(' ')
			b.WriteString(a.Key) // the htmlparser2 adapter keeps no prefix
			b.WriteString(`="`)
			b.WriteString(encodeXMLEntities(a.Val))
			b.WriteByte('"')
		}
		if n.FirstChild == nil {
			b.WriteString("/>")
			return
		}
		b.WriteByte('>')
		if depth <= htmlMaxDepth*2 {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				writeXML(b, c, depth+1)
			}
		}
		b.WriteString("</")
		b.WriteString(n.Data)
		b.WriteByte('>')
	}
}

// encodeXMLEntities is encodeXML of the entities package (v2): the five
// XML entities, and every character beyond ASCII as &#xHEX;.
func encodeXMLEntities(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&apos;")
		case r >= 0x80:
			b.WriteString("&#x")
			b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
			b.WriteByte(';')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// jsTrim is JavaScript's String.prototype.trim.
func jsTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		switch r {
		case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
			return true
		}
		return r >= 0x2000 && r <= 0x200a
	})
}

// htmlSelector is a selector group, with jQuery's positional pseudo-classes
// taken off the end of its selectors.
type htmlSelector struct {
	all    cascadia.SelectorGroup // set when no selector has a positional pseudo-class
	groups []htmlPosSelector
}

type htmlPosSelector struct {
	sel cascadia.SelectorGroup
	pos string // first, last, even, odd, eq, gt, lt or ""
	arg int
}

var htmlPosRE = regexp.MustCompile(`:(first|last|even|odd|(eq|gt|lt)\(\s*([+-]?\d+)\s*\))$`)

func compileHTMLSelector(s string) (*htmlSelector, error) {
	var out htmlSelector
	positional := false
	for _, g := range splitSelectorGroup(s) {
		g = strings.TrimSpace(g)
		ps := htmlPosSelector{}
		if m := htmlPosRE.FindStringSubmatchIndex(g); m != nil {
			positional = true
			ps.pos = g[m[2]:m[3]]
			if m[4] >= 0 {
				ps.pos = g[m[4]:m[5]]
				ps.arg, _ = strconv.Atoi(strings.TrimPrefix(g[m[6]:m[7]], "+"))
			}
			g = strings.TrimSpace(g[:m[0]])
			if g == "" || strings.HasSuffix(g, ">") || strings.HasSuffix(g, "+") || strings.HasSuffix(g, "~") {
				g += "*"
			}
		}
		sel, err := cascadia.ParseGroup(g)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", s, err)
		}
		ps.sel = sel
		out.groups = append(out.groups, ps)
	}
	if !positional {
		all, err := cascadia.ParseGroup(s)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", s, err)
		}
		out.all, out.groups = all, nil
	}
	return &out, nil
}

// splitSelectorGroup splits s at the commas outside brackets, parentheses
// and quotes.
func splitSelectorGroup(s string) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '\\':
			i++
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

var errTooMuchOutput = fmt.Errorf("the results are more than %d bytes", htmlMaxOutput)

var errTooManyMatches = fmt.Errorf("the selector matches more than %d elements", htmlMaxMatches)

// selectAll returns the matching elements in document order, as cheerio
// does.
func (s *htmlSelector) selectAll(doc *html.Node) ([]*html.Node, error) {
	if s.groups == nil {
		var res []*html.Node
		var err error
		walkElements(doc, func(e *html.Node) bool {
			if s.all.Match(e) {
				if len(res) == htmlMaxMatches {
					err = errTooManyMatches
					return false
				}
				res = append(res, e)
			}
			return true
		})
		return res, err
	}
	chosen := map[*html.Node]bool{}
	for _, g := range s.groups {
		var list []*html.Node
		walkElements(doc, func(e *html.Node) bool {
			if g.sel.Match(e) {
				list = append(list, e)
			}
			return len(list) <= htmlMaxMatches
		})
		if len(list) > htmlMaxMatches {
			return nil, errTooManyMatches
		}
		for i, e := range list {
			if positionMatches(g.pos, g.arg, i, len(list)) {
				chosen[e] = true
			}
		}
	}
	var res []*html.Node
	walkElements(doc, func(e *html.Node) bool {
		if chosen[e] {
			res = append(res, e)
		}
		return true
	})
	if len(res) > htmlMaxMatches {
		return nil, errTooManyMatches
	}
	return res, nil
}

func positionMatches(pos string, arg, i, n int) bool {
	if arg < 0 && (pos == "eq" || pos == "gt" || pos == "lt") {
		arg += n
	}
	switch pos {
	case "first":
		return i == 0
	case "last":
		return i == n-1
	case "even":
		return i%2 == 0
	case "odd":
		return i%2 == 1
	case "eq":
		return i == arg
	case "gt":
		return i > arg
	case "lt":
		return i < arg
	}
	return true
}

// walkElements calls fn for each element under n in document order,
// without recursion, until fn returns false.
func walkElements(n *html.Node, fn func(*html.Node) bool) {
	c := n.FirstChild
	for c != nil {
		if c.Type == html.ElementNode && !fn(c) {
			return
		}
		if c.FirstChild != nil {
			c = c.FirstChild
			continue
		}
		for c != nil && c.NextSibling == nil {
			c = c.Parent
			if c == n {
				return
			}
		}
		if c != nil {
			c = c.NextSibling
		}
	}
}
