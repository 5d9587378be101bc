// Package editor is Runnel's HTTP side: the admin API (shaped like
// Node-RED's) that the browser editor and automation use to read and deploy
// flows and to list node types.
package editor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/flows/store"
)

// maxBody bounds the size of a deployed flow document.
const maxBody = 16 << 20

// Options configure the admin API.
type Options struct {
	// Runtime runs the flows; required.
	Runtime *engine.Runtime
	// Registry lists the node types for GET /nodes; DefaultRegistry when nil.
	Registry *engine.Registry
	// FlowFile is where deployed flows are saved (atomically); not saved when empty.
	FlowFile string
	// Logger receives one line per deploy at debug level.
	Logger *slog.Logger
	// Live is the editor's live channel, served at GET /comms and told of
	// every deploy; GET /comms answers 404 when nil.
	Live *Hub
	// Store keeps every deploy as a revision, served at /flows/revisions;
	// those endpoints answer 404 when nil.
	Store *store.Store

	// Users may log in to the editor and the admin API (see auth.go).
	// With no Users and no Tokens nothing needs a login: then listen on
	// loopback only.
	Users []User
	// Tokens are admin API tokens for automation.
	Tokens []Token
	// SessionTTL is how long a login lasts (DefaultSessionTTL when 0).
	SessionTTL time.Duration
	// Broker gives the broker's counters for GET /metrics and its state
	// for GET /healthz; *broker.Broker is one. Optional.
	Broker BrokerInfo
	// CredentialSecret encrypts the credentials file written beside
	// FlowFile (flows_cred.json for flows.json); without it no credentials
	// file is written. The Store has its own (store.SetCredentialSecret).
	CredentialSecret string
	// AllowedHosts are further names of the editor (see guard.go): host
	// names (any port), host:port, or origins (https://runnel.example)
	// that Host and Origin headers may carry, such as a reverse proxy's
	// name; "*" allows any.
	AllowedHosts []string
	// LibraryDir holds the flow library's entries (see library.go); the
	// /library/flows endpoints answer 404 when it is empty.
	LibraryDir string
}

// API serves the admin API. Create it with NewAPI.
type API struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	h    http.Handler // mux behind guard
	mu   sync.Mutex   // serialises deploys
	auth *authenticator
	met  *apiMetrics

	allowed []allowEntry
	bodies  bodyBudget
}

// NewAPI returns the admin API handler:
//
//	GET  /flows        the running flow document (with Node-RED-API-Version: v2, {"rev","flows"})
//	POST /flows        deploy a document (v1 array or v2 {"rev","flows"}); 400 lists every problem
//	POST /flows/validate  check a document as POST /flows would, deploying nothing: 200 {"problems","warnings"}
//	GET  /nodes        the registered node types with their config schemas
//	POST /inject/{id}  press an inject node's button
//	GET  /comms        the live websocket (status, debug, errors, rates; see Hub)
//	/flows/revisions   list, show, diff and roll back revisions (see revisions.go)
//	/debug, /context, /library  the debug button, context data and flow library (see context_api.go, library.go)
//	GET  /credentials/{type}/{id}  a node's credentials as Node-RED answers: text fields, has_<password field> (see credentials.go)
//	GET  /metrics, GET /healthz    Prometheus metrics and health (see observe.go)
//	/auth/login, /auth/token, /auth/revoke  Node-RED's adminAuth (see auth.go)
//
// With Users or Tokens set every call but the static files, /auth/login,
// /auth/token and /healthz needs "Authorization: Bearer TOKEN" (see
// auth.go), and changes need the full role. It panics when a user or token
// is not valid; New returns that error instead.
func NewAPI(opts Options) *API {
	a, err := New(opts)
	if err != nil {
		panic(err)
	}
	return a
}

