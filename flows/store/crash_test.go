package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/flows"
)

// crashEnv names the database file TestHelperProcess writes to; the helper
// does nothing when it is not set.
const crashEnv = "RUNNEL_STORE_CRASH_DB"

// crashNodes is how many nodes each document of the crash test has
// (besides its tab).
const crashNodes = 2000

// crashContextKeys is how many context keys each context batch writes.
const crashContextKeys = 200

// crashDoc returns a document of crashNodes nodes on one tab, every one of
// which (and the tab) carries the generation gen in its "gen" property.
// Even and odd generations also differ in their wiring.
func crashDoc(gen int) *flows.Document {
	g := json.RawMessage(strconv.Itoa(gen))
	tab := flows.NewNode("tab1", "tab")
	tab.Set("label", json.RawMessage(`"crash test"`))
	tab.Set("gen", g)
	d := &flows.Document{Nodes: []*flows.Node{tab}}
	for i := range crashNodes {
		n := flows.NewNode(fmt.Sprintf("n%04d", i), "template")
		n.Set("z", json.RawMessage(`"tab1"`))
		n.Set("template", json.RawMessage(fmt.Sprintf(`"node %d of generation %d: {{payload}}"`, i, gen)))
		n.Set("gen", g)
		n.Set("x", json.RawMessage(strconv.Itoa(100+i%40*20)))
		n.Set("y", json.RawMessage(strconv.Itoa(100+i/40*20)))
		next := (i + 1 + gen%2) % crashNodes
		n.Set("wires", json.RawMessage(fmt.Sprintf(`[["n%04d"]]`, next)))
		d.Nodes = append(d.Nodes, n)
	}
	return d
}

// TestHelperProcess is the child of TestCrashDuringSave: it saves documents
// of rising generations, each followed by a batch of context values of the
// same generation, until it is killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only runs as the child of TestCrashDuringSave")
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	gen := 0
	if d, _, err := s.Current(ctx); err == nil {
		gen, _ = strconv.Atoi(string(mustGet(d.Nodes[0], "gen")))
	}
	fmt.Println("ready")
	for {
		gen++
		d := crashDoc(gen)
		fmt.Println("save", gen)
		start := time.Now()
		if _, err := s.Save(ctx, d, SaveOptions{DeployType: "full"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("saved", gen, time.Since(start).Microseconds())
		entries := make([]ContextEntry, crashContextKeys)
		for k := range entries {
			entries[k] = ContextEntry{Scope: "global", Key: fmt.Sprintf("k%03d", k), Value: json.RawMessage(strconv.Itoa(gen))}
		}
		if err := s.WriteContext(ctx, entries); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}

func mustGet(n *flows.Node, key string) json.RawMessage {
	v, _ := n.Get(key)
	return v
}

// TestCrashDuringSave kills a process that saves big documents in a loop
// with SIGKILL at random moments, and checks after each kill that the
// database is intact and the current flows are one whole document.
func TestCrashDuringSave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "runnel.db")
	ctx := context.Background()
	rounds := 20
	if raceEnabled {
		rounds = 10 // SQLite under the race detector is 5-10 times slower
	}
	var saveTime time.Duration // how long the child's last complete save took
	inside := 0                // kills that landed between "save" and "saved"
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() }) // if the test fails early
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// next returns the child's next line starting with prefix.
		next := func(prefix string) []string {
			for l := range lines {
				if f := strings.Fields(l); len(f) > 0 && f[0] == prefix {
					return f
				}
			}
			cmd.Wait()
			t.Fatalf("round %d: the child ended without %q: %s", round, prefix, stderr.String())
			return nil
		}
		next("save")
		if saveTime == 0 {
			// Time a save whole, to aim the kills: the second, which
			// like all later ones compares with a stored revision.
			next("saved")
			f := next("saved")
			us, _ := strconv.Atoi(f[2])
			saveTime = time.Duration(us) * time.Microsecond
			next("save")
		}
		// Kill at a random moment of the save that has just begun (or
		// a little after it).
		time.Sleep(rand.N(saveTime * 5 / 4))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Read what the child wrote before it died.
		committed := false
		for l := range lines {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "saved" {
				committed = true
				us, _ := strconv.Atoi(f[2])
				saveTime = time.Duration(us) * time.Microsecond
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: the child ended by itself (%v), not by SIGKILL: %s", round, err, stderr.String())
		}
		if !committed {
			inside++
		}
		checkCrashed(t, ctx, path, round, 0)
	}
	revs := checkCrashed(t, ctx, path, rounds, MaxLimit)
	t.Logf("%d kills, %d of them inside a save; %d revisions committed; a save takes about %v", rounds, inside, revs, saveTime)
	if inside == 0 {
		t.Error("no kill landed inside a save")
	}
}

