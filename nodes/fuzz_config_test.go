package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	"github.com/runnel-io/runnel/flows"
)

// FuzzNodeConfig builds every registered node type from configuration
// generated from its schema, mixing hostile values (NaN, infinities, huge
// and negative numbers, empty and blank strings, invalid UTF-8, deep
// JSON), deploys it (twice, so that successors take over), sends messages
// through it and stops it. No panic may escape, none may be recovered
// either (a recovered panic is a bug the runtime only contained), and
// stopping must return.
//
//	go test -run '^$' -fuzz FuzzNodeConfig -fuzztime 2m ./nodes/
func FuzzNodeConfig(f *testing.F) {
	types := fuzzTypes()
	for i := range types {
		f.Add(uint8(i), []byte{}, []byte(`{"temperature":21.5}`))
		f.Add(uint8(i), []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []byte("NaN"))
		f.Add(uint8(i), []byte{2, 5, 2, 7, 2, 11, 2, 13, 2, 3, 2, 9, 2, 4, 2, 6}, []byte("\xff\xfe"))
		f.Add(uint8(i), []byte{3, 0, 3, 1, 3, 2, 3, 3, 3, 4, 3, 5, 3, 6, 3, 7}, []byte(`[[[[{"a":[1e400]}]]]]`))
		f.Add(uint8(i), []byte{5, 8, 6, 9, 7, 10, 9, 12, 10, 14, 11, 15, 13, 16}, []byte(""))
	}
	f.Fuzz(func(t *testing.T, typ uint8, seed, payload []byte) {
		types := fuzzTypes()
		fuzzOne(t, types[int(typ)%len(types)], &fuzzGen{b: seed}, payload)
	})
}

var (
	fuzzBrokerOnce sync.Once
	fuzzBroker     *broker.Broker
	fuzzBrokerErr  error
	fuzzReg        *engine.Registry
)

// fuzzTypes lists the registered types (test types excluded), sorted.
func fuzzTypes() []*engine.Type {
	var out []*engine.Type
	for _, t := range engine.DefaultRegistry.Types() {
		if !strings.HasPrefix(t.Type, "test-") {
			out = append(out, t)
		}
	}
	return out
}

// fuzzSetup starts the embedded broker the mqtt nodes use, once.
func fuzzSetup(t *testing.T) (*broker.Broker, *engine.Registry) {
	fuzzBrokerOnce.Do(func() {
		fuzzBroker, fuzzBrokerErr = broker.Start(broker.Options{Addr: "127.0.0.1:0"})
		fuzzReg = engine.NewRegistry()
		for _, typ := range engine.DefaultRegistry.Types() {
			fuzzReg.MustRegister(typ)
		}
		if _, ok := fuzzReg.Lookup(nodetest.SourceType.Type); !ok {
			fuzzReg.MustRegister(nodetest.SourceType)
		}
	})
	if fuzzBrokerErr != nil {
		t.Fatal(fuzzBrokerErr)
	}
	return fuzzBroker, fuzzReg
}

// fuzzGen draws choices from the fuzzer's bytes and, when they run out,
// from a generator seeded with them, so that every input makes a whole
// configuration and a short one is not mostly zeros.
type fuzzGen struct {
	b []byte
	i int
	r *rand.Rand
}

func (g *fuzzGen) next() int {
	if g.i < len(g.b) {
		v := g.b[g.i]
		g.i++
		return int(v)
	}
	if g.r == nil {
		h := fnv.New64a()
		h.Write(g.b)
		g.r = rand.New(rand.NewPCG(h.Sum64(), uint64(len(g.b))))
	}
	return g.r.IntN(256)
}

func pick[T any](g *fuzzGen, from []T) T { return from[g.next()%len(from)] }