// New is NewAPI that fails when a user or token is not valid (an empty
// name, a hash that is not one, an unknown role), naming it.
func New(opts Options) (*API, error) {
	if opts.Registry == nil {
		opts.Registry = engine.DefaultRegistry
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	auth, err := newAuthenticator(opts.Users, opts.Tokens, opts.SessionTTL, log)
	if err != nil {
		return nil, err
	}
	allowed, err := parseAllowed(opts.AllowedHosts)
	if err != nil {
		return nil, err
	}
	a := &API{opts: opts, log: log, mux: http.NewServeMux(), auth: auth, met: newAPIMetrics(), allowed: allowed,
		bodies: bodyBudget{free: maxBodiesInFlight}}
	a.h = a.guard(a.mux)
	a.handle("GET /flows", RoleRead, a.getFlows)
	a.handle("POST /flows", RoleFull, a.postFlows)
	a.handle("POST /flows/validate", RoleFull, a.postValidate)
	a.handle("GET /nodes", RoleRead, a.getNodes)
	a.handle("POST /inject/{id}", RoleFull, a.postInject)
	a.mountRevisions()
	a.mountAuth()
	a.mountObservability()
	a.mountCredentials()
	a.mountSidebar()
	if opts.Live != nil {
		a.mux.HandleFunc("GET /comms", a.comms)
	} else {
		a.mux.Handle("GET /comms", http.NotFoundHandler())
	}
	a.mux.Handle("GET /", staticHandler())
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.h.ServeHTTP(w, r) }

// Rev returns the revision string of a document, as Node-RED's rev: a hash
// of its content.
func Rev(d *flows.Document) string { return d.Rev() }

func (a *API) current() *flows.Document {
	if g := a.opts.Runtime.Graph(); g != nil {
		return g.Document()
	}
	if d, _ := a.opts.Runtime.Stopped(); d != nil {
		return d // safe mode: the flows to fix and deploy
	}
	return &flows.Document{}
}

func (a *API) getFlows(w http.ResponseWriter, r *http.Request) {
	doc := a.current()
	b, err := doc.Marshal(flows.FormatRunnel, false)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "marshal flows: "+err.Error(), nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Node-RED-API-Version") == "v2" {
		fmt.Fprintf(w, `{"rev":%q,"flows":%s}`, Rev(doc), b)
		return
	}
	w.Write(b)
}

