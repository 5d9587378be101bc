package parser

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// CSVConfig is the configuration of a csv node. The property names are
// Node-RED's.
type CSVConfig struct {
	Spec                string `json:"spec" label:"Parser" options:"rfc=RFC 4180,=Legacy (before Node-RED 4)" help:"rfc is Node-RED 4's default for new nodes; a node without spec (from an older Node-RED) is legacy"`
	Temp                string `json:"temp" label:"Columns" help:"Comma-separated column names; empty: from the first row (with hdrin), msg.columns or the object's keys"`
	Sep                 string `json:"sep" label:"Separator" default:"," help:"One character; \\t for a tab"`
	Ret                 string `json:"ret" label:"Newline" options:"\\r\\n=Windows (\\r\\n),\\n=Linux (\\n),\\r=Mac (\\r)" help:"The line ending of CSV output; empty: \\r\\n (rfc) or \\n (legacy)" keepempty:"true"`
	Skip                int    `json:"skip" label:"Skip first lines" min:"0"`
	Strings             bool   `json:"strings" label:"Parse numerical values" default:"true"`
	IncludeEmptyStrings bool   `json:"include_empty_strings" label:"Include empty strings"`
	IncludeNullValues   bool   `json:"include_null_values" label:"Include null values"`
	Hdrin               bool   `json:"hdrin" label:"First row contains column names"`
	Hdrout              string `json:"hdrout" label:"Output column names" default:"none" options:"none=Never send column headers,all=Always send column headers,once=Send headers once\\, until msg.reset"`
	Multi               string `json:"multi" label:"Output" default:"one" options:"one=A message per row,mult=A single message [array]"`
}

// CSVType is the csv node type.
var CSVType = engine.NewType(engine.Meta{
	Type:     "csv",
	Category: "parser",
	Inputs:   1,
	Outputs:  1,
	Color:    "#DEBD5C",
	Icon:     "parser-csv.svg",
	Help: `Converts between CSV text and objects, as Node-RED 4's **csv** node does.

- A **string** payload is parsed: each row becomes an object keyed by the column names (from *Columns*, from the first row with *First row contains column names*, else col1, col2...). With *Output* "one", a message per row with msg.parts (a sequence that a join node can put back together); with "mult", one message whose payload is the array of rows. msg.columns lists the column names.
- An **object**, an array of objects, an array of values or an array of arrays is written as CSV, one line per row, each line ending with *Newline*; with *Output column names* a header line first ("once": only until a message with msg.reset arrives).
- Numbers are parsed with *Parse numerical values*; empty cells are left out unless *Include empty strings* (a quoted empty cell, "") or *Include null values* (nothing between separators) is set.
- A message without a payload is passed on (a message with msg.reset and no payload is not).

Parser **rfc** is RFC 4180 (quotes, doubled quotes, line breaks in quoted cells), Node-RED 4's default. A node with no *spec* (from Node-RED 3 or older) runs in Node-RED's legacy mode, which Runnel parses with the same RFC 4180 parser; only the defaults differ (newline \n, numbers by Node-RED's legacy pattern).

Bounds: a row may have at most 100,000 cells and the input at most 64 MiB; larger input is an error against the message.`,
}, newCSV)

func init() { engine.Register(CSVType) }

// csvMaxCells and csvMaxInput bound what one message may make the node
// build (a CSV line with a million separators, a huge payload).
const (
	csvMaxCells = 100_000
	csvMaxInput = 64 << 20
)

// Error texts are Node-RED's (its csv messages catalogue).
var (
	errCSVBadTemplate = errors.New("Malformed columns template.")
	errCSVType        = errors.New("This node only handles CSV strings or js objects.")
)

const csvObjWarning = "No columns template specified for object -> CSV."

