package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
)

// deploy runs one node (id n1) between test-source src and test-sink
// sink, confined to dir.
func deploy(t *testing.T, dir, nodeJSON string, typ ...*engine.Type) *nodetest.Flow {
	t.Helper()
	f, err := nodetest.Deploy(t, nodetest.ChainJSON(t, nodeJSON), nodetest.Options{Runtime: func(o *engine.Options) { o.FilesDir = dir }}, typ...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func msgs(ms []*engine.Message) string {
	var b []string
	for _, m := range ms {
		p, ok := m.Lookup(engine.MustParsePath("payload"))
		parts, _ := m.Prop("parts")
		fn, _ := m.Prop("filename")
		s := fmt.Sprintf("%s %s", engine.TypeName(p), engine.MarshalJSON(p))
		if !ok {
			s = "undefined null"
		}
		if len(s) > 300 {
			s = s[:300] + fmt.Sprintf("...(%d bytes)", len(s))
		}
		if fn != nil {
			s += fmt.Sprintf(" filename=%v", fn)
		}
		if parts != nil {
			s += " parts=" + strings.ReplaceAll(string(engine.MarshalJSON(parts)), m.ID(), "ID")
		}
		b = append(b, s)
	}
	return strings.Join(b, "\n")
}

func TestFileWrite(t *testing.T) {
	tests := []struct {
		name  string
		cfg   string
		msgs  []map[string]any // each message's properties
		file  string           // the file to read after
		want  string           // its content; "-" for a file that must not exist
		sent  int
		err   string
		warn  string
		setup func(dir string)
	}{
		{name: "append with newlines", cfg: `{"filename":"a.txt","filenameType":"str"}`,
			msgs: []map[string]any{{"payload": "one"}, {"payload": 2.5}, {"payload": engine.RawJSON(`{"b":1,"a":[true]}`)}, {"payload": true}, {"payload": nil}},
			file: "a.txt", want: "one\n2.5\n{\"b\":1,\"a\":[true]}\ntrue\nnull\n", sent: 5},
		{name: "buffer without newline", cfg: `{"filename":"b.bin","filenameType":"str","appendNewline":true}`,
			msgs: []map[string]any{{"payload": []byte{0, 1, 0xff}}}, file: "b.bin", want: "\x00\x01\xff", sent: 1},
		{name: "overwrite", cfg: `{"filename":"o.txt","filenameType":"str","overwriteFile":"true","appendNewline":false}`,
			msgs: []map[string]any{{"payload": "first"}, {"payload": "second"}}, file: "o.txt", want: "second", sent: 2},
		{name: "last part of a string sequence has no newline", cfg: `{"filename":"p.txt","filenameType":"str"}`,
			msgs: []map[string]any{{"payload": "a", "parts": map[string]any{"type": "string", "index": 0.0, "count": 2.0}}, {"payload": "b", "parts": map[string]any{"type": "string", "index": 1.0, "count": 2.0}}},
			file: "p.txt", want: "a\nb", sent: 2},
		{name: "filename from msg", cfg: `{"filename":"","filenameType":""}`,
			msgs: []map[string]any{{"payload": "x", "filename": "m.txt"}}, file: "m.txt", want: "x\n", sent: 1},
		{name: "no filename warns", cfg: `{"filename":"","filenameType":"str"}`,
			msgs: []map[string]any{{"payload": "x"}}, warn: "No filename specified"},
		{name: "missing directory", cfg: `{"filename":"d/e/f.txt","filenameType":"str"}`,
			msgs: []map[string]any{{"payload": "x"}}, err: "failed to append to file", file: "d/e/f.txt", want: "-"},
		{name: "create directory", cfg: `{"filename":"d/e/f.txt","filenameType":"str","createDir":true}`,
			msgs: []map[string]any{{"payload": "x"}}, file: "d/e/f.txt", want: "x\n", sent: 1},
		{name: "delete", cfg: `{"filename":"del.txt","filenameType":"str","overwriteFile":"delete"}`,
			setup: func(dir string) { os.WriteFile(filepath.Join(dir, "del.txt"), []byte("x"), 0o644) },
			msgs:  []map[string]any{{"payload": "x"}}, file: "del.txt", want: "-", sent: 1},
		{name: "delete missing", cfg: `{"filename":"none.txt","filenameType":"str","overwriteFile":"delete"}`,
			msgs: []map[string]any{{}}, err: "failed to delete file"},
		{name: "no payload writes nothing", cfg: `{"filename":"n.txt","filenameType":"str"}`,
			msgs: []map[string]any{{"topic": "t"}}, file: "n.txt", want: "-"},
		{name: "encoding latin1", cfg: `{"filename":"l.txt","filenameType":"str","encoding":"latin1","appendNewline":false}`,
			msgs: []map[string]any{{"payload": "é€"}}, file: "l.txt", want: "\xe9?", sent: 1},
		{name: "encoding set by msg", cfg: `{"filename":"s.txt","filenameType":"str","encoding":"setbymsg","appendNewline":false}`,
			msgs: []map[string]any{{"payload": "é", "encoding": "utf16le"}}, file: "s.txt", want: "\xe9\x00", sent: 1},
		{name: "absolute path inside", cfg: `{"filename":"filename","filenameType":"msg"}`,
			msgs: []map[string]any{{"payload": "x", "filename": "DIR/abs.txt"}}, file: "abs.txt", want: "x\n", sent: 1},
		// Escapes: all refused, nothing written outside.
		{name: "dot dot", cfg: `{"filename":"../escape.txt","filenameType":"str"}`,
			msgs: []map[string]any{{"payload": "x"}}, err: "is outside the files directory"},
		{name: "dot dot inside a path", cfg: `{"filename":"a/../../escape.txt","filenameType":"str","createDir":true}`,
			msgs: []map[string]any{{"payload": "x"}}, err: "is outside the files directory"},
		{name: "absolute path outside", cfg: `{"filename":"/etc/runnel-escape","filenameType":"str"}`,
			msgs: []map[string]any{{"payload": "x"}}, err: "is outside the files directory"},
		{name: "symlink out", cfg: `{"filename":"link/escape.txt","filenameType":"str"}`,
			setup: func(dir string) { os.Symlink("../..", filepath.Join(dir, "link")) },
			msgs:  []map[string]any{{"payload": "x"}}, err: "is outside the files directory"},
		{name: "symlinked file out", cfg: `{"filename":"passwd","filenameType":"str"}`,
			setup: func(dir string) { os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")) },
			msgs:  []map[string]any{{"payload": "x"}}, err: "is outside the files directory"},
		{name: "relative symlink inside is fine", cfg: `{"filename":"in/x.txt","filenameType":"str"}`,
			setup: func(dir string) {
				os.Mkdir(filepath.Join(dir, "real"), 0o755)
				os.Symlink("real", filepath.Join(dir, "in"))
			},
			msgs: []map[string]any{{"payload": "x"}}, file: "real/x.txt", want: "x\n", sent: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			dir := filepath.Join(top, "files")
			os.Mkdir(dir, 0o755)
			if tc.setup != nil {
				tc.setup(dir)
			}
			var c map[string]any
			json.Unmarshal([]byte(tc.cfg), &c)
			c["type"] = "file"
			cb, _ := json.Marshal(c)
			f := deploy(t, dir, string(cb), FileType)
			for _, props := range tc.msgs {
				m := engine.NewMessage("", nil)
				for k, v := range props {
					if s, ok := v.(string); ok && k == "filename" {
						v = strings.Replace(s, "DIR", dir, 1)
					}
					m.SetProp(k, v)
				}
				f.Inject("src", m)
			}
			got := f.Received("sink")
			if len(got) != tc.sent {
				t.Errorf("sent %d, want %d", len(got), tc.sent)
			}
			errs := f.Errors()
			if tc.err == "" && len(errs) > 0 {
				t.Errorf("error: %v", errs[0].Err)
			}
			if tc.err != "" && (len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), tc.err)) {
				t.Errorf("errors %v, want %q", errs, tc.err)
			}
			if w := nodetest.LogMessages(f.Logged(slog.LevelWarn)); w != tc.warn {
				t.Errorf("warnings %q, want %q", w, tc.warn)
			}
			if tc.file != "" {
				b, err := os.ReadFile(filepath.Join(dir, tc.file))
				if tc.want == "-" {
					if err == nil {
						t.Errorf("%s exists", tc.file)
					}
				} else if string(b) != tc.want {
					t.Errorf("%s = %q, want %q (%v)", tc.file, b, tc.want, err)
				}
			}
			if _, err := os.Stat(filepath.Join(top, "escape.txt")); err == nil {
				t.Errorf("wrote outside the files directory")
			}
			for _, m := range got {
				if fn, _ := m.Prop("filename"); fn == nil {
					t.Errorf("msg.filename not set")
				}
			}
		})
	}
}