// hostileText are strings that have broken, or could break, a node.
var hostileText = []string{
	"", "NaN", "nan", "Inf", "-Inf", "Infinity", "-1", "0", "1", "2", "1e400", "-1e400", "1e-9", "0.0001",
	"99999999999999999999999", "  5 ", " ", "2147483648", "65536", "\xff\xfe\xfd", "a\x00b", "ü€😀",
	"{{#a}}{{/a}}", "{{{payload}}}", "{{", "{{/x}}", "{{> p}}", `{"a":[{"b":{}}]}`, "[[[[[[[[]]]]]]]]", "payload",
	"payload.a[0]", "payload[\"x\"]", "a..b", "[", "]", "true", "false", "null", "%", "5%", "-5%", "1..2",
	"#", "+", "a/+/#", "/", "$SYS/x", "mqtt://127.0.0.1:1", "ws://[::1", "mqtts://127.0.0.1:1", "tcp://", "::1",
	"127.0.0.1", "localhost", "str", "num", "json", "bin", "env", "date", "msg", "flow", "global",
	strings.Repeat("{{a}}", 200), strings.Repeat("x", 5000),
}

// hostileNumbers are JSON number texts.
var hostileNumbers = []string{"0", "-1", "1", "2", "3", "1e400", "-1e400", "1e-400", "1e-9", "3.5", "2147483648",
	"9223372036854775808", "-9223372036854775809", "65535", "65536", "0.1", "1e308"}

