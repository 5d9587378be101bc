package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/flows"
)

// openTest opens a store in a new file in t.TempDir and closes it when the
// test ends.
func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runnel.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, path
}

func parse(t *testing.T, text string) *flows.Document {
	t.Helper()
	d, err := flows.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func marshal(t *testing.T, d *flows.Document) string {
	t.Helper()
	b, err := d.Marshal(flows.FormatRunnel, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenSettings(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for _, c := range []struct {
		db         *sql.DB
		name, want string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "synchronous", "2"}, // FULL
		{s.w, "foreign_keys", "1"},
		{s.w, "busy_timeout", "5000"},
		{s.w, "query_only", "0"},
		{s.r, "synchronous", "2"},
		{s.r, "foreign_keys", "1"},
		{s.r, "busy_timeout", "5000"},
		{s.r, "query_only", "1"},
	} {
		if got := pragma(c.db, c.name); got != c.want {
			t.Errorf("PRAGMA %s = %q, want %q", c.name, got, c.want)
		}
	}
	var comp string
	var version int
	if err := s.w.QueryRowContext(ctx, `SELECT component, version FROM schema_versions`).Scan(&comp, &version); err != nil {
		t.Fatal(err)
	}
	if comp != "flows" || version != len(migrations) || version != 2 {
		t.Errorf("schema_versions = (%q, %d), want (flows, 2)", comp, version)
	}

	// A second Open of the same file (as by another process) migrates
	// nothing and sees the same data.
	if _, err := s.Save(ctx, parse(t, `[{"id":"a","type":"tab"}]`), SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, rev, err := s2.Current(ctx); err != nil || rev.ID != 1 {
		t.Errorf("Current() from a second Open = %+v, %v; want revision 1", rev, err)
	}

	// The read pool cannot write.
	if _, err := s.r.ExecContext(ctx, `DELETE FROM flow_revisions`); err == nil {
		t.Error("the read pool wrote")
	}
}

func TestOpenNewerSchema(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if _, err := s.w.ExecContext(ctx, `UPDATE schema_versions SET version = 99 WHERE component = 'flows'`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, path)
	want := "store: open " + path + ": schema version 99 is newer than this program knows (2)"
	if err == nil || err.Error() != want {
		t.Errorf("Open = %v, want %q", err, want)
	}
}

// A path with characters that mean something in a URI opens the file it
// names.
func TestOpenOddPath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a b?c#d%25e&_pragma=x")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, filepath.Join(dir, "runnel.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, parse(t, `[]`), SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(filepath.Dir(dir), "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != dir {
		t.Errorf("files beside the directory: %q, want only %q", names, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "runnel.db")); err != nil {
		t.Error(err)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "runnel.db")
	_, err := Open(context.Background(), path)
	if err == nil || !strings.HasPrefix(err.Error(), "store: open "+path+": ") {
		t.Errorf("Open in a missing directory = %v, want an error naming the file", err)
	}
}

func TestRevisions(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)

	if _, _, err := s.Current(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Current() on an empty store: %v, want ErrNotFound", err)
	}
	if got, err := s.Revisions(ctx, 0, 0); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("Revisions on an empty store = %#v, %v; want an empty list", got, err)
	}

	docs := []string{
		`[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","x":100,"y":80,"wires":[["d1"]]},{"id":"d1","type":"debug","z":"t1","wires":[]}]`,
		// i1 moved, d1 changed, d2 added.
		`[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","x":300,"y":80,"wires":[["d1"]]},{"id":"d1","type":"debug","z":"t1","name":"out","wires":[]},{"id":"d2","type":"debug","z":"t1","wires":[]}]`,
		// d2 removed, i1 rewired.
		`[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"i1","type":"inject","z":"t1","x":300,"y":80,"wires":[[]]},{"id":"d1","type":"debug","z":"t1","name":"out","wires":[]}]`,
	}
	opts := []SaveOptions{{}, {User: "ada", DeployType: "nodes"}, {DeployType: "full", Note: "rollback to #1"}}
	want := []Revision{
		{ID: 1, User: "", DeployType: "full", Summary: "3 added", Nodes: 3},
		{ID: 2, User: "ada", DeployType: "nodes", Summary: "1 added, 1 changed, 1 moved", Nodes: 4},
		{ID: 3, User: "", DeployType: "full", Summary: "rollback to #1: 1 rewired, 1 removed", Nodes: 3},
	}
	start := time.Now().Truncate(time.Millisecond)
	for i, text := range docs {
		d := parse(t, text)
		want[i].Rev = d.Rev()
		got, err := s.Save(ctx, d, opts[i])
		if err != nil {
			t.Fatalf("Save #%d: %v", i+1, err)
		}
		if got.Time.Before(start) || got.Time.After(time.Now()) || got.Time.Location() != time.UTC || got.Time.Nanosecond()%1e6 != 0 {
			t.Errorf("Save #%d: time %v is not the save time in UTC to the millisecond", i+1, got.Time)
		}
		want[i].Time = got.Time
		if got != want[i] {
			t.Errorf("Save #%d = %+v, want %+v", i+1, got, want[i])
		}
	}

	// The stored text is the compact document with one node per line.
	var stored string
	if err := s.r.QueryRowContext(ctx, `SELECT flows FROM flow_revisions WHERE id = 1`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := "[\n" + strings.ReplaceAll(docs[0][1:len(docs[0])-1], "},{", "},\n{") + "\n]"; stored != want {
		t.Errorf("stored flows = %q, want %q", stored, want)
	}

	doc, cur, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur != want[2] || marshal(t, doc) != docs[2] {
		t.Errorf("Current() = %s, %+v; want %s, %+v", marshal(t, doc), cur, docs[2], want[2])
	}
	for i := range docs {
		doc, rev, err := s.Revision(ctx, int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if rev != want[i] || marshal(t, doc) != docs[i] || doc.Rev() != rev.Rev {
			t.Errorf("Revision(%d) = %s, %+v; want %s, %+v", i+1, marshal(t, doc), rev, docs[i], want[i])
		}
	}
	if _, _, err := s.Revision(ctx, 4); !errors.Is(err, ErrNotFound) || err.Error() != "store: revision 4: store: not found" {
		t.Errorf("Revision(4) error = %v, want ErrNotFound", err)
	}

	for _, c := range []struct {
		limit  int
		before int64
		ids    []int64
	}{
		{0, 0, []int64{3, 2, 1}},
		{2, 0, []int64{3, 2}},
		{2, 2, []int64{1}},
		{5, 3, []int64{2, 1}},
		{5, 1, []int64{}},
		{-1, -1, []int64{3, 2, 1}},
	} {
		got, err := s.Revisions(ctx, c.limit, c.before)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int64{}
		for _, r := range got {
			ids = append(ids, r.ID)
			if r != want[r.ID-1] {
				t.Errorf("Revisions(%d, %d): %+v, want %+v", c.limit, c.before, r, want[r.ID-1])
			}
		}
		if !reflect.DeepEqual(ids, c.ids) {
			t.Errorf("Revisions(%d, %d) ids = %v, want %v", c.limit, c.before, ids, c.ids)
		}
	}

	b, err := json.Marshal(want[1])
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"id":2,"time":"` + want[1].Time.Format(time.RFC3339Nano) + `","user":"ada","deployType":"nodes","summary":"1 added, 1 changed, 1 moved","rev":"` + want[1].Rev + `","nodes":4}`
	if string(b) != wantJSON {
		t.Errorf("JSON = %s, want %s", b, wantJSON)
	}
}

func TestSaveRejects(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.Save(ctx, nil, SaveOptions{}); err == nil || err.Error() != "store: save: nil document" {
		t.Errorf("Save(nil) = %v", err)
	}
	d := parse(t, `[{"id":"a","type":"debug"}]`)
	d.Nodes[0].Set("bad", json.RawMessage(`{`))
	if _, err := s.Save(ctx, d, SaveOptions{}); err == nil || !strings.HasPrefix(err.Error(), `store: save: flows: marshal: node "a" property "bad"`) {
		t.Errorf("Save(invalid JSON) = %v", err)
	}
	if _, err := s.Save(ctx, &flows.Document{Nodes: []*flows.Node{flows.NewNode("a", "debug"), nil}}, SaveOptions{}); err == nil || err.Error() != "store: save: flows[1] is a nil node" {
		t.Errorf("Save(nil node) = %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Save(cancelled, parse(t, `[]`), SaveOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a cancelled context = %v, want context.Canceled", err)
	}
	if got, err := s.Revisions(ctx, 0, 0); err != nil || len(got) != 0 {
		t.Errorf("after failed saves: Revisions = %+v, %v; want none", got, err)
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if got, err := s.LoadContext(ctx); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("LoadContext on an empty store = %#v, %v", got, err)
	}
	err := s.WriteContext(ctx, []ContextEntry{
		{Scope: "global", Key: "count", Value: json.RawMessage(`1`)},
		{Scope: "node:n1", Key: "last", Value: json.RawMessage(`{"sensors/a":21.5}`)},
		{Scope: "flow:t1", Key: "name", Value: json.RawMessage(`"x"`)},
		{Scope: "flow:t1", Key: "gone", Value: json.RawMessage(`true`)},
		{Scope: "global", Key: "nothing", Value: json.RawMessage(`null`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.WriteContext(ctx, []ContextEntry{
		{Scope: "global", Key: "count", Value: json.RawMessage(`2`)},
		{Scope: "flow:t1", Key: "gone"},
		{Scope: "flow:t1", Key: "never-set"},
		{Scope: "node:n1", Key: "twice", Value: json.RawMessage(`1`)},
		{Scope: "node:n1", Key: "twice", Value: json.RawMessage(`[2]`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []ContextEntry{
		{Scope: "flow:t1", Key: "name", Value: json.RawMessage(`"x"`)},
		{Scope: "global", Key: "count", Value: json.RawMessage(`2`)},
		{Scope: "global", Key: "nothing", Value: json.RawMessage(`null`)},
		{Scope: "node:n1", Key: "last", Value: json.RawMessage(`{"sensors/a":21.5}`)},
		{Scope: "node:n1", Key: "twice", Value: json.RawMessage(`[2]`)},
	}
	check := func(s *Store) {
		t.Helper()
		got, err := s.LoadContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LoadContext = %s, want %s", entriesString(got), entriesString(want))
		}
	}
	check(s)

	// A batch with an invalid value changes nothing.
	err = s.WriteContext(ctx, []ContextEntry{
		{Scope: "global", Key: "count", Value: json.RawMessage(`3`)},
		{Scope: "global", Key: "bad", Value: json.RawMessage(`{`)},
	})
	if err == nil || err.Error() != `store: write context: global "bad": value is not valid JSON` {
		t.Errorf("WriteContext(invalid) = %v", err)
	}
	if err := s.WriteContext(ctx, nil); err != nil {
		t.Errorf("WriteContext(nil) = %v", err)
	}
	check(s)

	// Context survives closing and reopening.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	*s = *s2 // the cleanup closes the reopened store
	check(s)
}

func entriesString(es []ContextEntry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Scope + "/" + e.Key + "=" + string(e.Value) + " ")
	}
	return b.String()
}
