package editor

// The sidebar's endpoints: the debug node's on/off button, the context
// data tab and the example flows. The flow library is in library.go.
//
//	POST   /debug/{id}/enable, /debug/{id}/disable   turn a running debug node on or off, without a deploy
//	GET    /context/global                          every key of the global context, by store
//	GET    /context/flow/{id}, /context/node/{id}   a tab's or a node's keys, by store
//	GET    /context/{scope}[/{id}]/{key}?store=S    one key's value
//	DELETE /context/{scope}[/{id}]/{key}?store=S    delete one key (from the memory store when S is not given)
//	GET    /library/examples                        the example flows Runnel ships
//	GET    /library/examples/{name}                 one of them, a flow document
//
// The context endpoints are Node-RED's (GET /context/..., DELETE
// /context/{scope}/{id}/{key}?store=), with one difference: a value's
// "msg" is the value itself in JSON (cut short as the debug sidebar cuts
// it), not a string holding it, as the /comms debug events carry values.

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/runnel-io/runnel/editor/debugvalue"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/examples"
	"github.com/runnel-io/runnel/flows"
)

// mountSidebar adds the endpoints above and the library's.
func (a *API) mountSidebar() {
	a.handle("POST /debug/{id}/{state}", RoleFull, a.postDebugState)
	a.handle("GET /context/{rest...}", RoleRead, a.getContext)
	a.handle("DELETE /context/{rest...}", RoleFull, a.deleteContext)
	a.handle("GET /library/examples", RoleRead, a.getExamples)
	a.handle("GET /library/examples/{name}", RoleRead, a.getExample)
	a.mountLibrary()
}

// Activator is implemented by nodes that can be turned on and off while
// they run, such as debug.
type Activator interface {
	SetActive(on bool)
	Active() bool
}

// postDebugState turns a running debug node on or off, as Node-RED's
// POST /debug/:id/enable|disable: at once, in the running flows, without a
// deploy. The deployed document is not changed: the editor marks the node
// changed (its active property differs from the deployed one), so that
// the next deploy saves it; until then a restart or a deploy that rebuilds
// the node takes the deployed value. It answers {"id","active"}.
func (a *API) postDebugState(w http.ResponseWriter, r *http.Request) {
	id, state := r.PathValue("id"), r.PathValue("state")
	if state != "enable" && state != "disable" {
		writeError(w, http.StatusNotFound, "the state must be enable or disable", nil)
		return
	}
	g := a.opts.Runtime.Graph()
	if g == nil {
		writeError(w, http.StatusNotFound, "no flows are running", nil)
		return
	}
	n, ok := g.Node(id).(Activator)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no running debug node %q", id), nil)
		return
	}
	n.SetActive(state == "enable")
	writeJSON(w, struct {
		ID     string `json:"id"`
		Active bool   `json:"active"`
	}{id, n.Active()})
}

// contextValue is one key's value as Node-RED's context endpoints give it.
type contextValue struct {
	Msg       json.RawMessage `json:"msg"`
	Format    string          `json:"format"`
	Truncated bool            `json:"truncated,omitempty"`
}

// contextTarget parses /context/{scope}[/{id}][/{key}] (segments
// path-escaped) into the scope's Context and the key ("" for none). It
// answers 404 and returns nil when the path names no scope.
func (a *API) contextTarget(w http.ResponseWriter, r *http.Request) (*engine.Context, string) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/context/")
	var segs []string
	for s := range strings.SplitSeq(rest, "/") {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			segs = nil
			break
		}
		segs = append(segs, u)
	}
	var c *engine.Context
	key := ""
	switch {
	case len(segs) >= 1 && len(segs) <= 2 && segs[0] == "global":
		c = a.opts.Runtime.GlobalContext()
		if len(segs) == 2 {
			key = segs[1]
		}
	case len(segs) >= 2 && len(segs) <= 3 && (segs[0] == "flow" || segs[0] == "node"):
		if segs[0] == "flow" {
			c = a.opts.Runtime.FlowContext(segs[1])
		} else {
			c = a.opts.Runtime.NodeContext(segs[1])
		}
		if len(segs) == 3 {
			key = segs[2]
		}
	default:
		writeError(w, http.StatusNotFound, "not a context: use /context/global, /context/flow/ID or /context/node/ID, and a key after it", nil)
		return nil, ""
	}
	return c, key
}