type csvNode struct {
	h                         *engine.Host
	rfc                       bool
	sep, ret                  string
	multi, hdrout             string
	hdrin                     bool
	skip                      int
	parseNumbers              bool
	includeEmpty, includeNull bool
	configTemplate            []any // parsed Temp; [""] when empty
	noTemplate                bool
	quoteables                []string

	mu       sync.Mutex // guards the state below, kept between messages as Node-RED does
	template []any      // the column names in use: strings, or nil for an empty one
	hdrSent  bool
	store    []any // rows of a sequence being gathered (multi "mult" with parts)
	warned   bool
}

func unescapeCSV(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(s)
}

func newCSV(cfg *CSVConfig, h *engine.Host) (engine.Node, error) {
	n := &csvNode{h: h, rfc: cfg.Spec == "rfc", multi: cfg.Multi, hdrout: cfg.Hdrout, hdrin: cfg.Hdrin,
		skip: cfg.Skip, parseNumbers: cfg.Strings, includeEmpty: cfg.IncludeEmptyStrings, includeNull: cfg.IncludeNullValues}
	n.sep = unescapeCSV(cfg.Sep)
	if n.sep == "" {
		n.sep = ","
	}
	ret := cfg.Ret
	if ret == "" {
		ret = `\r\n`
		if !n.rfc {
			ret = `\n`
		}
	}
	n.ret = strings.NewReplacer(`\n`, "\n", `\r`, "\r").Replace(ret)
	switch n.multi {
	case "one", "mult":
	default:
		return nil, engine.ErrFieldf("multi", "%q is not one or mult", cfg.Multi)
	}
	switch n.hdrout {
	case "none", "all", "once":
	default:
		return nil, engine.ErrFieldf("hdrout", "%q is not none, all or once", cfg.Hdrout)
	}
	if n.skip < 0 {
		n.skip = 0
	}
	n.quoteables = []string{n.sep, `"`, "\n", "\r"}
	t, err := n.columnsTemplate(cfg.Temp, ",")
	if err != nil {
		return nil, engine.ErrField("temp", fmt.Errorf("%w %v", errCSVBadTemplate, err))
	}
	if t == nil {
		t = []any{""}
	}
	n.configTemplate = t
	n.noTemplate = !hasTemplate(t)
	n.template = t
	return n, nil
}

// columnsTemplate parses a column list (Node-RED's
// columnStringToTemplateArray): nil when it is not exactly one row.
func (n *csvNode) columnsTemplate(col, sep string) ([]any, error) {
	res, err := parseCSV(col, csvOptions{sep: sep, strict: true})
	if err != nil {
		return nil, err
	}
	if len(res.rows) != 1 {
		return nil, nil
	}
	return res.rows[0], nil
}

func hasTemplate(t []any) bool {
	return len(t) > 0 && !(len(t) == 1 && t[0] == "")
}

// csvQuote is Node-RED's quoteCell: the cell in quotes, its quotes
// doubled, when it holds one of quoteables.
func csvQuote(cell string, sep string, quoteables []string) string {
	q := false
	for _, s := range quoteables {
		if s != "" && strings.Contains(cell, s) {
			q = true
			break
		}
	}
	if strings.Contains(cell, `"`) {
		cell = strings.ReplaceAll(cell, `"`, `""`)
	}
	if q {
		return `"` + cell + `"`
	}
	return cell
}

// columnsString is msg.columns: the non-empty names, quoted as needed for
// commas, joined with commas.
func columnsString(t []any) string {
	var parts []string
	for _, c := range t {
		if s, ok := c.(string); ok && s != "" {
			parts = append(parts, csvQuote(s, ",", []string{`"`, ",", "\r", "\n"}))
		}
	}
	return strings.Join(parts, ",")
}

// Receive converts the payload, following Node-RED 4's 70-CSV.js.
func (n *csvNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, reset := m.Prop("reset")
	if reset {
		n.hdrSent = false
	}
	v, ok := m.Lookup(engine.MustParsePath("payload"))
	if !ok {
		if !reset {
			out.Send(0, m)
		}
		return nil
	}
	switch x := v.(type) {
	case string:
		return n.fromCSV(m, x, out)
	case []byte:
		// A buffer is an object to Node-RED's node: its keys are the byte
		// indices.
		o := newObject()
		for i, c := range x {
			o.set(fmt.Sprint(i), float64(c))
		}
		return n.toCSV(m, o, out)
	}
	if isObjectJS(v) || isObjectValue(v) {
		return n.toCSV(m, toJS(v), out)
	}
	if !n.rfc { // legacy mode warns only
		n.h.Logger().Warn(errCSVType.Error())
		return nil
	}
	n.h.Status(engine.Status{Fill: "red", Shape: "dot", Text: errCSVType.Error()})
	return errCSVType
}