// hostileJSON are values for json fields (such as inject's props).
var hostileJSON = []string{
	`[]`, `{}`, `null`, `"str"`, `1e400`, `[{"p":"payload"},{"p":"topic","vt":"str"}]`,
	`[{"p":"payload","v":"NaN","vt":"num"}]`, `[{"p":"payload","v":"1e400","vt":"num"}]`,
	`[{"p":"a..b"}]`, `[{"p":""}]`, `[{"p":"payload","vt":"json","v":"{"}]`, `[{"p":"payload","vt":"json","v":"[[[[[[[[[[1]]]]]]]]]]"}]`,
	`[{"p":"payload","vt":"bin","v":"[300,-1,1e400]"}]`, `[{"p":"payload","vt":"bin","v":"\u00ff"}]`,
	`[{"p":"payload","vt":"nosuch","v":"x"}]`, `[{"p":"payload","v":{"a":[1,2]},"vt":"json"}]`, `[{"p":"payload","v":1e308,"vt":"num"}]`,
	`[{"p":"payload.a[99999999999]","v":"x"}]`, `[{"p":"payload[-1]","v":"x"}]`, `[` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `]`,
	`"\udc00"`, `{"a":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 101),
}

// loopbackHosts are the broker addresses generated: the fuzzer must not
// reach out beyond this machine.
var loopbackHosts = []string{"127.0.0.1", "localhost", "::1", "", " ", "mqtt://127.0.0.1:1", "mqtts://127.0.0.1:1",
	"ws://127.0.0.1:1", "wss://[::1]:1", "ws://[::1", "tcp://", "mqtt://", "\xff", "127.0.0.1:99999", "foo://127.0.0.1"}

// saneJSON are ordinary values for json fields.
var saneJSON = []string{`[{"p":"payload"},{"p":"topic","vt":"str"}]`, `[{"p":"payload","v":"1","vt":"num"}]`, `[]`}

// fuzzValue generates the JSON value of one field: mostly a value of the
// field's kind, so that nodes get built and run, and otherwise a hostile
// one.
func fuzzValue(g *fuzzGen, f engine.Field, refs map[string]string) (json.RawMessage, bool) {
	sel := g.next()
	str := func(v string) json.RawMessage { b, _ := json.Marshal(v); return b }
	sane := sel%20 < 17 // three fields in twenty get a hostile value
	switch {
	case sel%20 == 17 && f.Default != nil:
		return nil, false // left out: the default applies
	case f.NodeType != "":
		if id, ok := refs[f.NodeType]; ok && sel%5 != 0 {
			return str(id), true
		}
		return str(pick(g, []string{"missing", ""})), true
	case f.Kind == "json" && sane:
		return json.RawMessage(pick(g, saneJSON)), true
	case f.Kind == "json":
		return json.RawMessage(pick(g, hostileJSON)), true
	case f.Name == "broker":
		return str(pick(g, loopbackHosts)), true
	case (f.Name == "cert" || f.Name == "key" || f.Name == "ca") && sane:
		return str(""), true // file paths: missing files only make problems
	case f.Kind == "boolean" && sane:
		return json.RawMessage(pick(g, []string{"true", "false", `"true"`, `"false"`, `""`})), true
	case len(f.Options) > 0 && sane:
		return str(pick(g, f.Options)), true
	case (f.Kind == "integer" || f.Kind == "number") && sane:
		return json.RawMessage(pick(g, []string{"0", "1", "2", "5", "0.5", `"3"`, `""`})), true
	case sane:
		if g.next()%3 != 0 {
			return str(""), true // what most fields accept
		}
		return str(pick(g, []string{"1", "payload", "t/x", "{{payload}}"})), true
	}
	switch sel % 7 {
	case 0, 1, 2, 3:
		if g.next()%9 == 0 {
			// Invalid UTF-8 written raw into the JSON string.
			return json.RawMessage("\"\xff\xfe{{payload}}\""), true
		}
		return str(pick(g, hostileText)), true
	case 4:
		return json.RawMessage(pick(g, hostileNumbers)), true
	case 5:
		return json.RawMessage(pick(g, []string{"true", "false", "null"})), true
	}
	return json.RawMessage(pick(g, []string{`{}`, `[]`, `{"a":[1]}`, `[[[]]]`})), true
}

// fuzzFields generates the properties of fields: each a value of its
// kind (or a hostile one), a typed field's type property too, and a list
// field's entries, each with the entries' fields.
func fuzzFields(g *fuzzGen, fields []engine.Field, refs map[string]string, depth int) map[string]json.RawMessage {
	n := map[string]json.RawMessage{}
	str := func(v string) json.RawMessage { b, _ := json.Marshal(v); return b }
	for _, f := range fields {
		switch {
		case f.Kind == "typed" && g.next()%8 != 0:
			typ := pick(g, f.Types)
			if g.next()%10 == 0 {
				typ = pick(g, []string{"", "nosuch", "msg", "jsonata", "re"})
			}
			n[f.TypeProp] = str(typ)
			vals := typedValues[typ]
			if len(vals) == 0 {
				vals = []string{"", "x"}
			}
			n[f.Name] = str(pick(g, vals))
		case f.Kind == "list" && depth == 0 && g.next()%8 != 0:
			entries := make([]json.RawMessage, g.next()%5)
			for i := range entries {
				b, _ := json.Marshal(fuzzFields(g, f.Item, refs, depth+1))
				entries[i] = b
			}
			b, _ := json.Marshal(entries)
			n[f.Name] = b
		default:
			if v, ok := fuzzValue(g, f, refs); ok {
				n[f.Name] = v
			}
		}
	}
	return n
}

// typedValues are values for typed fields, by type: mostly valid ones,
// and some that must be refused at deploy.
var typedValues = map[string][]string{
	"msg":     {"payload", "topic", "payload.a[0]", "a..b", "", "payload[99999999999]"},
	"flow":    {"count", "#:(persistent)::n", "#:(nosuch)::n", ""},
	"global":  {"count", "a.b", ""},
	"str":     {"", "x", "\xff", "{{payload}}"},
	"num":     {"0", "1.5", "-3", "NaN", "1e400", "abc", "0x1f", ""},
	"bool":    {"true", "false", "x"},
	"json":    {`{"a":1}`, `[1,2]`, `{`, `"s"`, `1e400`},
	"bin":     {`[1,2,300]`, `"abc"`, `{`, `[-1]`},
	"re":      {`^a`, `(`, `(?=x)`, `.*`},
	"date":    {"", "iso", "object", "bogus"},
	"env":     {"HOME", "${HOME}/x", "${", "NR_NODE_ID"},
	"jsonata": {"payload * 2", "$sum(payload)", "[1..100000000]", "(", "$flowContext('x')", "payload.a.b.c"},
	"expr":    {"msg.payload * 2", "msg.payload > 1", "(", "1/0", "msg.topic + 1"},
	"":        {"", "x"},
	"nosuch":  {"x"},
	"prev":    {""},
}

// fuzzNode generates a node of type typ with id, and the config nodes it
// references (one level deep).
func fuzzNode(g *fuzzGen, typ *engine.Type, id string, depth int) []map[string]json.RawMessage {
	var extra []map[string]json.RawMessage
	refs := map[string]string{}
	for _, f := range typ.Fields {
		if f.NodeType == "" || depth > 1 {
			continue
		}
		if ct, ok := engine.DefaultRegistry.Lookup(f.NodeType); ok {
			cid := fmt.Sprintf("%s-%s", id, f.Name)
			refs[f.NodeType] = cid
			extra = append(extra, fuzzNode(g, ct, cid, depth+1)...)
		}
	}
	n := fuzzFields(g, typ.Fields, refs, 0)
	put := func(k, v string) { b, _ := json.Marshal(v); n[k] = b }
	put("id", id)
	put("type", typ.Type)
	if !typ.Config {
		put("z", "tab")
		n["wires"] = json.RawMessage(`[]`)
	}
	return append(extra, n)
}

// fuzzPayload turns the fuzzer's bytes into a message payload of some kind.
func fuzzPayload(g *fuzzGen, b []byte) any {
	switch g.next() % 5 {
	case 0:
		return string(b)
	case 1:
		return append([]byte(nil), b...)
	case 2:
		if v, err := engine.ParseJSON(b); err == nil {
			return v
		}
		return engine.RawJSON(`{"a":[1,{"b":null}]}`)
	case 3:
		return map[string]any{"temperature": string(b), "a": []any{1.0, string(b)}}
	}
	return nil
}

func fuzzOne(t *testing.T, typ *engine.Type, g *fuzzGen, payload []byte) {
	br, reg := fuzzSetup(t)
	nodes := []map[string]json.RawMessage{{"id": json.RawMessage(`"tab"`), "type": json.RawMessage(`"tab"`)}}
	nodes = append(nodes, fuzzNode(g, typ, "n", 0)...)
	if typ.Inputs > 0 {
		nodes = append(nodes, map[string]json.RawMessage{"id": json.RawMessage(`"src"`), "type": json.RawMessage(`"test-source"`),
			"z": json.RawMessage(`"tab"`), "wires": json.RawMessage(`[["n"]]`)})
	}
	text, err := json.Marshal(nodes)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := flows.Parse(text)
	if err != nil {
		return // not a document Runnel loads
	}
	var mu sync.Mutex
	var panics []string
	rt := engine.New(engine.Options{Registry: reg, Broker: br, BrokerAddr: br.Addr(),
		OnError: func(ev engine.ErrorEvent) {
			if strings.Contains(ev.Err.Error(), "panic: ") {
				mu.Lock()
				panics = append(panics, ev.NodeID+": "+ev.Err.Error())
				mu.Unlock()
			}
		}})
	check := func(when string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(panics) > 0 {
			t.Fatalf("%s: a %s node panicked: %s\nflow: %s", when, typ.Type, strings.Join(panics, "; "), text)
		}
	}
	ctx := context.Background()
	if err := rt.Deploy(ctx, doc); err != nil {
		if strings.Contains(err.Error(), "panic: ") {
			t.Fatalf("deploy: a %s node panicked: %v\nflow: %s", typ.Type, err, text)
		}
		check("deploy")
		return
	}
	send := func() {
		if src, ok := rt.Graph().Node("src").(*nodetest.Source); ok {
			m := engine.NewMessage("t/x", fuzzPayload(g, payload))
			if g.next()%2 == 0 {
				m.Set(engine.MustParsePath("reset"), true)
			}
			src.Send(m)
		}
	}
	send()
	if p, err := rt.Plan(doc.Clone(), engine.DeployFull); err == nil {
		if err := rt.Apply(ctx, p); err != nil && strings.Contains(err.Error(), "panic: ") {
			t.Fatalf("redeploy: %v", err)
		}
	}
	if rt.Graph() != nil {
		send()
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		rt.Stop(sctx)
	}()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatalf("stopping a %s node did not return\nflow: %s", typ.Type, text)
	}
	check("run")
}
