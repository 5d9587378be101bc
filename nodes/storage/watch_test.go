package storage

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// deployWatch runs a watch node with the given properties in a files
// directory dir, wired to test-sink "sink".
func deployWatch(t *testing.T, dir, props string) *nodetest.Flow {
	t.Helper()
	doc := `[{"id":"t1","type":"tab"},{"id":"n1","type":"watch","z":"t1",` + props + `,"wires":[["sink"]]},{"id":"sink","type":"test-sink","z":"t1","wires":[]}]`
	f, err := nodetest.Deploy(t, doc, nodetest.Options{Runtime: func(o *engine.Options) { o.FilesDir = dir }}, WatchType)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// watchLines gives each received message as one line, Node-RED's
// properties in a fixed order.
func watchLines(ms []*engine.Message) []string {
	var out []string
	for _, m := range ms {
		line := fmt.Sprintf("topic=%s payload=%v", m.Topic, m.Payload)
		for _, k := range []string{"file", "filename", "event", "type", "size"} {
			if v, ok := m.Prop(k); ok {
				line += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		out = append(out, line)
	}
	return out
}

// expect waits until the sink holds want (in any order within one
// debounce window, which this test does not rely on) and nothing more.
func expect(t *testing.T, f *nodetest.Flow, from int, want ...string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = watchLines(f.Received("sink"))[from:]
		if len(got) >= len(want) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // anything more would arrive by now
	got = watchLines(f.Received("sink"))[from:]
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	return from + len(got)
}

func TestWatchDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := deployWatch(t, dir, `"files":"d","recursive":false`)
	n := 0
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("d/a.txt", "hello")
	n = expect(t, f, n, "topic=d payload=d/a.txt file=a.txt filename=d/a.txt event=update type=file size=5")
	write("d/a.txt", "hello world")
	n = expect(t, f, n, "topic=d payload=d/a.txt file=a.txt filename=d/a.txt event=update type=file size=11")
	if err := os.Rename(filepath.Join(dir, "d/a.txt"), filepath.Join(dir, "d/b.txt")); err != nil {
		t.Fatal(err)
	}
	n = expect(t, f, n, "topic=d payload=d/a.txt file=a.txt filename=d/a.txt event=remove type=none",
		"topic=d payload=d/b.txt file=b.txt filename=d/b.txt event=update type=file size=11")
	if err := os.Remove(filepath.Join(dir, "d/b.txt")); err != nil {
		t.Fatal(err)
	}
	n = expect(t, f, n, "topic=d payload=d/b.txt file=b.txt filename=d/b.txt event=remove type=none")
	// Not recursive: a sub-directory's entries are not reported, the
	// sub-directory itself is.
	if err := os.Mkdir(filepath.Join(dir, "d/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	n = expect(t, f, n, "topic=d payload=d/sub file=sub filename=d/sub event=update type=directory")
	write("d/sub/x", "1")
	expect(t, f, n)
	if errs := f.Errors(); len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
}

func TestWatchRecursive(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "r/old/deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := deployWatch(t, dir, `"files":"`+filepath.Join(dir, "r")+`","recursive":true`)
	n := 0
	if err := os.WriteFile(filepath.Join(dir, "r/old/deep/x"), []byte("12"), 0o644); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "r")
	n = expect(t, f, n, "topic="+abs+" payload="+abs+"/old/deep/x file=x filename="+abs+"/old/deep/x event=update type=file size=2")
	// A new sub-directory is watched too.
	if err := os.Mkdir(filepath.Join(dir, "r/new"), 0o755); err != nil {
		t.Fatal(err)
	}
	n = expect(t, f, n, "topic="+abs+" payload="+abs+"/new file=new filename="+abs+"/new event=update type=directory")
	if err := os.WriteFile(filepath.Join(dir, "r/new/y"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, f, n, "topic="+abs+" payload="+abs+"/new/y file=y filename="+abs+"/new/y event=update type=file size=0")
}

func TestWatchFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.log", "b.log", "other"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := deployWatch(t, dir, `"files":" a.log, b.log "`)
	for _, name := range []string{"other", "b.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, f, 0, `topic=["a.log","b.log"] payload=b.log file=b.log filename=b.log event=update type=file size=1`)
}

// TestWatchOutside checks the confinement: paths outside the files
// directory, missing ones and links that lead out are errors of the node
// at start, and the node's other paths are still watched.
func TestWatchOutside(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "ok"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := deployWatch(t, dir, `"files":"`+outside+`,../x,missing,link,ok"`)
	errs := f.Errors()
	if len(errs) != 1 {
		t.Fatalf("errors: %v", errs)
	}
	want := outside + " is outside the files directory " + dir + " (files.dir)\n" +
		"../x is outside the files directory " + dir + " (files.dir)\n" +
		"missing does not exist\n" +
		"link is outside the files directory " + dir + " (files.dir): statat link: path escapes from parent"
	if got := errs[0].Err.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if st := f.Statuses(); len(st) == 0 || st[len(st)-1].Status.Fill != "red" {
		t.Errorf("statuses %v", st)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok/f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	topic, _ := json.Marshal([]string{outside, "../x", "missing", "link", "ok"})
	expect(t, f, 0, "topic="+string(topic)+" payload=ok/f file=f filename=ok/f event=update type=file size=0")
}

// TestWatchBound checks that a large tree is watched up to the bound, and
// that Close ends the node's goroutine.
func TestWatchBound(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 10,050 directories")
	}
	dir := t.TempDir()
	for i := range watchMaxDirs + 50 {
		if err := os.MkdirAll(filepath.Join(dir, "big", fmt.Sprint(i/100), fmt.Sprint(i%100)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	before := runtime.NumGoroutine()
	f := deployWatch(t, dir, `"files":"big","recursive":true`)
	errs := f.Errors()
	if len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "watching more than 10000 directories") {
		t.Fatalf("errors: %v", errs)
	}
	if err := f.Runtime().Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after Close, %d before", g, before)
	}
}

// A symbolic link in a watched directory that leads out of the files
// directory tells nothing of its target: no size, type n/a.
func TestWatchLinkOut(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := deployWatch(t, dir, `"files":"d","recursive":false`)
	if err := os.Symlink(secret, filepath.Join(dir, "d/link")); err != nil {
		t.Fatal(err)
	}
	expect(t, f, 0, "topic=d payload=d/link file=link filename=d/link event=update type=n/a")
}
