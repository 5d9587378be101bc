package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/flows/store"
)

// dbName is the SQLite file in the data directory.
const dbName = "runnel.db"

// openFlows opens the data directory's database and returns the flows to
// run: the current revision. The flow file is Node-RED's flows.json beside
// it, rewritten on every deploy for those who keep it in git or copy it
// elsewhere; it is imported as a new revision when there is none yet, or
// when it was changed on disk after the current revision was saved (so
// that an edit made while Runnel was stopped is not ignored). With neither,
// the example flow is the first revision.
//
// Node credentials are encrypted with secret, in the revisions and in the
// credentials file beside the flow file (flows_cred.json), which is read
// with the flow file; credentials written in plain text in an imported
// flow file move to those and out of the file.
func openFlows(ctx context.Context, dataDir, flowFile, secret string, log *slog.Logger) (*store.Store, *flows.Document, error) {
	st, err := store.Open(ctx, filepath.Join(dataDir, dbName))
	if err != nil {
		return nil, nil, err
	}
	// A secret generated before one was configured still opens what it
	// encrypted, which is then encrypted again with the configured one
	// (as Node-RED does when credentialSecret is set after the fact).
	older := ""
	if b, err := os.ReadFile(filepath.Join(dataDir, credentialSecretFile)); err == nil {
		if o := strings.TrimSpace(string(b)); o != "" && o != secret {
			older = o
		}
	}
	st.SetCredentialSecret(secret, older)
	doc, cur, err := st.Current(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		var plain []string
		doc, plain, err = readFlows(flowFile, secret)
		warnPlainCredentials(log, flowFile, plain)
		note := "imported " + flowFile
		if errors.Is(err, os.ErrNotExist) {
			doc, err, note = flows.ExampleDocument(), nil, "the example flow"
			log.Info("first start: deploying the example flow", "file", flowFile)
		}
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		if _, err := st.Save(ctx, doc, store.SaveOptions{DeployType: "full", Note: note}); err != nil {
			st.Close()
			return nil, nil, err
		}
		if err := writeFlows(flowFile, doc, secret); err != nil {
			st.Close()
			return nil, nil, err
		}
	case err != nil:
		st.Close()
		return nil, nil, err
	default:
		if older != "" && len(doc.Credentials.IDs()) > 0 {
			if _, err := flows.ReadCredentialsFile(flows.CredentialsFile(flowFile), secret); err != nil {
				if _, err := st.Save(ctx, doc, store.SaveOptions{DeployType: "full", Note: "credentials encrypted with the new credential secret"}); err != nil {
					st.Close()
					return nil, nil, err
				}
				if err := writeFlows(flowFile, doc, secret); err != nil {
					st.Close()
					return nil, nil, err
				}
				log.Info("the credential secret changed: node credentials are now encrypted with the configured one; "+
					"revisions saved before still open while the old secret stays in the data directory",
					"old_secret_file", filepath.Join(dataDir, credentialSecretFile))
			}
		}
		fi, statErr := os.Stat(flowFile)
		if statErr != nil || !fi.ModTime().After(cur.Time) {
			break
		}
		fileDoc, plain, err := readFlows(flowFile, secret)
		if err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("%w (it is newer than revision %d in %s; fix it or delete it to run revision %d)", err, cur.ID, dbName, cur.ID)
		}
		warnPlainCredentials(log, flowFile, plain)
		fileDoc.MergeCredentials(doc.Credentials)
		if fileDoc.Rev() != doc.Rev() || !flows.Compare(doc, fileDoc).Empty() {
			rev, err := st.Save(ctx, fileDoc, store.SaveOptions{DeployType: "full", Note: "imported " + flowFile + " (changed on disk)"})
			if err != nil {
				st.Close()
				return nil, nil, err
			}
			log.Info("the flow file changed while Runnel was stopped: imported it", "file", flowFile, "revision", rev.ID)
			doc = fileDoc
			if len(plain) > 0 {
				if err := writeFlows(flowFile, doc, secret); err != nil {
					st.Close()
					return nil, nil, err
				}
			}
		}
	}
	return st, doc, nil
}

// writeFlows writes doc to flowFile and its credentials, encrypted with
// secret, to the credentials file beside it (only if it has credentials or
// the file exists, so that none linger).
func writeFlows(flowFile string, doc *flows.Document, secret string) error {
	if err := flows.WriteFile(flowFile, doc); err != nil {
		return err
	}
	credFile := flows.CredentialsFile(flowFile)
	if len(doc.Credentials.IDs()) == 0 {
		if _, err := os.Stat(credFile); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	return flows.WriteCredentialsFile(credFile, doc.Credentials, secret)
}

// contextBackend keeps the persistent context store in the SQLite store.
type contextBackend struct{ s *store.Store }

func (b contextBackend) LoadContext(ctx context.Context) ([]engine.ContextEntry, error) {
	es, err := b.s.LoadContext(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engine.ContextEntry, len(es))
	for i, e := range es {
		out[i] = engine.ContextEntry(e)
	}
	return out, nil
}

func (b contextBackend) WriteContext(ctx context.Context, es []engine.ContextEntry) error {
	in := make([]store.ContextEntry, len(es))
	for i, e := range es {
		in[i] = store.ContextEntry(e)
	}
	return b.s.WriteContext(ctx, in)
}
