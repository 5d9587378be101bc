package editor

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/runnel-io/runnel/engine"
)

// GET /nodes carries what the editor draws and the forms need, so that
// no node type needs code in the front end: label rules, icon, button,
// Node-RED's name, credential fields, option labels, list fields with
// typed entries.
func TestNodesFormMetadata(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(NewAPI(Options{Runtime: engine.New(engine.Options{})}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/nodes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var types []map[string]json.RawMessage
	if err := json.Unmarshal(body, &types); err != nil {
		t.Fatalf("GET /nodes: %v", err)
	}
	byType := map[string]map[string]json.RawMessage{}
	for _, typ := range types {
		var name string
		json.Unmarshal(typ["type"], &name)
		byType[name] = typ
	}
	compact := func(raw json.RawMessage) string {
		var v any
		json.Unmarshal(raw, &v)
		b, _ := json.Marshal(v)
		return string(b)
	}
	field := func(typ, name string) string {
		var fs []map[string]json.RawMessage
		json.Unmarshal(byType[typ]["fields"], &fs)
		for _, f := range fs {
			if string(f["name"]) == `"`+name+`"` {
				b, _ := json.Marshal(f)
				return compact(b)
			}
		}
		return "none"
	}
	for _, c := range []struct{ got, want string }{
		{compact(byType["inject"]["button"]), `"inject"`},
		{compact(byType["inject"]["icon"]), `"inject.svg"`},
		{compact(byType["mqtt-in"]["nodeRed"]), `"mqtt in"`},
		{compact(byType["mqtt-broker"]["credentialFields"]),
			`[{"kind":"string","label":"Username","name":"user"},{"kind":"password","label":"Password","name":"password"}]`},
		{compact(byType["mqtt-broker"]["labels"]), `[{"text":"{broker}:{port}"},{"text":"{broker}"}]`},
		{compact(byType["debug"]["labels"]),
			`[{"if":{"complete":["true"]},"text":"msg"},{"if":{"complete":["false",""]},"text":"msg.payload"},{"text":"msg.{complete}"}]`},
		{field("debug", "complete"),
			`{"default":"false","help":"What the node shows: msg.payload, the whole message, or another message property (such as payload.temperature)","kind":"select","label":"Output","name":"complete","optionLabels":["msg.payload","complete msg object"],"options":["false","true"],"other":"other msg property"}`},
		{field("inject", "props"),
			`{"default":[{"p":"payload"},{"p":"topic","vt":"str"}],"help":"The message properties to set, in order","item":[` +
				`{"help":"A property path such as payload or payload.a[0]","kind":"string","label":"msg.","name":"p"},` +
				`{"kind":"typed","label":"to","name":"v","typeLabels":["string","number","boolean","JSON","buffer","timestamp","env variable","msg.","flow.","global.","JSONata","expr"],"typeProp":"vt","types":["str","num","bool","json","bin","date","env","msg","flow","global","jsonata","expr"]}],` +
				`"kind":"list","label":"Properties","name":"props","topLevel":[{"key":"payload","type":"payloadType","value":"payload"},{"key":"topic","value":"topic"}]}`},
		{field("inject", "onceDelay"),
			`{"default":0.1,"kind":"number","label":"Start delay (s)","max":2147483,"min":0,"name":"onceDelay","showIf":{"once":["true"]}}`},
	} {
		if c.got != c.want {
			t.Errorf("GET /nodes:\n got %s\nwant %s", c.got, c.want)
		}
	}
}