func isObjectValue(v any) bool {
	switch v.(type) {
	case engine.RawJSON, map[string]any:
		return true
	}
	return false
}

func partsOf(m *engine.Message) (*object, bool) {
	p, ok := m.Prop("parts")
	if !ok {
		return nil, false
	}
	o, _ := toJS(p).(*object)
	if o == nil {
		o = newObject()
	}
	return o, true
}

func numProp(o *object, k string) (float64, bool) {
	if o == nil {
		return 0, false
	}
	v, ok := o.get(k)
	if !ok {
		return 0, false
	}
	f, ok := engine.Number(v)
	return f, ok
}

// keysOf is Object.keys(v) for a working value, or an error where
// JavaScript throws (null).
func keysOf(v any) ([]any, error) {
	switch x := v.(type) {
	case *object:
		out := make([]any, len(x.keys))
		for i, k := range x.keys {
			out[i] = k
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = fmt.Sprint(i)
		}
		return out, nil
	case string:
		out := make([]any, 0, len(x))
		for i := range jsv.UTF16Len(x) {
			out = append(out, fmt.Sprint(i))
		}
		return out, nil
	case nil:
		return nil, errors.New("Cannot convert undefined or null to object")
	}
	return []any{}, nil
}

// index is v[k] for a working value; ok false for undefined.
func index(v any, k string) (any, bool) {
	switch x := v.(type) {
	case *object:
		return x.get(k)
	case []any:
		if i, ok := engine.ArrayIndex(k); ok && int(i) < len(x) {
			return x[i], true
		}
	}
	return nil, false
}

