package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// The context stores, as Node-RED's contextStorage names them. A key may
// choose its store with Node-RED's syntax "#:(persistent)::key"; without
// it, the key is in the memory store. "file" is accepted as a name of the
// persistent store, so that Node-RED flows that use localfilesystem run.
const (
	ContextMemory     = "memory"
	ContextPersistent = "persistent"
)

// ContextEntry is one top-level key of one context scope, as the
// persistent store keeps it. Scope is "global", "flow:<tab id>" or
// "node:<node id>"; a nil Value deletes the key.
type ContextEntry struct {
	Scope string
	Key   string
	Value json.RawMessage
}

// ContextBackend stores the persistent context store's entries. The
// runtime loads them all when it starts and writes changes behind, in
// batches, and on Stop.
type ContextBackend interface {
	LoadContext(ctx context.Context) ([]ContextEntry, error)
	WriteContext(ctx context.Context, entries []ContextEntry) error
}

// Context is one scope of Node-RED's context: a node's own, its flow's
// (tab's), or the global one, in both stores. Values are engine values
// (see Message) and must not be modified after Set: a Set replaces them.
// Its methods are safe for concurrent use.
type Context struct {
	cs    *contexts
	scope string
	// host is the node a flow context was made for: the graph it runs in
	// knows the flow around a subflow instance ("$parent." keys).
	host *Host
}

// contexts holds every scope of both stores.
type contexts struct {
	mu      sync.Mutex
	stores  [2]map[string]map[string]any // [memory, persistent]: scope -> top-level key -> value
	dirty   map[[2]string]bool           // persistent (scope, key) pairs not yet written
	backend ContextBackend
	log     *slog.Logger
}

func newContexts(b ContextBackend, log *slog.Logger) *contexts {
	return &contexts{
		stores:  [2]map[string]map[string]any{{}, {}},
		dirty:   make(map[[2]string]bool),
		backend: b,
		log:     log,
	}
}

// load reads the persistent store's entries from the backend.
func (cs *contexts) load(ctx context.Context) error {
	if cs.backend == nil {
		return nil
	}
	entries, err := cs.backend.LoadContext(ctx)
	if err != nil {
		return fmt.Errorf("load persistent context: %w", err)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, e := range entries {
		v, err := ParseJSON(e.Value)
		if err != nil {
			cs.log.Warn("persistent context: skipping a value that is not JSON", slog.String("scope", e.Scope), slog.String("key", e.Key))
			continue
		}
		cs.scope(1, e.Scope, true)[e.Key] = v
	}
	return nil
}

// flush writes the persistent changes made since the last flush.
func (cs *contexts) flush(ctx context.Context) error {
	if cs.backend == nil {
		return nil
	}
	cs.mu.Lock()
	if len(cs.dirty) == 0 {
		cs.mu.Unlock()
		return nil
	}
	batch := make([]ContextEntry, 0, len(cs.dirty))
	for sk := range cs.dirty {
		e := ContextEntry{Scope: sk[0], Key: sk[1]}
		if v, ok := cs.stores[1][sk[0]][sk[1]]; ok {
			e.Value = AppendJSON(nil, v)
		}
		batch = append(batch, e)
	}
	clear(cs.dirty)
	cs.mu.Unlock()
	sort.Slice(batch, func(i, j int) bool {
		if batch[i].Scope != batch[j].Scope {
			return batch[i].Scope < batch[j].Scope
		}
		return batch[i].Key < batch[j].Key
	})
	if err := cs.backend.WriteContext(ctx, batch); err != nil {
		// Keep the changes for the next try.
		cs.mu.Lock()
		for _, e := range batch {
			cs.dirty[[2]string{e.Scope, e.Key}] = true
		}
		cs.mu.Unlock()
		return fmt.Errorf("write persistent context: %w", err)
	}
	return nil
}

// writeBehind flushes every interval until ctx ends.
func (cs *contexts) writeBehind(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := cs.flush(ctx); err != nil {
				cs.log.Warn("persistent context", slog.String("error", err.Error()))
			}
		}
	}
}

