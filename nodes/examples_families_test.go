package nodes_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// runInjects deploys an example flow file, presses the inject buttons
// named, in order, and returns the debug output it shows (as text) once n
// values have come.
func runInjects(t *testing.T, file string, opts engine.Options, injects []string, n int) []string {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := flows.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	opts.OnDebug = func(ev engine.DebugEvent) {
		mu.Lock()
		got = append(got, string(engine.AppendJSON(nil, ev.Value)))
		mu.Unlock()
	}
	rt := engine.New(opts)
	t.Cleanup(func() { rt.Stop(context.Background()) })
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	for _, id := range injects {
		b, ok := rt.Graph().Node(id).(interface{ Trigger() })
		if !ok {
			t.Fatalf("no inject %s", id)
		}
		b.Trigger()
		// One at a time, so that the output keeps the order.
		want := len(got) + 1
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			c := len(got)
			mu.Unlock()
			if c >= want {
				break
			}
		}
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		c := len(got)
		mu.Unlock()
		if c >= n {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(got)
}

// TestParsersFlowExample runs examples/parsers-flow.json: each sample
// document through its parser.
func TestParsersFlowExample(t *testing.T) {
	got := runInjects(t, "../examples/parsers-flow.json", engine.Options{},
		[]string{"parsers-csv-in", "parsers-xml-in", "parsers-yaml-in", "parsers-html-in"}, 4)
	want := []string{
		`[{"room":"kitchen","temp":21.5},{"room":"hall","temp":19}]`,
		`{"sensor":{"$":{"id":"k1"},"temp":[{"_":"21.5","$":{"unit":"C"}}]}}`,
		`{"rooms":["kitchen","hall"],"unit":"C"}`,
		`["kitchen","hall"]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFilesFlowExample runs examples/files-flow.json: two presses append
// two lines to example.log in the files directory, and each read sends
// the whole file.
func TestFilesFlowExample(t *testing.T) {
	dir := t.TempDir()
	got := runInjects(t, "../examples/files-flow.json", engine.Options{FilesDir: dir}, []string{"files-inject", "files-inject"}, 2)
	b, err := os.ReadFile(dir + "/example.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("example.log: %q", b)
	}
	want := []string{string(engine.AppendJSON(nil, lines[0]+"\n")), string(engine.AppendJSON(nil, string(b)))}
	if !slices.Equal(got, want) {
		t.Errorf("debug output %q, want %q", got, want)
	}
}
