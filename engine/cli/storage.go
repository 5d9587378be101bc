package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

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
func openFlows(ctx context.Context, dataDir, flowFile string, log *slog.Logger) (*store.Store, *flows.Document, error) {
	st, err := store.Open(ctx, filepath.Join(dataDir, dbName))
	if err != nil {
		return nil, nil, err
	}
	doc, cur, err := st.Current(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		doc, err = flows.ReadFile(flowFile)
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
		if err := flows.WriteFile(flowFile, doc); err != nil {
			st.Close()
			return nil, nil, err
		}
	case err != nil:
		st.Close()
		return nil, nil, err
	default:
		fi, statErr := os.Stat(flowFile)
		if statErr != nil || !fi.ModTime().After(cur.Time) {
			break
		}
		fileDoc, err := flows.ReadFile(flowFile)
		if err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("%w (it is newer than revision %d in %s; fix it or delete it to run revision %d)", err, cur.ID, dbName, cur.ID)
		}
		if fileDoc.Rev() != doc.Rev() {
			rev, err := st.Save(ctx, fileDoc, store.SaveOptions{DeployType: "full", Note: "imported " + flowFile + " (changed on disk)"})
			if err != nil {
				st.Close()
				return nil, nil, err
			}
			log.Info("the flow file changed while Runnel was stopped: imported it", "file", flowFile, "revision", rev.ID)
			doc = fileDoc
		}
	}
	return st, doc, nil
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