func (n *csvNode) toCSV(m *engine.Message, payload any, out engine.Output) error {
	var rows []any
	arr, isArr := payload.([]any)
	aoa := false
	switch {
	case !isArr:
		rows = []any{payload}
	case len(arr) > 0 && !isObjectJS(arr[0]):
		rows = []any{arr}
		aoa = true
	default:
		rows = arr
		if len(arr) > 0 {
			_, aoa = arr[0].([]any)
		}
	}
	parts, hasParts := partsOf(m)
	if pi, _ := numProp(parts, "index"); !(n.noTemplate && hasParts && pi > 0) {
		n.template = n.configTemplate
	}
	template := n.template
	columnsProp := func() ([]any, bool, error) {
		c, ok := m.Prop("columns")
		if !ok {
			return nil, false, nil
		}
		s := ""
		if jsv.Truthy(c) {
			s = ensureString(toJS(c))
		}
		t, err := n.columnsTemplate(s, ",")
		return t, true, err
	}
	var lines []string
	if n.hdrout != "none" && !n.hdrSent {
		if !hasTemplate(template) {
			t, ok, err := columnsProp()
			if err != nil {
				return fmt.Errorf("msg.columns: %w", err)
			}
			if ok {
				if t == nil {
					t = []any{""}
				}
				template = t
			} else {
				var first any
				if len(rows) > 0 {
					first = rows[0]
				} else {
					first = nil
				}
				k, err := keysOf(first)
				if err != nil {
					return err
				}
				template = k
			}
		}
		cells := make([]string, len(template))
		for i, c := range template {
			s, _ := c.(string)
			cells[i] = csvQuote(s, n.sep, n.quoteables)
		}
		lines = append(lines, strings.Join(cells, n.sep))
		if n.hdrout == "once" {
			n.hdrSent = true
		}
	}
	for _, row := range rows {
		if aoa {
			ht := hasTemplate(template)
			ln := len(template)
			if !ht {
				ln = lengthOf(row)
			}
			if ln > csvMaxCells {
				return fmt.Errorf("a row of %d cells is more than %d", ln, csvMaxCells)
			}
			var cells []string
			last := 0
			for t := 0; t < ln; t++ {
				cell, ok := index(row, fmt.Sprint(t))
				if !ok {
					cell = ""
				}
				if ht {
					if h, _ := template[t].(string); h == "" {
						cells = append(cells, "")
						continue
					}
				}
				cells = append(cells, csvQuote(ensureString(cell), n.sep, n.quoteables))
				last = len(cells)
			}
			if ht { // a hole at the end of a JavaScript array is not joined
				cells = cells[:last]
			}
			lines = append(lines, strings.Join(cells, n.sep))
			continue
		}
		if !hasTemplate(template) {
			t, ok, err := columnsProp()
			if err != nil {
				return fmt.Errorf("msg.columns: %w", err)
			}
			if ok {
				template = t
			}
		}
		if !hasTemplate(template) {
			if !n.warned {
				n.warned = true
				n.h.Logger().Warn(csvObjWarning)
			}
			k, err := keysOf(row)
			if err != nil {
				return err
			}
			template = k
			var cells []string
			first, _ := keysOf(rows[0])
			for _, hk := range first {
				cell, ok := index(row, hk.(string))
				if !ok || isObjectJS(cell) {
					continue
				}
				cells = append(cells, csvQuote(engine.ToString(cell), n.sep, n.quoteables))
			}
			lines = append(lines, strings.Join(cells, n.sep))
			continue
		}
		if row == nil {
			return errors.New("Cannot read properties of null")
		}
		cells := make([]string, 0, len(template))
		for _, h := range template {
			hs, _ := h.(string)
			if hs == "" {
				cells = append(cells, "")
				continue
			}
			cell, ok := index(row, hs)
			if !ok {
				cell = ""
			}
			cells = append(cells, csvQuote(ensureString(cell), n.sep, n.quoteables))
		}
		lines = append(lines, strings.Join(cells, n.sep))
	}
	n.template = template
	m.Payload = strings.Join(lines, n.ret) + n.ret
	m.SetProp("columns", columnsString(template))
	if m.Payload != "" {
		out.Send(0, m)
	}
	return nil
}

func lengthOf(v any) int {
	switch x := v.(type) {
	case []any:
		return len(x)
	case string:
		return jsv.UTF16Len(x)
	}
	return 0
}

// legacyNumber is the legacy parser's test for a number, Node-RED's
// /^[-]?(?!E)(?!0\d)\d*\.?\d*(E-?\+?)?\d+$/i without its look-aheads
// (see isLegacyNumber).
var legacyNumber = regexp.MustCompile(`(?i)^\d*\.?\d*(E-?\+?)?\d+$`)

func isLegacyNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || s[0] == 'e' || s[0] == 'E' || (len(s) > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9') {
		return false
	}
	return legacyNumber.MatchString(s)
}

// skipNumber is the RFC parser's test for cells that stay strings.
var skipNumber = regexp.MustCompile(`^ *(\+|-0\d|0\d)`)

