package editor

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// badRuleFlow has a change node whose second rule's JSONata does not parse.
const badRuleFlow = `[{"id":"t1","type":"tab","label":"Flow 1"},
{"id":"c1","type":"change","z":"t1","rules":[{"t":"set","p":"topic","pt":"msg","to":"a","tot":"str"},{"t":"set","p":"payload","pt":"msg","to":"$sum(","tot":"jsonata"}],"wires":[[]]}]`

// TestValidateFlows: POST /flows/validate answers 200 with the problems a
// deploy of the document is rejected with (the same objects, node, field
// and line), or with its warnings, and deploys nothing: the running flows
// and their rev stay as they were.
func TestValidateFlows(t *testing.T) {
	e := newGuardEnv(t)
	ct := []string{"Content-Type", "application/json"}
	rev := Rev(e.rt.Graph().Document())

	code, body := e.do("POST", "/flows/validate", `{"flows":`+guardFlow+`}`, ct...)
	if code != 200 || body != `{"problems":[],"warnings":[]}`+"\n" {
		t.Errorf("a valid document: %d %s", code, body)
	}

	code, body = e.do("POST", "/flows/validate", badRuleFlow, ct...)
	var got struct {
		Problems []json.RawMessage `json:"problems"`
		Warnings []json.RawMessage `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("bad rule: %d %s", code, body)
	}
	if len(got.Problems) != 1 || !strings.HasPrefix(string(got.Problems[0]), `{"id":"c1","type":"change","field":"rules[1].to","line":2,"error":"`) ||
		got.Warnings == nil || len(got.Warnings) != 0 {
		t.Errorf("bad rule: %s", body)
	}
	// A deploy of the same document is refused with the same problems.
	code, deployBody := e.do("POST", "/flows", badRuleFlow, ct...)
	var refused struct {
		Problems []json.RawMessage `json:"problems"`
	}
	json.Unmarshal([]byte(deployBody), &refused)
	if code != 400 || fmt.Sprint(refused.Problems) != fmt.Sprint(got.Problems) {
		t.Errorf("deploy: %d %s\nvalidate: %s", code, deployBody, body)
	}

	const dangling = `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","wires":[["gone"]]}]`
	code, body = e.do("POST", "/flows/validate", dangling, ct...)
	if want := `{"problems":[],"warnings":[{"id":"i1","type":"inject","field":"wires","line":1,"warning":"output 1 is wired to missing node \"gone\": the wire is dropped"}]}` + "\n"; code != 200 || body != want {
		t.Errorf("a dangling wire: %d %s\nwant %s", code, body, want)
	}

	// A body that is not a flow document is a problem of the document too.
	code, body = e.do("POST", "/flows/validate", `{"flows":`, ct...)
	if code != 200 || !strings.HasPrefix(body, `{"problems":[{"error":"`) || !strings.HasSuffix(body, `"}],"warnings":[]}`+"\n") {
		t.Errorf("not JSON: %d %s", code, body)
	}

	if e.ids() != "t1,i1" || Rev(e.rt.Graph().Document()) != rev {
		t.Errorf("validating deployed something: running %s", e.ids())
	}
}

// TestValidateFlowsGuards: POST /flows/validate has POST /flows's guards:
// JSON bodies only, no cross-origin browser requests, the body size bound.
func TestValidateFlowsGuards(t *testing.T) {
	e := newGuardEnv(t)
	if code, body := e.do("POST", "/flows/validate", guardFlow, "Content-Type", "text/plain"); code != 415 {
		t.Errorf("text/plain: %d %s", code, body)
	}
	if code, body := e.do("POST", "/flows/validate", guardFlow, "Content-Type", "application/json", "Origin", "http://evil.example"); code != 403 {
		t.Errorf("cross-origin: %d %s", code, body)
	}
	big := `[{"id":"t1","type":"tab","label":"` + strings.Repeat("x", maxBody) + `"}]`
	if code, body := e.do("POST", "/flows/validate", big, "Content-Type", "application/json"); code != 413 || !strings.Contains(body, `"error":"too_large"`) {
		t.Errorf("too large: %d %.200s", code, body)
	}
}

// TestValidateFlowsRole: validating needs the full role, as deploying does
// (it compiles the document with the running flows' credentials).
func TestValidateFlowsRole(t *testing.T) {
	e := newAuthEnv(t)
	ct := []string{"Content-Type", "application/json"}
	if code, body, _ := e.do("POST", "/flows/validate", "", authFlow, ct...); code != 401 {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, body, _ := e.do("POST", "/flows/validate", viewerToken, authFlow, ct...); code != 403 {
		t.Errorf("read role: %d %s", code, body)
	}
	if code, body, _ := e.do("POST", "/flows/validate", ciToken, authFlow, ct...); code != 200 || body != `{"problems":[],"warnings":[]}`+"\n" {
		t.Errorf("full role: %d %s", code, body)
	}
}

// everyProblemFlow has several problems in several nodes, some of one node
// found by decoding its settings and others only by its constructor.
const everyProblemFlow = `[{"id":"t1","type":"tab","label":"Flow 1"},
{"id":"in1","type":"mqtt in","z":"t1","topic":"","qos":"7","wires":[[]]},
{"id":"in2","type":"mqtt in","z":"t1","topic":"a/#/b","inputs":1,"wires":[[]]},
{"id":"tp","type":"template","z":"t1","output":"yaml","template":"{{#a}}","wires":[[]]},
{"id":"fn","type":"function","z":"t1","outputs":"x","func":"let = ;","finalize":"}","wires":[[]]}]`

// TestValidateEveryProblemAtOnce: a document's every problem comes out in
// one answer, for validating and for a deploy alike: fixing one field does
// not reveal the next. A field refused by decoding (qos "7", output
// "yaml", outputs "x") does not hide what the constructor finds in the
// others (a topic filter with # inside, an unclosed section, two code
// fields that do not parse, a dynamic subscription).
func TestValidateEveryProblemAtOnce(t *testing.T) {
	e := newGuardEnv(t)
	ct := []string{"Content-Type", "application/json"}
	code, body := e.do("POST", "/flows/validate", everyProblemFlow, ct...)
	var got struct {
		Problems []struct {
			ID    string `json:"id"`
			Field string `json:"field"`
			Line  int    `json:"line"`
			Error string `json:"error"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("%d %s", code, body)
	}
	var list []string
	for _, p := range got.Problems {
		list = append(list, fmt.Sprintf("%s %s %d", p.ID, p.Field, p.Line))
	}
	want := []string{
		"in1 topic 2", "in1 qos 2",
		"in2 inputs 3", "in2 topic 3",
		"tp output 4", "tp template 4",
		"fn outputs 5", "fn func 5", "fn finalize 5",
	}
	if strings.Join(list, ", ") != strings.Join(want, ", ") {
		t.Errorf("problems:\n got %s\nwant %s\n%s", strings.Join(list, ", "), strings.Join(want, ", "), body)
	}
	code, deployBody := e.do("POST", "/flows", everyProblemFlow, ct...)
	var refused struct {
		Problems []json.RawMessage `json:"problems"`
	}
	json.Unmarshal([]byte(deployBody), &refused)
	if code != 400 || len(refused.Problems) != len(want) {
		t.Errorf("deploy: %d %s", code, deployBody)
	}
}

// TestValidateEveryRule: a switch or change node with several bad rules
// has each named, not only the first; so has a filter with several bad
// settings.
func TestValidateEveryRule(t *testing.T) {
	e := newGuardEnv(t)
	const doc = `[{"id":"t1","type":"tab","label":"Flow 1"},
{"id":"sw","type":"switch","z":"t1","property":"payload","propertyType":"msg","rules":[{"t":"regex","v":"(","vt":"str"},{"t":"eq","v":"1","vt":"num"},{"t":"regex","v":"[","vt":"str"}],"outputs":3,"wires":[[],[],[]]},
{"id":"ch","type":"change","z":"t1","rules":[{"t":"move","p":"a","pt":"msg","to":"x","tot":"str"},{"t":"set","p":"b","pt":"msg","to":"1","tot":"str"},{"t":"move","p":"c","pt":"msg","to":"y","tot":"str"}],"wires":[[]]},
{"id":"fl","type":"rbe","z":"t1","func":"deadband","gap":"x","start":"y","property":"a[","wires":[[]]}]`
	code, body := e.do("POST", "/flows/validate", doc, "Content-Type", "application/json")
	var got struct {
		Problems []struct {
			ID    string `json:"id"`
			Field string `json:"field"`
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("%d %s", code, body)
	}
	var list []string
	for _, p := range got.Problems {
		list = append(list, p.ID+" "+p.Field)
	}
	if want := "sw rules[0].v, sw rules[2].v, ch rules[0].to, ch rules[2].to, fl gap, fl start, fl property"; strings.Join(list, ", ") != want {
		t.Errorf("problems:\n got %s\nwant %s\n%s", strings.Join(list, ", "), want, body)
	}
}
