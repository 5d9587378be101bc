package parser

import (
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// TestYAML compares the yaml node with Node-RED 4.1.15's (see nrCase).
func TestYAML(t *testing.T) {
	runNRCases(t, YAMLType, []nrCase{
		{name: "parse", cfg: `{"property": "payload"}`,
			in: []string{`{"payload": "a: 1\nb: [x, 2.5, true, null]\nc:\n  d: 'q'\n  e: 0x1F\nf: yes\ng: 2001-12-14\nh: ~\ni: |\n  two\n  lines\n"}`},
			// A known difference: Node-RED (js-yaml) makes g a Date,
			// "2001-12-14T00:00:00.000Z"; goccy/go-yaml leaves an unquoted
			// timestamp a string, and cannot tell it from a quoted one.
			want: []string{`SEND {"payload":{"a":1,"b":["x",2.5,true,null],"c":{"d":"q","e":31},"f":"yes","g":"2001-12-14","h":null,"i":"two\nlines\n"}}`}},
		{name: "dump", cfg: `{"property": "payload"}`,
			in:   []string{`{"payload": {"a": 1, "b": [1, "two", {"c": 3, "d": [4, 5]}, [6, 7]], "e": {}, "f": [], "g": "", "h": "true", "i": "yes", "j": "a: b", "k": "multi\nline\n", "l": null, "m": 1.5, "n": -0.0, "o": "x#y", "p": " lead", "q": "2001-12-14", "r": "it's", "s": "tab\there", "t": "ünï", "u": 1e+21, "v": 1.5e-07, "w": "-dash", "x": "a,b", "y": [",", "[x]"], "10": "ten", "z": "#c"}}`},
			want: []string{`SEND {"payload":"'10': ten\na: 1\nb:\n  - 1\n  - two\n  - c: 3\n    d:\n      - 4\n      - 5\n  - - 6\n    - 7\ne: {}\nf: []\ng: ''\nh: 'true'\ni: 'yes'\nj: 'a: b'\nk: |\n  multi\n  line\nl: null\nm: 1.5\n'n': -0.0\no: x#y\np: ' lead'\nq: '2001-12-14'\nr: it's\ns: \"tab\\there\"\nt: ünï\nu: 1e+21\nv: 1.5e-7\nw: '-dash'\nx: a,b\n'y':\n  - ','\n  - '[x]'\nz: '#c'\n"}`}},
		{name: "top array and scalars", cfg: `{"property": "payload"}`,
			in: []string{`{"payload": [1, [2, 3], {"a": []}]}`, `{"payload": 5}`, `{"_buf": "a: 1"}`, `{"foo": 1}`},
			want: []string{`SEND {"payload":"- 1\n- - 2\n  - 3\n- a: []\n"}`,
				`WARN Ignored unsupported payload type`,
				`WARN Ignored non-object payload`,
				`SEND {"foo":1}`}},
		{name: "errors", cfg: `{"property": "payload"}`,
			in: []string{`{"payload": "a: [1"}`, `{"payload": ""}`, `{"payload": "plain"}`},
			// Node-RED's text is js-yaml's: "unexpected end of the stream within a flow collection (2:1)".
			want: []string{"ERROR invalid YAML: [1:4] sequence end token ']' not found\n>  1 | a: [1\n          ^\n",
				`SEND {}`,
				`SEND {"payload":"plain"}`}},
		// js-yaml's load takes one document: a second one (even empty
		// or a comment) is an error; a null payload is dumped (typeof
		// null is "object").
		{name: "documents and null", cfg: `{"property": "payload"}`,
			in: []string{`{"payload": "---\na: 1\n---\nb: 2\n"}`, `{"payload": "a: 1\n---\n"}`, `{"payload": "---\na: 1\n...\n"}`, `{"payload": null}`},
			want: []string{"ERROR invalid YAML: expected a single document in the stream, but found more",
				"ERROR invalid YAML: expected a single document in the stream, but found more",
				`SEND {"payload":{"a":1}}`,
				`SEND {"payload":"null\n"}`}},
	})
}

// TestYAMLHostile checks the bounds: alias expansion and nesting.
func TestYAMLHostile(t *testing.T) {
	laughs := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	for name, in := range map[string]string{"billion laughs": laughs, "deep": deep} {
		f := nodetest.Chain(t, `{"type":"yaml"}`, YAMLType)
		f.Inject("src", engine.NewMessage("", in))
		if errs := f.Errors(); len(errs) != 1 || len(f.Received("sink")) != 0 {
			t.Errorf("%s: errors %v", name, errs)
		}
	}
}

// Deeply nested flow collections are refused before the parser runs,
// which takes time more than linear in them (200 KB of brackets took
// 53 s); the check is not fooled by an apostrophe in a plain scalar.
func TestYAMLDeepFlowRefusedFast(t *testing.T) {
	for _, doc := range []string{
		strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
		"a: don't\nb: " + strings.Repeat("{x: ", 2000) + strings.Repeat("}", 2000),
	} {
		start := time.Now()
		_, err := parseYAML(doc)
		if err == nil || !strings.Contains(err.Error(), "levels of nesting") {
			t.Errorf("%.20q...: err %v", doc, err)
		}
		t.Logf("refused in %v", time.Since(start))
	}
	if d := flowDepth(`a: "[[[[" # {{{{` + "\nb: [1, {c: 'x]'}]"); d != 2 {
		t.Errorf("flowDepth = %d, want 2 (quoted text and comments not counted)", d)
	}
}