// scope returns the map of one scope of store i; cs.mu is held.
func (cs *contexts) scope(i int, scope string, create bool) map[string]any {
	m := cs.stores[i][scope]
	if m == nil && create {
		m = make(map[string]any)
		cs.stores[i][scope] = m
	}
	return m
}

// drop deletes whole scopes from both stores, such as the context of nodes
// a deploy removed.
func (cs *contexts) drop(scopes []string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, sc := range scopes {
		delete(cs.stores[0], sc)
		for k := range cs.stores[1][sc] {
			cs.dirty[[2]string{sc, k}] = true
		}
		delete(cs.stores[1], sc)
	}
}

// storeKey is Node-RED's "#:(store)::key" prefix.
var storeKey = regexp.MustCompile(`^#:\((\w+)\)::(.*)$`)

// splitKey separates a key's store from its path.
func splitKey(key string) (store int, path Path, err error) {
	if m := storeKey.FindStringSubmatch(key); m != nil {
		if store, err = storeIndex(m[1]); err != nil {
			return 0, Path{}, err
		}
		key = m[2]
	}
	p, err := ParsePath(key)
	if err != nil {
		return 0, Path{}, fmt.Errorf("context key: %w", err)
	}
	return store, p, nil
}

// Get returns the value under key, which may be a path such as "a.b[0]"
// and may name its store ("#:(persistent)::count").
func (c *Context) Get(key string) (any, bool) {
	store, p, err := splitKey(key)
	if err != nil {
		return nil, false
	}
	return c.getParsed(store, p)
}

// parentKey is Node-RED's prefix of a context key that names a key of the
// flow context of the flow around a subflow instance ("$parent.count");
// it may repeat ("$parent.$parent.count").
const parentKey = "$parent."

// follow resolves the "$parent." prefixes of a key's path as Node-RED's
// context does: for each, the flow context of the flow (tab or instance)
// that holds the instance whose flow context c is. It returns nil where
// there is no such context: a tab's flow context, a node's and the global
// context have no parent, and Node-RED reads nothing there and writes
// nothing (as it does for the key "$parent" alone).
func (c *Context) follow(p Path) (*Context, Path) {
	for c != nil && strings.HasPrefix(p.src, parentKey[:len(parentKey)-1]) {
		if !strings.HasPrefix(p.src, parentKey) {
			if p.src == parentKey[:len(parentKey)-1] {
				return nil, p
			}
			return c, p // "$parents", "$parent[0]": an ordinary key
		}
		rest, err := ParsePath(p.src[len(parentKey):])
		if err != nil {
			return nil, p
		}
		c, p = c.parent(), rest
	}
	return c, p
}

// parent returns the flow context of the flow around the subflow instance
// whose flow context c is, or nil.
func (c *Context) parent() *Context {
	if c.host == nil || !strings.HasPrefix(c.scope, "flow:") {
		return nil
	}
	b := c.host.at.Load()
	if b == nil || b.g == nil || b.g.exp == nil {
		return nil
	}
	inst := b.g.exp.Instances[c.scope[len("flow:"):]]
	if inst == nil || inst.Node == nil || inst.Node.Z == "" {
		return nil
	}
	return &Context{cs: c.cs, scope: "flow:" + inst.Node.Z, host: c.host}
}

// getParsed is Get with the key already split into its store and path.
func (c *Context) getParsed(store int, p Path) (any, bool) {
	if c, p = c.follow(p); c == nil {
		return nil, false
	}
	c.cs.mu.Lock()
	top, ok := c.cs.scope(store, c.scope, false)[p.segs[0].Key]
	c.cs.mu.Unlock()
	if !ok {
		return nil, false
	}
	if len(p.segs) == 1 {
		return top, true
	}
	return p.lookupIn(top)
}

// Set sets the value under key (a path, optionally naming its store); a
// nil value deletes the key, as Node-RED's set(key, undefined) does.
func (c *Context) Set(key string, v any) error {
	store, p, err := splitKey(key)
	if err != nil {
		return err
	}
	return c.setParsed(store, p, key, v)
}

