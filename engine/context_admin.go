package engine

// Access to every context scope for the admin API (the editor's context
// sidebar), which lists and deletes keys as Node-RED's /context endpoints do.

// ContextStores are the names of the context stores, memory first.
var ContextStores = []string{ContextMemory, ContextPersistent}

// NodeContext returns the context of the node with id id, whether or not
// such a node runs.
func (rt *Runtime) NodeContext(id string) *Context { return &Context{cs: rt.ctx, scope: "node:" + id} }

// FlowContext returns the context of the tab (or subflow instance) with id
// id, whether or not it runs.
func (rt *Runtime) FlowContext(id string) *Context { return &Context{cs: rt.ctx, scope: "flow:" + id} }
