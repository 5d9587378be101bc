package editor

// Node credentials in the admin API. A deployed document's "credentials"
// (as Node-RED's editor sends them) are merged over the running ones
// (flows.Document.MergeCredentials: __PWRD__ or a missing field keeps the
// stored value) and never come back: GET /flows, the revisions, diffs and
// the live channel carry documents whose Marshal leaves them out, and
// GET /credentials/{type}/{id} answers as Node-RED's does, with the value
// of text fields and has_<field> for password fields.

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"

	"github.com/runnel-io/runnel/flows"
)

func (a *API) mountCredentials() {
	a.handle("GET /credentials/{type}/{id}", RoleRead, a.getCredentials)
}

// getCredentials answers GET /credentials/{type}/{id}: for a password
// field only "has_<field>": true, for a text field its value. A node
// without credentials, or of another type, gets {}.
func (a *API) getCredentials(w http.ResponseWriter, r *http.Request) {
	typ, id := flows.RunnelType(r.PathValue("type")), r.PathValue("id")
	out := map[string]any{}
	doc := a.current()
	if n := doc.Node(id); n != nil && n.Type == typ {
		var def map[string]string
		if t, ok := a.opts.Registry.Lookup(typ); ok {
			def = t.Credentials
		}
		for field, v := range doc.Credentials[id] {
			if def[field] == "text" {
				out[field] = v
			} else {
				out["has_"+field] = v != ""
			}
		}
		for field, kind := range def {
			if _, set := doc.Credentials[id][field]; !set && kind != "text" {
				out["has_"+field] = false
			}
		}
	}
	writeJSON(w, out)
}

// writeCredentialsFile keeps the credentials file beside the flow file
// (flows.CredentialsFile) in step with a deployed document, encrypted with
// the credential secret, so that the pair can be copied to a runner or to
// Node-RED. Without a secret nothing is written; a document without
// credentials writes the file only if it exists (so that none linger).
func (a *API) writeCredentialsFile(doc *flows.Document) error {
	if a.opts.FlowFile == "" || a.opts.CredentialSecret == "" {
		return nil
	}
	path := flows.CredentialsFile(a.opts.FlowFile)
	if len(doc.Credentials.IDs()) == 0 {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	if err := flows.WriteCredentialsFile(path, doc.Credentials, a.opts.CredentialSecret); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}