func (n *csvNode) fromCSV(m *engine.Message, in string, out engine.Output) error {
	if len(in) > csvMaxInput {
		return fmt.Errorf("CSV of %d bytes is more than %d", len(in), csvMaxInput)
	}
	firstLine, last := true, false
	linecount := 0
	parts, hasParts := partsOf(m)
	pi, _ := numProp(parts, "index")
	pc, hasCount := numProp(parts, "count")
	if hasParts {
		linecount = int(pi)
		if int(pi) > n.skip {
			firstLine = false
		}
		if hasCount && pi+1 >= pc {
			last = true
		}
	}
	cursor := 0
	if n.skip > 0 && linecount < n.skip {
		for ; cursor < len(in); cursor++ {
			if firstLine && linecount < n.skip {
				if in[cursor] == '\r' || in[cursor] == '\n' {
					linecount++
				}
				continue
			}
			break
		}
		if cursor >= len(in) {
			return nil
		}
	}
	noofCR := strings.Count(in[cursor:], "\r") + strings.Count(in[cursor:], "\n")
	if hasParts && n.multi == "mult" && noofCR > 1 {
		firstLine = true
	}
	if firstLine && n.hdrin {
		res, err := parseCSV(in, csvOptions{cursor: cursor, sep: n.sep, strict: true, headersOnly: true})
		if err != nil {
			n.h.Status(engine.Status{Fill: "red", Shape: "dot", Text: errCSVBadTemplate.Error()})
			return err
		}
		if len(res.rows) > 0 {
			n.template = res.rows[0]
		} else {
			n.template = []any{}
		}
		cursor = res.cursor
	}
	res, err := parseCSV(in, csvOptions{cursor: cursor, sep: n.sep})
	if err != nil {
		return err
	}
	headers := n.template
	if !hasTemplate(headers) {
		headers = nil
		if len(res.rows) > 0 {
			for i := range res.rows[0] {
				headers = append(headers, fmt.Sprintf("col%d", i+1))
			}
		}
	}
	var data []any
	for _, row := range res.rows {
		o := newObject()
		for j, h := range headers {
			hs, _ := h.(string)
			if hs == "" {
				continue
			}
			var v any
			if j < len(row) {
				v = row[j]
			}
			if v == nil {
				if !n.includeNull {
					continue
				}
			} else if v == "" {
				if !n.includeEmpty {
					continue
				}
			} else if n.parseNumbers {
				v = n.number(v.(string))
			}
			o.set(hs, v)
		}
		if len(o.keys) > 0 {
			data = append(data, o)
		}
	}
	columns := columnsString(headers)
	if n.multi != "one" {
		if hasParts && noofCR <= 1 {
			n.store = append(n.store, data...)
			if hasCount && pi+1 == pc {
				m.Payload = toValue(orEmpty(n.store))
				m.SetProp("columns", columns)
				m.DeleteProp("parts")
				out.Send(0, m)
				n.store = nil
			}
			return nil
		}
		m.SetProp("columns", columns)
		m.Payload = toValue(orEmpty(data))
		out.Send(0, m)
		return nil
	}
	msgs := make([]*engine.Message, len(data))
	for i, row := range data {
		nm := m
		if i < len(data)-1 {
			nm = m.Copy()
		}
		msgs[i] = nm
		nm.SetProp("columns", columns)
		nm.Payload = toValue(row)
		if !hasParts {
			p := newObject()
			p.set("id", m.ID())
			p.set("index", float64(i))
			p.set("count", float64(len(data)))
			nm.SetProp("parts", toValue(p))
		} else {
			p := newObject()
			for _, k := range parts.keys {
				p.set(k, parts.vals[k])
			}
			d := float64(n.skip)
			if n.hdrin {
				d++
			}
			if f, ok := numProp(parts, "index"); ok {
				p.set("index", f-d)
			}
			if f, ok := numProp(parts, "count"); ok {
				p.set("count", f-d)
			}
			nm.SetProp("parts", toValue(p))
		}
		if last {
			nm.SetProp("complete", true)
		}
	}
	for _, nm := range msgs {
		out.Send(0, nm)
	}
	if hasParts && last && len(data) == 0 {
		c := engine.NewMessage("", nil)
		c.Payload = nil
		c.SetProp("complete", true)
		out.Send(0, c)
	}
	return nil
}

func orEmpty(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}

// number converts a cell as Node-RED does when it parses numbers: +v in
// rfc mode (hexadecimal and Infinity too, not "+1", "01" or "-01"), the
// legacy pattern otherwise.
func (n *csvNode) number(s string) any {
	if n.rfc {
		if skipNumber.MatchString(s) {
			return s
		}
		f := jsv.StringToNumber(s)
		if f != f {
			return s
		}
		return f
	}
	t := jsv.TrimSpace(s)
	if isLegacyNumber(t) {
		if f, ok := jsv.ParseFloat(t); ok {
			return f
		}
	}
	return s
}

