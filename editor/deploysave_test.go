package editor_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/runnel-io/runnel/editor"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/flows/store"
)

// TestDeployThatCannotBeSavedIsTakenBack: a deploy that applies but whose
// flows file, credentials file or Store revision cannot be written
// answers 500 and leaves everything as before it: the previous flows run,
// the Store's latest revision (what the next start runs) and the flows
// file are the previous ones. With no previous flows, none run.
func TestDeployThatCannotBeSavedIsTakenBack(t *testing.T) {
	for _, breaks := range []string{"flows file", "credentials file", "store"} {
		t.Run(breaks, func(t *testing.T) {
			dir := t.TempDir()
			st, err := store.Open(context.Background(), filepath.Join(dir, "runnel.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			rt := engine.New(engine.Options{})
			t.Cleanup(func() { rt.Stop(context.Background()) })
			sub := filepath.Join(dir, "sub")
			if err := os.Mkdir(sub, 0o700); err != nil {
				t.Fatal(err)
			}
			flowFile := filepath.Join(sub, "flows.json")
			e := &revEnv{t: t, store: st, flowFile: flowFile}
			e.srv = httptest.NewServer(editor.NewAPI(editor.Options{Runtime: rt, Store: st, FlowFile: flowFile, CredentialSecret: "s3cret"}))
			t.Cleanup(e.srv.Close)

			e.expect("POST", "/flows", revDoc1, 204, "")
			switch breaks {
			case "flows file": // its directory becomes a regular file
				if err := os.RemoveAll(sub); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(sub, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			case "credentials file": // a directory stands in its way
				if err := os.Mkdir(flows.CredentialsFile(flowFile), 0o700); err != nil {
					t.Fatal(err)
				}
			case "store":
				st.Close()
			}
			if code, body := e.do("POST", "/flows", revDoc2); code != 500 {
				t.Fatalf("deploy: %d %s, want 500", code, body)
			}
			if got, want := rt.Graph().Document().Rev(), rev(t, revDoc1); got != want {
				t.Fatalf("running rev %s, want %s (the previous flows)", got, want)
			}
			if breaks != "store" {
				_, cur, err := st.Current(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if cur.ID != 1 || cur.Rev != rev(t, revDoc1) {
					t.Fatalf("the Store's latest revision is %d %s, want 1 %s", cur.ID, cur.Rev, rev(t, revDoc1))
				}
			}
			if breaks != "flows file" {
				d, err := flows.ReadFile(flowFile)
				if err != nil {
					t.Fatal(err)
				}
				if d.Rev() != rev(t, revDoc1) {
					t.Fatalf("the flows file holds rev %s, want %s", d.Rev(), rev(t, revDoc1))
				}
			}
		})
	}
	t.Run("first deploy", func(t *testing.T) {
		dir := t.TempDir()
		st, err := store.Open(context.Background(), filepath.Join(dir, "runnel.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rt := engine.New(engine.Options{})
		t.Cleanup(func() { rt.Stop(context.Background()) })
		notDir := filepath.Join(dir, "file")
		if err := os.WriteFile(notDir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		e := &revEnv{t: t, store: st}
		e.srv = httptest.NewServer(editor.NewAPI(editor.Options{Runtime: rt, Store: st, FlowFile: filepath.Join(notDir, "flows.json")}))
		t.Cleanup(e.srv.Close)
		if code, body := e.do("POST", "/flows", revDoc1); code != 500 {
			t.Fatalf("deploy: %d %s, want 500", code, body)
		}
		if g := rt.Graph(); g != nil {
			t.Fatalf("flows that were not saved run: rev %s", g.Document().Rev())
		}
		if revs, err := st.Revisions(context.Background(), 0, 0); err != nil || len(revs) != 0 {
			t.Fatalf("revisions: %v %v, want none", revs, err)
		}
	})
}
