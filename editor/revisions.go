package editor

// The revision endpoints: every deploy saved in the Store is a revision that
// can be listed, shown, compared with another and rolled back to.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/flows/store"
)

// mountRevisions adds the revision endpoints:
//
//	GET  /flows/revisions?limit=N&before=ID  {"revisions":[…]}, newest first
//	GET  /flows/revisions/{id}               {"revision":{…},"flows":[…]}
//	GET  /flows/revisions/{a}/diff/{b}       {"from":a,"to":b,"diff":{…}}, how b differs from a
//	POST /flows/revisions/{id}/rollback      deploy revision id again (a nodes deploy: unchanged nodes keep running); {"rev","revision"}
//
// Without a Store they answer 404.
func (a *API) mountRevisions() {
	a.handle("GET /flows/revisions", RoleRead, a.getRevisions)
	a.handle("GET /flows/revisions/{id}", RoleRead, a.getRevision)
	a.handle("GET /flows/revisions/{a}/diff/{b}", RoleRead, a.getRevisionDiff)
	a.handle("POST /flows/revisions/{id}/rollback", RoleFull, a.postRollback)
}

// statusError is a failed deploy to answer with an HTTP status other than
// 400.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// writeDeployError answers a failed deploy: 400 listing every problem of a
// document that does not compile, the statusError's code otherwise.
func writeDeployError(w http.ResponseWriter, err error) {
	var se *statusError
	if errors.As(err, &se) {
		writeError(w, se.code, se.Error(), nil)
		return
	}
	var start *engine.StartError
	if errors.As(err, &start) {
		writeError(w, http.StatusBadRequest, start.Error(), start.Problems)
		return
	}
	writeInvalid(w, err)
}

// writeBadRequest answers 400 for a malformed request (not a flow document).
func writeBadRequest(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(deployError{Error: "invalid_request", Message: msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// haveStore answers 404 and reports false when there is no Store.
func (a *API) haveStore(w http.ResponseWriter) bool {
	if a.opts.Store == nil {
		writeError(w, http.StatusNotFound, "revisions need the SQLite store", nil)
		return false
	}
	return true
}

// positiveInt reads the decimal integer s, which must be at least 1.
func positiveInt(what, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s must be a positive integer, not %q", what, s)
	}
	return n, nil
}

// revisionParam reads the revision id in the path parameter name and
// returns that revision and its document. It answers 400, 404 or 500 and
// returns a nil document when it cannot.
func (a *API) revisionParam(w http.ResponseWriter, r *http.Request, name string) (*flows.Document, store.Revision) {
	id, err := positiveInt("revision id", r.PathValue(name))
	if err != nil {
		writeBadRequest(w, err.Error())
		return nil, store.Revision{}
	}
	doc, rev, err := a.opts.Store.Revision(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no revision %d", id), nil)
		return nil, store.Revision{}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
		return nil, store.Revision{}
	}
	return doc, rev
}

func (a *API) getRevisions(w http.ResponseWriter, r *http.Request) {
	if !a.haveStore(w) {
		return
	}
	q := r.URL.Query()
	limit, before := int64(store.DefaultLimit), int64(0)
	var err error
	if s := q.Get("limit"); s != "" {
		if limit, err = positiveInt("limit", s); err != nil {
			writeBadRequest(w, err.Error())
			return
		}
		limit = min(limit, store.MaxLimit)
	}
	if s := q.Get("before"); s != "" {
		if before, err = positiveInt("before", s); err != nil {
			writeBadRequest(w, err.Error())
			return
		}
	}
	revs, err := a.opts.Store.Revisions(r.Context(), int(limit), before)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	writeJSON(w, struct {
		Revisions []store.Revision `json:"revisions"`
	}{revs})
}

func (a *API) getRevision(w http.ResponseWriter, r *http.Request) {
	if !a.haveStore(w) {
		return
	}
	doc, rev := a.revisionParam(w, r, "id")
	if doc == nil {
		return
	}
	b, err := doc.Marshal(flows.FormatRunnel, false)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "marshal flows: "+err.Error(), nil)
		return
	}
	writeJSON(w, struct {
		Revision store.Revision  `json:"revision"`
		Flows    json.RawMessage `json:"flows"`
	}{rev, b})
}

func (a *API) getRevisionDiff(w http.ResponseWriter, r *http.Request) {
	if !a.haveStore(w) {
		return
	}
	docA, from := a.revisionParam(w, r, "a")
	if docA == nil {
		return
	}
	docB, to := a.revisionParam(w, r, "b")
	if docB == nil {
		return
	}
	writeJSON(w, struct {
		From int64      `json:"from"`
		To   int64      `json:"to"`
		Diff flows.Diff `json:"diff"`
	}{from.ID, to.ID, flows.Compare(docA, docB)})
}

// postRollback deploys a revision's document again, as a nodes deploy
// (unchanged nodes keep running and keep their state) that is itself a new
// revision, its summary starting "rollback to #id".
func (a *API) postRollback(w http.ResponseWriter, r *http.Request) {
	if !a.haveStore(w) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	doc, rev := a.revisionParam(w, r, "id")
	if doc == nil {
		return
	}
	// The revision's credentials, over the running ones for nodes and
	// fields it has none for (a revision saved before credentials were
	// stored keeps today's).
	doc.MergeCredentials(a.current().Credentials)
	saved, warnings, err := a.deploy(r.Context(), doc, engine.DeployNodes, deployer(r), SessionOf(r), fmt.Sprintf("rollback to #%d", rev.ID))
	if err != nil {
		writeDeployError(w, err)
		return
	}
	writeJSON(w, struct {
		Rev      string          `json:"rev"`
		Revision store.Revision  `json:"revision"`
		Warnings []flows.Warning `json:"warnings,omitempty"`
	}{saved.Rev, saved, warnings})
}
