package cli

import (
	"log/slog"

	"github.com/runnel-io/runnel/editor"
)

// nodeRoutes makes the route table of http in nodes from the [editor]
// section's node_* settings: served on the editor's listener, after the
// editor's and admin API's own paths (editor.Mount).
func (c *common) nodeRoutes(log *slog.Logger) (*editor.NodeRoutes, error) {
	o := editor.NodeRoutesOptions{Logger: log.With("component", "http-nodes")}
	if c.cfg != nil {
		e := &c.cfg.Editor
		o.Root, o.AuthUser, o.AuthPasswordHash, o.CORS = e.NodeRoot, e.NodeAuthUser, e.NodeAuthPasswordHash, e.NodeCORS
		o.MaxBody, o.MaxRequests, o.ResponseTimeout = int64(e.NodeMaxBody), e.NodeMaxRequests, e.NodeResponseTimeout.Duration
	}
	return editor.NewNodeRoutes(o)
}