// deployError is the body of a rejected deploy.
type deployError struct {
	Error    string          `json:"error"`
	Message  string          `json:"message"`
	Problems []flows.Problem `json:"problems,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg string, probs []flows.Problem) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	kind := map[int]string{400: "invalid_flows", 409: "version_mismatch", 404: "not_found", 413: "too_large", 503: "unavailable"}[code]
	if kind == "" {
		kind = "unexpected_error"
	}
	json.NewEncoder(w).Encode(deployError{Error: kind, Message: msg, Problems: probs})
}

// writeInvalid answers 400 for a document that does not parse or compile,
// listing every problem when the error carries them.
func writeInvalid(w http.ResponseWriter, err error) {
	var probs flows.Problems
	if errors.As(err, &probs) {
		writeError(w, http.StatusBadRequest, probs.Error(), probs)
		return
	}
	writeError(w, http.StatusBadRequest, err.Error(), nil)
}

// readFlowBody reads a flow document's body within the body budget (see
// reserveBody) and maxBody; it answers 413, 503 or 400 and returns false
// when it cannot.
func (a *API) readFlowBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	release, ok := a.reserveBody(w, r)
	if !ok {
		return nil, false
	}
	defer release()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, "read body: "+err.Error(), nil)
		return nil, false
	}
	return body, true
}

func (a *API) postFlows(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readFlowBody(w, r)
	if !ok {
		return
	}
	var v2 struct {
		Rev   *string         `json:"rev"`
		Flows json.RawMessage `json:"flows"`
	}
	rev := ""
	if len(body) > 0 && body[0] == '{' {
		if err := json.Unmarshal(body, &v2); err == nil && v2.Rev != nil {
			rev = *v2.Rev
		}
	}
	deployType, err := engine.ParseDeployType(r.Header.Get("Node-RED-Deployment-Type"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var doc *flows.Document
	if deployType == engine.DeployReload {
		doc = a.current().Clone()
	} else {
		doc, err = flows.Parse(body)
		if err != nil {
			writeInvalid(w, err)
			return
		}
		doc.MergeCredentials(a.current().Credentials)
	}
	if rev != "" && rev != Rev(a.current()) {
		writeError(w, http.StatusConflict, "the flows were changed since rev "+rev, nil)
		return
	}
	saved, warnings, err := a.deploy(r.Context(), doc, deployType, deployer(r), SessionOf(r), "")
	if err != nil {
		writeDeployError(w, err)
		return
	}
	if v2.Rev != nil || r.Header.Get("Node-RED-API-Version") == "v2" {
		// Node-RED's v2 answer, {"rev": ...}, with the deploy's warnings
		// when it has any. (A v1 deploy answers 204 with no body, as
		// Node-RED's does; its warnings are only logged.)
		b, err := json.Marshal(deployAnswer{Rev: saved.Rev, Warnings: warnings})
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// validation is the answer to POST /flows/validate: the problems a deploy
// of the document would be rejected with, and the warnings it would be
// accepted with. Both are lists, empty rather than absent.
type validation struct {
	Problems []flows.Problem `json:"problems"`
	Warnings []flows.Warning `json:"warnings"`
}

// postValidate checks a flow document as POST /flows would, parsing it and
// compiling every node (with the running flows' credentials merged in, as
// a deploy does), and answers 200 with what it found, starting and
// deploying nothing. A document that does not parse is answered the same
// way, its problem in the list. What only starting the nodes can show (a
// port already in use) is not found here.
func (a *API) postValidate(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readFlowBody(w, r)
	if !ok {
		return
	}
	answer := validation{Problems: []flows.Problem{}, Warnings: []flows.Warning{}}
	doc, err := flows.Parse(body)
	if err == nil {
		doc.MergeCredentials(a.current().Credentials)
		var g *engine.Graph
		if g, err = a.opts.Runtime.Compile(doc); err == nil {
			answer.Warnings = append(answer.Warnings, g.Warnings()...)
		}
	}
	if err != nil {
		var probs flows.Problems
		if errors.As(err, &probs) {
			answer.Problems = append(answer.Problems, probs...)
		} else {
			answer.Problems = append(answer.Problems, flows.Problem{Msg: err.Error()})
		}
	}
	writeJSON(w, answer)
}

// deployAnswer is the answer to a v2 POST /flows: Node-RED's {"rev": ...}
// and, when the document has any, what deployed but does not work as
// written (wires to nodes that are not in it, certificate files that are
// not on this machine).
type deployAnswer struct {
	Rev      string          `json:"rev"`
	Warnings []flows.Warning `json:"warnings,omitempty"`
}

// deploy plans doc as a deploy of type typ, applies it and saves it (as a
// revision in the Store, noting user and note, and to the FlowFile) and
// tells the editors, naming the editor session that asked (SessionOf); a.mu
// must be held. A deploy whose nodes fail to start is not saved: the error
// is the runtime's *engine.StartError, whose problems name the nodes. It
// returns the revision saved (only its Rev is set without a Store) and the
// deploy's warnings (see engine.Graph.Warnings). A document that does not
// compile changes nothing and the error lists every problem (a
// flows.Problems); other failures are a *statusError.
func (a *API) deploy(ctx context.Context, doc *flows.Document, typ engine.DeployType, user, session, note string) (_ store.Revision, _ []flows.Warning, err error) {
	// A deploy that has begun finishes even if the client goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	start := time.Now()
	defer func() { a.met.deployed(time.Since(start), err) }()
	plan, err := a.opts.Runtime.Plan(doc, typ)
	if err != nil {
		return store.Revision{}, nil, err
	}
	// Apply first and save only flows that started: a deploy whose nodes
	// fail to start is rolled back by the runtime and must not be what
	// the next start runs. When saving fails the previous flows are
	// deployed again (see undeploy).
	prev := a.opts.Runtime.Graph()
	if err := a.opts.Runtime.Apply(ctx, plan); err != nil {
		var se *engine.StartError
		if errors.As(err, &se) {
			return store.Revision{}, nil, err
		}
		return store.Revision{}, nil, &statusError{http.StatusConflict, fmt.Errorf("deploy: %w", err)}
	}
	// The files first, the Store's revision last: the Store is what the
	// next start runs, so it holds the new flows only once the files
	// (its mirror, and Node-RED's) do too.
	saved := store.Revision{Rev: doc.Rev()}
	saveErr := a.writeFiles(doc)
	if saveErr == nil && a.opts.Store != nil {
		saved, saveErr = a.opts.Store.Save(ctx, doc, store.SaveOptions{User: user, DeployType: string(typ), Note: note})
	}
	if saveErr != nil {
		a.undeploy(ctx, prev)
		return store.Revision{}, nil, &statusError{http.StatusInternalServerError, saveErr}
	}
	if a.opts.Live != nil {
		a.opts.Live.DeployedBy(saved.Rev, session, user)
	}
	a.log.Debug("deploy", slog.String("type", string(typ)), slog.Int("objects", len(doc.Nodes)),
		slog.String("changes", plan.Diff.Summary()), slog.Int("kept", plan.Kept), slog.Int("replaced", len(plan.Replaced)),
		slog.Int64("revision", saved.ID), slog.Duration("took", time.Since(start)))
	return saved, plan.Graph().Warnings(), nil
}

// writeFiles writes doc to the FlowFile and its credentials file, when
// there is one.
func (a *API) writeFiles(doc *flows.Document) error {
	if a.opts.FlowFile == "" {
		return nil
	}
	if err := flows.WriteFile(a.opts.FlowFile, doc); err != nil {
		return fmt.Errorf("save flows: %w", err)
	}
	return a.writeCredentialsFile(doc)
}

// undeploy takes back a deploy that was applied but could not be saved:
// the previous flows prev run again (and the files hold them again, as
// far as they can be written), or, when there were none, the flows stop,
// so that what runs is what the next start runs. What fails is logged.
func (a *API) undeploy(ctx context.Context, prev *engine.Graph) {
	if prev == nil {
		if err := a.opts.Runtime.Stop(ctx); err != nil {
			a.log.Error("deploy not saved: stopping the flows failed", slog.String("error", err.Error()))
		}
		return
	}
	back, err := a.opts.Runtime.Plan(prev.Document(), engine.DeployNodes)
	if err == nil {
		err = a.opts.Runtime.Apply(ctx, back)
	}
	if err != nil {
		a.log.Error("deploy not saved: the previous flows did not deploy again", slog.String("error", err.Error()))
	}
	if err := a.writeFiles(prev.Document()); err != nil {
		a.log.Error("deploy not saved: the previous flows could not be written back", slog.String("error", err.Error()))
	}
}

// nodeType is one entry of GET /nodes.
type nodeType struct {
	*engine.Type
	// Module names where the type comes from ("runnel" for built-ins).
	Module string `json:"module"`
	// NodeRed is the type's Node-RED name when it differs ("mqtt in" for mqtt-in).
	NodeRed string `json:"nodeRed,omitempty"`
}

func (a *API) getNodes(w http.ResponseWriter, r *http.Request) {
	types := a.opts.Registry.Types()
	out := make([]nodeType, len(types))
	for i, t := range types {
		out[i] = nodeType{Type: t, Module: "runnel"}
		if nr := flows.NodeREDType(t.Type); nr != t.Type {
			out[i].NodeRed = nr
		}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

// Trigger is implemented by nodes with a button, such as inject.
type Trigger interface{ Trigger() }

func (a *API) postInject(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	g := a.opts.Runtime.Graph()
	if g == nil {
		writeError(w, http.StatusNotFound, "no flows are running", nil)
		return
	}
	t, ok := g.Node(id).(Trigger)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no inject node %q", id), nil)
		return
	}
	go func() {
		// The button's message is dispatched under the runtime's guard;
		// this catches a panic in the node's own Trigger code.
		defer func() {
			if v := recover(); v != nil {
				a.log.Error("inject button panicked", slog.String("node", id), slog.Any("panic", v))
			}
		}()
		t.Trigger()
	}()
	w.WriteHeader(http.StatusOK)
}