func TestFileNoDirectory(t *testing.T) {
	f := deploy(t, "", `{"type":"file","filename":"a.txt","filenameType":"str"}`, FileType)
	f.Inject("src", engine.NewMessage("", "x"))
	if errs := f.Errors(); len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), "files.dir") {
		t.Errorf("errors %v", errs)
	}
}

func TestFileIn(t *testing.T) {
	big := strings.Repeat("x", chunkSize)
	bigChunk := `buffer {"type":"Buffer","data":[` + strings.Repeat("120,", 70)[:300-len(`buffer {"type":"Buffer","data":[`)] + fmt.Sprintf("...(%d bytes)", len(`buffer {"type":"Buffer","data":[]}`)+4*chunkSize-1)
	tests := []struct {
		name    string
		cfg     string
		content string // of in.txt
		props   map[string]any
		want    string
		err     string
	}{
		{name: "utf8", cfg: `{"format":"utf8"}`, content: "héllo\n\xff", want: "string \"héllo\\n\ufffd\" filename=in.txt"},
		{name: "buffer", cfg: `{"format":""}`, content: "ab", want: `buffer {"type":"Buffer","data":[97,98]} filename=in.txt`},
		{name: "lines", cfg: `{"format":"lines"}`, content: "a\r\nb\n\nc", props: map[string]any{"x": 1.0},
			want: `string "a\r" filename=in.txt parts={"index":0,"ch":"\n","type":"string","id":"ID"}` + "\n" +
				`string "b" filename=in.txt parts={"index":1,"ch":"\n","type":"string","id":"ID"}` + "\n" +
				`string "" filename=in.txt parts={"index":2,"ch":"\n","type":"string","id":"ID"}` + "\n" +
				`string "c" filename=in.txt parts={"index":3,"count":4,"ch":"\n","type":"string","id":"ID"}`},
		{name: "lines trailing newline", cfg: `{"format":"lines"}`, content: "a\n",
			want: `string "a" filename=in.txt parts={"index":0,"ch":"\n","type":"string","id":"ID"}` + "\n" +
				`string "" filename=in.txt parts={"index":1,"count":2,"ch":"\n","type":"string","id":"ID"}`},
		{name: "empty file by lines", cfg: `{"format":"lines"}`, content: "",
			want: `string "" filename=in.txt parts={"index":0,"count":1,"ch":"\n","type":"string","id":"ID"}`},
		{name: "lines latin1", cfg: `{"format":"lines","encoding":"latin1"}`, content: "\xe9",
			want: `string "é" filename=in.txt parts={"index":0,"count":1,"ch":"\n","type":"string","id":"ID"}`},
		{name: "stream", cfg: `{"format":"stream"}`, content: big + "yz",
			want: bigChunk + ` filename=in.txt parts={"index":0,"ch":"","type":"buffer","id":"ID"}` + "\n" +
				`buffer {"type":"Buffer","data":[121,122]} filename=in.txt parts={"index":1,"ch":"","type":"buffer","id":"ID","count":2}`},
		{name: "stream of a whole chunk ends with an empty message", cfg: `{"format":"stream"}`, content: big,
			want: bigChunk + ` filename=in.txt parts={"index":0,"ch":"","type":"buffer","id":"ID"}` + "\n" +
				`undefined null parts={"index":1,"count":1,"ch":"","type":"buffer","id":"ID"}`},
		{name: "all properties", cfg: `{"format":"lines","allProps":true}`, content: "a", props: map[string]any{"filename": "in.txt"},
			want: `string "a" filename=in.txt parts={"index":0,"count":1,"ch":"\n","type":"string","id":"ID"}`},
		{name: "missing file sends the error", cfg: `{"filename":"nope.txt"}`, err: "no such file",
			want: `undefined null filename=nope.txt`},
		{name: "missing file, sendError false", cfg: `{"filename":"nope.txt","sendError":false}`, err: "no such file"},
		{name: "outside", cfg: `{"filename":"../x","sendError":false}`, err: "is outside the files directory"},
		{name: "filename without tabs and newlines", cfg: `{"filename":"in\t.txt\n"}`, content: "a", want: `string "a" filename=in.txt`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "in.txt"), []byte(tc.content), 0o644)
			var c map[string]any
			json.Unmarshal([]byte(tc.cfg), &c)
			c["type"] = "file-in"
			if _, ok := c["filename"]; !ok {
				c["filename"], c["filenameType"] = "in.txt", "str"
			}
			cb, _ := json.Marshal(c)
			f := deploy(t, dir, string(cb), FileInType)
			m := engine.NewMessage("", nil)
			for k, v := range tc.props {
				m.SetProp(k, v)
			}
			f.Inject("src", m)
			got := msgs(f.Received("sink"))
			got = strings.ReplaceAll(got, m.ID(), "ID")
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			errs := f.Errors()
			if tc.err == "" && len(errs) > 0 {
				t.Errorf("error: %v", errs[0].Err)
			}
			if tc.err != "" && (len(errs) != 1 || !strings.Contains(errs[0].Err.Error(), tc.err)) {
				t.Errorf("errors %v, want %q", errs, tc.err)
			}
		})
	}
}

