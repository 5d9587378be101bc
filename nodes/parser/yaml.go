package parser

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/runnel-io/runnel/engine"
)

// YAMLConfig is the configuration of a yaml node. The property names are
// Node-RED's.
type YAMLConfig struct {
	Property string `json:"property" label:"Property" default:"payload" help:"The message property to convert"`
}

// YAMLType is the yaml node type.
var YAMLType = engine.NewType(engine.Meta{
	Type:     "yaml",
	Category: "parser",
	Inputs:   1,
	Outputs:  1,
	Color:    "#DEBD5C",
	Icon:     "parser-yaml.svg",
	Help: `Converts a property (msg.payload by default) between a YAML string and an object, as Node-RED's **yaml** node (js-yaml) does.

- A **string** is parsed (YAML 1.2; mappings keep their key order).
- An **object** or array is written as YAML in js-yaml's block style: two-space indents, sequences under a key indented, strings quoted with single quotes when they would read as something else, multi-line strings as | blocks.
- A buffer or another type is dropped with a warning.

Differences: Runnel parses with goccy/go-yaml, so error texts differ from js-yaml's, and an unquoted timestamp (2001-12-14) stays a string where js-yaml makes a Date ("2001-12-14T00:00:00.000Z" in JSON); js-yaml folds strings longer than 80 columns (>- blocks) and Runnel does not. Bounds: 64 MiB of input, 1,000,000 values after alias expansion (a "billion laughs" document is an error), 1,000 levels of nesting.`,
}, newYAML)

func init() { engine.Register(YAMLType) }

const (
	yamlMaxInput  = 64 << 20
	yamlMaxValues = 1_000_000
	yamlMaxDepth  = 1000
)

type yamlNode struct {
	h    *engine.Host
	prop engine.Path
}

func newYAML(cfg *YAMLConfig, h *engine.Host) (engine.Node, error) {
	p, err := engine.ParsePath(cfg.Property)
	if err != nil {
		return nil, engine.ErrField("property", err)
	}
	return &yamlNode{h: h, prop: p}, nil
}

// Receive converts the property, following Node-RED's 70-YAML.js.
func (n *yamlNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	v, ok := m.Lookup(n.prop)
	if !ok {
		out.Send(0, m)
		return nil
	}
	switch x := v.(type) {
	case string:
		res, err := parseYAML(x)
		if err != nil {
			return err
		}
		if res == yamlUndefined { // an empty document: undefined
			m.Delete(n.prop)
			out.Send(0, m)
			return nil
		}
		if err := m.Set(n.prop, toValue(res)); err != nil {
			return err
		}
	case []byte:
		n.h.Logger().Warn("Ignored non-object payload")
		return nil
	default:
		if !isObjectJS(v) && !isObjectValue(v) {
			n.h.Logger().Warn("Ignored unsupported payload type")
			return nil
		}
		var b strings.Builder
		dumpYAML(&b, toJS(v), 0, true, false)
		b.WriteByte('\n')
		if err := m.Set(n.prop, b.String()); err != nil {
			return err
		}
	}
	out.Send(0, m)
	return nil
}

// flowDepth returns the deepest nesting of flow collections ([ and {)
// in s, outside quoted strings and comments: a cheap bound checked before
// the parser runs.
func flowDepth(s string) int {
	depth, most := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'') && tokenStart(s, i):
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t' || s[i-1] == '\n'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '[' || c == '{':
			depth++
			most = max(most, depth)
		case c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return most
}

// tokenStart reports whether s[i] begins a token, where a quote opens a
// quoted scalar (inside a plain scalar, as in don't, it does not).
func tokenStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	switch s[i-1] {
	case ' ', '\t', '\n', '\r', '[', '{', ',', ':', '-', '?':
		return true
	}
	return false
}