// csvOptions are the options of parseCSV.
type csvOptions struct {
	cursor      int
	sep         string
	strict      bool
	headersOnly bool // stop after the first line
}

type csvResult struct {
	rows   [][]any // cells: string, or nil for a cell with nothing in it
	cursor int
}

// parseCSV is Node-RED 4's CSV parser (lib/csv): RFC 4180 with quotes,
// doubled quotes and line breaks in quoted cells; \r, \n and \r\n end a
// row. A cell with nothing in it (not even quotes) is nil, a quoted empty
// cell "". Not strict, a quote in an unquoted cell is kept and data after
// a closing quote is added to the cell; strict, both are errors, as is an
// unclosed quote. Rows with no cells are dropped.
func parseCSV(in string, o csvOptions) (csvResult, error) {
	sep := o.sep
	var rows [][]any
	var row []any
	var cell strings.Builder
	cellStarted := false // cellBuilder has something in it
	newCell, inQuote, closed := true, false, false
	cells := 0
	finishCell := func() error {
		s := cell.String()
		cell.Reset()
		cellStarted = false
		cells++
		if cells > csvMaxCells {
			return fmt.Errorf("a row of more than %d cells", csvMaxCells)
		}
		if s == "" && newCell {
			row = append(row, nil)
		} else {
			row = append(row, s)
		}
		return nil
	}
	finishRow := func() error {
		if cellStarted {
			if err := finishCell(); err != nil {
				return err
			}
		}
		if len(row) > 0 {
			rows = append(rows, row)
			row = nil
		}
		cells = 0
		return nil
	}
	i := o.cursor
	for i < len(in) {
		c := in[i]
		if inQuote {
			if c == '"' && i+1 < len(in) && in[i+1] == '"' {
				cell.WriteByte('"')
				cellStarted = true
				i += 2
				newCell, closed = false, false
			} else if c == '"' {
				inQuote = false
				i++
				newCell, closed = false, true
			} else {
				cell.WriteByte(c)
				cellStarted = true
				newCell, closed = false, false
				i++
			}
			continue
		}
		switch {
		case len(sep) > 0 && strings.HasPrefix(in[i:], sep) && isOneChar(sep):
			if err := finishCell(); err != nil {
				return csvResult{}, err
			}
			i += len(sep)
			newCell, closed = true, false
		case c == '"':
			if newCell {
				inQuote = true
				i++
				newCell, closed = false, false
			} else if o.strict {
				return csvResult{}, errors.New("Quote found in the middle of an unquoted field")
			} else {
				i++
				if i < len(in) && in[i] != '\n' && in[i] != '\r' && !strings.HasPrefix(in[i:], sep) {
					cell.WriteByte('"')
					cellStarted = true
					if in[i] == '"' {
						i++
					}
				}
			}
		case c == '\n' || c == '\r':
			if err := finishRow(); err != nil {
				return csvResult{}, err
			}
			if i+1 < len(in) && in[i+1] == '\n' {
				i += 2
			} else {
				i++
			}
			newCell, closed = true, false
			if o.headersOnly {
				return csvResult{rows: rows, cursor: i}, nil
			}
		default:
			if closed {
				if o.strict {
					return csvResult{}, errors.New("Data found after closing quote")
				}
				// Node-RED steps back onto the closing quote, which then
				// starts nothing new: the cell goes on with a quote.
				i--
				closed = false
				continue
			}
			cell.WriteByte(c)
			cellStarted = true
			newCell = false
			i++
		}
	}
	if o.strict && inQuote {
		return csvResult{}, errors.New("Missing quote, unclosed cell")
	}
	if err := finishRow(); err != nil {
		return csvResult{}, err
	}
	return csvResult{rows: rows, cursor: i}, nil
}

// isOneChar reports whether sep is one JavaScript character: Node-RED
// compares each character of the input with the separator, so a
// separator of two characters never matches.
func isOneChar(sep string) bool { return jsv.UTF16Len(sep) == 1 }