// setParsed is Set with the key already split; key is only for errors.
func (c *Context) setParsed(store int, p Path, key string, v any) error {
	if c, p = c.follow(p); c == nil {
		return nil
	}
	top := p.segs[0].Key
	c.cs.mu.Lock()
	defer c.cs.mu.Unlock()
	m := c.cs.scope(store, c.scope, true)
	switch {
	case len(p.segs) == 1 && v == nil:
		delete(m, top)
	case len(p.segs) == 1:
		m[top] = v
	case v == nil:
		if cur, ok := m[top]; ok {
			m[top] = deleteIn(cur, p.segs[1:])
		}
	default:
		nv, err := setIn(m[top], p.segs[1:], v)
		if err != nil {
			return fmt.Errorf("context %q: %w", key, err)
		}
		m[top] = nv
	}
	if store == 1 {
		c.cs.dirty[[2]string{c.scope, top}] = true
	}
	return nil
}

// Keys returns the top-level keys of the scope in a store (ContextMemory
// or ContextPersistent), sorted.
func (c *Context) Keys(store string) []string {
	i, err := storeIndex(store)
	if err != nil {
		return nil
	}
	c.cs.mu.Lock()
	m := c.cs.scope(i, c.scope, false)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	c.cs.mu.Unlock()
	sort.Strings(keys)
	return keys
}

// Context returns the node's own context, which lasts as long as a node
// with its id is deployed (across deploys that replace it).
func (h *Host) Context() *Context { return &Context{cs: h.rt.ctx, scope: "node:" + h.id} }

// FlowContext returns the context shared by the nodes of the node's tab.
func (h *Host) FlowContext() *Context { return &Context{cs: h.rt.ctx, scope: "flow:" + h.z, host: h} }

// GlobalContext returns the context shared by every node.
func (h *Host) GlobalContext() *Context { return &Context{cs: h.rt.ctx, scope: "global"} }

// GlobalContext returns the global context, for code outside the flows
// such as tests and the admin API.
func (rt *Runtime) GlobalContext() *Context { return &Context{cs: rt.ctx, scope: "global"} }

// storeIndex maps a store name to its index; "" is the memory store.
func storeIndex(store string) (int, error) {
	switch store {
	case "", ContextMemory:
		return 0, nil
	case ContextPersistent, "file":
		return 1, nil
	}
	return 0, fmt.Errorf("unknown context store %q (want %s or %s)", store, ContextMemory, ContextPersistent)
}

// Value returns the value of the top-level key in store, taking key
// literally (no path, no store prefix), for nodes that keep their own
// state under arbitrary keys.
func (c *Context) Value(store, key string) (any, bool) {
	i, err := storeIndex(store)
	if err != nil {
		return nil, false
	}
	c.cs.mu.Lock()
	defer c.cs.mu.Unlock()
	v, ok := c.cs.scope(i, c.scope, false)[key]
	return v, ok
}

// SetValue sets the top-level key in store to v, taking key literally; nil
// deletes it.
func (c *Context) SetValue(store, key string, v any) error {
	i, err := storeIndex(store)
	if err != nil {
		return err
	}
	c.cs.mu.Lock()
	defer c.cs.mu.Unlock()
	m := c.cs.scope(i, c.scope, true)
	if v == nil {
		delete(m, key)
	} else {
		m[key] = v
	}
	if i == 1 {
		c.cs.dirty[[2]string{c.scope, key}] = true
	}
	return nil
}

// Clear deletes every key of the scope in store.
func (c *Context) Clear(store string) error {
	i, err := storeIndex(store)
	if err != nil {
		return err
	}
	c.cs.mu.Lock()
	defer c.cs.mu.Unlock()
	if i == 1 {
		for k := range c.cs.stores[1][c.scope] {
			c.cs.dirty[[2]string{c.scope, k}] = true
		}
	}
	delete(c.cs.stores[i], c.scope)
	return nil
}