// parseYAML is js-yaml's load: the first document's value.
func parseYAML(s string) (any, error) {
	if len(s) > yamlMaxInput {
		return nil, fmt.Errorf("YAML of %d bytes is more than %d", len(s), yamlMaxInput)
	}
	if strings.TrimSpace(s) == "" {
		return yamlUndefined, nil
	}
	if flowDepth(s) > yamlMaxDepth {
		// The parser takes time more than linear in deeply nested flow
		// collections before it refuses them (200 KB of brackets: 53 s).
		return nil, fmt.Errorf("invalid YAML: more than %d levels of nesting", yamlMaxDepth)
	}
	f, err := parser.ParseBytes([]byte(s), 0)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if len(f.Docs) > 1 {
		// js-yaml's load takes one document only.
		return nil, errors.New("invalid YAML: expected a single document in the stream, but found more")
	}
	var v any
	if len(f.Docs) == 1 && f.Docs[0].Body != nil {
		if err := yaml.NodeToValue(f.Docs[0].Body, &v, yaml.UseOrderedMap()); err != nil {
			return nil, fmt.Errorf("invalid YAML: %w", err)
		}
	}
	budget := yamlMaxValues
	return fromYAML(v, &budget, 0)
}

// yamlUndefined is js-yaml's undefined for a document with nothing in it.
var yamlUndefined = &object{}

var errYAMLTooBig = errors.New("invalid YAML: more than 1,000,000 values (aliases expand to too much)")

// fromYAML converts a decoded value, counting values against budget: an
// alias is decoded as a shared value, which would be copied here.
func fromYAML(v any, budget *int, depth int) (any, error) {
	*budget--
	if *budget < 0 {
		return nil, errYAMLTooBig
	}
	if depth > yamlMaxDepth {
		return nil, fmt.Errorf("invalid YAML: more than %d levels of nesting", yamlMaxDepth)
	}
	switch x := v.(type) {
	case yaml.MapSlice:
		o := newObject()
		for _, it := range x {
			c, err := fromYAML(it.Value, budget, depth+1)
			if err != nil {
				return nil, err
			}
			k, _ := fromYAML(it.Key, budget, depth+1)
			ks, ok := k.(string)
			if !ok {
				ks = ensureString(k)
			}
			o.set(ks, c)
		}
		return o, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := fromYAML(e, budget, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any: // not with UseOrderedMap; kept for safety
		return fromYAML(toJS(x), budget, depth)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	case uint64:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case nil, bool, string, float64:
		return x, nil
	}
	if f, ok := engine.Number(v); ok {
		return f, nil
	}
	return fmt.Sprint(v), nil
}

// dumpYAML writes v as js-yaml's dump does (block style, indent 2), at
// level; compact is js-yaml's compact flag (no line break before the
// first entry), inseq tells a scalar it is a sequence entry.
func dumpYAML(b *strings.Builder, v any, level int, compact, inseq bool) {
	nextLine := func(l int) {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat("  ", l))
	}
	switch x := v.(type) {
	case *object:
		if len(x.keys) == 0 {
			b.WriteString("{}")
			return
		}
		for i, k := range x.keys {
			if !compact || i > 0 {
				nextLine(level)
			}
			b.WriteString(yamlScalar(k, level, true, false))
			c := x.vals[k]
			if isBlock(c) {
				b.WriteByte(':')
			} else {
				b.WriteString(": ")
			}
			dumpYAML(b, c, level+1, false, false)
		}
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		for i, e := range x {
			if !compact || i > 0 {
				nextLine(level)
			}
			b.WriteString("- ")
			dumpYAML(b, e, level+1, true, true)
		}
	case string:
		b.WriteString(yamlScalar(x, level, false, true))
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case float64:
		b.WriteString(yamlNumber(x))
	default:
		b.WriteString(yamlScalar(ensureString(x), level, false, inseq))
	}
}

// isBlock reports whether v is written as a block on lines of its own.
func isBlock(v any) bool {
	switch x := v.(type) {
	case *object:
		return len(x.keys) > 0
	case []any:
		return len(x) > 0
	}
	return false
}

func yamlNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return ".nan"
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case f == 0 && math.Signbit(f):
		return "-0.0"
	}
	s := engine.FormatNumber(f)
	if f != math.Trunc(f) && sciNoDot.MatchString(s) {
		s = strings.Replace(s, "e", ".e", 1)
	}
	return s
}