// checkCrashed opens the database a child was killed writing and checks it:
// integrity_check is ok; the current document and every revision parse, and
// all nodes of each carry one generation; the revisions are consecutive
// generations, each described correctly (rev, node count, summary against
// the one before); and the context values all have one generation. It
// reads the documents of the newest deep revisions only. It returns how
// many revisions there are.
func checkCrashed(t *testing.T, ctx context.Context, path string, round, deep int) int {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return 0 // killed before it created the file
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	var integrity string
	err = db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity)
	db.Close()
	if err != nil || integrity != "ok" {
		t.Fatalf("round %d: integrity_check = %q, %v", round, integrity, err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()
	revs, err := s.Revisions(ctx, MaxLimit, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) == 0 {
		if _, _, err := s.Current(ctx); err == nil {
			t.Fatalf("round %d: a current document without revisions", round)
		}
		return 0
	}
	cur, curRev, err := s.Current(ctx)
	if err != nil {
		t.Fatalf("round %d: Current: %v", round, err)
	}
	if curRev != revs[0] {
		t.Fatalf("round %d: Current() is %+v, the newest revision %+v", round, curRev, revs[0])
	}
	if gen := docGeneration(t, cur, round); gen != len(revs) {
		t.Fatalf("round %d: current flows are generation %d, with %d revisions", round, gen, len(revs))
	}

	for i, r := range revs {
		want := len(revs) - i // the generation and the id
		wantSummary := fmt.Sprintf("%d changed", crashNodes+1)
		if want == 1 {
			wantSummary = fmt.Sprintf("%d added", crashNodes+1)
		}
		if r.ID != int64(want) || r.Nodes != crashNodes+1 || r.DeployType != "full" || r.Summary != wantSummary {
			t.Fatalf("round %d: revision %+v, want id %d, %d nodes, summary %q", round, r, want, crashNodes+1, wantSummary)
		}
		if i >= deep {
			continue
		}
		doc, rev, err := s.Revision(ctx, r.ID)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if rev != r || r.Rev != doc.Rev() {
			t.Fatalf("round %d: revision %+v (listed as %+v), want rev %s", round, rev, r, doc.Rev())
		}
		if gen := docGeneration(t, doc, round); gen != want {
			t.Fatalf("round %d: revision %d holds generation %d", round, r.ID, gen)
		}
		if marshal(t, doc) != marshal(t, crashDoc(want)) {
			t.Fatalf("round %d: revision %d is not the document saved", round, r.ID)
		}
	}

	entries, err := s.LoadContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 && len(entries) != crashContextKeys {
		t.Fatalf("round %d: %d context keys, want 0 or %d", round, len(entries), crashContextKeys)
	}
	for _, e := range entries {
		if string(e.Value) != string(entries[0].Value) {
			t.Fatalf("round %d: context %s = %s and %s = %s: a torn batch", round, entries[0].Key, entries[0].Value, e.Key, e.Value)
		}
	}
	if len(entries) > 0 {
		// A batch follows its save: it is of the current generation or,
		// when the kill came between the two, the one before.
		g, _ := strconv.Atoi(string(entries[0].Value))
		if g != len(revs) && g != len(revs)-1 {
			t.Fatalf("round %d: context of generation %d with %d revisions", round, g, len(revs))
		}
	}
	return len(revs)
}

// docGeneration returns the generation all nodes of d carry, failing the
// test if they do not all carry the same one or d is not whole.
func docGeneration(t *testing.T, d *flows.Document, round int) int {
	t.Helper()
	if len(d.Nodes) != crashNodes+1 {
		t.Fatalf("round %d: a document of %d objects, want %d", round, len(d.Nodes), crashNodes+1)
	}
	first := string(mustGet(d.Nodes[0], "gen"))
	for _, n := range d.Nodes {
		if g := string(mustGet(n, "gen")); g != first {
			t.Fatalf("round %d: node %s is of generation %s, node %s of %s: a mixed document", round, n.ID, g, d.Nodes[0].ID, first)
		}
	}
	gen, err := strconv.Atoi(first)
	if err != nil {
		t.Fatalf("round %d: generation %q", round, first)
	}
	return gen
}