// contextStore returns the store the query names: "memory" when none,
// "persistent" for persistent or file. It answers 400 for another name.
func contextStore(w http.ResponseWriter, r *http.Request) (string, bool) {
	switch s := r.URL.Query().Get("store"); s {
	case "", engine.ContextMemory:
		return engine.ContextMemory, true
	case engine.ContextPersistent, "file":
		return engine.ContextPersistent, true
	default:
		writeAuthError(w, http.StatusBadRequest, "unknown_store", fmt.Sprintf("unknown context store %q (the stores are memory and persistent)", s))
		return "", false
	}
}

func (a *API) encodeContextValue(v any) contextValue {
	enc := debugvalue.Encoder{Max: DefaultDebugMaxLength}
	if a.opts.Live != nil {
		enc.Max = a.opts.Live.opts.DebugMaxLength
	}
	msg := enc.AppendMsg(nil, v)
	return contextValue{Msg: msg, Format: debugvalue.Format(v), Truncated: enc.Truncated()}
}

// getContext answers every key of a scope as {"memory": {key: value},
// "persistent": {...}} (both stores always present), or with a key one
// value, from ?store= (memory when not given), 404 when it is not set.
func (a *API) getContext(w http.ResponseWriter, r *http.Request) {
	c, key := a.contextTarget(w, r)
	if c == nil {
		return
	}
	if key != "" {
		store, ok := contextStore(w, r)
		if !ok {
			return
		}
		v, ok := c.Value(store, key)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no key %q in the %s store", key, store), nil)
			return
		}
		writeJSON(w, a.encodeContextValue(v))
		return
	}
	out := make(map[string]map[string]contextValue, len(engine.ContextStores))
	for _, store := range engine.ContextStores {
		m := map[string]contextValue{}
		for _, k := range c.Keys(store) {
			if v, ok := c.Value(store, k); ok {
				m[k] = a.encodeContextValue(v)
			}
		}
		out[store] = m
	}
	writeJSON(w, out)
}

// deleteContext deletes one key from ?store= (memory when not given); it
// answers 204, also when the key was not set (as Node-RED does).
func (a *API) deleteContext(w http.ResponseWriter, r *http.Request) {
	c, key := a.contextTarget(w, r)
	if c == nil {
		return
	}
	if key == "" {
		writeError(w, http.StatusNotFound, "name the key to delete: /context/SCOPE[/ID]/KEY", nil)
		return
	}
	store, ok := contextStore(w, r)
	if !ok {
		return
	}
	if _, ok := c.Value(store, key); !ok {
		// Nothing to delete; and SetValue would leave an empty scope
		// behind for every id a caller makes up.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := c.SetValue(store, key, nil); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// exampleInfo is one entry of GET /library/examples.
type exampleInfo struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Info  string `json:"info,omitempty"`
	Nodes int    `json:"nodes"`
}

// seedExample names the seed flow (flows.Example) among the examples.
const seedExample = "seed-flow"

// exampleBytes returns the example flow called name, or nil.
func exampleBytes(name string) []byte {
	if name == seedExample {
		return flows.Example
	}
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return nil
	}
	b, err := fs.ReadFile(examples.FS, name+".json")
	if err != nil {
		return nil
	}
	return b
}

// exampleNames lists the examples: the seed flow first, then the files.
func exampleNames() []string {
	names := []string{seedExample}
	ents, _ := fs.ReadDir(examples.FS, ".")
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	slices.Sort(names[1:])
	return names
}

// describeExample reads an example's first tab's label and description.
func describeExample(name string, b []byte) (exampleInfo, error) {
	var objs []map[string]any
	if err := json.Unmarshal(b, &objs); err != nil {
		return exampleInfo{}, err
	}
	info := exampleInfo{Name: name, Label: name}
	for _, o := range objs {
		if o["type"] == "tab" {
			if l, _ := o["label"].(string); l != "" && info.Label == name {
				info.Label = l
				info.Info, _ = o["info"].(string)
			}
			continue
		}
		if _, ok := o["z"]; ok {
			info.Nodes++
		}
	}
	return info, nil
}

func (a *API) getExamples(w http.ResponseWriter, r *http.Request) {
	out := []exampleInfo{}
	for _, n := range exampleNames() {
		info, err := describeExample(n, exampleBytes(n))
		if err != nil {
			a.log.Error("example flow does not parse", "name", n, "error", err.Error())
			continue
		}
		out = append(out, info)
	}
	writeJSON(w, out)
}

func (a *API) getExample(w http.ResponseWriter, r *http.Request) {
	b := exampleBytes(r.PathValue("name"))
	if b == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no example %q", r.PathValue("name")), nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