// TestFileInHugeByLines reads a 200 MB file line by line and checks that
// memory stays bounded (the lines go downstream one by one).
func TestFileInHugeByLines(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200 MB")
	}
	dir := t.TempDir()
	fh, err := os.Create(filepath.Join(dir, "huge.txt"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("y", 199) + "\n"
	chunk := strings.Repeat(line, 5000) // 1 MB
	for range 200 {
		fh.WriteString(chunk)
	}
	fh.Close()
	var count int
	var peak uint64
	var mu sync.Mutex
	f, err := nodetest.Deploy(t, `[{"id":"t1","type":"tab"},{"id":"src","type":"test-source","z":"t1","wires":[["n1"]]},
		{"id":"n1","type":"file-in","z":"t1","filename":"huge.txt","filenameType":"str","format":"lines","wires":[["c"]]},
		{"id":"c","type":"counter","z":"t1","wires":[]}]`, nodetest.Options{Runtime: func(o *engine.Options) { o.FilesDir = dir }}, FileInType,
		engine.NewType(engine.Meta{Type: "counter", Inputs: 1}, func(_ *struct{}, _ *engine.Host) (engine.Node, error) {
			return counter(func(*engine.Message) {
				mu.Lock()
				count++
				if count%100000 == 0 {
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
				mu.Unlock()
			}), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.Inject("src", engine.NewMessage("", nil))
	if count != 1_000_001 {
		t.Errorf("%d lines, want 1000001", count)
	}
	if peak > 64<<20 {
		t.Errorf("heap in use reached %d MB reading a 200 MB file", peak>>20)
	}
	t.Logf("1,000,001 lines in %v, peak heap %d MB", time.Since(start), peak>>20)
}

type counter func(*engine.Message)

func (c counter) Receive(_ context.Context, m *engine.Message, _ engine.Output) error {
	c(m)
	return nil
}

// TestFileInGrowing reads a file while another goroutine appends to it:
// every line sent is a whole line written, in order.
func TestFileInGrowing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "grow.txt")
	os.WriteFile(p, []byte("start\n"), 0o644)
	f := deploy(t, dir, `{"type":"file-in","filename":"grow.txt","filenameType":"str","format":"lines"}`, FileInType)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fh, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		defer fh.Close()
		for i := range 20000 {
			fmt.Fprintf(fh, "line %d\n", i)
		}
	}()
	for range 5 {
		f.Inject("src", engine.NewMessage("", nil))
	}
	<-done
	f.Inject("src", engine.NewMessage("", nil))
	got := f.Received("sink")
	var last []string
	for _, m := range got {
		s := m.Payload.(string)
		if s != "start" && s != "" && !strings.HasPrefix(s, "line ") {
			t.Fatalf("torn line %q", s)
		}
		last = append(last, s)
	}
	// The last read saw the whole file.
	if n := len(last); n < 20002 || last[n-1] != "" || last[n-2] != "line 19999" {
		t.Errorf("last read ends %q", last[max(0, n-3):])
	}
	if len(f.Errors()) > 0 {
		t.Error(f.Errors()[0].Err)
	}
}
