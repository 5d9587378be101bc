package engine

import "net/http"

// HTTPRoutes is where http-in nodes serve their routes: Node-RED's
// RED.httpNode, the Express app mounted at httpNodeRoot. The HTTP server
// that runs the editor implements it (editor.NodeRoutes) and hands it to
// the runtime in Options.HTTPRoutes; a runtime without one (runnel run,
// runnel validate) has no HTTP routes, and Host.HTTPRoutes returns nil.
//
// A route belongs to a node: a deploy that replaces the node registers the
// new node's route before it closes the old one, so that the route is
// handed over in place (owner and pattern equal) with no moment in which
// it answers 404; a deploy that removes the node removes its route.
type HTTPRoutes interface {
	// Route serves h for requests whose method is method (upper case,
	// such as GET; "*" for any) and whose path under the node root
	// matches pattern, Express's route syntax (/a/:id, /files/*). owner
	// is the id of the node that serves the route. It returns the
	// function that removes the route, which does nothing once a newer
	// route of the same owner, method and pattern has replaced it.
	Route(owner, method, pattern string, h HTTPHandler) (remove func(), err error)
}

// HTTPHandler serves one request to a node route. params are the route's
// named parameters (":id" gives "id") and wildcards ("*" gives "0", "1",
// ...), decoded. r.Body is bounded by the server's body limit: reading past
// it fails with an *http.MaxBytesError.
type HTTPHandler func(w http.ResponseWriter, r *http.Request, params map[string]string)

// HTTPRoutes returns where the node serves HTTP routes, or nil when the
// runtime has no HTTP server (see HTTPRoutes).
func (h *Host) HTTPRoutes() HTTPRoutes { return h.rt.opts.HTTPRoutes }