var (
	sciNoDot        = regexp.MustCompile(`^[-+]?[0-9]+e`)
	yamlBase60      = regexp.MustCompile(`^[-+]?[0-9_]+(?::[0-9_]+)+(?:\.[0-9_]*)?$`)
	yamlOldBooleans = map[string]bool{"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
		"n": true, "N": true, "no": true, "No": true, "NO": true, "off": true, "Off": true, "OFF": true}
	// Strings js-yaml's default schema would read as another type.
	yamlImplicit = []*regexp.Regexp{
		regexp.MustCompile(`^(?:~|null|Null|NULL)$`),
		regexp.MustCompile(`^(?:true|True|TRUE|false|False|FALSE)$`),
		regexp.MustCompile(`^[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o[0-7_]+|[0-9][0-9_]*)$`),
		regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`),
		regexp.MustCompile(`^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?$`),
		regexp.MustCompile(`^<<$`),
	}
)

// yamlScalar is js-yaml's writeScalar with its default options, except
// that long lines are not folded.
func yamlScalar(s string, level int, iskey, inblock bool) string {
	if s == "" {
		return "''"
	}
	if yamlOldBooleans[s] || yamlBase60.MatchString(s) {
		return "'" + s + "'"
	}
	indent := 2 * max(1, level)
	rs := []rune(s)
	plain := plainSafeFirst(rs[0]) && plainSafeLast(rs[len(rs)-1])
	hasLineBreak := false
	var prev rune = -1
	for _, c := range rs {
		if c == '\n' && !iskey {
			hasLineBreak = true
		} else if !yamlPrintable(c) {
			return `"` + yamlEscape(rs) + `"`
		}
		plain = plain && plainSafe(c, prev, inblock)
		prev = c
	}
	if !hasLineBreak {
		if plain && !yamlAmbiguous(s) {
			return s
		}
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	// literal block
	header := ""
	if strings.HasPrefix(strings.TrimLeft(s, "\n"), " ") {
		header = "2"
	}
	clip := strings.HasSuffix(s, "\n")
	keep := clip && (strings.HasSuffix(s, "\n\n") || s == "\n")
	switch {
	case keep:
		header += "+"
	case !clip:
		header += "-"
	}
	pad := strings.Repeat(" ", indent)
	lines := strings.Split(s, "\n")
	var b strings.Builder
	b.WriteString("|" + header + "\n")
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		if l != "" {
			b.WriteString(pad + l)
		}
	}
	out := b.String()
	return strings.TrimSuffix(out, "\n")
}

func yamlAmbiguous(s string) bool {
	for _, re := range yamlImplicit {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func yamlPrintable(c rune) bool {
	return (c >= 0x20 && c <= 0x7E) || (c >= 0xA1 && c <= 0xD7FF && c != 0x2028 && c != 0x2029) ||
		(c >= 0xE000 && c <= 0xFFFD && c != 0xFEFF) || (c >= 0x10000 && c <= 0x10FFFF)
}

func isWS(c rune) bool { return c == ' ' || c == '\t' }

func nsCharOrWS(c rune) bool { return yamlPrintable(c) && c != 0xFEFF && c != '\r' && c != '\n' }

func plainSafeFirst(c rune) bool {
	return yamlPrintable(c) && c != 0xFEFF && !isWS(c) && !strings.ContainsRune("-?:,[]{}#&*!|=>'\"%@`", c)
}

func plainSafeLast(c rune) bool { return !isWS(c) && c != ':' }

func plainSafe(c, prev rune, inblock bool) bool {
	cNsOrWS := nsCharOrWS(c)
	cNs := cNsOrWS && !isWS(c)
	ok := cNsOrWS
	if !inblock {
		ok = ok && !strings.ContainsRune(",[]{}", c)
	}
	return (ok && c != '#' && !(prev == ':' && !cNs)) ||
		(prev >= 0 && nsCharOrWS(prev) && !isWS(prev) && c == '#') ||
		(prev == ':' && cNs)
}

var yamlEscapes = map[rune]string{0: `\0`, 7: `\a`, 8: `\b`, 9: `\t`, 10: `\n`, 11: `\v`, 12: `\f`, 13: `\r`, 27: `\e`,
	'"': `\"`, '\\': `\\`, 0x85: `\N`, 0xA0: `\_`, 0x2028: `\L`, 0x2029: `\P`}

func yamlEscape(rs []rune) string {
	var b strings.Builder
	for _, c := range rs {
		if e, ok := yamlEscapes[c]; ok {
			b.WriteString(e)
		} else if yamlPrintable(c) {
			b.WriteRune(c)
		} else if c <= 0xFF {
			fmt.Fprintf(&b, `\x%02X`, c)
		} else if c <= 0xFFFF {
			fmt.Fprintf(&b, `\u%04X`, c)
		} else {
			fmt.Fprintf(&b, `\U%08X`, c)
		}
	}
	return b.String()
}
